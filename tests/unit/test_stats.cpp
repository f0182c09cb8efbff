#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "sim/parallel.hpp"
#include "sim/stats.hpp"

TEST_CASE("Gini of hand-computed cases", "[stats]") {
  CHECK(sim::gini_sorted(std::vector<double>{1, 1, 1, 1}) == Approx(0.0).margin(1e-15));
  // One of four holds everything: (n - 1) / n.
  CHECK(sim::gini_sorted(std::vector<double>{0, 0, 0, 4}) == Approx(0.75));
  // 1, 2, 3, 4: mean absolute difference over all ordered pairs = 20/16 = 1.25; G = 1.25 / (2 * 2.5) = 0.25.
  CHECK(sim::gini_sorted(std::vector<double>{1, 2, 3, 4}) == Approx(0.25));
  // 0, 1: G = 0.5.
  CHECK(sim::gini_sorted(std::vector<double>{0, 1}) == Approx(0.5));
  CHECK(std::isnan(sim::gini_sorted(std::vector<double>{0, 0})));
}

TEST_CASE("top shares, median and counts of hand-computed cases", "[stats]") {
  std::vector<double> v{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // total 55
  CHECK(sim::top_count(10, 0.1) == 1);
  CHECK(sim::top_count(1000, 0.01) == 10);
  CHECK(sim::top_count(5, 0.01) == 1);
  CHECK(sim::top_share_sorted(v, 0.1) == Approx(10.0 / 55.0));
  CHECK(sim::top_share_sorted(v, 0.2) == Approx(19.0 / 55.0));
  CHECK(sim::median_sorted(v) == Approx(5.5));
  CHECK(sim::median_sorted(std::vector<double>{1, 7, 9}) == Approx(7.0));
}

TEST_CASE("a distribution summary of a hand-computed case", "[stats]") {
  const std::vector<double> v{-1, 0, 1, 2, 8};  // total 10, mean 2
  const auto s = sim::summarise_sorted(v);
  CHECK(s.mean == Approx(2.0));
  CHECK(s.median == Approx(1.0));
  CHECK(s.largest_share == Approx(0.8));
  CHECK(s.below_mean_share == Approx(0.6));
  CHECK(s.negative_share == Approx(0.2));
  // variance: (9 + 4 + 1 + 0 + 36) / 5 = 10; over mean^2 = 2.5.
  CHECK(s.var_over_mean_sq == Approx(2.5));
  CHECK(s.top10_share == Approx(0.8));
}

TEST_CASE("a parallel sorted copy equals std::sort", "[stats]") {
  std::vector<double> v(200003);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(static_cast<double>(i) * 12.9898) * 43758.5453;
  auto expected = v;
  std::sort(expected.begin(), expected.end());
  CHECK(sim::sorted_copy(v) == expected);
}

TEST_CASE("sort_ascending orders any doubles as std::sort does, on any thread count", "[stats]") {
  // Sizes on both sides of the radix sort's threshold and of its block size; values of both
  // signs over many magnitudes, ties, zeros and infinities.
  for (const std::size_t n : {std::size_t{10}, std::size_t{40000}, std::size_t{200003}}) {
    std::vector<double> v(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double x = std::sin(static_cast<double>(i) * 12.9898) * 43758.5453;
      v[i] = i % 7 == 0 ? std::ldexp(x, static_cast<int>(i % 200) - 100) : (i % 11 == 0 ? 3.25 : x);
    }
    v[n / 2] = 0.0;
    v[n / 3] = std::numeric_limits<double>::infinity();
    v[n / 5] = -std::numeric_limits<double>::infinity();
    auto expected = v;
    std::sort(expected.begin(), expected.end());
    auto one = v;
    auto many = v;
    const int threads_before = sim::max_threads();
    sim::set_threads(1);
    sim::sort_ascending(one);
    sim::set_threads(4);
    sim::sort_ascending(many);
    sim::set_threads(threads_before);
    CHECK(one == expected);
    CHECK(std::memcmp(one.data(), many.data(), n * sizeof(double)) == 0);
  }
}

TEST_CASE("sort_ascending on constant digits and equal values", "[stats]") {
  // Integers: the low mantissa digits are all zero and are skipped; the order must still hold.
  std::vector<double> v(100000);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 7919) % 1000);
  auto expected = v;
  std::sort(expected.begin(), expected.end());
  sim::sort_ascending(v);
  CHECK(v == expected);
  std::vector<double> same(70000, 2.5);
  sim::sort_ascending(same);
  CHECK(same == std::vector<double>(70000, 2.5));
}

