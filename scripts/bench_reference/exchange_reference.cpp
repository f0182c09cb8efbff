// The yardstick for `exchange`: a minimal hand-written loop of the random-exchange rule, as one
// would write it without an engine. Each step: a random permutation (std::shuffle with
// std::mt19937_64), then every pair splits its combined wealth uniformly at random. No outputs,
// no ledger, one thread.
//   exchange_reference AGENTS STEPS [SEED]   prints agent-steps per second and a checksum
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: exchange_reference AGENTS STEPS [SEED]\n");
    return 2;
  }
  const std::size_t n = std::strtoull(argv[1], nullptr, 10);
  const long steps = std::strtol(argv[2], nullptr, 10);
  std::mt19937_64 gen(argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1);
  std::vector<double> wealth(n, 1.0);
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);

  const auto start = std::chrono::steady_clock::now();
  for (long step = 0; step < steps; ++step) {
    std::shuffle(order.begin(), order.end(), gen);
    for (std::size_t k = 0; k + 1 < n; k += 2) {
      double& wi = wealth[order[k]];
      double& wj = wealth[order[k + 1]];
      const double eps = static_cast<double>(gen() >> 11) * 0x1p-53;
      const double total = wi + wj;
      wi = eps * total;
      wj = total - wi;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double checksum = std::accumulate(wealth.begin(), wealth.end(), 0.0);
  std::printf("agents %zu steps %ld seconds %.3f agent_steps_per_second %.4g checksum %.6f\n", n, steps, seconds,
              static_cast<double>(n) * static_cast<double>(steps) / seconds, checksum);
  return 0;
}
