// How fast this core reads memory, in order and at random: scripts/bench runs one copy pinned to
// each core alone, then one on every core at once, to show how much a second core adds to loops
// that gather from memory at random (the economy's network and producers, the exchange's pairs).
//   memory_probe MIB SECONDS [START]   reads an array of MIB MiB for about SECONDS seconds each
//   way and prints "random NS sequential NS": nanoseconds per 8-byte read. START (seconds since
//   the epoch, CLOCK_REALTIME) is when to begin, after setting up, so that copies started at once
//   measure at the same time.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <vector>

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs pass() until `seconds` have gone by; nanoseconds per read, over all passes.
template <class Pass>
double ns_per_read(double seconds, std::size_t reads_per_pass, Pass&& pass) {
  const auto start = std::chrono::steady_clock::now();
  std::size_t passes = 0;
  do {
    pass();
    ++passes;
  } while (seconds_since(start) < seconds);
  return seconds_since(start) * 1e9 / static_cast<double>(passes * reads_per_pass);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: memory_probe MIB SECONDS [START]\n");
    return 2;
  }
  const std::size_t mib = std::strtoull(argv[1], nullptr, 10);
  const double seconds = std::strtod(argv[2], nullptr);
  if (mib == 0 || !(seconds > 0)) {
    std::fprintf(stderr, "memory_probe: MIB and SECONDS must be positive\n");
    return 2;
  }
  const std::size_t n = mib * (std::size_t{1} << 20) / sizeof(double);
  std::vector<double> values(n);
  std::vector<std::uint32_t> at(n);  // a fixed random order of the indices (xorshift, not Philox)
  std::uint64_t state = 0x9e3779b97f4a7c15u;
  for (std::size_t i = 0; i < n; ++i) {
    values[i] = static_cast<double>(i);
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    at[i] = static_cast<std::uint32_t>(state % n);
  }
  if (argc > 3) {
    const double start = std::strtod(argv[3], nullptr);
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const double wait =
        start - (static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9);
    if (wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(wait));
  }
  volatile double sink = 0;
  const double random = ns_per_read(seconds, n, [&] {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += values[at[i]];
    sink = sink + s;
  });
  const double sequential = ns_per_read(seconds, n, [&] {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += values[i];
    sink = sink + s;
  });
  std::printf("random %.3f sequential %.3f\n", random, sequential);
  return 0;
}
