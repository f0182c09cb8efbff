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

// Gini and the top 10 % and top 1 % shares of sorted values from one pass over them: the same
// bits as gini_sorted and top_share_sorted (NaN for no values).
struct Concentration {
  double gini, top10_share, top1_share;
};
Concentration concentration_sorted(std::span<const double> sorted);

// Median of sorted values (the mean of the middle two when n is even).
double median_sorted(std::span<const double> sorted);

// Sorts `values` ascending in place, using the available threads: a least-significant-digit
// radix sort on the values' bits (11-bit digits; digits that all values share are skipped), with
// fixed-size blocks whose per-block counts are combined in block order, so the result is the same
// on any thread count. Total order: -0 before +0; NaNs (by sign) at the ends. Small inputs use
// std::sort (the same order, but for the relative order of -0 and +0).
void sort_ascending(std::span<double> values);

// Sorts the values of members dealt round-robin to groups (value i belongs to group i mod G)
// for everyone and for each group at once: `everyone` gets all the values ascending, and
// `by_group` each group's ascending, group g from group_start[g] to group_start[g + 1] (G + 1
// entries: 0, then the prefix sums of the group sizes). From 2^16 values, one sort serves both:
// the values are dealt by their highest varying bits into pieces that fit in cache, each piece
// is radix-sorted with the group of each value alongside, and each group's values are then taken
// from everyone's in order. Smaller inputs sort each group and merge them. The same result on
// any thread count. Throws std::invalid_argument when group_start does not fit the values.
void sort_with_groups(std::span<const double> values, std::span<const std::size_t> group_start,
                      std::span<double> everyone, std::span<double> by_group);

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
