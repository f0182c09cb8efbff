#include "sim/stats.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sim/parallel.hpp"

namespace sim {

namespace {

// The sums over a sorted sample run in fixed blocks, in parallel, with the block partials added
// in block order: the same bits on any thread count, and gini_sorted, top_share_sorted and
// summarise_sorted all use the same order, so they agree to the bit.
constexpr std::size_t stats_block = 1 << 15;

struct TotalAndWeighted {
  double total = 0.0;
  double weighted = 0.0;  // sum of (i + 1) x_i
};

TotalAndWeighted total_and_weighted(std::span<const double> sorted) {
  const auto partials = block_partials<TotalAndWeighted>(
      sorted.size(),
      [&](std::size_t begin, std::size_t end, std::size_t) {
        TotalAndWeighted s;
        for (std::size_t i = begin; i < end; ++i) {
          s.total += sorted[i];
          s.weighted += static_cast<double>(i + 1) * sorted[i];
        }
        return s;
      },
      stats_block);
  TotalAndWeighted sums;
  for (const auto& p : partials) {
    sums.total += p.total;
    sums.weighted += p.weighted;
  }
  return sums;
}

double total_of(std::span<const double> values) {
  return sum(
      values.size(), [&](std::size_t i) { return values[i]; }, stats_block);
}

double gini_from(const TotalAndWeighted& sums, std::size_t n) {
  if (sums.total == 0.0) return std::numeric_limits<double>::quiet_NaN();
  const auto nd = static_cast<double>(n);
  return 2.0 * sums.weighted / (nd * sums.total) - (nd + 1.0) / nd;
}

double top_sum(std::span<const double> sorted, std::size_t k) {
  double top = 0.0;
  for (std::size_t i = sorted.size() - k; i < sorted.size(); ++i) top += sorted[i];
  return top;
}

// Gini and the top 10 % and top 1 % shares of sorted values, from their sums.
struct Concentration {
  double gini, top10_share, top1_share;
};

Concentration concentration_from(const TotalAndWeighted& sums, std::span<const double> sorted) {
  const std::size_t n = sorted.size();
  return {gini_from(sums, n), top_sum(sorted, top_count(n, 0.10)) / sums.total,
          top_sum(sorted, top_count(n, 0.01)) / sums.total};
}

}  // namespace

double gini_sorted(std::span<const double> sorted) {
  if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
  return gini_from(total_and_weighted(sorted), sorted.size());
}

std::size_t top_count(std::size_t n, double fraction) {
  const auto k = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
  return std::clamp<std::size_t>(k, 1, std::max<std::size_t>(n, 1));
}

double top_share_sorted(std::span<const double> sorted, double fraction) {
  const std::size_t n = sorted.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return top_sum(sorted, top_count(n, fraction)) / total_of(sorted);
}

double median_sorted(std::span<const double> sorted) {
  const std::size_t n = sorted.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

namespace {

// Radix sort over the IEEE bits mapped to unsigned keys that order as the doubles do: a
// positive value gets its sign bit set, a negative one all its bits flipped.
inline std::uint64_t key_of(double x) {
  const auto u = std::bit_cast<std::uint64_t>(x);
  return (u >> 63) != 0 ? ~u : u | (std::uint64_t{1} << 63);
}
inline double value_of(std::uint64_t k) {
  return std::bit_cast<double>((k >> 63) != 0 ? k & ~(std::uint64_t{1} << 63) : ~k);
}

constexpr unsigned digit_bits = 11;
constexpr std::size_t digit_values = std::size_t{1} << digit_bits;
constexpr std::size_t radix_block = 1 << 16;   // elements per block (fixed: results never depend on threads)
constexpr std::size_t radix_min = 1 << 12;  // below this, std::sort is as fast
// The highest varying bits sorted by digits: enough that keys rarely agree on all of them (n
// keys spread over 2^bits slots), few enough to save digit passes.
constexpr unsigned prefix_bits(std::size_t n) {
  return n <= radix_block ? 2 * digit_bits : 3 * digit_bits;
}

// Sorts n keys ascending, each payload moving with its key (equal keys in payload order);
// `pairs` is scratch.
void sort_with_payload(std::uint64_t* keys, std::uint16_t* payload, std::size_t n,
                       std::vector<std::pair<std::uint64_t, std::uint16_t>>& pairs) {
  pairs.clear();
  pairs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) pairs.emplace_back(keys[i], payload[i]);
  std::sort(pairs.begin(), pairs.end());
  for (std::size_t i = 0; i < n; ++i) std::tie(keys[i], payload[i]) = pairs[i];
}

// Keys sorted by their bits from `low` up, put in full order: each run of keys that agree on
// those bits and are out of order is sorted (with a payload, each key's payload moves with it
// and orders equal keys). Runs out of order are rare, so they are found from where the keys
// descend (a fast pass) rather than by walking every run. Block b sorts the runs that start in
// it from from[b], where the run that spills in from the block before ends, up to from[b + 1],
// so no block reads keys that another is sorting.
void fix_ties(std::span<std::uint64_t> keys, std::uint16_t* payload, unsigned low) {
  const std::size_t n = keys.size();
  const auto same = [&](std::size_t i) { return (keys[i] >> low) == (keys[i - 1] >> low); };
  std::vector<std::size_t> from(block_count(n, radix_block) + 1, n);
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t, std::size_t b) {
        std::size_t i = begin;
        if (begin > 0)
          while (i < n && same(i)) ++i;
        from[b] = i;
      },
      radix_block);
  for_blocks(
      n,
      [&](std::size_t, std::size_t, std::size_t b) {
        const auto at = [&](std::size_t i) {
          return keys.begin() + static_cast<std::ptrdiff_t>(i);
        };
        std::vector<std::pair<std::uint64_t, std::uint16_t>> pairs;
        std::size_t next = from[b];
        const std::size_t limit = from[b + 1];  // never reads the next block's keys
        while (next < limit) {
          const auto descent =
              static_cast<std::size_t>(std::is_sorted_until(at(next), at(limit)) - keys.begin());
          if (descent == limit) break;
          // keys[descent] < keys[descent - 1]: they agree on the sorted bits; sort their run.
          std::size_t first = descent - 1, last = descent + 1;
          while (first > from[b] && same(first)) --first;
          while (last < limit && same(last)) ++last;
          if (payload == nullptr)
            std::sort(at(first), at(last));
          else
            sort_with_payload(&keys[first], payload + first, last - first, pairs);
          next = last;
        }
      },
      radix_block);
}

