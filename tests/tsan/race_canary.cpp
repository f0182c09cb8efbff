// A deliberate data race in the engine's parallel loop, to show that the ThreadSanitizer build
// sees races inside OpenMP regions: scripts/test runs it and fails unless TSan reports a race.
// (With GCC's libgomp, or LLVM's libomp without its Archer tool, TSan misses OpenMP's own
// synchronisation and reports races that are not there, or the build does not see them.)
#include <cstdio>

#include "sim/parallel.hpp"

int main() {
  sim::set_threads(2);
  double shared_total = 0.0;  // written by every block without synchronisation: the race
  sim::for_blocks(4 * sim::default_block_size, [&](std::size_t begin, std::size_t end, std::size_t) {
    for (std::size_t i = begin; i < end; ++i) shared_total += 1.0;
  });
  std::printf("%g\n", shared_total);
  return 0;
}