TEST_CASE("sort_ascending orders values that differ only in their lowest bits", "[stats]") {
  // The radix sort orders the highest 33 varying bits and then sorts each run of keys that agree
  // on those: here runs of 2, 5 and 40 near-equal values, one of 90 000 that crosses blocks of
  // 65 536, and exact duplicates, among values over many magnitudes, in shuffled order.
  std::vector<double> v;
  for (int k = 0; k < 3000; ++k) {
    const double base = std::exp(std::sin(k * 1.7) * 20.0);
    const int run = k % 3 == 0 ? 2 : (k % 3 == 1 ? 5 : 40);
    for (int j = 0; j < run; ++j) v.push_back(base * (1.0 + std::ldexp(static_cast<double>((j * 37) % run), -45)));
    v.push_back(base);
  }
  for (int j = 0; j < 90000; ++j) v.push_back(7.0 + std::ldexp(static_cast<double>((j * 7919) % 90000), -40));
  std::uint64_t state = 12345;
  for (std::size_t i = v.size() - 1; i > 0; --i) {  // a fixed shuffle
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    std::swap(v[i], v[(state >> 33) % (i + 1)]);
  }
  auto expected = v;
  std::sort(expected.begin(), expected.end());
  const int threads_before = sim::max_threads();
  for (const int threads : {1, 4}) {
    sim::set_threads(threads);
    auto sorted = v;
    sim::sort_ascending(sorted);
    CHECK(sorted == expected);
  }
  sim::set_threads(threads_before);
}

TEST_CASE("summarise_sorted gives the same bits as the separate statistics", "[stats]") {
  std::vector<double> v(100001);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::exp(std::sin(static_cast<double>(i) * 3.7) * 3.0);
  sim::sort_ascending(v);
  const auto s = sim::summarise_sorted(v);
  CHECK(s.gini == sim::gini_sorted(v));
  CHECK(s.top10_share == sim::top_share_sorted(v, 0.10));
  CHECK(s.top1_share == sim::top_share_sorted(v, 0.01));
  CHECK(s.median == sim::median_sorted(v));
}

namespace {

// Values with what incomes and wealth have: a long tie of zeros, negative values, values shared
// across groups, a narrow skewed cluster, runs that differ only in their lowest bits, many
// magnitudes.
std::vector<double> awkward_values(std::size_t n) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i);
    v[i] = i % 7 == 0   ? 0.0
           : i % 11 == 0 ? 1e6 + std::floor(std::sin(x) * 3.0)
           : i % 13 == 0 ? -std::exp(std::sin(x * 0.3) * 2.0)
           : i % 17 == 0 ? 5.0 + std::ldexp(static_cast<double>(i % 50), -44)
                         : std::exp(std::sin(x * 1.7) * 8.0);
  }
  return v;
}

// Each round-robin group's values sorted by std::sort.
std::vector<std::vector<double>> sorted_groups(const std::vector<double>& values,
                                               std::size_t groups) {
  std::vector<std::vector<double>> out(groups);
  for (std::size_t i = 0; i < values.size(); ++i) out[i % groups].push_back(values[i]);
  for (auto& members : out) std::sort(members.begin(), members.end());
  return out;
}

bool same_stats(const sim::DistributionStats& a, const sim::DistributionStats& b) {
  const auto bits = [](double x) { return std::bit_cast<std::uint64_t>(x); };
  return a.count == b.count && bits(a.total) == bits(b.total) && bits(a.median) == bits(b.median) &&
         bits(a.gini) == bits(b.gini) && bits(a.top10_share) == bits(b.top10_share) &&
         bits(a.top1_share) == bits(b.top1_share);
}