// Bits set in some key, and bits set in all of them.
struct KeyBits {
  std::uint64_t any = 0, all = ~std::uint64_t{0};
  void add(std::uint64_t k) {
    any |= k;
    all &= k;
  }
  void add(const KeyBits& b) {
    any |= b.any;
    all &= b.all;
  }
  std::uint64_t varying() const { return any ^ all; }
};

struct SortedKeys {
  std::uint64_t* keys;
  std::uint16_t* payload;
};

// Sorts keys[0, n), whose bits outside `varies` are all the same, with the payload alongside
// when there is one; `spare` (and `spare_payload`) hold n too, `counts` block_count(n,
// radix_block) * digit_values. Only the highest prefix_bits(n) of the bits that vary are sorted
// by digits (two or three passes, not six); keys that agree on all of those (close values: few,
// at these sizes) are put in order afterwards by fix_ties. Returns where the sorted keys (and
// payload) are: in `keys` or in `spare`.
SortedKeys radix_sort_keys(std::uint64_t* keys, std::uint16_t* payload, std::uint64_t* spare,
                           std::uint16_t* spare_payload, std::size_t n, std::uint64_t varies,
                           std::uint32_t* counts, std::vector<std::uint32_t>& digit_begin) {
  const std::size_t blocks = block_count(n, radix_block);
  const unsigned top = varies == 0 ? 0u : 64u - static_cast<unsigned>(std::countl_zero(varies));
  const unsigned low = top > prefix_bits(n) ? top - prefix_bits(n) : 0u;
  SortedKeys from{keys, payload}, to{spare, spare_payload};
  for (unsigned shift = low; shift < top; shift += digit_bits) {
    const std::uint64_t mask = digit_values - 1;
    if (((varies >> shift) & mask) == 0) continue;  // every key has this digit: order unchanged
    for_blocks(
        n,
        [&](std::size_t begin, std::size_t end, std::size_t block) {
          std::uint32_t* c = &counts[block * digit_values];
          std::fill(c, c + digit_values, 0u);
          for (std::size_t i = begin; i < end; ++i) ++c[(from.keys[i] >> shift) & mask];
        },
        radix_block);
    counts_to_offsets(std::span<std::uint32_t>(counts, blocks * digit_values), blocks, digit_values, digit_begin);
    for_blocks(
        n,
        [&](std::size_t begin, std::size_t end, std::size_t block) {
          std::uint32_t* next = &counts[block * digit_values];
          if (from.payload == nullptr) {
            for (std::size_t i = begin; i < end; ++i) {
              const std::uint64_t k = from.keys[i];
              to.keys[next[(k >> shift) & mask]++] = k;
            }
          } else {
            for (std::size_t i = begin; i < end; ++i) {
              const std::uint64_t k = from.keys[i];
              const std::uint32_t at = next[(k >> shift) & mask]++;
              to.keys[at] = k;
              to.payload[at] = from.payload[i];
            }
          }
        },
        radix_block);
    std::swap(from, to);
  }
  if (low > 0) fix_ties({from.keys, n}, from.payload, low);
  return from;
}

