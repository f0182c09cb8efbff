#include "sim/stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

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
constexpr unsigned prefix_bits = 3 * digit_bits;  // the highest varying bits sorted by digits

// Keys sorted by their bits from `low` up, put in full order: each run of keys that agree on
// those bits is sorted (by insertion when short, as it nearly always is). Block b sorts the
// runs that start in it from from[b], where the run that spills in from the block before ends,
// up to from[b + 1], so no block reads keys that another is sorting.
void fix_ties(std::span<std::uint64_t> keys, unsigned low) {
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
      [&](std::size_t, std::size_t end, std::size_t b) {
        for (std::size_t first = from[b]; first < end;) {
          std::size_t last = first + 1;
          while (last < from[b + 1] && same(last)) ++last;  // never reads the next block's keys
          if (last - first > 32) {
            if (!std::is_sorted(keys.begin() + static_cast<std::ptrdiff_t>(first), keys.begin() + static_cast<std::ptrdiff_t>(last)))
              std::sort(keys.begin() + static_cast<std::ptrdiff_t>(first), keys.begin() + static_cast<std::ptrdiff_t>(last));
          } else {
            for (std::size_t j = first + 1; j < last; ++j)
              for (std::size_t m = j; m > first && keys[m] < keys[m - 1]; --m) std::swap(keys[m], keys[m - 1]);
          }
          first = last;
        }
      },
      radix_block);
}

