// The engine's step loop with a toy model: the ledger stops a leaking model naming the step,
// the runner marks the file failed, and phases run in their declared order.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sim/error.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

namespace {

// Two accounts; each step moves one credit from one to the other, and at step `leak_at` one
// credit disappears without a recorded destruction.
class Leaky final : public sim::Model {
 public:
  explicit Leaky(const sim::ModelInit& init)
      : leak_at_(init.params.integer("leaky.leak_at")),
        flow_(init.ledger.flow("payment")),
        sector_(init.ledger.sector("everyone")) {
    init.ledger.open(a_ + b_);
  }
  std::vector<sim::Phase> phases() override {
    return {{"pay", "a pays b", [this](sim::StepContext& c) {
               sim::transfer(a_, b_, 1.0, flow_, sector_, sector_, c.ledger->flows());
               order_ += "p";
             }},
            {"leak", "lose money at leak_at", [this](sim::StepContext& c) {
               if (c.step == leak_at_) b_ -= 1.0;
               order_ += "l";
             }}};
  }
  void measure(std::span<double> values) override { values[0] = a_; }
  double time_at(std::int64_t step) const override { return static_cast<double>(step); }
  double money_in_accounts() const override { return a_ + b_; }
  void save(sim::State& state) const override {
    state.put("a", a_);
    state.put("b", b_);
  }
  void restore(const sim::State& state) override {
    a_ = state.get<double>("a");
    b_ = state.get<double>("b");
  }
  std::string order_;

 private:
  std::int64_t leak_at_;
  double a_ = 100.0, b_ = 0.0;
  sim::FlowId flow_;
  sim::SectorId sector_;
};

sim::ModelList toy_models() {
  sim::ModelSpec spec;
  spec.name = "leaky";
  spec.summary = "a model that loses money";
  spec.params = {sim::ParamSpec::integer("leaky.leak_at", 5).range(0, 1000).describe("step at which money leaks")};
  spec.series = {{"a", "credits", "balance of a"}};
  spec.phase_names = {"pay", "leak"};
  spec.sectors = {"everyone"};
  spec.flow_types = {"payment"};
  spec.make = [](const sim::ModelInit& init) { return std::make_unique<Leaky>(init); };
  return {spec};
}

std::filesystem::path write_scenario(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path;
}

std::string status_of(const std::filesystem::path& file) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(f >= 0);
  const hid_t a = H5Aopen_by_name(f, "meta", "status", H5P_DEFAULT, H5P_DEFAULT);
  const hid_t type = H5Aget_type(a);
  char* text = nullptr;
  H5Aread(a, type, &text);
  std::string status = text ? text : "";
  H5free_memory(text);
  H5Tclose(type);
  H5Aclose(a);
  H5Fclose(f);
  return status;
}

}  // namespace

TEST_CASE("a leak stops the run at its step, naming the imbalance", "[simulation]") {
  const auto models = toy_models();
  const auto scenario =
      sim::load_scenario(write_scenario("leaky.ini", "[sim]\nmodel = leaky\nsteps = 10\n"), {}, models);
  sim::Simulation simulation(scenario);
  for (int s = 1; s < 5; ++s) simulation.step();
  try {
    simulation.step();
    FAIL("the leak went unnoticed");
  } catch (const sim::RunError& e) {
    const std::string what = e.what();
    CHECK(what.find("step 5") != std::string::npos);
    CHECK(what.find("imbalance -1") != std::string::npos);
  }
}

TEST_CASE("phases run in their declared order every step", "[simulation]") {
  const auto models = toy_models();
  const auto scenario = sim::load_scenario(
      write_scenario("ordered.ini", "[sim]\nmodel = leaky\nsteps = 3\n[leaky]\nleak_at = 0\n"), {}, models);
  sim::Simulation simulation(scenario);
  for (int s = 0; s < 3; ++s) simulation.step();
  CHECK(dynamic_cast<Leaky&>(simulation.model()).order_ == "plplpl");
}

TEST_CASE("a failed run keeps its file, marked failed, with exit code 3", "[simulation]") {
  const auto models = toy_models();
  const auto scenario =
      sim::load_scenario(write_scenario("leaky_run.ini", "[sim]\nmodel = leaky\nsteps = 10\n"), {}, models);
  const auto out = std::filesystem::temp_directory_path() / "leaky_run.h5";
  std::filesystem::remove(out);
  sim::RunOptions options;
  options.out = out;
  const auto result = sim::run_scenario(scenario, options);
  CHECK(result.status == "failed");
  CHECK(result.exit_code == sim::exit_run_error);
  CHECK(result.steps_completed == 4);
  CHECK(result.error.find("step 5") != std::string::npos);
  CHECK(status_of(out) == "failed");
  std::filesystem::remove(out);
}