void radix_sort(std::span<double> values) {
  const std::size_t n = values.size();
  // Scratch kept between calls by the calling thread. (A thread_local name inside the parallel
  // loops below would be each worker's own, empty, buffer: the loops use these locals.)
  thread_local std::vector<std::uint64_t> keys_buffer, spare_buffer;
  thread_local std::vector<std::uint32_t> counts_buffer, digit_begin;
  keys_buffer.resize(n);
  spare_buffer.resize(n);
  counts_buffer.resize(block_count(n, radix_block) * digit_values);
  std::uint64_t* const keys = keys_buffer.data();
  const auto bits = block_partials<KeyBits>(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        KeyBits b;
        for (std::size_t i = begin; i < end; ++i) b.add(keys[i] = key_of(values[i]));
        return b;
      },
      radix_block);
  KeyBits total;
  for (const auto& b : bits) total.add(b);
  const SortedKeys sorted = radix_sort_keys(keys, nullptr, spare_buffer.data(), nullptr, n,
                                            total.varying(), counts_buffer.data(), digit_begin);
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        for (std::size_t i = begin; i < end; ++i) values[i] = value_of(sorted.keys[i]);
      },
      radix_block);
}

}  // namespace

void sort_ascending(std::span<double> values) {
  if (values.size() < radix_min || values.size() > std::numeric_limits<std::uint32_t>::max()) {
    std::sort(values.begin(), values.end());
    return;
  }
  radix_sort(values);
}

double median_of_runs(std::span<const std::span<const double>> runs) {
  std::size_t n = 0;
  for (const auto& run : runs) n += run.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  // The k-th smallest (from 0): the least key K with more than k values at or below it, found
  // bit by bit from the top; every run counts its values at or below K by binary search.
  const auto kth = [&](std::size_t k) {
    std::uint64_t below = 0;  // the largest key found so far with at most k values at or below it
    for (int bit = 63; bit >= 0; --bit) {
      const std::uint64_t candidate = below | (std::uint64_t{1} << bit);
      std::size_t count = 0;
      for (const auto& run : runs)
        count += static_cast<std::size_t>(
            std::partition_point(run.begin(), run.end(),
                                 [&](double x) { return key_of(x) < candidate; }) -
            run.begin());
      if (count <= k) below = candidate;  // fewer than k + 1 values lie below `candidate`
    }
    return value_of(below);
  };
  return n % 2 == 1 ? kth(n / 2) : 0.5 * (kth(n / 2 - 1) + kth(n / 2));
}