void radix_sort(std::span<double> values) {
  const std::size_t n = values.size();
  const std::size_t blocks = block_count(n, radix_block);
  // Scratch kept between calls by the calling thread. (A thread_local name inside the parallel
  // loops below would be each worker's own, empty, buffer: the loops use these locals.)
  thread_local std::vector<std::uint64_t> keys_buffer, spare_buffer;
  thread_local std::vector<std::uint32_t> counts_buffer, digit_begin;
  keys_buffer.resize(n);
  spare_buffer.resize(n);
  counts_buffer.resize(blocks * digit_values);
  std::uint64_t* const keys = keys_buffer.data();
  std::uint32_t* const counts = counts_buffer.data();
  // Keys, and whether each digit varies at all (one OR and one AND over every key).
  struct Bits {
    std::uint64_t any = 0, all = ~std::uint64_t{0};
  };
  const auto bits = block_partials<Bits>(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        Bits b;
        for (std::size_t i = begin; i < end; ++i) {
          const std::uint64_t k = key_of(values[i]);
          keys[i] = k;
          b.any |= k;
          b.all &= k;
        }
        return b;
      },
      radix_block);
  std::uint64_t varies = 0;
  {
    Bits total;
    for (const auto& b : bits) {
      total.any |= b.any;
      total.all &= b.all;
    }
    varies = total.any ^ total.all;  // bits that differ between some two keys
  }
  // Only the highest prefix_bits of the bits that vary are sorted by digits (three passes, not
  // six); keys that agree on all of those (values within about 2^-21 of each other, rare but
  // possible) are put in order afterwards by fix_ties.
  const unsigned top = varies == 0 ? 0u : 64u - static_cast<unsigned>(std::countl_zero(varies));
  const unsigned low = top > prefix_bits ? top - prefix_bits : 0u;
  std::uint64_t* from = keys;
  std::uint64_t* to = spare_buffer.data();
  for (unsigned shift = low; shift < top; shift += digit_bits) {
    const std::uint64_t mask = digit_values - 1;
    if (((varies >> shift) & mask) == 0) continue;  // every key has this digit: order unchanged
    for_blocks(
        n,
        [&](std::size_t begin, std::size_t end, std::size_t block) {
          std::uint32_t* c = &counts[block * digit_values];
          std::fill(c, c + digit_values, 0u);
          for (std::size_t i = begin; i < end; ++i) ++c[(from[i] >> shift) & mask];
        },
        radix_block);
    counts_to_offsets(std::span<std::uint32_t>(counts, blocks * digit_values), blocks, digit_values, digit_begin);
    for_blocks(
        n,
        [&](std::size_t begin, std::size_t end, std::size_t block) {
          std::uint32_t* next = &counts[block * digit_values];
          for (std::size_t i = begin; i < end; ++i) {
            const std::uint64_t k = from[i];
            to[next[(k >> shift) & mask]++] = k;
          }
        },
        radix_block);
    std::swap(from, to);
  }
  if (low > 0) fix_ties({from, n}, low);
  for_blocks(
      n,
      [&](std::size_t begin, std::size_t end, std::size_t) {
        for (std::size_t i = begin; i < end; ++i) values[i] = value_of(from[i]);
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

namespace {

// Below this many values the runs are merged in pairs on one thread; above, cut into pieces.
constexpr std::size_t piecewise_min = std::size_t{1} << 16;
// Values per piece: a piece and the radix sort's scratch (three times its size) stay in L2.
constexpr std::size_t piece_size = std::size_t{1} << 14;

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

// The runs cut by value into pieces of about piece_size values: the splitters are quantiles of
// a sample taken evenly from every run, a piece is the part of every run between two splitters
// (found by binary search), and each piece is gathered into `scratch` at its place in the
// result and radix-sorted there, in parallel and in cache. Every step depends on the values
// only, so the result (the sorted values) is the same on any thread count.
void sort_pieces(std::span<double> values, std::span<const std::size_t> bounds, std::vector<double>& scratch) {
  const std::size_t n = values.size();
  const std::size_t runs = bounds.size() - 1;
  const std::size_t pieces = block_count(n, piece_size);
  constexpr std::size_t samples_per_piece = 16;
  std::vector<double> sample;
  sample.reserve(pieces * samples_per_piece + runs);
  for (std::size_t r = 0; r < runs; ++r) {
    const std::size_t length = bounds[r + 1] - bounds[r];
    const std::size_t take = length * pieces * samples_per_piece / n;
    for (std::size_t k = 0; k < take; ++k) sample.push_back(values[bounds[r] + (2 * k + 1) * length / (2 * take)]);
  }
  std::sort(sample.begin(), sample.end());
  // cut[p * runs + r]: where piece p starts in run r.
  std::vector<std::size_t> cut((pieces + 1) * runs);
  for (std::size_t r = 0; r < runs; ++r) {
    cut[r] = bounds[r];
    cut[pieces * runs + r] = bounds[r + 1];
  }
  for (std::size_t p = 1; p < pieces; ++p) {
    const double splitter = sample.empty() ? 0.0 : sample[p * sample.size() / pieces];
    for (std::size_t r = 0; r < runs; ++r) {
      const double* first = values.data() + cut[(p - 1) * runs + r];
      const double* last = values.data() + bounds[r + 1];
      cut[p * runs + r] = static_cast<std::size_t>(std::lower_bound(first, last, splitter) - values.data());
    }
  }
  std::vector<std::size_t> begin(pieces + 1, 0);
  for (std::size_t p = 0; p < pieces; ++p) {
    begin[p + 1] = begin[p];
    for (std::size_t r = 0; r < runs; ++r) begin[p + 1] += cut[(p + 1) * runs + r] - cut[p * runs + r];
  }
  scratch.resize(n);
  const auto piece_count = static_cast<std::int64_t>(pieces);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t piece = 0; piece < piece_count; ++piece) {
    const auto p = static_cast<std::size_t>(piece);
    double* out = scratch.data() + begin[p];
    for (std::size_t r = 0; r < runs; ++r)
      out = std::copy(values.data() + cut[p * runs + r], values.data() + cut[(p + 1) * runs + r], out);
    // Inside a parallel region the radix sort's blocks run on this thread.
    const std::span<double> part(scratch.data() + begin[p], begin[p + 1] - begin[p]);
    if (part.size() < radix_min)
      std::sort(part.begin(), part.end());
    else
      radix_sort(part);
  }
  for_blocks(n, [&](std::size_t first, std::size_t last, std::size_t) {
    std::copy(scratch.data() + first, scratch.data() + last, values.data() + first);
  });
}

}  // namespace

void merge_sorted_runs(std::span<double> values, std::span<const std::size_t> bounds, std::vector<double>& scratch) {
  if (bounds.size() <= 2) return;  // one run (or none): already sorted
  if (values.size() < piecewise_min)
    merge_pairs(values, bounds, scratch);
  else
    sort_pieces(values, bounds, scratch);
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
  s.gini = gini_from(sums, n);
  s.top10_share = top_sum(sorted, top_count(n, 0.10)) / sums.total;
  s.top1_share = top_sum(sorted, top_count(n, 0.01)) / sums.total;
  s.largest_share = sorted.back() / sums.total;
  s.below_mean_share = static_cast<double>(spread.below_mean) / nd;
  s.median = median_sorted(sorted);
  s.var_over_mean_sq = spread.squares / nd / (s.mean * s.mean);
  s.negative_share = static_cast<double>(spread.negative) / nd;
  return s;
}

}  // namespace sim
