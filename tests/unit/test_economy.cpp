// The economy model (stage 1): money conserved, time budgets kept, the same numbers on any
// number of threads, no drift from the opening steady state, and checkpoints that resume exactly.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "models/economy/economy.hpp"
#include "sim/parallel.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"
#include "sim/state.hpp"

#include "tests/unit/model_test_support.hpp"

using model_tests::run_everything;
using model_tests::scenario;
using model_tests::series_index;

// The engine checks sum of balances = initial money + created - destroyed after every step and
// throws when it fails; here every flow row (a transfer between two sectors) sums to zero too.
TEST_CASE("economy conserves money every step of the workshop scenario", "[economy]") {
  const auto s = scenario("workshop.ini", {"sim.steps=48",
                                           "economy.platform_tax=0:0.2, 12:0.5",
                                           "economy.unemployment_benefit=0:1000, 24:1500",
                                           "economy.working_time_reduction=0:0, 30:0.2"});
  sim::Simulation simulation(s);
  while (simulation.steps_done() < s.steps) {
    REQUIRE_NOTHROW(simulation.step());
    const auto flows = simulation.take_flows();
    for (std::size_t f = 0; f + 1 < flows.flow_types(); ++f) {
      double row = 0.0, scale = 0.0;
      for (std::size_t c = 0; c < flows.sectors(); ++c) {
        row += flows.at(static_cast<sim::FlowId>(f), static_cast<sim::SectorId>(c));
        scale += std::abs(flows.at(static_cast<sim::FlowId>(f), static_cast<sim::SectorId>(c)));
      }
      CHECK(std::abs(row) <= 1e-9 * (1.0 + scale));
    }
  }
  CHECK(simulation.steps_done() == 48);
}

TEST_CASE("economy: every commoner's hours add up to the time budget", "[economy]") {
  const auto s = scenario("workshop.ini", {"sim.steps=36", "economy.working_time_reduction=0:0, 12:0.3"});
  sim::Simulation simulation(s);
  CHECK(models::economy::largest_time_budget_error(simulation.model()) < 1e-9);
  const auto care = series_index(s, "hours_care");
  const auto wage = series_index(s, "hours_wage");
  const auto coop = series_index(s, "hours_coop");
  const auto commons = series_index(s, "hours_commons");
  const auto leisure = series_index(s, "hours_leisure");
  while (simulation.steps_done() < s.steps) {
    simulation.step();
    CHECK(models::economy::largest_time_budget_error(simulation.model()) < 1e-9);
    const auto v = simulation.measure();
    CHECK(v[care] + v[wage] + v[coop] + v[commons] + v[leisure] == Approx(480.0).epsilon(1e-12));
  }
}

TEST_CASE("economy gives bitwise-identical series and flows on 1, 2 and 4 threads", "[economy]") {
  // 10 000 commoners: three blocks, so the parallel loops really split.
  const auto s = scenario("workshop.ini", {"sim.steps=24", "economy.commoners=10000",
                                           "economy.platform_tax=0:0.2, 12:0.4"});
  model_tests::check_same_on_1_2_4_threads(s);
}

// ECONOMY.md pitfall 3: the market baseline starts at its stock-flow consistent steady state,
// so with no policy change gdp stays within 5 % of its opening value and unemployment within
// 2 points of the natural rate (6 %) over the first 24 months.
TEST_CASE("economy market baseline does not drift in its first 24 months", "[economy]") {
  const auto s = scenario("market_baseline.ini", {"sim.steps=24", "economy.commoners=10000"});
  sim::Simulation simulation(s);
  const auto gdp = series_index(s, "gdp");
  const auto unemployment = series_index(s, "unemployment_rate");
  const auto deficit = series_index(s, "state_deficit");
  const double gdp0 = simulation.measure()[gdp];
  CHECK(simulation.measure()[unemployment] == Approx(0.06).margin(1e-3));
  while (simulation.steps_done() < s.steps) {
    simulation.step();
    const auto v = simulation.measure();
    INFO("month " << simulation.steps_done());
    CHECK(std::abs(v[gdp] / gdp0 - 1.0) < 0.05);
    CHECK(std::abs(v[unemployment] - 0.06) < 0.02);
    CHECK(std::abs(v[deficit]) < 0.01 * v[gdp]);
  }
}

TEST_CASE("economy resumes from a checkpoint to the same next steps", "[economy]") {
  const auto s = scenario("workshop.ini", {"sim.steps=30", "economy.platform_tax=0:0.2, 20:0.4"});
  sim::Simulation straight(s);
  for (int i = 0; i < 15; ++i) straight.step();
  sim::State state;
  straight.save(state);
  sim::Simulation resumed(s);
  resumed.restore(state, 15);
  for (int i = 0; i < 15; ++i) {
    straight.step();
    resumed.step();
    const auto a = straight.measure();
    const std::vector<double> av(a.begin(), a.end());
    const auto b = resumed.measure();
    REQUIRE(av.size() == b.size());
    CHECK(std::memcmp(av.data(), b.data(), av.size() * sizeof(double)) == 0);
    const auto fa = straight.take_flows();
    const auto fb = resumed.take_flows();
    CHECK(std::memcmp(fa.cells().data(), fb.cells().data(), fa.cells().size() * sizeof(double)) == 0);
  }
}
