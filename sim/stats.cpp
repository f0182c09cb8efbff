#include "sim/stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

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
  double top = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    total += sorted[i];
    if (i >= n - k) top += sorted[i];
  }
  return top / total;
}

double median_sorted(std::span<const double> sorted) {
  const std::size_t n = sorted.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

std::vector<double> sorted_copy(std::span<const double> values) {
  std::vector<double> out(values.begin(), values.end());
  // A fixed number of pieces, independent of the thread count, sorted in parallel and merged.
  constexpr std::int64_t pieces = 4;
  const std::size_t n = out.size();
  if (n < 65536) {
    std::sort(out.begin(), out.end());
    return out;
  }
  auto cut = [n](std::int64_t p) { return static_cast<std::ptrdiff_t>(n * static_cast<std::size_t>(p) / pieces); };
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < pieces; ++p) std::sort(out.begin() + cut(p), out.begin() + cut(p + 1));
#pragma omp parallel sections
  {
#pragma omp section
    std::inplace_merge(out.begin(), out.begin() + cut(1), out.begin() + cut(2));
#pragma omp section
    std::inplace_merge(out.begin() + cut(2), out.begin() + cut(3), out.end());
  }
  std::inplace_merge(out.begin(), out.begin() + cut(2), out.end());
  return out;
}

DistributionSummary summarise_sorted(std::span<const double> sorted) {
  DistributionSummary s;
  const std::size_t n = sorted.size();
  if (n == 0) return s;
  const auto nd = static_cast<double>(n);
  double total = 0.0;
  for (double x : sorted) total += x;
  s.mean = total / nd;
  double squares = 0.0;
  std::size_t below_mean = 0;
  std::size_t negative = 0;
  for (double x : sorted) {
    squares += (x - s.mean) * (x - s.mean);
    below_mean += x < s.mean ? 1 : 0;
    negative += x < 0.0 ? 1 : 0;
  }
  s.gini = gini_sorted(sorted);
  s.top10_share = top_share_sorted(sorted, 0.10);
  s.top1_share = top_share_sorted(sorted, 0.01);
  s.largest_share = sorted.back() / total;
  s.below_mean_share = static_cast<double>(below_mean) / nd;
  s.median = median_sorted(sorted);
  s.var_over_mean_sq = squares / nd / (s.mean * s.mean);
  s.negative_share = static_cast<double>(negative) / nd;
  return s;
}

}  // namespace sim
