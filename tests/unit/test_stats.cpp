#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
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

TEST_CASE("summarise_sorted and concentration_sorted give the same bits as the separate statistics", "[stats]") {
  std::vector<double> v(100001);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::exp(std::sin(static_cast<double>(i) * 3.7) * 3.0);
  sim::sort_ascending(v);
  const auto s = sim::summarise_sorted(v);
  CHECK(s.gini == sim::gini_sorted(v));
  CHECK(s.top10_share == sim::top_share_sorted(v, 0.10));
  CHECK(s.top1_share == sim::top_share_sorted(v, 0.01));
  CHECK(s.median == sim::median_sorted(v));
  const auto c = sim::concentration_sorted(v);
  CHECK(c.gini == sim::gini_sorted(v));
  CHECK(c.top10_share == sim::top_share_sorted(v, 0.10));
  CHECK(c.top1_share == sim::top_share_sorted(v, 0.01));
  CHECK(std::isnan(sim::concentration_sorted({}).gini));
}

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

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

// Where each of `groups` round-robin groups of n values starts (G + 1 entries).
std::vector<std::size_t> group_starts(std::size_t n, std::size_t groups) {
  std::vector<std::size_t> start(groups + 1, 0);
  for (std::size_t g = 0; g < groups; ++g) start[g + 1] = start[g] + (n + groups - 1 - g) / groups;
  return start;
}

// Each round-robin group's values sorted by std::sort, the groups one after another.
std::vector<double> sorted_by_group(const std::vector<double>& values, std::size_t groups) {
  std::vector<double> out;
  for (std::size_t g = 0; g < groups; ++g) {
    std::vector<double> members;
    for (std::size_t i = g; i < values.size(); i += groups) members.push_back(values[i]);
    std::sort(members.begin(), members.end());
    out.insert(out.end(), members.begin(), members.end());
  }
  return out;
}

// sort_with_groups of `values` in `groups` groups against std::sort, on 1, 2 and 4 threads.
void check_sort_with_groups(const std::vector<double>& values, std::size_t groups) {
  const int threads = sim::max_threads();
  const std::size_t n = values.size();
  const auto start = group_starts(n, groups);
  auto expected_all = values;
  std::sort(expected_all.begin(), expected_all.end());
  const auto expected_groups = sorted_by_group(values, groups);
  for (const int t : {1, 2, 4}) {
    INFO(t << " threads");
    sim::set_threads(t);
    std::vector<double> everyone(n), by_group(n);
    sim::sort_with_groups(values, start, everyone, by_group);
    CHECK(same_bits(everyone, expected_all));
    CHECK(same_bits(by_group, expected_groups));
  }
  sim::set_threads(threads);
}

}  // namespace

TEST_CASE("sort_with_groups gives everyone's and each group's values sorted, on any thread count",
          "[stats]") {
  // Below and above 2^16 values (one sort path each), one group to many, sizes not a multiple
  // of the groups.
  for (const std::size_t n : {std::size_t{1000}, std::size_t{70001}, std::size_t{300007}}) {
    for (const std::size_t groups : {std::size_t{1}, std::size_t{3}, std::size_t{20}, std::size_t{1001}}) {
      INFO(n << " values in " << groups << " groups");
      check_sort_with_groups(awkward_values(n), groups);
    }
  }
}

TEST_CASE("sort_with_groups sorts one repeated value, and values a few ulp apart", "[stats]") {
  // No bit varies; fewer bits vary than a bucket digit holds.
  const std::size_t n = 100003, groups = 20;
  const auto start = group_starts(n, groups);
  for (const bool equal : {true, false}) {
    std::vector<double> values(n, 2.5);
    if (!equal)
      for (std::size_t i = 0; i < n; ++i)
        values[i] = std::nextafter(2.5, 3.0) + std::ldexp((i * 7919) % 300, -51);
    auto expected = values;
    std::sort(expected.begin(), expected.end());
    const auto expected_groups = sorted_by_group(values, groups);
    std::vector<double> everyone(n), by_group(n);
    sim::sort_with_groups(values, start, everyone, by_group);
    INFO((equal ? "one value" : "values 2^-51 apart"));
    CHECK(same_bits(everyone, expected));
    CHECK(same_bits(by_group, expected_groups));
  }
}

TEST_CASE("sort_with_groups sorts values crowded into a few octaves, and into a narrow band of one",
          "[stats]") {
  // The buckets are cut by the highest varying bits, here the exponent: most values fall into
  // two buckets (octaves), each a piece far larger than the others (sorted by one thread out
  // of cache, as the model's money is), and a band of them shares its highest 20 mantissa bits
  // (keys that agree on the piece's sorted prefix: fix_ties). Ties across groups inside the
  // band. Expected: std::sort, on 1, 2 and 4 threads.
  const std::size_t n = 400009;
  std::vector<double> values(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double u = static_cast<double>((i * 2654435761u) % 1000003) / 1000003.0;
    switch (i % 10) {
      case 0:
        values[i] = std::ldexp(1.0 + u, static_cast<int>(i % 37) - 12);
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
    check_sort_with_groups(values, groups);
  }
}

TEST_CASE("sort_with_groups refuses groups that do not fit the values", "[stats]") {
  const std::vector<double> values{3, 1, 2, 5, 4};
  std::vector<double> everyone(5), by_group(5);
  const std::vector<std::size_t> two_groups{0, 3, 5};
  sim::sort_with_groups(values, two_groups, everyone, by_group);
  CHECK(by_group == std::vector<double>{2, 3, 4, 1, 5});
  const std::vector<std::size_t> uneven{0, 2, 5};
  CHECK_THROWS_AS(sim::sort_with_groups(values, uneven, everyone, by_group), std::invalid_argument);
  const std::vector<std::size_t> short_end{0, 3, 4};
  CHECK_THROWS_AS(sim::sort_with_groups(values, short_end, everyone, by_group), std::invalid_argument);
  std::vector<double> too_small(4);
  CHECK_THROWS_AS(sim::sort_with_groups(values, two_groups, too_small, by_group), std::invalid_argument);
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
