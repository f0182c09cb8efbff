#include "sim/simulation.hpp"

#include <stdexcept>

namespace sim {

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
  ledger_.check(0, model_->money_in_accounts());
}

void Simulation::step() {
  ++context_.step;
  for (auto& phase : phases_) phase.run(context_);
  ledger_.check(context_.step, model_->money_in_accounts());
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
  if (!region_values_.empty()) model_->measure_regions(region_values_);
  return region_values_;
}

std::span<const double> Simulation::measure() {
  model_->measure(values_);
  return values_;
}

}  // namespace sim
