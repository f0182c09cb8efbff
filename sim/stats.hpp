#pragma once
// Distribution statistics used by the models' outputs. Inputs are sorted ascending where the
// name says so; all sums run in index order, so results are deterministic.
#include <cstddef>
#include <limits>
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

// A distribution's count and total, and its statistics as the _sorted functions above define
// them (NaN where those are: every statistic of no values, the Gini when the total is 0; the
// shares are the top sums over the total, as there).
struct DistributionStats {
  std::size_t count = 0;
  double total = 0.0;
  double median = std::numeric_limits<double>::quiet_NaN();
  double gini = std::numeric_limits<double>::quiet_NaN();
  double top10_share = std::numeric_limits<double>::quiet_NaN();
  double top1_share = std::numeric_limits<double>::quiet_NaN();
};
struct DistributionsByGroup {
  DistributionStats all;
  std::vector<DistributionStats> groups;
};

// The statistics of everyone's values and of each group's, for members dealt round-robin to
// `groups` groups (value i belongs to group i mod groups), from one sort: the values are dealt by
// their binade and leading bits into pieces that fit in cache, each piece is sorted with the group
// of each value alongside and summed (by group too) while it is in cache; the sums of the pieces
// are added in order, and the few pieces that hold a group's median or the start of its top 10 %
// or 1 % are read once more. Totals and the Gini's rank-weighted sums are added piece by piece,
// so they may differ in the last bits from gini_sorted's and top_share_sorted's, which add in
// fixed blocks. The same result on any thread count. Throws std::invalid_argument for 0 or more
// than 65536 groups, or 2^32 or more values.
DistributionsByGroup distributions_by_group(std::span<const double> values, std::size_t groups);

// Median of the values of several runs, each sorted ascending (as sort_ascending sorts), without
// merging them: the same value median_sorted gives for all of them sorted. NaN when all are empty.
double median_of_runs(std::span<const std::span<const double>> runs);

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
