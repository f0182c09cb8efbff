#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "models/economy/policy_learning.hpp"

using models::economy::adopt_policies;
using models::economy::choose_policy_sources;
using models::economy::PolicyPackage;
using models::economy::region_ring_adjacency;
using models::economy::RegionAdjacency;

namespace {

using Sources = std::vector<std::uint32_t>;

RegionAdjacency complete(std::size_t regions) {
  RegionAdjacency adjacency(regions);
  for (std::size_t r = 0; r < regions; ++r)
    for (std::size_t s = 0; s < regions; ++s)
      if (s != r) adjacency[r].push_back(static_cast<std::uint32_t>(s));
  return adjacency;
}

RegionAdjacency path(std::size_t regions) {
  RegionAdjacency adjacency(regions);
  for (std::size_t r = 0; r + 1 < regions; ++r) {
    adjacency[r].push_back(static_cast<std::uint32_t>(r + 1));
    adjacency[r + 1].push_back(static_cast<std::uint32_t>(r));
  }
  return adjacency;
}

PolicyPackage package(double grant, double quality) {
  PolicyPackage p;
  p.set("pcp_grant_per_capita", grant);
  p.set("quality", quality);
  return p;
}

// Well-being of each region is the quality of its package: a good package does better anywhere.
std::vector<double> wellbeing(const std::vector<PolicyPackage>& packages) {
  std::vector<double> w;
  for (const auto& p : packages) w.push_back(p.at("quality"));
  return w;
}

// Rounds until every region holds the package of region `origin` (capped at `cap`).
int rounds_to_spread(std::vector<PolicyPackage> packages, const RegionAdjacency& adjacency,
                     std::size_t origin, double rate, std::uint64_t seed, int cap) {
  const PolicyPackage good = packages[origin];
  for (int round = 0; round < cap; ++round) {
    if (std::all_of(packages.begin(), packages.end(), [&](const auto& p) { return p == good; }))
      return round;
    const auto source = choose_policy_sources(wellbeing(packages), adjacency, 0.05, rate, seed,
                                              static_cast<std::uint64_t>(round));
    adopt_policies(source, packages);
  }
  return cap;
}

}  // namespace

TEST_CASE("nobody adopts when no neighbour is better by the margin", "[economy][policy]") {
  const std::vector<double> w{1.0, 1.04, 1.03, 1.049};
  CHECK(choose_policy_sources(w, complete(4), 0.05, 1.0, 1, 0) == Sources{0, 1, 2, 3});
  // With a 1 % margin regions 0 and 2 follow the best, region 3; region 1 (1.04 x 1.01 > 1.049)
  // keeps its own ...
  CHECK(choose_policy_sources(w, complete(4), 0.01, 1.0, 1, 0) == Sources{3, 1, 3, 3});
  // ... and a negative well-being raises its own bar by the margin of its size.
  const std::vector<double> negative{-1.0, -0.96, -0.94};
  CHECK(choose_policy_sources(negative, complete(3), 0.05, 1.0, 1, 0) == Sources{2, 1, 2});
}

TEST_CASE("at rate 1 a region adopts the package of its best neighbour", "[economy][policy]") {
  const std::vector<double> w{1.0, 2.0, 3.0, 1.5, 3.0};
  RegionAdjacency adjacency(5);
  adjacency[0] = {1, 2, 3};  // best: 2
  adjacency[1] = {0, 3};     // nobody better
  adjacency[2] = {4};        // 4 is equal, not better
  adjacency[3] = {0, 1};     // 1 beats 1.5 by more than 5 %
  adjacency[4] = {0, 2, 1};  // nobody better
  CHECK(choose_policy_sources(w, adjacency, 0.05, 1.0, 7, 3) == Sources{2, 1, 2, 1, 4});
  CHECK(choose_policy_sources(w, adjacency, 0.05, 0.0, 7, 3) == Sources{0, 1, 2, 3, 4});
  // Two equally good neighbours: the lower index.
  RegionAdjacency tie(3);
  tie[0] = {2, 1};
  CHECK(choose_policy_sources(std::vector<double>{1.0, 2.0, 2.0}, tie, 0.05, 1.0, 7, 3)[0] == 1u);
}

TEST_CASE("decisions are simultaneous: along a chain a package moves one hop a round",
          "[economy][policy]") {
  std::vector<PolicyPackage> packages(6, package(0.0, 1.0));
  packages[0] = package(20.0, 2.0);
  const auto adjacency = path(6);
  for (std::size_t round = 1; round <= 5; ++round) {
    const auto source = choose_policy_sources(wellbeing(packages), adjacency, 0.05, 1.0, 3, round);
    // Only the region next to the front adopts; the one behind it compares with the old package.
    for (std::size_t r = 0; r < 6; ++r) CHECK(source[r] == (r == round ? round - 1 : r));
    CHECK(adopt_policies(source, packages) == 1u);
    for (std::size_t r = 0; r < 6; ++r)
      CHECK((packages[r].at("pcp_grant_per_capita") == 20.0) == (r <= round));
  }
}

TEST_CASE("choices are a pure function of the arguments", "[economy][policy][determinism]") {
  // 300 regions on a ring, every other one better than its neighbours: each worse region
  // adopts with probability 0.5.
  const std::size_t regions = 300;
  std::vector<double> w(regions);
  for (std::size_t r = 0; r < regions; ++r) w[r] = r % 2 == 0 ? 2.0 : 1.0;
  const auto adjacency = region_ring_adjacency(regions, 0, 1);
  const auto one = choose_policy_sources(w, adjacency, 0.05, 0.5, 42, 12);
  CHECK(choose_policy_sources(w, adjacency, 0.05, 0.5, 42, 12) == one);
  CHECK(choose_policy_sources(w, adjacency, 0.05, 0.5, 43, 12) != one);
  CHECK(choose_policy_sources(w, adjacency, 0.05, 0.5, 42, 24) != one);
  std::size_t adopted = 0;
  for (std::size_t r = 0; r < regions; ++r) adopted += one[r] != r;
  // 150 Bernoulli(0.5): mean 75, sd 6.1; 75 +- 30 is about 5 sd.
  CHECK(adopted > 45u);
  CHECK(adopted < 105u);
}

