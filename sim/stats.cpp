#include "sim/stats.hpp"

#include <algorithm>
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

Concentration concentration_sorted(std::span<const double> sorted) {
  const std::size_t n = sorted.size();
  if (n == 0) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan, nan};
  }
  return concentration_from(total_and_weighted(sorted), sorted);
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

// Below this many values, sort_with_groups sorts the groups and merges them on one thread.
constexpr std::size_t grouped_radix_min = std::size_t{1} << 16;
// Values per piece: a piece and its radix sort's scratch stay in L2.
constexpr std::size_t piece_size = std::size_t{1} << 14;

// Merges the consecutive ascending runs of `values` (run k from bounds[k] to bounds[k + 1]) in
// pairs: O(n log runs).
void merge_pairs(std::span<double> values, std::span<const std::size_t> bounds, std::vector<double>& scratch) {
  scratch.resize(values.size());
  std::vector<std::size_t> runs(bounds.begin(), bounds.end()), merged;
  double* from = values.data();
  double* to = scratch.data();
  while (runs.size() > 2) {
    merged.assign(1, 0);
    for (std::size_t k = 0; k + 1 < runs.size(); k += 2) {
      const std::size_t begin = runs[k], middle = runs[k + 1];
      const std::size_t end = k + 2 < runs.size() ? runs[k + 2] : middle;  // an odd last run is copied
      std::merge(from + begin, from + middle, from + middle, from + end, to + begin);
      merged.push_back(end);
    }
    runs.swap(merged);
    std::swap(from, to);
  }
  if (from != values.data()) std::copy(from, from + values.size(), values.data());
}

// Small inputs: each group gathered and sorted, then the groups merged for everyone.
void sort_groups_then_merge(std::span<const double> values,
                            std::span<const std::size_t> group_start, std::span<double> everyone,
                            std::span<double> by_group) {
  const std::size_t groups = group_start.size() - 1;
  for (std::size_t i = 0; i < values.size(); ++i)
    by_group[group_start[i % groups] + i / groups] = values[i];
  const auto group_count = static_cast<std::int64_t>(groups);
#pragma omp parallel for schedule(dynamic) if (values.size() >= radix_min)
  for (std::int64_t g = 0; g < group_count; ++g)
    sort_ascending(by_group.subspan(group_start[g], group_start[g + 1] - group_start[g]));
  std::copy(by_group.begin(), by_group.end(), everyone.begin());
  thread_local std::vector<double> scratch;
  merge_pairs(everyone, group_start, scratch);
}

// One piece of sort_with_groups: keys with their groups, sorted in cache on this thread; the
// values go to `out`, the groups stay in `group`.
void sort_piece(std::uint64_t* keys, std::uint16_t* group, std::size_t n, double* out) {
  if (n < 256) {
    std::vector<std::pair<std::uint64_t, std::uint16_t>> pairs;
    sort_with_payload(keys, group, n, pairs);
    for (std::size_t i = 0; i < n; ++i) out[i] = value_of(keys[i]);
    return;
  }
  // This thread's own scratch (called inside a parallel region, on the worker).
  thread_local std::vector<std::uint64_t> spare;
  thread_local std::vector<std::uint16_t> spare_group;
  thread_local std::vector<std::uint32_t> counts, digit_begin;
  spare.resize(n);
  spare_group.resize(n);
  counts.resize(block_count(n, radix_block) * digit_values);
  KeyBits bits;
  for (std::size_t i = 0; i < n; ++i) bits.add(keys[i]);
  const SortedKeys sorted = radix_sort_keys(keys, group, spare.data(), spare_group.data(), n,
                                            bits.varying(), counts.data(), digit_begin);
  for (std::size_t i = 0; i < n; ++i) out[i] = value_of(sorted.keys[i]);
  if (sorted.payload != group) std::copy(sorted.payload, sorted.payload + n, group);
}

}  // namespace

