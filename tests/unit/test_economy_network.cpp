#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "models/economy/network.hpp"
#include "sim/parallel.hpp"

using models::economy::Network;

namespace {

// Commoner i lives in region i mod regions, as in the economy model.
std::vector<std::uint32_t> round_robin(std::size_t n, std::size_t regions) {
  std::vector<std::uint32_t> region(n);
  for (std::size_t i = 0; i < n; ++i) region[i] = static_cast<std::uint32_t>(i % regions);
  return region;
}

bool linked(const Network& net, std::uint32_t a, std::uint32_t b) {
  const auto row = net.neighbours(a);
  return std::find(row.begin(), row.end(), b) != row.end();
}

// Mean local clustering of the undirected graph made of the out-links: for each commoner, the
// share of pairs of its distinct out-neighbours that are linked in either direction.
double clustering(const Network& net) {
  double total = 0.0;
  for (std::size_t i = 0; i < net.size(); ++i) {
    auto row = std::vector<std::uint32_t>(net.neighbours(i).begin(), net.neighbours(i).end());
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    std::size_t pairs = 0, closed = 0;
    for (std::size_t a = 0; a < row.size(); ++a)
      for (std::size_t b = a + 1; b < row.size(); ++b) {
        ++pairs;
        if (linked(net, row[a], row[b]) || linked(net, row[b], row[a])) ++closed;
      }
    if (pairs > 0) total += static_cast<double>(closed) / static_cast<double>(pairs);
  }
  return total / static_cast<double>(net.size());
}

}  // namespace

TEST_CASE("every commoner has exactly `degree` links and none to itself", "[economy][network]") {
  const auto region = round_robin(20000, 7);
  for (double rewire : {0.0, 0.3, 1.0}) {
    const Network net(11, region, 7, 6, rewire, 0.1);
    REQUIRE(net.size() == region.size());
    REQUIRE(net.degree() == 6u);
    for (std::size_t i = 0; i < net.size(); ++i) {
      const auto row = net.neighbours(i);
      REQUIRE(row.size() == 6u);
      for (std::uint32_t j : row) {
        REQUIRE(j < net.size());
        REQUIRE(j != i);
      }
    }
  }
}

TEST_CASE("at rewire 0 and no crossing the links are the ring lattice of each region",
          "[economy][network]") {
  const auto region = round_robin(1000, 4);  // region r holds r, r + 4, r + 8, ...: 250 members
  const Network net(3, region, 4, 4, 0.0, 0.0);
  // Commoner 8 is member 2 of region 0; its lattice neighbours are members 3, 1, 4, 0.
  const auto row = net.neighbours(8);
  CHECK(std::vector<std::uint32_t>(row.begin(), row.end()) ==
        std::vector<std::uint32_t>{12, 4, 16, 0});
  // Member 0 wraps around to the last members (249 and 248: ids 996 and 992).
  const auto first = net.neighbours(0);
  CHECK(std::vector<std::uint32_t>(first.begin(), first.end()) ==
        std::vector<std::uint32_t>{4, 996, 8, 992});
}

TEST_CASE("the share of cross-region links is cross_region_share", "[economy][network]") {
  // 100000 commoners x 6 links: the binomial sd of the share is sqrt(0.2 x 0.8 / 600000) = 0.0005;
  // the tolerance 0.005 is 10 sd (redraws that keep a lattice link are far rarer than that).
  const std::size_t regions = 10;
  const auto region = round_robin(100000, regions);
  for (double share : {0.0, 0.2, 0.5}) {
    const Network net(5, region, regions, 6, 0.1, share);
    std::size_t crossing = 0;
    for (std::size_t i = 0; i < net.size(); ++i)
      for (std::uint32_t j : net.neighbours(i)) crossing += region[j] != region[i];
    const double measured = static_cast<double>(crossing) / static_cast<double>(6 * net.size());
    INFO("cross_region_share " << share);
    CHECK(std::abs(measured - share) < 0.005);
  }
}

TEST_CASE("clustering is high at rewire 0 and low at rewire 1 (small world)",
          "[economy][network]") {
  // Watts & Strogatz (1998): a ring lattice of degree k has clustering 3(k - 2) / (4(k - 1)) =
  // 0.6 for k = 6, exactly here (every region is a ring of 2000); a random graph has about
  // k / m = 0.003. A small rewiring keeps most of the clustering.
  const auto region = round_robin(4000, 2);
  const double lattice = clustering(Network(9, region, 2, 6, 0.0, 0.0));
  const double small_world = clustering(Network(9, region, 2, 6, 0.05, 0.0));
  const double random = clustering(Network(9, region, 2, 6, 1.0, 0.0));
  CHECK(lattice == Approx(0.6).margin(1e-12));
  CHECK(small_world > 0.45);
  CHECK(small_world < lattice);
  CHECK(random < 0.02);
}

