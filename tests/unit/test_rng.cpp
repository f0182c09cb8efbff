#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "models/all_models.hpp"
#include "sim/rng.hpp"

namespace {
enum class TestStream : std::uint64_t { A = 900, B = 901 };

// Mean and variance of n draws of f.
template <class F>
std::pair<double, double> moments(int n, F&& draw) {
  double s = 0.0, s2 = 0.0;
  for (int i = 0; i < n; ++i) {
    const double x = draw(i);
    s += x;
    s2 += x * x;
  }
  const double mean = s / n;
  return {mean, s2 / n - mean * mean};
}
}  // namespace

TEST_CASE("the same address gives the same numbers", "[rng]") {
  sim::Rng a{42, TestStream::A, 7, 1234};
  sim::Rng b{42, TestStream::A, 7, 1234};
  for (int i = 0; i < 100; ++i) REQUIRE(a.bits() == b.bits());
}

TEST_CASE("seed, stream, step and index each change the numbers", "[rng]") {
  const std::uint64_t base = sim::Rng{42, TestStream::A, 7, 1234}.bits();
  CHECK(sim::Rng{43, TestStream::A, 7, 1234}.bits() != base);
  CHECK(sim::Rng{42, TestStream::B, 7, 1234}.bits() != base);
  CHECK(sim::Rng{42, TestStream::A, 8, 1234}.bits() != base);
  CHECK(sim::Rng{42, TestStream::A, 7, 1235}.bits() != base);
}

TEST_CASE("successive draws do not repeat across the Philox block boundary", "[rng]") {
  sim::Rng rng{1, TestStream::A, 0, 0};
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(rng.bits());
  CHECK(seen.size() == 1000);
}

TEST_CASE("u01 lies in (0, 1] and is uniform", "[rng]") {
  // 10 bins, 100000 draws: chi-square with 9 degrees of freedom; 27.9 is its 0.999 quantile.
  constexpr int n = 100000, bins = 10;
  std::vector<int> count(bins, 0);
  sim::Rng rng{5, TestStream::A, 0, 0};
  for (int i = 0; i < n; ++i) {
    const double u = rng.u01();
    REQUIRE(u > 0.0);
    REQUIRE(u <= 1.0);
    ++count[std::min(bins - 1, static_cast<int>(u * bins))];
  }
  double chi2 = 0.0;
  for (int c : count) chi2 += (c - n / bins) * (c - n / bins) / double(n / bins);
  CHECK(chi2 < 27.9);
}

TEST_CASE("below(n) is uniform over [0, n) and never reaches n", "[rng]") {
  constexpr int n = 70000, k = 7;
  std::vector<int> count(k, 0);
  sim::Rng rng{9, TestStream::B, 3, 0};
  for (int i = 0; i < n; ++i) {
    const auto x = rng.below(k);
    REQUIRE(x < k);
    ++count[x];
  }
  double chi2 = 0.0;
  for (int c : count) chi2 += (c - n / k) * (c - n / k) / double(n / k);
  CHECK(chi2 < 22.5);  // 0.999 quantile of chi-square with 6 degrees of freedom
  CHECK(sim::Rng{1, TestStream::A, 0, 0}.below(1) == 0);
}

// Moments over 200000 draws: the standard error of a mean is sd / 447, so 5 standard errors
// leave a false alarm rate far below one in a million.
TEST_CASE("distributions have their moments", "[rng]") {
  constexpr int n = 200000;
  auto at = [](int i) { return sim::Rng{11, TestStream::A, 0, static_cast<std::uint64_t>(i)}; };
  SECTION("uniform(a, b)") {
    auto [m, v] = moments(n, [&](int i) { return at(i).uniform(2.0, 5.0); });
    CHECK(m == Approx(3.5).margin(5 * std::sqrt(0.75) / 447));
    CHECK(v == Approx(0.75).epsilon(0.02));
  }
  SECTION("exponential") {
    auto [m, v] = moments(n, [&](int i) { return at(i).exponential(2.0); });
    CHECK(m == Approx(2.0).margin(5 * 2.0 / 447));
    CHECK(v == Approx(4.0).epsilon(0.03));
  }
  SECTION("normal") {
    auto [m, v] = moments(n, [&](int i) { return at(i).normal(1.0, 3.0); });
    CHECK(m == Approx(1.0).margin(5 * 3.0 / 447));
    CHECK(v == Approx(9.0).epsilon(0.02));
  }
  SECTION("lognormal") {
    auto [m, v] = moments(n, [&](int i) { return at(i).lognormal(0.0, 0.5); });
    CHECK(m == Approx(std::exp(0.125)).epsilon(0.01));
  }
  SECTION("gamma, shape above and below 1") {
    auto [m, v] = moments(n, [&](int i) { return at(i).gamma(3.0, 2.0); });
    CHECK(m == Approx(6.0).margin(5 * std::sqrt(12.0) / 447));
    CHECK(v == Approx(12.0).epsilon(0.03));
    auto [m2, v2] = moments(n, [&](int i) { return at(i).gamma(0.5, 1.0); });
    CHECK(m2 == Approx(0.5).margin(5 * std::sqrt(0.5) / 447));
    CHECK(v2 == Approx(0.5).epsilon(0.04));
  }
  SECTION("beta") {
    auto [m, v] = moments(n, [&](int i) { return at(i).beta(2.0, 3.0); });
    CHECK(m == Approx(0.4).margin(5 * 0.2 / 447));
    CHECK(v == Approx(0.04).epsilon(0.03));
  }
  SECTION("bernoulli") {
    auto [m, v] = moments(n, [&](int i) { return at(i).bernoulli(0.3) ? 1.0 : 0.0; });
    CHECK(m == Approx(0.3).margin(5 * std::sqrt(0.21) / 447));
  }
}

TEST_CASE("no two random-number purposes share a stream value", "[rng]") {
  std::vector<std::pair<std::string, std::uint64_t>> all;
  for (const auto& model : models::all_models())
    for (const auto& s : model.streams) all.emplace_back(s.name, s.value);
  REQUIRE(all.size() >= 3);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  for (std::size_t i = 1; i < all.size(); ++i) {
    INFO(all[i - 1].first << " and " << all[i].first);
    CHECK(all[i - 1].second != all[i].second);
  }
}