namespace {

// Values per piece: a piece and its sort's scratch stay in L2.
constexpr std::size_t piece_size = std::size_t{1} << 14;
// A piece above this size (a bucket of many equal or close values) is sorted by all threads
// together, after the others.
constexpr std::size_t big_piece = std::size_t{1} << 17;
// The buckets the values are dealt to: a key's top 12 bits (sign and exponent) name its binade,
// which is cut into 2^bits equal slices by its leading mantissa bits. Besides one per binade,
// there are at most about 2 * max_buckets buckets, so the per-block counters stay small at any
// size.
constexpr unsigned binade_shift = 52;
constexpr std::size_t binades = std::size_t{1} << (64 - binade_shift);
constexpr unsigned mantissa_bits = binade_shift;
constexpr std::uint64_t mantissa_mask = (std::uint64_t{1} << mantissa_bits) - 1;
constexpr std::size_t max_buckets = std::size_t{1} << 11;
constexpr unsigned max_slice_bits = 16;
// One value in this many is sampled to count the values in each binade.
constexpr std::size_t sample_stride = 64;
struct BinadeSlices {
  std::uint32_t first = 0;  // the binade's first bucket
  unsigned shift = 0;       // its slice: (key & mantissa_mask) >> shift
};

// Keys sorted in place with their groups: a piece that fits in cache, on this thread. The
// highest (at most 22) bits of `varies` (the bits in which the keys may differ) are sorted by
// one counting pass for both digits and a scatter pass per digit; any run of keys that agree on
// them and are out of order (rare) is then sorted with the groups (fix_ties).
void sort_piece_in_cache(std::uint64_t* keys, std::uint16_t* group, std::size_t n,
                         std::uint64_t varies) {
  thread_local std::vector<std::uint64_t> spare;
  thread_local std::vector<std::uint16_t> spare_group;
  thread_local std::vector<std::uint32_t> counts;
  spare.resize(n);
  spare_group.resize(n);
  counts.assign(2 * digit_values, 0u);
  const unsigned top = varies == 0 ? 0u : 64u - static_cast<unsigned>(std::countl_zero(varies));
  const unsigned low = top > 2 * digit_bits ? top - 2 * digit_bits : 0u;
  const std::uint64_t mask = digit_values - 1;
  std::uint32_t* const low_count = counts.data();
  std::uint32_t* const high_count = counts.data() + digit_values;
  for (std::size_t i = 0; i < n; ++i) {
    ++low_count[(keys[i] >> low) & mask];
    ++high_count[(keys[i] >> (low + digit_bits)) & mask];
  }
  SortedKeys from{keys, group}, to{spare.data(), spare_group.data()};
  for (const auto& [count, shift] :
       {std::pair{low_count, low}, std::pair{high_count, low + digit_bits}}) {
    if (shift >= top || *std::max_element(count, count + digit_values) == n)
      continue;  // one digit value
    std::uint32_t position = 0;
    for (std::size_t d = 0; d < digit_values; ++d) position += std::exchange(count[d], position);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t k = from.keys[i];
      const std::uint32_t at = count[(k >> shift) & mask]++;
      to.keys[at] = k;
      to.payload[at] = from.payload[i];
    }
    std::swap(from, to);
  }
  if (from.keys != keys) {
    std::copy(from.keys, from.keys + n, keys);
    std::copy(from.payload, from.payload + n, group);
  }
  if (low > 0) fix_ties({keys, n}, group, low);  // one block: no parallel region
}

// Keys sorted in place with their groups. Keys outside `varies` are the same in the whole
// piece when `known_varies` is set; otherwise they are found. A piece much bigger than the
// cache is sorted by all threads together (when called outside a parallel region).
void sort_piece(std::uint64_t* keys, std::uint16_t* group, std::size_t n, std::uint64_t varies,
                bool known_varies) {
  if (n < 256) {
    thread_local std::vector<std::pair<std::uint64_t, std::uint16_t>> pairs;
    sort_with_payload(keys, group, n, pairs);
    return;
  }
  if (!known_varies) {
    const auto bits = block_partials<KeyBits>(
        n,
        [&](std::size_t begin, std::size_t end, std::size_t) {
          KeyBits b;
          for (std::size_t i = begin; i < end; ++i) b.add(keys[i]);
          return b;
        },
        radix_block);
    KeyBits all;
    for (const auto& b : bits) all.add(b);
    varies = all.varying();
  }
  if (n <= radix_block) {
    sort_piece_in_cache(keys, group, n, varies);
    return;
  }
  thread_local std::vector<std::uint64_t> spare;
  thread_local std::vector<std::uint16_t> spare_group;
  thread_local std::vector<std::uint32_t> counts, digit_begin;
  spare.resize(n);
  spare_group.resize(n);
  counts.resize(block_count(n, radix_block) * digit_values);
  const SortedKeys sorted = radix_sort_keys(keys, group, spare.data(), spare_group.data(), n,
                                            varies, counts.data(), digit_begin);
  if (sorted.keys == keys) return;
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        std::copy(sorted.keys + begin, sorted.keys + end, keys + begin);
        std::copy(sorted.payload + begin, sorted.payload + end, group + begin);
      },
      radix_block);
}

