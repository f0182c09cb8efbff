#include "sim/permutation.hpp"

#include <algorithm>
#include <bit>
#include <utility>

#include "sim/parallel.hpp"

namespace sim {
namespace {

// The most elements per block of the bucket sort: a block's stretch of the sorted elements
// (256 KiB) stays in the L2 cache while its thread writes it.
constexpr std::size_t largest_block = 1 << 16;
// Mean elements per bucket: a bucket (128 KiB) stays in the L2 cache while it is shuffled, and
// a block's sort writes to few enough buckets at once to keep its write streams in L1. Measured
// with 10^6 elements on 2 cores: 2048 per bucket took 3.2 ms on 2 threads (1.6x faster than on
// one), 32768 per bucket 2.7 ms (1.9x).
constexpr std::size_t mean_bucket_size = 32768;
// Bucket ids are 16-bit fields of the random words, so at most 2^16 buckets.
constexpr std::uint64_t shuffle_counter_base = std::uint64_t{1} << 63;

// Elements per block: a multiple of 16, so that a draw group never straddles two blocks; up to
// largest_block elements are one block (no parallel region), more are cut into a number of
// blocks that the threads share evenly. The permutation does not depend on the blocks (each
// bucket is gathered from them in block order, so in index order), only the speed does.
std::size_t block_size(std::size_t n) {
  if (n <= largest_block) return largest_block;
  const auto threads = static_cast<std::size_t>(std::max(1, max_threads()));
  const std::size_t rounds = (n + threads * largest_block - 1) / (threads * largest_block);
  const std::size_t blocks = threads * rounds;
  return ((n + blocks - 1) / blocks + 15) / 16 * 16;
}

unsigned bucket_bits(std::size_t n) {
  const std::size_t wanted = std::max<std::size_t>(1, n / mean_bucket_size);
  const std::size_t buckets = std::min<std::size_t>(std::bit_ceil(wanted), 1 << 16);
  return static_cast<unsigned>(std::countr_zero(buckets));
}

// Buckets of elements [begin, end) (begin a multiple of 16), counted into count[bucket]. One
// 64-bit draw gives four 16-bit fields; a bucket is the top `bits` bits of a field (B is a power
// of two, so this is exactly uniform).
template <class Key, class Bucket>
void draw_buckets(std::uint64_t seed, Key key, std::uint64_t step, unsigned bits, std::size_t begin,
                  std::size_t end, Bucket* bucket_of, std::uint32_t* count) {
  auto draw = [&](std::uint64_t word, std::size_t i) {
    const auto bucket = static_cast<Bucket>(static_cast<std::uint16_t>(word) >> (16 - bits));
    bucket_of[i] = bucket;
    ++count[bucket];
  };
  // Elements group .. group + size - 1 (size at most 16) from their group's Philox block; whole
  // groups pass size 16, so the compiler unrolls them into straight-line code.
  auto draw_group = [&](std::size_t group, std::size_t size) {
    Rng rng{seed, key, step, group / 16};
    for (std::size_t w = 0; 4 * w < size; ++w) {
      const std::uint64_t word = rng.bits();
      for (std::size_t f = 0; f < 4 && 4 * w + f < size; ++f)
        draw(word >> (16 * f), group + 4 * w + f);
    }
  };
  std::size_t group = begin;
  for (; group + 16 <= end; group += 16) draw_group(group, 16);
  if (group < end) draw_group(group, end - group);
}

}  // namespace

std::size_t Permuter::bucket_count(std::size_t n) { return std::size_t{1} << bucket_bits(n); }

void Permuter::sort_keyed(std::uint64_t seed, std::uint64_t stream, std::uint64_t step,
                          std::span<std::uint32_t> out) {
  const std::size_t n = out.size();
  const unsigned bits = bucket_bits(n);
  const std::size_t buckets = std::size_t{1} << bits;
  block_size_ = block_size(n);
  const std::size_t blocks = block_count(n, block_size_);
  const Keyed key{stream};
  local_.resize(n);
  counts_.assign(blocks * buckets, 0);
  local_begin_.resize(blocks * buckets);
  reserve_scratch(std::min(n, block_size_));

  // 1. Each block draws its elements' buckets and sorts its elements by bucket (in index order
  // inside each bucket) in its thread's scratch, which no other thread touches, then copies them
  // to its stretch of local_ in one stream. (Sorting straight into local_ was slower on two
  // threads, as the other thread had read those cache lines in the previous call's gathering;
  // on one thread, it was no faster.) Bucket ids are bytes where they fit: less memory to write
  // and read back.
  auto draw_and_sort = [&](auto& bucket_of) {
    bucket_of.resize(n);
    for_blocks(
        n,
        [&](std::size_t begin, std::size_t end, std::size_t block) {
          std::uint32_t* count = &counts_[block * buckets];
          draw_buckets(seed, key, step, bits, begin, end, bucket_of.data(), count);
          std::uint32_t* next = &local_begin_[block * buckets];
          std::uint32_t position = 0;  // in the scratch, then in the block's stretch
          for (std::size_t k = 0; k < buckets; ++k) {
            next[k] = position;
            position += count[k];
          }
          std::uint32_t* const sorted =
              scratch_[static_cast<std::size_t>(omp_get_thread_num())].data();
          for (std::size_t i = begin; i < end; ++i)
            sorted[next[bucket_of[i]]++] = static_cast<std::uint32_t>(i);
          for (std::size_t k = 0; k < buckets; ++k)
            next[k] += static_cast<std::uint32_t>(begin) - count[k];
          std::copy(sorted, sorted + (end - begin), local_.data() + begin);
        },
        block_size_);
  };
  if (buckets <= 256)
    draw_and_sort(small_bucket_of_);
  else
    draw_and_sort(bucket_of_);

  // 2. Where each bucket starts in the permutation: the blocks' parts of it, in block order.
  bucket_begin_.assign(buckets + 1, 0);
  std::uint32_t position = 0;
  for (std::size_t k = 0; k < buckets; ++k) {
    bucket_begin_[k] = position;
    for (std::size_t b = 0; b < blocks; ++b) position += counts_[b * buckets + k];
  }
  bucket_begin_[buckets] = position;
}

void Permuter::reserve_scratch(std::size_t size) {
  scratch_.resize(static_cast<std::size_t>(max_threads()));
  for (auto& s : scratch_)
    if (s.size() < size) s.resize(size + size / 8);  // room for the next call's slightly larger
}

void Permuter::shuffle_keyed(std::uint64_t seed, std::uint64_t stream, std::uint64_t step,
                             std::span<std::uint32_t> out, BucketUse use) {
  const Keyed key{stream};
  const std::size_t blocks = block_count(out.size(), block_size_);
  const std::size_t buckets = bucket_begin_.size() - 1;
  // A bucket that is handed to `use` is shuffled in its thread's scratch (which no other thread
  // touches, so it stays in that thread's cache), otherwise in place in `out`.
  if (use.call) {
    std::uint32_t largest = 0;
    for (std::size_t k = 0; k < buckets; ++k)
      largest = std::max(largest, bucket_begin_[k + 1] - bucket_begin_[k]);
    reserve_scratch(largest);
  }
  // 3. Each bucket is gathered from the blocks' stretches in block order (so in index order) and
  // shuffled by Fisher-Yates with its own counter, on one thread while it is in cache. One bucket
  // at a time, so a thread that finishes early (or whose core was taken away) leaves less for the
  // other to wait on.
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t k = 0; k < static_cast<std::int64_t>(buckets); ++k) {
    const std::uint32_t first = bucket_begin_[k];
    const std::uint32_t size = bucket_begin_[k + 1] - first;
    std::uint32_t* const items =
        use.call ? scratch_[static_cast<std::size_t>(omp_get_thread_num())].data()
                 : out.data() + first;
    std::uint32_t* to = items;
    for (std::size_t b = 0; b < blocks; ++b) {
      const std::size_t at = b * buckets + static_cast<std::size_t>(k);
      const std::uint32_t* from = local_.data() + local_begin_[at];
      to = std::copy(from, from + counts_[at], to);
    }
    Rng rng{seed, key, step, shuffle_counter_base + static_cast<std::uint64_t>(k)};
    for (std::uint32_t i = size; i > 1; --i) {
      const std::uint32_t j = rng.below32(i);
      std::swap(items[i - 1], items[j]);
    }
    if (use.call && size > 0) {
      out[first] = items[0];
      out[first + size - 1] = items[size - 1];
      use.call(use.f, static_cast<std::size_t>(k), first, {items, size});
    }
  }
}

}  // namespace sim