// One distribution's statistics against those of its values sorted by std::sort. The median is
// one of the values (or the mean of two), so its bits must match. Totals and the Gini's weighted
// sum are added in another order (piece by piece rather than in fixed blocks), so they may differ
// by rounding only: relative 1e-9 is far above the n * 2^-53 (about 3e-11 at 3 * 10^5 values)
// that reordering a sum of same-signed values can cost, and far below any real mistake (a value
// counted twice or in the wrong group changes them by more than 1e-6 here).
void check_against_sorted(const sim::DistributionStats& got, const std::vector<double>& sorted) {
  CHECK(got.count == sorted.size());
  if (sorted.empty()) {
    CHECK(std::isnan(got.median));
    CHECK(std::isnan(got.gini));
    return;
  }
  const auto near = [](double x) { return Approx(x).epsilon(1e-9).margin(1e-12); };
  CHECK(std::bit_cast<std::uint64_t>(got.median) ==
        std::bit_cast<std::uint64_t>(sim::median_sorted(sorted)));
  CHECK(got.total == near(std::accumulate(sorted.begin(), sorted.end(), 0.0)));
  const double gini = sim::gini_sorted(sorted);
  if (std::isnan(gini)) {
    CHECK(std::isnan(got.gini));
  } else {
    CHECK(got.gini == near(gini));
    CHECK(got.top10_share == near(sim::top_share_sorted(sorted, 0.10)));
    CHECK(got.top1_share == near(sim::top_share_sorted(sorted, 0.01)));
  }
}

// distributions_by_group of `values` in `groups` groups against std::sort and the _sorted
// statistics, and the same bits on 1, 2 and 4 threads.
void check_distributions(const std::vector<double>& values, std::size_t groups) {
  const int threads = sim::max_threads();
  auto everyone = values;
  std::sort(everyone.begin(), everyone.end());
  const auto by_group = sorted_groups(values, groups);
  std::vector<sim::DistributionsByGroup> results;
  for (const int t : {1, 2, 4}) {
    sim::set_threads(t);
    results.push_back(sim::distributions_by_group(values, groups));
  }
  sim::set_threads(threads);
  const auto& got = results.front();
  check_against_sorted(got.all, everyone);
  REQUIRE(got.groups.size() == groups);
  for (std::size_t g = 0; g < groups; ++g) {
    INFO("group " << g);
    check_against_sorted(got.groups[g], by_group[g]);
  }
  for (const auto& other : results) {
    CHECK(same_stats(other.all, got.all));
    for (std::size_t g = 0; g < groups; ++g) CHECK(same_stats(other.groups[g], got.groups[g]));
  }
}

}  // namespace

TEST_CASE(
    "distributions_by_group gives each group's and everyone's statistics, the same on any thread "
    "count",
    "[stats]") {
  // A handful of values to many pieces, one group to many (more groups than values too), sizes
  // not a multiple of the groups.
  for (const std::size_t n :
       {std::size_t{7}, std::size_t{1000}, std::size_t{70001}, std::size_t{300007}}) {
    for (const std::size_t groups : {std::size_t{1}, std::size_t{3}, std::size_t{20}, std::size_t{1001}}) {
      INFO(n << " values in " << groups << " groups");
      check_distributions(awkward_values(n), groups);
    }
  }
}

TEST_CASE("distributions_by_group on one repeated value, values a few ulp apart, and all zeros",
          "[stats]") {
  // One repeated value: a single bucket far bigger than a piece (sorted by all threads); values
  // 2^-51 apart: fewer bits vary than a digit holds; zeros: the Gini and shares are NaN.
  const std::size_t n = 300007, groups = 20;
  for (const int kind : {0, 1, 2}) {
    std::vector<double> values(n, kind == 2 ? 0.0 : 2.5);
    if (kind == 1)
      for (std::size_t i = 0; i < n; ++i)
        values[i] = std::nextafter(2.5, 3.0) + std::ldexp((i * 7919) % 300, -51);
    INFO((kind == 0 ? "one value" : kind == 1 ? "values 2^-51 apart" : "zeros"));
    check_distributions(values, groups);
  }
}