// Values dealt into pieces: piece p holds the keys (key_of) from begin[p] to begin[p + 1], each
// with its group, and every key of a piece is below every key of the next; sort_pieces then
// sorts each piece, and the keys are all in order. The pieces depend on the values only, so the
// result is the same on any thread count.
struct Pieces {
  std::uint64_t* keys = nullptr;
  std::uint16_t* group = nullptr;
  std::vector<std::size_t> begin;
  std::vector<std::uint64_t> least, greatest;  // bounds on each piece's keys
  std::size_t count() const { return begin.size() - 1; }
  std::size_t size(std::size_t p) const { return begin[p + 1] - begin[p]; }
};

Pieces deal_into_pieces(std::span<const double> values, std::size_t groups) {
  const std::size_t n = values.size();
  // Scratch kept between calls by the calling thread, used in the parallel loops through these
  // locals (a thread_local name there would be each worker's own, empty, buffer).
  thread_local std::vector<std::uint64_t> keys_buffer, bucket_low;
  thread_local std::vector<std::uint16_t> group_buffer;
  thread_local std::vector<std::uint32_t> counts_buffer, bucket_begin;
  thread_local std::vector<BinadeSlices> slices_buffer;
  keys_buffer.resize(n);
  group_buffer.resize(n);
  std::uint64_t* const keys = keys_buffer.data();
  std::uint16_t* const group = group_buffer.data();
  const std::size_t blocks = block_count(n, radix_block);

  // 1. About how many values fall in each binade, from every sample_stride-th value. Only the
  // buckets' sizes depend on it, not the result.
  std::vector<std::uint32_t>& sampled = counts_buffer;
  sampled.assign(binades, 0u);
  for (std::size_t i = 0; i < n; i += sample_stride) ++sampled[key_of(values[i]) >> binade_shift];

  // 2. Buckets: each binade in the sample is cut into as many equal slices (a power of two) as
  // it needs for about bucket_target values each, so the buckets follow the values however they
  // spread (across zero and one, over many binades or few). A binade the sample missed joins the
  // bucket below it (the first bucket when none is below), so bucket_of is monotone in the key.
  // Each block counts its values per bucket; consecutive buckets make pieces of about
  // piece_size values.
  const std::size_t bucket_target = std::max(piece_size / 2, n / max_buckets);
  slices_buffer.resize(binades);
  BinadeSlices* const slices = slices_buffer.data();
  std::uint32_t buckets = 0;
  bucket_low.clear();  // each bucket's least key
  for (std::size_t e = 0; e < binades; ++e) {
    if (sampled[e] == 0) {
      slices[e] = {buckets == 0 ? 0 : buckets - 1, mantissa_bits};
      continue;
    }
    const std::size_t count = std::size_t{sampled[e]} * sample_stride;
    unsigned bits = 0;
    while (bits < max_slice_bits && (count >> bits) > bucket_target) ++bits;
    slices[e] = {buckets, mantissa_bits - bits};
    for (std::uint64_t j = 0; j < std::uint64_t{1} << bits; ++j)
      bucket_low.push_back(buckets + j == 0 ? 0
                                            : (std::uint64_t{e} << binade_shift) |
                                                  (j << (mantissa_bits - bits)));
    buckets += std::uint32_t{1} << bits;
  }
  const auto bucket_of = [slices](std::uint64_t k) {
    const BinadeSlices s = slices[k >> binade_shift];
    return s.first + static_cast<std::uint32_t>((k & mantissa_mask) >> s.shift);
  };
  counts_buffer.resize(blocks * buckets);
  std::uint32_t* const counts = counts_buffer.data();
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        std::uint32_t* c = &counts[b * buckets];
        std::fill(c, c + buckets, 0u);
        for (std::size_t i = begin; i < end; ++i) ++c[bucket_of(key_of(values[i]))];
      },
      radix_block);
  counts_to_offsets(std::span<std::uint32_t>(counts, blocks * buckets), blocks, buckets,
                    bucket_begin);
  Pieces pieces{keys, group, {0}, {0}, {}};
  for (std::size_t d = 1; d < buckets; ++d)
    if (bucket_begin[d + 1] - pieces.begin.back() > piece_size &&
        bucket_begin[d] > pieces.begin.back()) {
      pieces.begin.push_back(bucket_begin[d]);
      pieces.greatest.push_back(bucket_low[d] - 1);
      pieces.least.push_back(bucket_low[d]);
    }
  pieces.begin.push_back(n);
  pieces.greatest.push_back(~std::uint64_t{0});

  // 3. Scatter the keys to their buckets, each with its group (value i is in group i mod groups).
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        std::uint32_t* next = &counts[b * buckets];
        std::size_t g = begin % groups;
        for (std::size_t i = begin; i < end; ++i) {
          const std::uint64_t k = key_of(values[i]);
          const std::uint32_t at = next[bucket_of(k)]++;
          keys[at] = k;
          group[at] = static_cast<std::uint16_t>(g);
          if (++g == groups) g = 0;
        }
      },
      radix_block);
  return pieces;
}

