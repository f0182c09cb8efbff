// The numerical guard: a non-finite value stops the run at the step where it appears, naming the
// agent kind, the field and the index of the first one, from the model's saved state (entries
// named "<kind>.<field>"); it is never hidden. A test-only model makes one agent's wealth NaN
// (or infinite) at a chosen step.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "sim/error.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

namespace {

// Agents that hold money; at step `poison_at` agent `poison_index` gets `poison` (0: NaN,
// 1: +infinity) as wealth, or, with poison_field = 1, as a non-money field (its "skill").
class Poisoned final : public sim::Model {
 public:
  explicit Poisoned(const sim::ModelInit& init)
      : wealth_(static_cast<std::size_t>(init.params.integer("poisoned.agents")), 1.0),
        skill_(wealth_.size(), 0.5),
        poison_at_(init.params.integer("poisoned.poison_at")),
        index_(static_cast<std::size_t>(init.params.integer("poisoned.poison_index"))),
        infinite_(init.params.integer("poisoned.poison") == 1),
        in_skill_(init.params.integer("poisoned.poison_field") == 1) {
    init.ledger.open(money_in_accounts());
  }
  std::vector<sim::Phase> phases() override {
    return {{"poison", "spoil one value at poison_at", [this](sim::StepContext& c) {
               if (c.step != poison_at_) return;
               const double bad = infinite_ ? std::numeric_limits<double>::infinity()
                                            : std::numeric_limits<double>::quiet_NaN();
               (in_skill_ ? skill_ : wealth_)[index_] = bad;
             }}};
  }
  void measure(std::span<double> values) override {
    double s = 0.0;
    for (double k : skill_) s += k;
    values[0] = s;
  }
  double time_at(std::int64_t step) const override { return static_cast<double>(step); }
  double money_in_accounts() const override {
    double m = pool_;
    for (double w : wealth_) m += w;
    return m;
  }
  void save(sim::State& state) const override {
    state.put("agents.skill", skill_);
    state.put("agents.wealth", wealth_);
    state.put("bank.reserve", pool_);
  }
  void restore(const sim::State& state) override {
    state.get("agents.skill", skill_);
    state.get("agents.wealth", wealth_);
    pool_ = state.get<double>("bank.reserve");
  }

 private:
  std::vector<double> wealth_, skill_;
  double pool_ = 5.0;
  std::int64_t poison_at_;
  std::size_t index_;
  bool infinite_, in_skill_;
};

sim::ModelList poisoned_models() {
  sim::ModelSpec spec;
  spec.name = "poisoned";
  spec.summary = "a model whose values turn non-finite at a chosen step";
  spec.params = {sim::ParamSpec::integer("poisoned.agents", 10).range(1, 1000).describe("agents"),
                 sim::ParamSpec::integer("poisoned.poison_at", 4).range(0, 1000).describe("step of the fault"),
                 sim::ParamSpec::integer("poisoned.poison_index", 7).range(0, 999).describe("agent of the fault"),
                 sim::ParamSpec::integer("poisoned.poison", 0).range(0, 1).describe("0: NaN, 1: infinity"),
                 sim::ParamSpec::integer("poisoned.poison_field", 0).range(0, 1).describe("0: wealth, 1: skill")};
  spec.series = {{"total_skill", "1", "sum of skills"}};
  spec.phase_names = {"poison"};
  spec.sectors = {"everyone"};
  spec.flow_types = {"payment"};
  spec.make = [](const sim::ModelInit& init) { return std::make_unique<Poisoned>(init); };
  return {spec};
}

sim::Scenario poisoned(const std::string& overrides) {
  static const auto models = poisoned_models();
  // one file per process: ctest runs test cases side by side
  const auto path = std::filesystem::temp_directory_path() / ("poisoned-" + std::to_string(::getpid()) + ".ini");
  std::ofstream(path) << "[sim]\nmodel = poisoned\nsteps = 10\n[poisoned]\n" << overrides;
  return sim::load_scenario(path, {}, models);
}

std::string error_of_run(sim::Simulation& simulation, std::int64_t steps) {
  try {
    while (simulation.steps_done() < steps) {
      simulation.step();
      simulation.measure();
    }
  } catch (const sim::RunError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a NaN in an agent's wealth stops the run at its step, naming kind, field and index", "[guard]") {
  const auto scenario = poisoned("poison_at = 4\npoison_index = 7\n");
  sim::Simulation simulation(scenario);
  const std::string error = error_of_run(simulation, 10);
  INFO(error);
  CHECK(simulation.steps_done() == 4);
  CHECK(error.find("non-finite money at step 4") != std::string::npos);
  CHECK(error.find("agent kind 'agents', field 'wealth', index 7 = nan") != std::string::npos);
  CHECK(error.find("1 of 10 values") != std::string::npos);
}

TEST_CASE("an infinite wealth is reported like a NaN, with its own index", "[guard]") {
  const auto scenario = poisoned("poison_at = 2\npoison_index = 3\npoison = 1\n");
  sim::Simulation simulation(scenario);
  const std::string error = error_of_run(simulation, 10);
  INFO(error);
  CHECK(error.find("step 2") != std::string::npos);
  CHECK(error.find("field 'wealth', index 3 = inf") != std::string::npos);
}

TEST_CASE("an infinite value outside money is caught where it reaches a series", "[guard]") {
  const auto scenario = poisoned("poison_at = 6\npoison_index = 0\npoison = 1\npoison_field = 1\n");
  sim::Simulation simulation(scenario);
  const std::string error = error_of_run(simulation, 10);
  INFO(error);
  CHECK(error.find("non-finite series 'total_skill' at step 6") != std::string::npos);
  CHECK(error.find("agent kind 'agents', field 'skill', index 0 = inf") != std::string::npos);
}

TEST_CASE("a NaN series value is allowed: it marks an undefined series", "[guard]") {
  const auto scenario = poisoned("poison_at = 3\npoison_index = 1\npoison_field = 1\n");
  sim::Simulation simulation(scenario);
  CHECK(error_of_run(simulation, 10).empty());
  CHECK(std::isnan(simulation.measure()[0]));
}

TEST_CASE("a run stopped by the guard is marked failed with the guard's message", "[guard]") {
  const auto scenario = poisoned("poison_at = 5\npoison_index = 2\n");
  const auto out = std::filesystem::temp_directory_path() / ("poisoned-" + std::to_string(::getpid()) + ".h5");
  std::filesystem::remove(out);
  sim::RunOptions options;
  options.out = out;
  const auto result = sim::run_scenario(scenario, options);
  CHECK(result.status == "failed");
  CHECK(result.exit_code == sim::exit_run_error);
  CHECK(result.steps_completed == 4);
  CHECK(result.error.find("field 'wealth', index 2") != std::string::npos);
  std::filesystem::remove(out);
}
