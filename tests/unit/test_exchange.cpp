// The exchange model's mechanics: conservation for every rule, the unpaired agent, schedules,
// per-agent saving propensities.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "sim/permutation.hpp"
#include "sim/rng.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

namespace {

const sim::ModelList& models() {
  static const sim::ModelList list = models::all_models();
  return list;
}

sim::Scenario exchange_scenario(std::vector<std::string> overrides) {
  return sim::load_scenario(std::string(SIM_SOURCE_DIR) + "/scenarios/exchange_demo.ini", overrides, models());
}

double series(sim::Simulation& simulation, const std::string& name) {
  const auto& declared = simulation.spec().series;
  for (std::size_t i = 0; i < declared.size(); ++i)
    if (declared[i].name == name) return simulation.measure()[i];
  FAIL("no series " << name);
  return 0.0;
}

}  // namespace

TEST_CASE("every rule conserves money step by step", "[exchange]") {
  for (const char* rule : {"random", "saving", "yard_sale"}) {
    INFO("rule " << rule);
    sim::Simulation simulation(exchange_scenario({std::string("exchange.rule=") + rule, "exchange.agents=1001",
                                                  "exchange.saving=0.3", "exchange.chi=0.5", "exchange.zeta=0.2",
                                                  "exchange.kappa=0.1", "exchange.initial_wealth=3"}));
    for (int s = 0; s < 50; ++s) REQUIRE_NOTHROW(simulation.step());  // the ledger checks each step
    CHECK(simulation.model().money_in_accounts() == Approx(3.0 * 1001).epsilon(1e-12));
    CHECK(series(simulation, "mean") == Approx(3.0).epsilon(1e-12));
  }
}

TEST_CASE("the money a step sums as it goes is what the accounts hold", "[exchange]") {
  // The conservation check reads the sum the step's last pass made; it must count every agent
  // once, with and without redistribution, with and without an agent left out.
  // (294913 and 294914 agents: the exchanges run inside the permutation's shuffles, by bucket.)
  for (const char* agents : {"exchange.agents=1000", "exchange.agents=1001", "exchange.agents=294913",
                             "exchange.agents=294914"})
    for (const char* chi : {"exchange.chi=0", "exchange.chi=0.5"}) {
      INFO(agents << ", " << chi);
      sim::Simulation simulation(exchange_scenario({agents, chi, "exchange.rule=yard_sale"}));
      for (int s = 0; s < 5; ++s) {
        simulation.step();
        sim::State state;
        simulation.model().save(state);
        std::vector<double> wealth(state.entries().at("agents.wealth").count);
        state.get("agents.wealth", wealth);
        // (in long double: a plain running sum of 3e5 values can be off by more than 1e-13)
        long double fresh = state.get<double>("pool.wealth");
        for (double w : wealth) fresh += w;
        CHECK(simulation.model().money_in_accounts() == Approx(static_cast<double>(fresh)).epsilon(1e-13));
      }
    }
}

TEST_CASE("with many agents, the exchanges inside the shuffles give each pair its own draw", "[exchange]") {
  // From 16 buckets of the permutation on (294912 agents), each bucket's pairs exchange right
  // after its shuffle and the pairs across bucket boundaries afterwards. One step of the random
  // rule, worked by hand from the whole permutation: pair k is (pi(2k), pi(2k+1)) and takes word
  // k % 4 of the draws (step, k / 4), as with fewer agents.
  enum class Stream : std::uint64_t { Matching = 100, Exchange = 101 };
  for (std::size_t agents : {std::size_t{294913}, std::size_t{294914}}) {
    INFO(agents << " agents");
    REQUIRE(sim::Permuter::bucket_count(agents) == 16);
    sim::Simulation simulation(exchange_scenario({"exchange.agents=" + std::to_string(agents), "sim.seed=7"}));
    simulation.step();
    sim::State state;
    simulation.model().save(state);
    std::vector<double> wealth(agents);
    state.get("agents.wealth", wealth);

    std::vector<std::uint32_t> perm(agents);
    sim::Permuter().permute(7, Stream::Matching, 1, perm);
    std::vector<double> expected(agents, 1.0);
    for (std::size_t k = 0; k < agents / 2; ++k) {
      sim::Rng rng{7, Stream::Exchange, 1, k / 4};
      for (std::size_t w = 0; w < k % 4; ++w) rng.bits();
      double& wi = expected[perm[2 * k]];
      double& wj = expected[perm[2 * k + 1]];
      const double share_i = rng.u01() * (wi + wj);
      const double amount = wi - share_i;
      wi -= amount;
      wj += amount;
    }
    CHECK(wealth == expected);
  }
}