// Sorts each piece in cache, in parallel, and calls visit(p) once it is sorted (while it is in
// cache), on the thread that sorted it. A big piece is sorted afterwards by all the threads
// together.
template <class Visit>
void sort_pieces(const Pieces& pieces, Visit&& visit) {
  const auto count = static_cast<std::int64_t>(pieces.count());
  const auto big = [&](std::int64_t p) {
    return pieces.size(static_cast<std::size_t>(p)) > big_piece;
  };
  const auto sort = [&](std::int64_t piece) {
    const auto p = static_cast<std::size_t>(piece);
    // Within one binade, the bits the piece's bounds share are every key's.
    const std::uint64_t least = pieces.least[p], greatest = pieces.greatest[p];
    const bool one_binade = (least >> binade_shift) == (greatest >> binade_shift);
    const std::uint64_t varies =
        least == greatest ? 0 : ~std::uint64_t{0} >> std::countl_zero(least ^ greatest);
    const std::size_t first = pieces.begin[p];
    sort_piece(pieces.keys + first, pieces.group + first, pieces.size(p), varies, one_binade);
    visit(p);
  };
  detail::FirstError error;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t p = 0; p < count; ++p) {
    try {
      if (!big(p)) sort(p);
    } catch (...) {
      error.keep(static_cast<std::size_t>(p), std::current_exception());
    }
  }
  error.rethrow();
  for (std::int64_t p = 0; p < count; ++p)
    if (big(p)) sort(p);
}

}  // namespace

