#pragma once
// The money ledger: every payment is a transfer between two accounts, tallied by flow type and
// sector; money is created or destroyed only by named, recorded operations; after every step
// the engine checks the stock-flow identity
//     sum of balances = initial money + created - destroyed   (to 1e-9, relative)
// and stops the run with an error naming the step and the imbalance when it fails.
//
// Balances live in the models' own columns (a household's wealth is a double in a vector);
// the ledger holds what the identity needs and the transaction-flow matrix of the step.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/state.hpp"

namespace sim {

using FlowId = std::uint16_t;
using SectorId = std::uint16_t;

// Money moved, by flow type (rows) and sector (columns): inflows positive, outflows negative.
// Every transfer adds +amount and -amount to the same row, so each row sums to zero; the
// ledger's last row, `change_in_money`, is minus each column's sum, so each column sums to
// zero too (a Godley table). Only money creation and destruction leave a row unbalanced.
class FlowMatrix {
 public:
  FlowMatrix() = default;
  FlowMatrix(std::size_t flow_types, std::size_t sectors)
      : sectors_(sectors), cells_(flow_types * sectors, 0.0) {}

  void add(FlowId flow, SectorId sector, double amount) { cells_[flow * sectors_ + sector] += amount; }
  double at(FlowId flow, SectorId sector) const { return cells_[flow * sectors_ + sector]; }
  std::size_t flow_types() const { return sectors_ == 0 ? 0 : cells_.size() / sectors_; }
  std::size_t sectors() const { return sectors_; }
  std::span<const double> cells() const { return cells_; }  // row-major [flow, sector]

  void merge(const FlowMatrix& other);  // cell-wise sum
  void clear();
  std::span<double> cells() { return cells_; }

 private:
  std::size_t sectors_ = 0;
  std::vector<double> cells_;
};

// Moves `amount` (which may be negative) from one balance to another and tallies it.
inline void transfer(double& from, double& to, double amount, FlowId flow, SectorId from_sector,
                     SectorId to_sector, FlowMatrix& tally) {
  from -= amount;
  to += amount;
  tally.add(flow, from_sector, -amount);
  tally.add(flow, to_sector, amount);
}

// A running total of one kind of transfer (one flow type, from one sector to another), kept in
// a local variable inside a hot loop so that it lives in a register, and added to a FlowMatrix
// once per block.
struct TransferTally {
  FlowId flow;
  SectorId from_sector;
  SectorId to_sector;
  double amount = 0.0;

  void add_to(FlowMatrix& flows) const {
    flows.add(flow, from_sector, -amount);
    flows.add(flow, to_sector, amount);
  }
};

inline void transfer(double& from, double& to, double amount, TransferTally& tally) {
  from -= amount;
  to += amount;
  tally.amount += amount;
}

class Ledger {
 public:
  static constexpr double tolerance = 1e-9;  // relative, of the expected money stock

  Ledger(std::vector<std::string> flow_types, std::vector<std::string> sectors);

  FlowId flow(const std::string& name) const;      // throws std::logic_error if undeclared
  SectorId sector(const std::string& name) const;  // throws std::logic_error if undeclared
  const std::vector<std::string>& flow_types() const { return flow_types_; }  // ends with change_in_money
  const std::vector<std::string>& sectors() const { return sectors_; }

  // Money that exists in the accounts at the start of the run.
  void open(double money) { initial_ = money; }
  // Named creation and destruction: the only ways the money stock may change.
  void create(double amount, FlowId flow, SectorId sector);
  void destroy(double amount, FlowId flow, SectorId sector);

  double initial_money() const { return initial_; }
  double created() const { return created_; }
  double destroyed() const { return destroyed_; }
  double expected_money() const { return initial_ + created_ - destroyed_; }

  // Throws RunError ("money not conserved at step S: ... imbalance X") when the balances do not
  // add up to the expected money to `tolerance`.
  void check(std::int64_t step, double money_in_accounts) const;

  // Flows since the last take: models merge their per-block tallies here in block order.
  FlowMatrix& flows() { return flows_; }
  // Completes the change_in_money row, returns the matrix and starts a new one.
  FlowMatrix take_flows();
  FlowMatrix blank_flows() const { return FlowMatrix(flow_types_.size(), sectors_.size()); }

  // For checkpoints: the money identity's terms and the flows not yet taken.
  void save(State& state) const;
  void restore(const State& state);

 private:
  std::vector<std::string> flow_types_;
  std::vector<std::string> sectors_;
  double initial_ = 0.0;
  double created_ = 0.0;
  double destroyed_ = 0.0;
  FlowMatrix flows_;
};

}  // namespace sim
