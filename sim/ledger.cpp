#include "sim/ledger.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "sim/error.hpp"

namespace sim {

void FlowMatrix::merge(const FlowMatrix& other) {
  if (other.cells_.size() != cells_.size()) throw std::logic_error("FlowMatrix::merge: shapes differ");
  for (std::size_t i = 0; i < cells_.size(); ++i) cells_[i] += other.cells_[i];
}

void FlowMatrix::clear() { std::fill(cells_.begin(), cells_.end(), 0.0); }

Ledger::Ledger(std::vector<std::string> flow_types, std::vector<std::string> sectors)
    : flow_types_(std::move(flow_types)), sectors_(std::move(sectors)) {
  flow_types_.emplace_back("change_in_money");
  flows_ = blank_flows();
}

FlowId Ledger::flow(const std::string& name) const {
  const auto it = std::find(flow_types_.begin(), flow_types_.end(), name);
  if (it == flow_types_.end() || it + 1 == flow_types_.end())
    throw std::logic_error("undeclared flow type '" + name + "'");
  return static_cast<FlowId>(it - flow_types_.begin());
}

SectorId Ledger::sector(const std::string& name) const {
  const auto it = std::find(sectors_.begin(), sectors_.end(), name);
  if (it == sectors_.end()) throw std::logic_error("undeclared sector '" + name + "'");
  return static_cast<SectorId>(it - sectors_.begin());
}

void Ledger::create(double amount, FlowId flow, SectorId sector) {
  created_ += amount;
  flows_.add(flow, sector, amount);
}

void Ledger::destroy(double amount, FlowId flow, SectorId sector) {
  destroyed_ += amount;
  flows_.add(flow, sector, -amount);
}

void Ledger::check(std::int64_t step, double money_in_accounts) const {
  const double expected = expected_money();
  const double imbalance = money_in_accounts - expected;
  const double scale = std::max(std::abs(expected), 1.0);
  if (std::isfinite(money_in_accounts) && std::abs(imbalance) <= tolerance * scale) return;
  char message[256];
  std::snprintf(message, sizeof message,
                "money not conserved at step %lld: accounts hold %.17g, expected %.17g "
                "(imbalance %.3g, tolerance %.3g)",
                static_cast<long long>(step), money_in_accounts, expected, imbalance,
                tolerance * scale);
  throw RunError(message);
}

void Ledger::save(State& state) const {
  state.put("ledger.initial", initial_);
  state.put("ledger.created", created_);
  state.put("ledger.destroyed", destroyed_);
  state.put("ledger.flows", flows_.cells());
}

void Ledger::restore(const State& state) {
  initial_ = state.get<double>("ledger.initial");
  created_ = state.get<double>("ledger.created");
  destroyed_ = state.get<double>("ledger.destroyed");
  state.get("ledger.flows", flows_.cells());
}

FlowMatrix Ledger::take_flows() {
  FlowMatrix out = blank_flows();
  out.merge(flows_);
  const auto last = static_cast<FlowId>(flow_types_.size() - 1);
  for (SectorId s = 0; s < sectors_.size(); ++s) {
    double column = 0.0;
    for (FlowId f = 0; f < last; ++f) column += out.at(f, s);
    out.add(last, s, -column);
  }
  flows_.clear();
  return out;
}

}  // namespace sim
