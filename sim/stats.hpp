#pragma once
// Distribution statistics used by the models' outputs. Inputs are sorted ascending where the
// name says so; all sums run in index order, so results are deterministic.
#include <cstddef>
#include <span>
#include <vector>

namespace sim {

// Gini coefficient of sorted values: G = 2 sum_i i x_(i) / (n sum x) - (n + 1) / n, i = 1..n.
// 0 for equal values; (n - 1) / n when one holds everything. Defined for any real values (with
// negative values it may exceed 1); NaN when the sum is 0.
double gini_sorted(std::span<const double> sorted);

// Number of members in the top `fraction` of n: round(fraction * n), at least 1.
std::size_t top_count(std::size_t n, double fraction);

// Share of the total held by the top `fraction` of sorted values (e.g. 0.1 for the top 10 %).
double top_share_sorted(std::span<const double> sorted, double fraction);

// Median of sorted values (the mean of the middle two when n is even).
double median_sorted(std::span<const double> sorted);

// Sorts `values` ascending in place, using the available threads: a least-significant-digit
// radix sort on the values' bits (11-bit digits; digits that all values share are skipped), with
// fixed-size blocks whose per-block counts are combined in block order, so the result is the same
// on any thread count. Total order: -0 before +0; NaNs (by sign) at the ends. Small inputs use
// std::sort (the same order, but for the relative order of -0 and +0).
void sort_ascending(std::span<double> values);

// Sorts `values` made of consecutive ascending runs, run k from bounds[k] to bounds[k + 1]
// (bounds[0] = 0, the last bound = values.size()). Below 2^16 values, by merging pairs of runs
// on one thread: O(n log runs). Above, the runs are cut by value into pieces that fit in cache,
// each gathered and radix-sorted on its own, in parallel: the memory is read and written about
// twice, against about twelve times for a radix sort of the whole. `scratch` is kept between
// calls. The same result on any thread count.
void merge_sorted_runs(std::span<double> values, std::span<const std::size_t> bounds, std::vector<double>& scratch);

// A copy of `values`, sorted ascending by sort_ascending.
std::vector<double> sorted_copy(std::span<const double> values);

// Summary of a wealth distribution, from sorted values.
struct DistributionSummary {
  double gini = 0.0;
  double top10_share = 0.0;
  double top1_share = 0.0;
  double largest_share = 0.0;     // the richest member's share
  double below_mean_share = 0.0;  // share of members strictly below the mean
  double mean = 0.0;
  double median = 0.0;
  double var_over_mean_sq = 0.0;  // population variance / mean^2
  double negative_share = 0.0;    // share of members below zero
};
DistributionSummary summarise_sorted(std::span<const double> sorted);

}  // namespace sim