void sort_with_groups(std::span<const double> values, std::span<const std::size_t> group_start,
                      std::span<double> everyone, std::span<double> by_group) {
  const std::size_t n = values.size();
  if (group_start.size() < 2 || group_start.front() != 0 || group_start.back() != n ||
      everyone.size() != n || by_group.size() != n)
    throw std::invalid_argument(
        "sort_with_groups: group_start must run from 0 to the number of values, and the "
        "outputs must hold them all");
  const std::size_t groups = group_start.size() - 1;
  for (std::size_t g = 0; g < groups; ++g)
    if (group_start[g + 1] - group_start[g] != (n + groups - 1 - g) / groups)
      throw std::invalid_argument("sort_with_groups: group " + std::to_string(g) +
                                  " does not hold every groups-th value");
  if (n < grouped_radix_min || groups > std::size_t{1} << 16 ||
      n > std::numeric_limits<std::uint32_t>::max()) {
    sort_groups_then_merge(values, group_start, everyone, by_group);
    return;
  }
  // Scratch kept between calls by the calling thread, used in the parallel loops through these
  // locals (a thread_local name there would be each worker's own, empty, buffer).
  thread_local std::vector<std::uint64_t> keys_buffer;
  thread_local std::vector<std::uint16_t> group_buffer;
  thread_local std::vector<std::uint32_t> counts_buffer, bucket_begin, group_counts_buffer;
  thread_local std::vector<std::size_t> group_begin;
  keys_buffer.resize(n);
  group_buffer.resize(n);
  std::uint64_t* const keys = keys_buffer.data();
  std::uint16_t* const group = group_buffer.data();
  const std::size_t blocks = block_count(n, radix_block);

  // 1. The bits that vary; the highest digit_bits of them make the buckets.
  const auto bits = block_partials<KeyBits>(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        KeyBits b;
        for (std::size_t i = begin; i < end; ++i) b.add(key_of(values[i]));
        return b;
      },
      radix_block);
  KeyBits total;
  for (const auto& b : bits) total.add(b);
  const std::uint64_t varies = total.varying();
  const unsigned top = varies == 0 ? 0u : 64u - static_cast<unsigned>(std::countl_zero(varies));
  const unsigned shift = top > digit_bits ? top - digit_bits : 0u;
  const std::uint64_t mask = digit_values - 1;

  // 2. Each block counts its values per bucket; consecutive buckets make pieces of about
  // piece_size values (a bigger bucket is a piece of its own).
  counts_buffer.resize(blocks * digit_values);
  std::uint32_t* const counts = counts_buffer.data();
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        std::uint32_t* c = &counts[b * digit_values];
        std::fill(c, c + digit_values, 0u);
        for (std::size_t i = begin; i < end; ++i) ++c[(key_of(values[i]) >> shift) & mask];
      },
      radix_block);
  counts_to_offsets(std::span<std::uint32_t>(counts, blocks * digit_values), blocks, digit_values,
                    bucket_begin);
  std::vector<std::size_t> piece_begin{0};
  for (std::size_t d = 1; d < digit_values; ++d)
    if (bucket_begin[d + 1] - piece_begin.back() > piece_size &&
        bucket_begin[d] > piece_begin.back())
      piece_begin.push_back(bucket_begin[d]);
  piece_begin.push_back(n);

  // 3. Scatter the keys to their buckets, each with its group (value i is in group i mod groups).
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        std::uint32_t* next = &counts[b * digit_values];
        std::size_t g = begin % groups;
        for (std::size_t i = begin; i < end; ++i) {
          const std::uint64_t k = key_of(values[i]);
          const std::uint32_t at = next[(k >> shift) & mask]++;
          keys[at] = k;
          group[at] = static_cast<std::uint16_t>(g);
          if (++g == groups) g = 0;
        }
      },
      radix_block);

  // 4. Each piece sorted in cache, in parallel; everyone's values written in place.
  const auto pieces = static_cast<std::int64_t>(piece_begin.size() - 1);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t p = 0; p < pieces; ++p) {
    const std::size_t first = piece_begin[p];
    sort_piece(keys + first, group + first, piece_begin[p + 1] - first, everyone.data() + first);
  }

  // 5. Each group's values taken from everyone's in order (a stable counting scatter), so they
  // come out sorted.
  group_counts_buffer.assign(blocks * groups, 0);
  std::uint32_t* const group_counts = group_counts_buffer.data();
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        std::uint32_t* c = &group_counts[b * groups];
        for (std::size_t i = begin; i < end; ++i) ++c[group[i]];
      },
      radix_block);
  counts_to_offsets(std::span<std::uint32_t>(group_counts, blocks * groups), blocks, groups,
                    group_begin);
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t b) {
        std::uint32_t* next = &group_counts[b * groups];
        for (std::size_t i = begin; i < end; ++i) by_group[next[group[i]]++] = everyone[i];
      },
      radix_block);
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
