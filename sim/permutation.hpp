#pragma once
// A uniformly random permutation, computed in parallel and the same on any thread count.
//
// Each element draws one of B buckets (B depends only on n); the elements are put into their
// buckets in index order (a counting sort: each block of elements sorts itself by bucket, and
// each bucket is gathered from the blocks in block order); each bucket is then shuffled by
// Fisher-Yates with its own stream. Given the bucket sizes s_k, a given permutation arises with
// probability B^-n * prod(1/s_k!), and summing over all bucket sizes gives 1/n! (the multinomial
// theorem): the result is uniform (Sanders 1998, "Random permutations on distributed, external and
// hierarchical memory").
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
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
    sort_keyed(seed, static_cast<std::uint64_t>(stream), step, out);
    shuffle_keyed(seed, static_cast<std::uint64_t>(stream), step, out, {});
  }

  // permute() in two halves, for a caller that uses each bucket of the permutation while the
  // shuffle has left it in cache. sort_into_buckets() draws every element's bucket and sorts
  // them into their buckets; shuffle_buckets(), with the same arguments, shuffles each bucket and
  // calls use(bucket, first, items) right after, on the thread that shuffled it: `items` holds
  // the permutation's positions first .. first + items.size() - 1. Buckets are shuffled in
  // parallel and in any order, so `use` may write only what belongs to its bucket, and must not
  // throw; `items` lives until `use` returns. Only each bucket's first and last element are
  // written to `out` (so pairs across bucket boundaries can be found there); the rest of `out`
  // is left as it was.
  template <class Stream>
  void sort_into_buckets(std::uint64_t seed, Stream stream, std::uint64_t step,
                         std::span<std::uint32_t> out) {
    sort_keyed(seed, static_cast<std::uint64_t>(stream), step, out);
  }
  template <class Stream, class Use>
  void shuffle_buckets(std::uint64_t seed, Stream stream, std::uint64_t step,
                       std::span<std::uint32_t> out, Use&& use) {
    using F = std::remove_reference_t<Use>;
    shuffle_keyed(
        seed, static_cast<std::uint64_t>(stream), step, out,
        {[](void* f, std::size_t bucket, std::uint32_t first,
            std::span<const std::uint32_t> items) { (*static_cast<F*>(f))(bucket, first, items); },
         const_cast<void*>(static_cast<const void*>(&use))});
  }

  // The number of buckets for n elements: it depends on n only.
  static std::size_t bucket_count(std::size_t n);
  // Where each bucket starts in `out` after sort_into_buckets() (bucket_count(n) + 1 entries,
  // the last n).
  std::span<const std::uint32_t> bucket_begin() const { return bucket_begin_; }

 private:
  enum class Keyed : std::uint64_t {};
  struct BucketUse {
    void (*call)(void* f, std::size_t bucket, std::uint32_t first,
                 std::span<const std::uint32_t> items) = nullptr;
    void* f = nullptr;
  };
  void sort_keyed(std::uint64_t seed, std::uint64_t stream, std::uint64_t step,
                  std::span<std::uint32_t> out);
  void shuffle_keyed(std::uint64_t seed, std::uint64_t stream, std::uint64_t step,
                     std::span<std::uint32_t> out, BucketUse use);
  void reserve_scratch(std::size_t size);  // every thread's scratch holds at least `size`

  std::size_t block_size_ = 0;  // elements per block of the sort
  std::vector<std::uint16_t> bucket_of_;
  std::vector<std::uint8_t> small_bucket_of_;  // up to 256 buckets
  std::vector<std::uint32_t> local_;           // each block's elements by bucket, in its stretch
  std::vector<std::uint32_t> counts_;          // [block][bucket]: elements
  std::vector<std::uint32_t> local_begin_;     // [block][bucket]: where they start in local_
  std::vector<std::vector<std::uint32_t>> scratch_;  // per thread: a block or a bucket
  std::vector<std::uint32_t> bucket_begin_;
};

}  // namespace sim
