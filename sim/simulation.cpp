#include "sim/simulation.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "sim/error.hpp"

namespace sim {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// The first non-finite float64 in the saved state, with every other entry that holds one.
// Entries are named "<kind>.<field>" (agent kind or part of the model, then the field); the
// engine prefixes the model's own entries with "model.", which is dropped here.
std::string describe_non_finite(const State& state) {
  std::string first, others;
  std::size_t entries = 0;
  for (const auto& [full_name, entry] : state.entries()) {
    if (entry.type != State::Type::F64) continue;
    const std::string name = full_name.rfind("model.", 0) == 0 ? full_name.substr(6) : full_name;
    std::size_t count = 0, index = 0;
    double value = 0.0;
    for (std::size_t i = 0; i < entry.count; ++i) {
      double v;
      std::memcpy(&v, entry.bytes.data() + i * sizeof(double), sizeof(double));
      if (std::isfinite(v)) continue;
      if (count++ == 0) {
        index = i;
        value = v;
      }
    }
    if (count == 0) continue;
    ++entries;
    const auto dot = name.find('.');
    const std::string kind = dot == std::string::npos ? "model" : name.substr(0, dot);
    const std::string field = dot == std::string::npos ? name : name.substr(dot + 1);
    if (first.empty()) {
      char text[96];
      std::snprintf(text, sizeof text, "%g", value);
      first = "agent kind '" + kind + "', field '" + field + "', index " + std::to_string(index) + " = " + text +
              " (" + std::to_string(count) + " of " + std::to_string(entry.count) + " values non-finite)";
    } else {
      others += (others.empty() ? "" : ", ") + name;
    }
  }
  if (first.empty()) return "no saved field holds a non-finite value";
  return "first in " + first + (others.empty() ? "" : "; also in " + others);
}

}  // namespace

Simulation::Simulation(const Scenario& scenario)
    : spec_(scenario.model), ledger_(scenario.model->flow_types, scenario.model->sectors) {
  model_ = spec_->make(ModelInit{scenario.params, scenario.seed, ledger_});
  phases_ = model_->phases();
  if (phases_.size() != spec_->phase_names.size())
    throw std::logic_error("model '" + spec_->name + "' declares other phases than it runs");
  for (std::size_t i = 0; i < phases_.size(); ++i)
    if (phases_[i].name != spec_->phase_names[i])
      throw std::logic_error("model '" + spec_->name + "': phase '" + phases_[i].name +
                             "' is declared as '" + spec_->phase_names[i] + "'");
  context_.seed = scenario.seed;
  context_.step = 0;
  context_.ledger = &ledger_;
  values_.assign(spec_->series.size(), 0.0);
  if (!spec_->region_series.empty()) {
    if (!spec_->region_count) throw std::logic_error("model '" + spec_->name + "' declares region series without region_count");
    regions_ = spec_->region_count(scenario.params);
    region_values_.assign(spec_->region_series.size() * regions_, 0.0);
  }
  times_.phases.assign(phases_.size(), 0.0);
  ledger_.check(0, model_->money_in_accounts());
}

void Simulation::step() {
  ++context_.step;
  auto start = Clock::now();
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    phases_[i].run(context_);
    const auto end = Clock::now();
    times_.phases[i] += seconds_between(start, end);
    start = end;
  }
  const double money = model_->money_in_accounts();
  if (!std::isfinite(money) || !std::isfinite(ledger_.expected_money())) non_finite("money");
  ledger_.check(context_.step, money);
  times_.check += seconds_between(start, Clock::now());
}

void Simulation::non_finite(const std::string& what) const {
  State state;
  save(state);
  throw RunError("non-finite " + what + " at step " + std::to_string(context_.step) + ": " +
                 describe_non_finite(state));
}

void Simulation::save(State& state) const {
  ledger_.save(state);
  State model;
  model_->save(model);
  for (const auto& [name, entry] : model.entries()) state.put_entry("model." + name, entry);
}

void Simulation::restore(const State& state, std::int64_t step) {
  ledger_.restore(state);
  State model;
  for (const auto& [name, entry] : state.entries())
    if (name.rfind("model.", 0) == 0) model.put_entry(name.substr(6), entry);
  model_->restore(model);
  context_.step = step;
  ledger_.check(step, model_->money_in_accounts());
}

std::span<const double> Simulation::measure_regions() {
  const auto start = Clock::now();
  if (!region_values_.empty()) model_->measure_regions(region_values_);
  times_.measure += seconds_between(start, Clock::now());
  return region_values_;
}

std::span<const double> Simulation::measure() {
  const auto start = Clock::now();
  model_->measure(values_);
  times_.measure += seconds_between(start, Clock::now());
  // NaN is a series' "undefined" (a mean over nobody); an infinity is always a fault.
  for (std::size_t i = 0; i < values_.size(); ++i)
    if (std::isinf(values_[i])) non_finite("series '" + spec_->series[i].name + "'");
  return values_;
}

}  // namespace sim
