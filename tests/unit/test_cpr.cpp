// The cpr model's mechanics: determinism across thread counts, money through the ledger, the
// time discretisation, the exact stock integration and parameter checks.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

#include "tests/unit/model_test_support.hpp"

namespace {

using model_tests::run_everything;
using model_tests::scenario;
using model_tests::series_index;

// Every regime in turn, with heterogeneous harvesters, several patches and more than two blocks
// of harvesters, so that the parallel loops really split.
const std::vector<std::string> all_regimes = {
    "cpr.regime=0:open_access, 60:market, 120:state, 180:commons", "cpr.harvesters=10000", "cpr.max_effort=0.05",
    "cpr.entry_effort=0.01", "cpr.initial_effort=0.02", "cpr.skill_sd=0.3", "cpr.patches=3", "sim.steps=240"};

}  // namespace

TEST_CASE("cpr gives bitwise-identical series and flows on 1, 2 and 4 threads", "[cpr]") {
  for (const auto& overrides :
       {all_regimes, std::vector<std::string>{"sim.steps=200", "cpr.game_players=9000", "cpr.game_endowment=10",
                                              "cpr.game_communication=0:false, 100:true"}}) {
    const auto s = overrides.front().starts_with("cpr.regime") ? scenario("cpr_open_access.ini", overrides)
                                                              : scenario("cpr_appropriation_game.ini", overrides);
    model_tests::check_same_on_1_2_4_threads(s);
  }
}

// The engine checks sum of balances = initial money after every step (a throw fails the test);
// here also: every flow row (a transfer between two sectors) sums to zero, and the rent series
// is exactly the harvesters' sales minus their effort costs as recorded in the ledger.
TEST_CASE("cpr money is conserved and the rent goes through the ledger", "[cpr]") {
  const auto s = scenario("cpr_open_access.ini", {"cpr.regime=0:open_access, 50:market, 100:state, 150:commons",
                                                  "cpr.skill_sd=0.3", "sim.steps=200"});
  sim::Simulation simulation(s);
  const auto& ledger = simulation.ledger();
  const auto harvesters = ledger.sector("harvesters");
  const auto sales = ledger.flow("sales");
  const auto costs = ledger.flow("effort_costs");
  const double dt = s.params.real("cpr.dt");
  const std::size_t rent = series_index(s, "rent");
  double fines = 0.0, levies = 0.0, trade = 0.0;
  while (simulation.steps_done() < s.steps) {
    REQUIRE_NOTHROW(simulation.step());
    const double measured_rent = simulation.measure()[rent];
    const auto flows = simulation.take_flows();
    for (std::size_t f = 0; f + 1 < flows.flow_types(); ++f) {
      double row = 0.0, scale = 0.0;
      for (std::size_t k = 0; k < flows.sectors(); ++k) {
        row += flows.at(static_cast<sim::FlowId>(f), static_cast<sim::SectorId>(k));
        scale += std::abs(flows.at(static_cast<sim::FlowId>(f), static_cast<sim::SectorId>(k)));
      }
      CHECK(std::abs(row) <= 1e-12 * std::max(scale, 1.0));
    }
    const double ledger_rent = (flows.at(sales, harvesters) + flows.at(costs, harvesters)) / dt;
    CHECK(ledger_rent == Approx(measured_rent).epsilon(1e-12).margin(1e-9));
    fines += flows.at(ledger.flow("fines"), ledger.sector("state")) + flows.at(ledger.flow("fines"), ledger.sector("commons_fund"));
    levies += flows.at(ledger.flow("levy"), ledger.sector("state"));
    trade += std::abs(flows.at(ledger.flow("quota_trade"), harvesters));
  }
  CHECK(levies > 0.0);  // the state regime ran and charged its levy
  CHECK(fines >= 0.0);
  CHECK(trade == 0.0);  // quota leases are within the harvesters' sector
  CHECK(simulation.model().money_in_accounts() == Approx(ledger.expected_money()).epsilon(1e-12));
}

