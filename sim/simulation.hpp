#pragma once
// One run in memory: a model, its ledger and its step loop. The runner adds the output file,
// signals and progress; tests and sweeps use this directly.
#include <cstdint>
#include <memory>
#include <string>
#include <span>
#include <vector>

#include "sim/ledger.hpp"
#include "sim/model.hpp"
#include "sim/scenario.hpp"

namespace sim {

class Simulation {
 public:
  // Builds the model from the scenario's parameters and checks the opening balances.
  explicit Simulation(const Scenario& scenario);

  // Advances one step: every phase in order, then the numerical guard and the stock-flow check.
  // Money that is not finite stops the run with a RunError naming the step and the first
  // non-finite value in the saved state: its agent kind, field and index (entries named
  // "<kind>.<field>"), so the fault is reported where it appears, not hidden in a sum.
  void step();

  // Wall seconds spent so far in each phase (in phase order), in the stock-flow check after each
  // step and in measure()/measure_regions(): where a run's time goes, for `run --timings` and
  // the benchmarks. Reading the clock costs well under a microsecond per phase.
  struct Times {
    std::vector<double> phases;
    double check = 0.0;
    double measure = 0.0;
  };
  const Times& times() const { return times_; }

  std::int64_t steps_done() const { return context_.step; }
  double time() const { return model_->time_at(context_.step); }
  // Every declared series for the current state, in declaration order. An infinite value is a
  // RunError naming the series, the step and the state's first non-finite field; NaN is allowed
  // (it marks an undefined series, such as a mean over no one).
  std::span<const double> measure();
  // Every declared region series for the current state, laid out [series][region]; empty for a
  // model without regions.
  std::span<const double> measure_regions();
  std::size_t regions() const { return regions_; }
  // Flows since the last call, with the change_in_money row completed.
  FlowMatrix take_flows() { return ledger_.take_flows(); }

  const ModelSpec& spec() const { return *spec_; }
  Model& model() { return *model_; }
  const Ledger& ledger() const { return ledger_; }
  const std::vector<Phase>& phases() const { return phases_; }

  // Checkpoints: the ledger's and the model's state (the step is kept by the caller).
  void save(State& state) const;
  // Puts a just-built simulation into the state saved at the end of `step`.
  void restore(const State& state, std::int64_t step);

 private:
  [[noreturn]] void non_finite(const std::string& what) const;

  const ModelSpec* spec_;
  Ledger ledger_;
  std::unique_ptr<Model> model_;
  std::vector<Phase> phases_;
  StepContext context_;
  std::vector<double> values_;
  std::size_t regions_ = 0;
  std::vector<double> region_values_;
  Times times_;
};

}  // namespace sim