DistributionsByGroup distributions_by_group(std::span<const double> values, std::size_t groups) {
  const std::size_t n = values.size();
  if (groups == 0 || groups > std::size_t{1} << 16)
    throw std::invalid_argument("distributions_by_group: groups must be from 1 to 65536, not " +
                                std::to_string(groups));
  if (n > std::numeric_limits<std::uint32_t>::max())
    throw std::invalid_argument("distributions_by_group: more than 2^32 - 1 values");
  DistributionsByGroup result;
  result.groups.resize(groups);
  if (n == 0) return result;

  const Pieces pieces = deal_into_pieces(values, groups);
  const std::size_t piece_count = pieces.count();
  const std::uint64_t* const keys = pieces.keys;
  const std::uint16_t* const group = pieces.group;

  // Each piece's sums, taken while it is in cache: its total and its values weighted by their
  // rank in it (from 1); and by group, the count, total and values weighted by their rank among
  // the group's in the piece (rows of `groups` entries, one row a piece).
  thread_local std::vector<double> piece_total, piece_weighted, group_total, group_weighted;
  thread_local std::vector<std::uint32_t> group_count;
  piece_total.resize(piece_count);
  piece_weighted.resize(piece_count);
  group_total.resize(piece_count * groups);
  group_weighted.resize(piece_count * groups);
  group_count.resize(piece_count * groups);
  // (locals: a thread_local name inside the parallel loop would be the worker's own buffer)
  double* const p_total = piece_total.data();
  double* const p_weighted = piece_weighted.data();
  double* const g_total = group_total.data();
  double* const g_weighted = group_weighted.data();
  std::uint32_t* const g_count = group_count.data();
  sort_pieces(pieces, [&](std::size_t p) {
    // Summed in this thread's own arrays, then copied to the piece's rows: rows of pieces that
    // two threads sum at once may share cache lines.
    thread_local std::vector<std::uint32_t> c;
    thread_local std::vector<double> t, w;
    c.assign(groups, 0u);
    t.assign(groups, 0.0);
    w.assign(groups, 0.0);
    double total = 0.0, weighted = 0.0;
    const std::size_t first = pieces.begin[p];
    for (std::size_t i = first; i < pieces.begin[p + 1]; ++i) {
      const double x = value_of(keys[i]);
      const std::uint16_t g = group[i];
      total += x;
      weighted += static_cast<double>(i - first + 1) * x;
      t[g] += x;
      w[g] += static_cast<double>(++c[g]) * x;
    }
    std::copy(c.begin(), c.end(), g_count + p * groups);
    std::copy(t.begin(), t.end(), g_total + p * groups);
    std::copy(w.begin(), w.end(), g_weighted + p * groups);
    p_total[p] = total;
    p_weighted[p] = weighted;
  });

  // Everyone: the keys are now in order.
  const auto value_at = [&](std::size_t i) { return value_of(keys[i]); };
  // The median of n values from the two in the middle (the same one when n is odd), as
  // median_sorted takes it.
  const auto median_of = [](std::size_t count, double low, double high) {
    return count % 2 == 1 ? high : 0.5 * (low + high);
  };
  {
    DistributionStats& all = result.all;
    all.count = n;
    TotalAndWeighted sums;
    for (std::size_t p = 0; p < piece_count; ++p) {
      sums.total += p_total[p];
      sums.weighted += static_cast<double>(pieces.begin[p]) * p_total[p] + p_weighted[p];
    }
    all.total = sums.total;
    all.gini = gini_from(sums, n);
    all.median = median_of(n, value_at((n - 1) / 2), value_at(n / 2));
    const auto top_share =
        [&](double fraction) {  // the top values in their piece, then the pieces above
          const std::size_t from = n - top_count(n, fraction);
          std::size_t p = static_cast<std::size_t>(
                              std::upper_bound(pieces.begin.begin(), pieces.begin.end(), from) -
                              pieces.begin.begin()) -
                          1;
          double top = 0.0;
          for (std::size_t i = from; i < pieces.begin[p + 1]; ++i) top += value_at(i);
          for (++p; p < piece_count; ++p) top += p_total[p];
          return top / sums.total;
        };
    all.top10_share = top_share(0.10);
    all.top1_share = top_share(0.01);
  }

  // Each group: its sums from the pieces' in order (ranks carried over from the pieces before),
  // and the ranks wanted (the median's, where the top 10 % and top 1 % begin) placed in their
  // pieces. Then one pass over each piece that holds a wanted rank finds them all.
  enum Wanted : std::size_t { MedianLow, MedianHigh, Top10, Top1, WantedCount };
  constexpr auto none = std::numeric_limits<std::uint32_t>::max();
  struct Place {
    std::uint32_t piece = none, rank = none;  // the piece, and the rank among the group's there
  };
  std::vector<std::array<Place, WantedCount>> place(groups);
  std::vector<std::array<double, WantedCount>> found(groups, {0.0, 0.0, 0.0, 0.0});
  std::vector<std::array<double, 2>> above(
      groups, {0.0, 0.0});  // top sums of the pieces above the one it begins in
  std::vector<std::uint8_t> visit_piece(piece_count, 0);
  for (std::size_t g = 0; g < groups; ++g) {
    DistributionStats& s = result.groups[g];
    std::array<std::size_t, WantedCount> rank{};
    s.count = (n + groups - 1 - g) / groups;
    if (s.count == 0) continue;
    rank[MedianLow] = (s.count - 1) / 2;
    rank[MedianHigh] = s.count / 2;
    rank[Top10] = s.count - top_count(s.count, 0.10);
    rank[Top1] = s.count - top_count(s.count, 0.01);
    TotalAndWeighted sums;
    std::size_t before = 0;  // the group's values in the pieces before p
    for (std::size_t p = 0; p < piece_count; ++p) {
      const std::size_t at = p * groups + g;
      const std::size_t here = g_count[at];
      sums.total += g_total[at];
      sums.weighted += static_cast<double>(before) * g_total[at] + g_weighted[at];
      for (std::size_t k = 0; k < WantedCount; ++k)
        if (rank[k] >= before && rank[k] < before + here) {
          place[g][k] = {static_cast<std::uint32_t>(p),
                         static_cast<std::uint32_t>(rank[k] - before)};
          visit_piece[p] = 1;
        }
      for (std::size_t k = Top10; k <= Top1; ++k)
        if (place[g][k].piece != none && place[g][k].piece < p) above[g][k - Top10] += g_total[at];
      before += here;
    }
    s.total = sums.total;
    s.gini = gini_from(sums, s.count);
  }
  std::vector<std::size_t> to_visit;
  for (std::size_t p = 0; p < piece_count; ++p)
    if (visit_piece[p]) to_visit.push_back(p);
  const auto visits = static_cast<std::int64_t>(to_visit.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t v = 0; v < visits; ++v) {
    const std::size_t p = to_visit[static_cast<std::size_t>(v)];
    std::vector<std::uint32_t> seen(groups, 0u);
    // Ranks wanted in this piece, by group (none: not here).
    std::vector<std::array<std::uint32_t, WantedCount>> want(groups);
    for (std::size_t g = 0; g < groups; ++g)
      for (std::size_t k = 0; k < WantedCount; ++k)
        want[g][k] = place[g][k].piece == p ? place[g][k].rank : none;
    for (std::size_t i = pieces.begin[p]; i < pieces.begin[p + 1]; ++i) {
      const std::uint16_t g = group[i];
      const std::uint32_t r = seen[g]++;
      const auto& w = want[g];
      if (r == w[MedianLow]) found[g][MedianLow] = value_at(i);
      if (r == w[MedianHigh]) found[g][MedianHigh] = value_at(i);
      if (r >= w[Top10] && w[Top10] != none) found[g][Top10] += value_at(i);
      if (r >= w[Top1] && w[Top1] != none) found[g][Top1] += value_at(i);
    }
  }
  for (std::size_t g = 0; g < groups; ++g) {
    DistributionStats& s = result.groups[g];
    if (s.count == 0) continue;
    s.median = median_of(s.count, found[g][MedianLow], found[g][MedianHigh]);
    s.top10_share = (found[g][Top10] + above[g][0]) / s.total;
    s.top1_share = (found[g][Top1] + above[g][1]) / s.total;
  }
  return result;
}