// The stock is integrated exactly over a step at constant effort: with nobody fishing it follows
// the logistic S(t) = K / (1 + (K/S0 - 1) e^{-rt}) at any dt, to rounding.
TEST_CASE("cpr stock without harvest follows the exact logistic at any dt", "[cpr]") {
  for (const char* dt : {"0.5", "0.1", "0.01"}) {
    const auto s = scenario("cpr_open_access.ini", {"cpr.initial_active=0", "cpr.entry_rate=0", "cpr.initial_stock=50",
                                                    std::string("cpr.dt=") + dt, "sim.steps=" + std::to_string(static_cast<int>(std::lround(10.0 / std::stod(dt))))});
    sim::Simulation simulation(s);
    while (simulation.steps_done() < s.steps) simulation.step();
    const double expected = 1000.0 / (1.0 + (1000.0 / 50.0 - 1.0) * std::exp(-0.5 * 10.0));
    CHECK(simulation.measure()[series_index(s, "stock")] == Approx(expected).epsilon(1e-10));
  }
}

// Effort is updated between steps (first-order splitting), so trajectories converge as O(dt):
// halving dt halves the difference to the next finer run. Deterministic set-up (every harvester
// fishing from the start, no entry or exit); the stock at t = 10, mid-transient. Tolerance: each
// halving must shrink the difference by a factor between 1.6 and 2.5 (2 in the limit), and the
// finest difference must be below 0.5 % of the stock.
TEST_CASE("cpr open-access trajectories converge at first order as dt shrinks", "[cpr]") {
  std::vector<double> stock;
  for (const double dt : {0.2, 0.1, 0.05, 0.025, 0.0125}) {
    const auto s = scenario("cpr_open_access.ini",
                            {"cpr.initial_active=1", "cpr.entry_rate=0", "cpr.exit_rate=0", "cpr.initial_effort=2",
                             "cpr.dt=" + std::to_string(dt), "sim.steps=" + std::to_string(std::lround(10.0 / dt))});
    sim::Simulation simulation(s);
    while (simulation.steps_done() < s.steps) simulation.step();
    stock.push_back(simulation.measure()[series_index(s, "stock")]);
  }
  std::vector<double> differences;
  for (std::size_t i = 0; i + 1 < stock.size(); ++i) differences.push_back(std::abs(stock[i] - stock[i + 1]));
  for (std::size_t i = 0; i + 1 < differences.size(); ++i) {
    INFO("dt step " << i << ": differences " << differences[i] << " then " << differences[i + 1]);
    const double ratio = differences[i] / differences[i + 1];
    CHECK(ratio > 1.6);
    CHECK(ratio < 2.5);
  }
  CHECK(differences.back() < 0.005 * stock.back());
}

TEST_CASE("cpr appropriation game leaves the fishery series undefined and pays every round", "[cpr]") {
  const auto s = scenario("cpr_appropriation_game.ini", {"sim.steps=10", "cpr.game_communication=false"});
  sim::Simulation simulation(s);
  for (int i = 0; i < 10; ++i) simulation.step();
  const auto values = simulation.measure();
  CHECK(std::isnan(values[series_index(s, "stock")]));
  CHECK(std::isnan(values[series_index(s, "rent")]));
  CHECK(values[series_index(s, "active_harvesters")] == 8.0);
  CHECK(values[series_index(s, "mean_tokens")] >= 0.0);
  CHECK(values[series_index(s, "mean_tokens")] <= 25.0);
  CHECK(simulation.time() == 10.0);  // one round per unit of time
}

TEST_CASE("cpr rejects an initial effort above the largest effort", "[cpr]") {
  CHECK_THROWS_AS(scenario("cpr_open_access.ini", {"cpr.initial_effort=10", "cpr.max_effort=5"}), sim::InputError);
  CHECK_THROWS_AS(scenario("cpr_open_access.ini", {"cpr.regime=fishing"}), sim::InputError);
  CHECK_NOTHROW(scenario("cpr_regime_switch.ini", {}));
}

TEST_CASE("cpr random-number streams lie in the model's range 200-299", "[cpr]") {
  const auto* spec = sim::find_model(model_tests::models(), "cpr");
  REQUIRE(spec != nullptr);
  for (const auto& stream : spec->streams) {
    CHECK(stream.value >= 200);
    CHECK(stream.value <= 299);
  }
}
