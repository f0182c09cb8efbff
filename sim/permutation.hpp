#pragma once
// A uniformly random permutation, computed in parallel and the same on any thread count.
//
// Each element draws one of B buckets (B depends only on n); elements are scattered to their
// buckets by a counting sort in block order; each bucket is then shuffled by Fisher-Yates with
// its own stream. Given the bucket sizes s_k, a given permutation arises with probability
// B^-n * prod(1/s_k!), and summing over all bucket sizes gives 1/n! (the multinomial theorem):
// the result is uniform (Sanders 1998, "Random permutations on distributed, external and
// hierarchical memory").
#include <cstdint>
#include <span>
#include <vector>

#include "sim/rng.hpp"

namespace sim {

class Permuter {
 public:
  // Fills `out` (its size is n) with a random permutation of 0..n-1, a pure function of
  // (seed, stream, step, n). Draws use counters (step, i / 16) for the buckets of elements
  // i..i+15 and (step, 2^63 + bucket) for the shuffles.
  template <class Stream>
  void permute(std::uint64_t seed, Stream stream, std::uint64_t step, std::span<std::uint32_t> out) {
    permute_keyed(seed, static_cast<std::uint64_t>(stream), step, out);
  }

 private:
  enum class Keyed : std::uint64_t {};
  void permute_keyed(std::uint64_t seed, std::uint64_t stream, std::uint64_t step,
                     std::span<std::uint32_t> out);

  std::vector<std::uint16_t> bucket_of_;
  std::vector<std::uint32_t> offsets_;  // [block][bucket]
  std::vector<std::uint32_t> bucket_begin_;
};

}  // namespace sim