std::vector<double> sorted_copy(std::span<const double> values) {
  std::vector<double> out(values.begin(), values.end());
  sort_ascending(out);
  return out;
}

DistributionSummary summarise_sorted(std::span<const double> sorted) {
  DistributionSummary s;
  const std::size_t n = sorted.size();
  if (n == 0) return s;
  const auto nd = static_cast<double>(n);
  const TotalAndWeighted sums = total_and_weighted(sorted);
  s.mean = sums.total / nd;
  struct Spread {
    double squares = 0.0;
    std::size_t below_mean = 0;
    std::size_t negative = 0;
  };
  const auto partials = block_partials<Spread>(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        Spread p;
        for (std::size_t i = begin; i < end; ++i) {
          const double x = sorted[i];
          p.squares += (x - s.mean) * (x - s.mean);
          p.below_mean += x < s.mean ? 1 : 0;
          p.negative += x < 0.0 ? 1 : 0;
        }
        return p;
      },
      stats_block);
  Spread spread;
  for (const auto& p : partials) {
    spread.squares += p.squares;
    spread.below_mean += p.below_mean;
    spread.negative += p.negative;
  }
  const Concentration c = concentration_from(sums, sorted);
  s.gini = c.gini;
  s.top10_share = c.top10_share;
  s.top1_share = c.top1_share;
  s.largest_share = sorted.back() / sums.total;
  s.below_mean_share = static_cast<double>(spread.below_mean) / nd;
  s.median = median_sorted(sorted);
  s.var_over_mean_sq = spread.squares / nd / (s.mean * s.mean);
  s.negative_share = static_cast<double>(spread.negative) / nd;
  return s;
}

}  // namespace sim