TEST_CASE("neighbour_mean equals a serial loop over the links", "[economy][network]") {
  const auto region = round_robin(50000, 3);
  const Network net(21, region, 3, 5, 0.2, 0.05);
  std::vector<double> x(net.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = std::sin(0.37 * static_cast<double>(i)) + 0.001 * i;
  std::vector<double> out(net.size());
  net.neighbour_mean(x, out);
  for (std::size_t i = 0; i < net.size(); ++i) {
    double s = 0.0;
    for (std::uint32_t j : net.neighbours(i)) s += x[j];
    REQUIRE(out[i] == s * (1.0 / 5.0));
  }
  std::vector<double> wrong(3);
  CHECK_THROWS_AS(net.neighbour_mean(x, wrong), std::invalid_argument);
}

TEST_CASE("the network and neighbour_mean are bitwise the same on 1, 2 and 4 threads",
          "[economy][network][determinism]") {
  // 30000 commoners are 8 blocks of 4096: each thread count splits them differently.
  const auto region = round_robin(30000, 5);
  std::vector<double> x(region.size());
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::cos(0.11 * static_cast<double>(i));
  const int threads_before = sim::max_threads();
  auto build = [&](int threads, std::uint64_t seed) {
    sim::set_threads(threads);
    const Network net(seed, region, 5, 6, 0.3, 0.1);
    std::vector<std::uint32_t> links;
    for (std::size_t i = 0; i < net.size(); ++i)
      links.insert(links.end(), net.neighbours(i).begin(), net.neighbours(i).end());
    std::vector<double> mean(net.size());
    net.neighbour_mean(x, mean);
    return std::make_pair(links, mean);
  };
  const auto one = build(1, 77);
  const auto two = build(2, 77);
  const auto four = build(4, 77);
  CHECK(two.first == one.first);
  CHECK(four.first == one.first);
  CHECK(std::memcmp(two.second.data(), one.second.data(), one.second.size() * sizeof(double)) == 0);
  CHECK(std::memcmp(four.second.data(), one.second.data(), one.second.size() * sizeof(double)) ==
        0);
  CHECK(build(1, 78).first != one.first);
  sim::set_threads(threads_before);
}

TEST_CASE("the network holds 4 bytes a link and nothing per commoner besides",
          "[economy][network]") {
  // 10^7 commoners of degree 6 therefore hold 240 MB (plus the object itself).
  const auto region = round_robin(100000, 4);
  const Network net(1, region, 4, 6, 0.1, 0.05);
  CHECK(net.bytes() == sizeof(Network) + 100000u * 6u * 4u);
}

TEST_CASE("small regions fall back without crashing or linking to themselves",
          "[economy][network]") {
  SECTION("a region of one member links only to other regions") {
    // Region 0 holds commoner 0 alone; the other 9 commoners are in region 1.
    std::vector<std::uint32_t> region(10, 1);
    region[0] = 0;
    const Network net(2, region, 2, 3, 0.5, 0.0);
    for (std::uint32_t j : net.neighbours(0)) CHECK(region[j] == 1u);
  }
  SECTION("degree at or above the region size cycles through the other members") {
    const auto region = round_robin(12, 4);  // 3 members a region, degree 5
    const Network net(2, region, 4, 5, 0.5, 0.0);
    for (std::size_t i = 0; i < net.size(); ++i)
      for (std::uint32_t j : net.neighbours(i)) {
        CHECK(j != i);
        CHECK(region[j] == region[i]);
      }
  }
  SECTION("everyone in one region: nothing can cross") {
    const std::vector<std::uint32_t> region(50, 0);
    const Network net(2, region, 1, 4, 0.5, 1.0);
    for (std::size_t i = 0; i < net.size(); ++i)
      for (std::uint32_t j : net.neighbours(i)) CHECK(j != i);
  }
}

TEST_CASE("a bad network specification is refused with the value named", "[economy][network]") {
  const auto region = round_robin(10, 2);
  CHECK_THROWS_WITH(Network(1, region, 2, 0, 0.1, 0.1), Catch::Contains("degree"));
  CHECK_THROWS_WITH(Network(1, region, 2, 4, 1.5, 0.1), Catch::Contains("rewire"));
  CHECK_THROWS_WITH(Network(1, region, 2, 4, 0.1, -0.1), Catch::Contains("cross_region_share"));
  CHECK_THROWS_WITH(Network(1, region, 1, 4, 0.1, 0.1), Catch::Contains("region 1"));
  const std::vector<std::uint32_t> alone(1, 0);
  CHECK_THROWS_WITH(Network(1, alone, 1, 4, 0.1, 0.1), Catch::Contains("at least 2"));
}
