#pragma once
// What a model gives the engine: its parameter table, its output declarations, its phases.
// The engine never includes a model header; models/main.cpp hands the list of ModelSpecs to
// sim::cli::run.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/ledger.hpp"
#include "sim/params.hpp"
#include "sim/state.hpp"

namespace sim {

// One output series, declared once: it generates the HDF5 dataset, its attributes and
// docs/output.md. Names follow `n_` for stocks, `new_` for flows in the step, `cum_` for
// cumulative values where that helps.
struct SeriesSpec {
  std::string name;
  std::string units;        // "1" for dimensionless
  std::string description;  // what it is and how it is computed
};

// A named purpose of random numbers (see sim/rng.hpp), listed so a test can reject duplicates.
struct StreamSpec {
  std::string name;
  std::uint64_t value;
};

struct StepContext {
  std::uint64_t seed = 0;
  std::int64_t step = 0;  // the step being computed, 1 for the first
  Ledger* ledger = nullptr;
};

using PhaseFn = std::function<void(StepContext&)>;

struct Phase {
  std::string name;         // a verb: "match_pairs", "exchange", "redistribute"
  std::string description;  // one line
  PhaseFn run;
};

// A running model instance. Agents live inside it as columns; mechanisms are its phases.
class Model {
 public:
  virtual ~Model() = default;
  // The step, in order. Called once; the engine runs the phases in this order every step.
  virtual std::vector<Phase> phases() = 0;
  // Fills `values` (one per declared series, in declaration order) from the current state.
  virtual void measure(std::span<double> values) = 0;
  // Simulated time at the end of `step` (step 0: the start), in the unit of ModelSpec::time_name.
  virtual double time_at(std::int64_t step) const = 0;
  // The sum of every account balance the ledger checks, summed in a fixed order.
  virtual double money_in_accounts() const = 0;
  // Checkpoints: save() puts every piece of state that is not a function of the parameters and
  // the seed; restore() reads it back into a model just built from the same parameters, so the
  // run continues bit for bit as if it had never stopped.
  virtual void save(State& state) const = 0;
  virtual void restore(const State& state) = 0;
  // Per-region outputs (only for models that declare ModelSpec::region_series): fills `values`,
  // laid out [series][region] (values[s * regions + r]), one row per declared region series in
  // declaration order, from the current state. Written as /regions/<name> [step, region].
  virtual void measure_regions(std::span<double> values) { (void)values; }
  // Agent snapshots (only for models that declare ModelSpec::snapshot_fields): puts one array per
  // declared field, named "<kind>/<field>" (e.g. "commoners/wealth"), into `out`. Written as
  // /snapshots/<step>/<kind>/<field> every `sim.snapshot_every` steps.
  virtual void snapshot(State& out) const { (void)out; }
};

struct ModelInit {
  const ParamValues& params;
  std::uint64_t seed;
  Ledger& ledger;  // the model declares its accounts' initial money here
};

struct ModelSpec {
  std::string name;         // as in `[sim] model = exchange`
  std::string summary;      // one line
  ParamTable params;        // every `name.*` parameter
  std::vector<SeriesSpec> series;
  // Per-region outputs, /regions/<name> [step, region]; empty for models without regions.
  std::vector<SeriesSpec> region_series;
  // The number of regions a run with these parameters has (required with region_series: the
  // output's shape is fixed before the model is built).
  std::function<std::size_t(const ParamValues&)> region_count;
  // Agent-level snapshot fields: name "<kind>/<field>", units, description.
  std::vector<SeriesSpec> snapshot_fields;
  std::vector<std::string> phase_names;  // the order of the step, for `params` and docs
  std::vector<StreamSpec> streams;       // random-number purposes the model uses
  std::vector<std::string> sectors;      // ledger sectors (columns of the flow matrix)
  std::vector<std::string> flow_types;   // ledger flow types (rows of the flow matrix)
  std::string time_name = "time";        // "year" for models stepped in months, else "time"
  std::string time_units = "1";
  // Checks that involve several parameters (each one's range is checked already); throws
  // InputError naming the parameters. Optional.
  std::function<void(const ParamValues&)> check_params;
  std::function<std::unique_ptr<Model>(const ModelInit&)> make;
};

using ModelList = std::vector<ModelSpec>;

const ModelSpec* find_model(const ModelList& models, const std::string& name);

}  // namespace sim