TEST_CASE(
    "distributions_by_group on values crowded into a few octaves, across one, and into a narrow "
    "band",
    "[stats]") {
  // Most values fall into two octaves, [1, 2) and [2, 4), which share no exponent bit (a cut by
  // the highest varying bits would make each one piece); a band of them shares its highest 20
  // mantissa bits (keys that agree on the bits a piece sorts by digits), with ties across groups;
  // a few values spread over 37 octaves and a few below zero.
  const std::size_t n = 400009;
  std::vector<double> values(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double u = static_cast<double>((i * 2654435761u) % 1000003) / 1000003.0;
    switch (i % 10) {
      case 0:
        values[i] =
            std::ldexp(1.0 + u, static_cast<int>(i % 37) - 12) * (i % 1000 == 0 ? -1.0 : 1.0);
        break;  // spread
      case 1:
      case 2:
      case 3:
        values[i] = 2.0 + 2.0 * u;
        break;  // [2, 4)
      case 4:
      case 5:
        values[i] = 1.0 + u;
        break;  // [1, 2)
      default:
        values[i] = 1.0 + std::ldexp(std::floor(u * 5000.0), -40);  // narrow band, ties
    }
  }
  for (const std::size_t groups : {std::size_t{1}, std::size_t{20}}) {
    INFO(groups << " groups");
    check_distributions(values, groups);
  }
}

TEST_CASE("distributions_by_group: a small example by hand, no values, and groups out of range",
          "[stats]") {
  // Groups {3, 2, 4} and {1, 5}: medians 3 and 3, totals 9 and 6.
  const std::vector<double> values{3, 1, 2, 5, 4};
  const auto d = sim::distributions_by_group(values, 2);
  CHECK(d.groups[0].count == 3);
  CHECK(d.groups[0].median == 3.0);
  CHECK(d.groups[0].total == 9.0);
  CHECK(d.groups[1].median == 3.0);
  CHECK(d.groups[1].top10_share == Approx(5.0 / 6.0));
  CHECK(d.all.median == 3.0);
  CHECK(d.all.gini == Approx(sim::gini_sorted(std::vector<double>{1, 2, 3, 4, 5})));
  const auto none = sim::distributions_by_group({}, 3);
  CHECK(none.all.count == 0);
  CHECK(std::isnan(none.all.median));
  CHECK(none.groups.size() == 3);
  CHECK_THROWS_AS(sim::distributions_by_group(values, 0), std::invalid_argument);
  CHECK_THROWS_AS(sim::distributions_by_group(values, 65537), std::invalid_argument);
}

TEST_CASE("median_of_runs gives what median_sorted gives for the runs merged", "[stats]") {
  // Runs of uneven lengths, some empty, with ties within and across runs and negative values;
  // odd and even totals.
  for (const std::size_t runs : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{20}}) {
    for (const std::size_t length : {std::size_t{1}, std::size_t{10}, std::size_t{333}, std::size_t{5000}}) {
      INFO(runs << " runs of up to " << length);
      const auto values = awkward_values(runs * length);
      std::vector<std::vector<double>> kept(runs);
      for (std::size_t i = 0; i < values.size(); ++i)
        if ((i / runs) % (i % runs + 1) == 0 || i % runs == 1) kept[i % runs].push_back(values[i]);  // uneven
      kept.back().clear();
      std::vector<std::span<const double>> spans;
      std::vector<double> all;
      for (auto& run : kept) {
        std::sort(run.begin(), run.end());
        spans.emplace_back(run);
        all.insert(all.end(), run.begin(), run.end());
      }
      std::sort(all.begin(), all.end());
      const double expected = sim::median_sorted(all);
      const double found = sim::median_of_runs(spans);
      if (all.empty())
        CHECK(std::isnan(found));
      else
        CHECK(std::memcmp(&found, &expected, sizeof(double)) == 0);
    }
  }
}
