#include <catch2/catch.hpp>

#include <string>

#include "sim/error.hpp"
#include "sim/ledger.hpp"

TEST_CASE("a transfer moves money and tallies both sides", "[ledger]") {
  sim::Ledger ledger({"wages", "taxes"}, {"households", "firms", "state"});
  const auto wages = ledger.flow("wages");
  const auto households = ledger.sector("households");
  const auto firms = ledger.sector("firms");
  double firm = 100.0, household = 5.0;
  ledger.open(firm + household);
  sim::transfer(firm, household, 30.0, wages, firms, households, ledger.flows());
  CHECK(firm == 70.0);
  CHECK(household == 35.0);
  CHECK_NOTHROW(ledger.check(1, firm + household));
  const auto flows = ledger.take_flows();
  CHECK(flows.at(wages, households) == 30.0);
  CHECK(flows.at(wages, firms) == -30.0);
  // change_in_money closes every column: households +30 -> -30 in the last row.
  const auto change = static_cast<sim::FlowId>(ledger.flow_types().size() - 1);
  CHECK(ledger.flow_types().back() == "change_in_money");
  CHECK(flows.at(change, households) == -30.0);
  CHECK(flows.at(change, firms) == 30.0);
  // taking the flows starts a new tally
  CHECK(ledger.take_flows().at(wages, households) == 0.0);
}

TEST_CASE("rows and columns of the flow matrix sum to zero", "[ledger]") {
  sim::Ledger ledger({"wages", "taxes"}, {"households", "firms", "state"});
  double h = 10, f = 10, s = 10;
  sim::transfer(f, h, 4, ledger.flow("wages"), ledger.sector("firms"), ledger.sector("households"), ledger.flows());
  sim::transfer(h, s, 1, ledger.flow("taxes"), ledger.sector("households"), ledger.sector("state"), ledger.flows());
  const auto m = ledger.take_flows();
  for (sim::FlowId r = 0; r < m.flow_types(); ++r) {
    double row = 0;
    for (sim::SectorId c = 0; c < m.sectors(); ++c) row += m.at(r, c);
    CHECK(row == Approx(0.0).margin(1e-12));
  }
  for (sim::SectorId c = 0; c < m.sectors(); ++c) {
    double column = 0;
    for (sim::FlowId r = 0; r < m.flow_types(); ++r) column += m.at(r, c);
    CHECK(column == Approx(0.0).margin(1e-12));
  }
}

TEST_CASE("created and destroyed money enter the identity", "[ledger]") {
  sim::Ledger ledger({"loans"}, {"coops", "state"});
  ledger.open(100.0);
  ledger.create(50.0, ledger.flow("loans"), ledger.sector("coops"));
  CHECK_NOTHROW(ledger.check(3, 150.0));
  ledger.destroy(20.0, ledger.flow("loans"), ledger.sector("coops"));
  CHECK(ledger.expected_money() == 130.0);
  CHECK_NOTHROW(ledger.check(4, 130.0));
}

TEST_CASE("an imbalance stops the run naming the step and the amount", "[ledger]") {
  sim::Ledger ledger({"wages"}, {"households"});
  ledger.open(1000.0);
  CHECK_NOTHROW(ledger.check(7, 1000.0 + 1e-7));  // within 1e-9 relative
  try {
    ledger.check(12, 1000.5);
    FAIL("no error");
  } catch (const sim::RunError& e) {
    const std::string what = e.what();
    CHECK(what.find("step 12") != std::string::npos);
    CHECK(what.find("imbalance 0.5") != std::string::npos);
  }
  CHECK_THROWS_AS(ledger.check(13, std::nan("")), sim::RunError);
}

TEST_CASE("an undeclared flow type or sector is a programming error", "[ledger]") {
  sim::Ledger ledger({"wages"}, {"households"});
  CHECK_THROWS_AS(ledger.flow("bribes"), std::logic_error);
  CHECK_THROWS_AS(ledger.sector("aliens"), std::logic_error);
  CHECK_THROWS_AS(ledger.flow("change_in_money"), std::logic_error);
}
