// The exchange model against published steady states (VALIDATION.md). Each test runs a
// scenario from scenarios/validation/ at several parameter points and compares time averages
// with the formula. Tolerances are set from finite-size and sampling error, stated per test.
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

#include "tests/validation/validation_run.hpp"

using validation::run_and_average;

// N = 10 000 agents averaged over 300 steps: the Gini of one snapshot has a standard deviation of
// about 0.003 and successive steps are correlated over a few steps, so the time average is good to
// about 0.001; finite-size bias is O(1/N). Tolerances: 0.01 on shares and the Gini (the issue's
// bound), 0.03 relative on the median and 0.05 on var/mean^2 (a fourth-moment quantity).
TEST_CASE("random exchange relaxes to the exponential (Dragulescu-Yakovenko)", "[validation][exchange]") {
  for (const double temperature : {1.0, 5.0}) {
    for (const char* seed : {"11", "12"}) {
      INFO("T = " << temperature << ", seed " << seed);
      const auto a = run_and_average(
          validation::scenario("exchange_random.ini",
                              {"exchange.initial_wealth=" + std::to_string(temperature), std::string("sim.seed=") + seed}),
          100);
      CHECK(a["gini"] == Approx(0.5).margin(0.01));
      CHECK(a["below_mean_share"] == Approx(1.0 - std::exp(-1.0)).margin(0.01));
      CHECK(a["top10_share"] == Approx(0.1 * (1.0 + std::log(10.0))).margin(0.01));
      CHECK(a["median"] == Approx(temperature * std::log(2.0)).epsilon(0.03));
      CHECK(a["var_over_mean_sq"] == Approx(1.0).margin(0.05));
      CHECK(a["mean"] == Approx(temperature).epsilon(1e-12));
    }
  }
}

// var/mean^2 = (1 - l)/(1 + 2 l) is exact in the mean-field limit: tolerance 4 % relative (the time
// average's sampling error is below 1.5 %). The Gamma form is an approximation good to about 0.005
// in the Gini (Patriarca et al. 2004): tolerance 0.01.
TEST_CASE("saving propensity gives the Gamma-like steady state (Chakraborti-Chakrabarti)",
          "[validation][exchange]") {
  for (const double lambda : {0.2, 0.5, 0.8}) {
    INFO("lambda = " << lambda);
    const auto a = run_and_average(
        validation::scenario("exchange_saving.ini", {"exchange.saving=" + std::to_string(lambda)}), 300);
    const double n = 1.0 + 3.0 * lambda / (1.0 - lambda);
    const double gini = std::tgamma(n + 0.5) / (std::sqrt(std::numbers::pi) * std::tgamma(n + 1.0));
    CHECK(a["var_over_mean_sq"] == Approx((1.0 - lambda) / (1.0 + 2.0 * lambda)).epsilon(0.04));
    CHECK(a["gini"] == Approx(gini).margin(0.01));
  }
}

// With zeta > chi one agent holds 1 - chi/zeta of all wealth (in the large-N limit). Averaged
// over the second half of 200 time units (about ten relaxation times 1/chi). At zeta/chi = 3 and
// 4 with N = 400 the oligarch's share fluctuates by 0.01-0.03 and the averages of four seeds
// lay within 0.02 of the formula: tolerance 0.04. At zeta/chi = 2, the edge of the range
// VALIDATION.md names, N = 400 is too small (several rich agents share the top for long
// stretches, averages 0.32-0.52 across seeds); with N = 1000 two seeds gave 0.505 and 0.487:
// tolerance 0.05. No exchange may have had its win probability clipped.
TEST_CASE("yard-sale with advantage zeta > chi creates an oligarch holding 1 - chi/zeta (Boghosian)",
          "[validation][exchange]") {
  const double chi = 0.05;
  const struct {
    double zeta;
    const char* agents;
    double tolerance;
  } points[] = {{0.15, "400", 0.04}, {0.2, "400", 0.04}, {0.1, "1000", 0.05}};
  for (const auto& point : points) {
    INFO("chi = " << chi << ", zeta = " << point.zeta << ", N = " << point.agents);
    const auto a = run_and_average(
        validation::scenario("exchange_yard_sale.ini", {"exchange.zeta=" + std::to_string(point.zeta),
                                                       std::string("exchange.agents=") + point.agents}),
        40000);
    CHECK(a["largest_share"] == Approx(1.0 - chi / point.zeta).margin(point.tolerance));
    CHECK(a["clipped_share"] == 0.0);
  }
}

// With zeta < chi there is no oligarch: the richest agent's share is a finite-size effect that
// falls as N grows, where an oligarch's share would stay put. chi = 0.5, zeta = 0.25 over 50
// time units (25 relaxation times), N = 400 and 1600: measured shares are about 0.05 and 0.015
// (sampling error about 10 %); the test asks for a fall by at least 2x and no macroscopic share
// (below 0.05) at N = 1600.
TEST_CASE("yard-sale with zeta < chi has no oligarch: the largest share falls with N", "[validation][exchange]") {
  auto largest = [](const char* agents) {
    return run_and_average(validation::scenario("exchange_yard_sale.ini", {"exchange.chi=0.5", "exchange.zeta=0.25",
                                                                          "sim.steps=20000", std::string("exchange.agents=") + agents}),
                           10000)["largest_share"];
  };
  const double small = largest("400");
  const double large = largest("1600");
  INFO("largest share at N = 400: " << small << ", at N = 1600: " << large);
  CHECK(large < small / 2.0);
  CHECK(large < 0.05);
}

// Without redistribution (chi = 0) the yard sale condenses wealth: the Gini rises toward 1.
// After 200 time units it must exceed 0.9 and still be rising.
TEST_CASE("yard-sale without redistribution condenses wealth", "[validation][exchange]") {
  const auto a = run_and_average(
      validation::scenario("exchange_yard_sale.ini", {"exchange.chi=0", "exchange.zeta=0"}), 40000);
  CHECK(a.final_value("gini") > 0.9);
  CHECK(a.final_value("gini") > a.first_value("gini"));
}
