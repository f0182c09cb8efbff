#include "sim/stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "sim/parallel.hpp"

namespace sim {

double gini_sorted(std::span<const double> sorted) {
  const std::size_t n = sorted.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  double total = 0.0;
  double weighted = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    total += sorted[i];
    weighted += static_cast<double>(i + 1) * sorted[i];
  }
  if (total == 0.0) return std::numeric_limits<double>::quiet_NaN();
  const auto nd = static_cast<double>(n);
  return 2.0 * weighted / (nd * total) - (nd + 1.0) / nd;
}

std::size_t top_count(std::size_t n, double fraction) {
  const auto k = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
  return std::clamp<std::size_t>(k, 1, std::max<std::size_t>(n, 1));
}

double top_share_sorted(std::span<const double> sorted, double fraction) {
  const std::size_t n = sorted.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t k = top_count(n, fraction);
  double total = 0.0;
  for (std::size_t i = 0; i < n; ++i) total += sorted[i];
  double top = 0.0;
  for (std::size_t i = n - k; i < n; ++i) top += sorted[i];
  return top / total;
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
constexpr unsigned digit_passes = (64 + digit_bits - 1) / digit_bits;  // 6
constexpr std::size_t radix_block = 1 << 16;   // elements per block (fixed: results never depend on threads)
constexpr std::size_t radix_min = 1 << 12;  // below this, std::sort is as fast

void radix_sort(std::span<double> values) {
  const std::size_t n = values.size();
  const std::size_t blocks = block_count(n, radix_block);
  // Scratch kept between calls by the calling thread. (A thread_local name inside the parallel
  // loops below would be each worker's own, empty, buffer: the loops use these locals.)
  thread_local std::vector<std::uint64_t> keys_buffer, spare_buffer;
  thread_local std::vector<std::uint32_t> counts_buffer;
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
  std::uint64_t* from = keys;
  std::uint64_t* to = spare_buffer.data();
  for (unsigned pass = 0; pass < digit_passes; ++pass) {
    const unsigned shift = pass * digit_bits;
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
    // Exclusive prefix sums, digit-major then block: where each block writes each digit.
    std::uint32_t position = 0;
    for (std::size_t d = 0; d < digit_values; ++d)
      for (std::size_t b = 0; b < blocks; ++b) {
        const std::uint32_t c = counts[b * digit_values + d];
        counts[b * digit_values + d] = position;
        position += c;
      }
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
  // The same sums, in the same order, as gini_sorted and top_share_sorted, in two passes.
  double total = 0.0;
  double weighted = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    total += sorted[i];
    weighted += static_cast<double>(i + 1) * sorted[i];
  }
  s.mean = total / nd;
  double squares = 0.0;
  std::size_t below_mean = 0;
  std::size_t negative = 0;
  for (double x : sorted) {
    squares += (x - s.mean) * (x - s.mean);
    below_mean += x < s.mean ? 1 : 0;
    negative += x < 0.0 ? 1 : 0;
  }
  s.gini = total == 0.0 ? std::numeric_limits<double>::quiet_NaN() : 2.0 * weighted / (nd * total) - (nd + 1.0) / nd;
  auto top_share = [&](double fraction) {
    double top = 0.0;
    for (std::size_t i = n - top_count(n, fraction); i < n; ++i) top += sorted[i];
    return top / total;
  };
  s.top10_share = top_share(0.10);
  s.top1_share = top_share(0.01);
  s.largest_share = sorted.back() / total;
  s.below_mean_share = static_cast<double>(below_mean) / nd;
  s.median = median_sorted(sorted);
  s.var_over_mean_sq = squares / nd / (s.mean * s.mean);
  s.negative_share = static_cast<double>(negative) / nd;
  return s;
}

}  // namespace sim