TEST_CASE("a good package spreads around a ring in the expected number of rounds",
          "[economy][policy]") {
  SECTION("rate 1: both ways at once, floor(R / 2) rounds") {
    for (std::size_t regions : {2u, 3u, 10u, 11u}) {
      std::vector<PolicyPackage> packages(regions, package(0.0, 1.0));
      packages[4 % regions] = package(20.0, 2.0);
      INFO(regions << " regions");
      CHECK(rounds_to_spread(packages, region_ring_adjacency(regions, 0, 5), 4 % regions, 1.0, 9,
                             100) == static_cast<int>(regions / 2));
    }
  }
  SECTION("rate p: one hop takes 1 / p rounds on average") {
    // Two regions, rate 0.3: the rounds until adoption are geometric with mean 1 / 0.3 = 3.33 and
    // sd sqrt(0.7) / 0.3 = 2.79; over 4000 seeds the standard error is 0.044, the tolerance 0.2.
    double total = 0.0;
    for (std::uint64_t seed = 0; seed < 4000; ++seed) {
      std::vector<PolicyPackage> packages{package(20.0, 2.0), package(0.0, 1.0)};
      total += rounds_to_spread(packages, region_ring_adjacency(2, 0, 0), 0, 0.3, seed, 1000);
    }
    CHECK(total / 4000.0 == Approx(1.0 / 0.3).margin(0.2));
  }
  SECTION("long links shorten the way") {
    std::vector<PolicyPackage> packages(40, package(0.0, 1.0));
    packages[0] = package(20.0, 2.0);
    const int ring = rounds_to_spread(packages, region_ring_adjacency(40, 0, 5), 0, 1.0, 9, 100);
    const int small_world =
        rounds_to_spread(packages, region_ring_adjacency(40, 10, 5), 0, 1.0, 9, 100);
    CHECK(ring == 20);
    CHECK(small_world < ring);
  }
}

TEST_CASE("the city network is a ring plus distinct undirected long links", "[economy][policy]") {
  const auto a = region_ring_adjacency(30, 12, 8);
  std::size_t ends = 0;
  for (std::size_t r = 0; r < 30; ++r) {
    const auto& row = a[r];
    CHECK(std::is_sorted(row.begin(), row.end()));
    CHECK(std::adjacent_find(row.begin(), row.end()) == row.end());  // no duplicate links
    CHECK(std::find(row.begin(), row.end(), r) == row.end());        // no self-links
    CHECK(std::find(row.begin(), row.end(), (r + 1) % 30) != row.end());
    CHECK(std::find(row.begin(), row.end(), (r + 29) % 30) != row.end());
    for (std::uint32_t s : row) CHECK(std::find(a[s].begin(), a[s].end(), r) != a[s].end());
    ends += row.size();
  }
  CHECK(ends == 2 * (30 + 12));
  CHECK(region_ring_adjacency(30, 12, 8) == a);
  CHECK(region_ring_adjacency(30, 12, 9) != a);
  // Small and full networks.
  CHECK(region_ring_adjacency(1, 0, 1) == RegionAdjacency{{}});
  CHECK(region_ring_adjacency(2, 0, 1) == RegionAdjacency{{1}, {0}});
  const auto full = region_ring_adjacency(6, 9, 1);  // 15 pairs, 6 on the ring
  for (const auto& row : full) CHECK(row.size() == 5u);
  CHECK_THROWS_WITH(region_ring_adjacency(6, 10, 1), Catch::Contains("only 9 pairs"));
}

TEST_CASE("bad inputs are refused with the value named", "[economy][policy]") {
  const std::vector<double> w{1.0, 2.0};
  CHECK_THROWS_WITH(choose_policy_sources(w, complete(3), 0.05, 1.0, 1, 0), Catch::Contains("3"));
  CHECK_THROWS_WITH(choose_policy_sources(w, complete(2), -0.1, 1.0, 1, 0),
                    Catch::Contains("margin"));
  CHECK_THROWS_WITH(choose_policy_sources(w, complete(2), 0.05, 1.5, 1, 0),
                    Catch::Contains("rate"));
  RegionAdjacency bad{{5}, {0}};
  CHECK_THROWS_WITH(choose_policy_sources(w, bad, 0.05, 1.0, 1, 0), Catch::Contains("neighbour 5"));
  PolicyPackage p = package(1.0, 1.0);
  CHECK_THROWS_WITH(p.at("care_income"), Catch::Contains("care_income"));
  std::vector<PolicyPackage> packages{p, p};
  CHECK_THROWS_WITH(adopt_policies(Sources{0, 7}, packages), Catch::Contains("region 7"));
}

TEST_CASE("a policy package is a value: copies are independent", "[economy][policy]") {
  PolicyPackage a = package(10.0, 1.0);
  PolicyPackage b;
  b = a;
  b.set("pcp_grant_per_capita", 30.0);
  CHECK(a.at("pcp_grant_per_capita") == 10.0);
  CHECK(b.at("pcp_grant_per_capita") == 30.0);
  CHECK(!(a == b));
}