TEST_CASE("the state starts equal and spreads", "[exchange]") {
  sim::Simulation simulation(exchange_scenario({"exchange.agents=1000"}));
  CHECK(series(simulation, "gini") == 0.0);
  CHECK(series(simulation, "largest_share") == Approx(0.001));
  simulation.step();
  CHECK(series(simulation, "gini") > 0.2);
}

TEST_CASE("with an odd number of agents one sits out each step", "[exchange]") {
  // Three agents: one pair exchanges, one agent keeps its wealth, so exactly one agent still
  // holds the initial wealth after the first step (a split equal to the start has probability 0).
  sim::Simulation simulation(exchange_scenario({"exchange.agents=3"}));
  simulation.step();
  CHECK(series(simulation, "median") == 1.0);
}

TEST_CASE("a scheduled redistribution rate takes effect at its step", "[exchange]") {
  // Yard sale without redistribution, then full redistribution (chi dt = 1) from step 20: at
  // step 20 everyone is moved to the mean, so the Gini drops to 0 exactly.
  sim::Simulation simulation(exchange_scenario({"exchange.rule=yard_sale", "exchange.dt=0.01", "exchange.gamma=1",
                                                "exchange.chi=0:0, 20:100", "sim.steps=30"}));
  for (int s = 0; s < 19; ++s) simulation.step();
  CHECK(series(simulation, "gini") > 0.05);
  simulation.step();
  CHECK(series(simulation, "gini") == Approx(0.0).margin(1e-12));
}

TEST_CASE("a ramped saving propensity narrows the distribution as it rises", "[exchange]") {
  sim::Simulation simulation(exchange_scenario({"exchange.rule=saving", "exchange.saving=0:0, 100:0, 300~0.9",
                                                "sim.steps=300", "exchange.agents=5000"}));
  for (int s = 0; s < 100; ++s) simulation.step();
  const double before = series(simulation, "gini");
  for (int s = 0; s < 200; ++s) simulation.step();
  CHECK(before == Approx(0.5).margin(0.03));
  CHECK(series(simulation, "gini") < 0.25);
}

TEST_CASE("per-agent saving propensities give a wider spread than the same mean for all", "[exchange]") {
  // lambda_i ~ U[0, 0.99) (Chatterjee, Chakrabarti & Manna 2004) produces a fat tail: the top 1 %
  // holds far more than with a fixed lambda = 0.5.
  auto top1 = [](std::vector<std::string> overrides) {
    overrides.insert(overrides.end(), {"exchange.rule=saving", "exchange.agents=5000", "sim.steps=300"});
    sim::Simulation simulation(exchange_scenario(overrides));
    for (int s = 0; s < 300; ++s) simulation.step();
    return series(simulation, "top1_share");
  };
  CHECK(top1({"exchange.saving=0.99", "exchange.saving_distribution=uniform"}) >
        2.0 * top1({"exchange.saving=0.5"}));
}

TEST_CASE("yard-sale with kappa lets agents go below zero, down to -kappa W", "[exchange]") {
  sim::Simulation simulation(exchange_scenario({"exchange.rule=yard_sale", "exchange.kappa=0.5", "exchange.gamma=1",
                                                "exchange.dt=0.1", "exchange.agents=2000"}));
  for (int s = 0; s < 200; ++s) simulation.step();
  CHECK(series(simulation, "negative_share") > 0.05);
}
