// The economy model: money conserved in every shipped scenario, time budgets kept, employment =
// output / (productivity x hours), the same numbers on any number of threads, no drift from the
// opening steady state, checkpoints that resume exactly, per-region series and snapshots that
// agree with the national ones, and clear errors for bad regional overrides.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "models/economy/economy.hpp"
#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"
#include "sim/state.hpp"

#include "tests/unit/model_test_support.hpp"

using model_tests::scenario;
using model_tests::series_index;

namespace {

// Money moves between sectors in every flow row except the rows of money creation and
// destruction (co-op loans and their repayment) and the ledger's change_in_money row.
void check_flow_rows(const sim::FlowMatrix& flows, const std::vector<std::string>& names) {
  for (std::size_t f = 0; f < flows.flow_types(); ++f) {
    if (names[f] == "loans" || names[f] == "loan_repayment" || names[f] == "change_in_money") continue;
    double row = 0.0, scale = 0.0;
    for (std::size_t c = 0; c < flows.sectors(); ++c) {
      row += flows.at(static_cast<sim::FlowId>(f), static_cast<sim::SectorId>(c));
      scale += std::abs(flows.at(static_cast<sim::FlowId>(f), static_cast<sim::SectorId>(c)));
    }
    INFO("flow " << names[f]);
    CHECK(std::abs(row) <= 1e-9 * (1.0 + scale));
  }
}

}  // namespace

// The engine checks sum of balances = initial money + created - destroyed after every step and
// throws when it fails; here, in addition, every flow row between sectors sums to zero. Each
// shipped scenario runs at 1 000 commoners long enough to pass its schedules' switches.
TEST_CASE("economy conserves money every step of every shipped economy scenario", "[economy]") {
  const std::vector<std::pair<std::string, int>> scenarios = {
      {"market_baseline.ini", 36}, {"partner_state.ini", 36},    {"reciprocity_licence.ini", 36},
      {"degrowth.ini", 36},        {"commons_transition.ini", 150}, {"municipalist_network.ini", 30},
      {"workshop.ini", 36},        {"bench/million.ini", 24}};
  for (const auto& [file, steps] : scenarios) {
    INFO(file);
    const auto s = scenario(file, {"sim.steps=" + std::to_string(steps), "economy.commoners=1000",
                                   "economy.coops_per_region=3"});
    sim::Simulation simulation(s);
    const auto& names = simulation.ledger().flow_types();
    while (simulation.steps_done() < s.steps) {
      REQUIRE_NOTHROW(simulation.step());
      check_flow_rows(simulation.take_flows(), names);
    }
    CHECK(simulation.steps_done() == steps);
  }
}

TEST_CASE("economy conserves money while co-ops are founded on loans, repay and dissolve", "[economy]") {
  // A founding rate 40 times the default, so the loan fund creates money and repayments and
  // dissolutions destroy it or write it off within a few years.
  const auto s = scenario("partner_state.ini", {"sim.steps=60", "economy.commoners=2000",
                                                "economy.coop_founding_rate=0.002", "economy.founding_cost=20000"});
  sim::Simulation simulation(s);
  const auto& names = simulation.ledger().flow_types();
  const auto loans = series_index(s, "loans_outstanding");
  double most = 0.0;
  while (simulation.steps_done() < s.steps) {
    REQUIRE_NOTHROW(simulation.step());
    check_flow_rows(simulation.take_flows(), names);
    most = std::max(most, simulation.measure()[loans]);
  }
  CHECK(most > 0.0);
  CHECK(simulation.ledger().created() > 0.0);
  CHECK(simulation.ledger().destroyed() > 0.0);
}

TEST_CASE("economy: every commoner's hours add up to the time budget", "[economy]") {
  // Hours are single-precision columns: each adds up to 480 h to within 1e-3 h.
  const auto s = scenario("degrowth.ini", {"sim.steps=36", "economy.commoners=2000",
                                           "economy.working_time_reduction=0:0, 12:0.3"});
  sim::Simulation simulation(s);
  CHECK(models::economy::largest_time_budget_error(simulation.model()) < 1e-3);
  const std::vector<std::size_t> hours = {series_index(s, "hours_care"), series_index(s, "hours_wage"),
                                          series_index(s, "hours_gig"), series_index(s, "hours_coop"),
                                          series_index(s, "hours_commons"), series_index(s, "hours_leisure")};
  while (simulation.steps_done() < s.steps) {
    simulation.step();
    CHECK(models::economy::largest_time_budget_error(simulation.model()) < 1e-3);
    const auto v = simulation.measure();
    double total = 0.0;
    for (auto h : hours) total += v[h];
    CHECK(total == Approx(480.0).epsilon(1e-6));
  }
}

TEST_CASE("economy: employment = output / (productivity x hours) for every producer", "[economy]") {
  const auto s = scenario("commons_transition.ini", {"sim.steps=150", "economy.commoners=2000"});
  sim::Simulation simulation(s);
  while (simulation.steps_done() < s.steps) {
    simulation.step();
    INFO("month " << simulation.steps_done());
    CHECK(models::economy::largest_employment_identity_error(simulation.model()) < 1e-9);
  }
}

TEST_CASE("economy gives bitwise-identical series and flows on 1, 2 and 4 threads", "[economy]") {
  // 10 000 commoners: three blocks, so the parallel loops really split.
  const auto s = scenario("partner_state.ini", {"sim.steps=24", "economy.commoners=10000",
                                                "economy.coop_founding_rate=0.001"});
  model_tests::check_same_on_1_2_4_threads(s);
}

TEST_CASE("economy at 140 000 commoners gives the same bits on 1, 2 and 4 threads", "[economy]") {
  // Above 2^16 commoners: staff lists counted in several blocks, everyone's distributions
  // sorted by the parallel radix sort rather than merged from the regions'.
  const auto s = scenario("partner_state.ini", {"sim.steps=2", "economy.commoners=140000"});
  model_tests::check_same_on_1_2_4_threads(s);
}

// ECONOMY.md pitfall 3: the market baseline starts at its stock-flow consistent steady state,
// so with no policy change gdp stays within 5 % of its opening value and unemployment within
// 2 points of the natural rate (6 %) over the first 24 months, and the state's deficit within
// 1 % of gdp.
TEST_CASE("economy market baseline does not drift in its first 24 months", "[economy]") {
  const auto s = scenario("market_baseline.ini", {"sim.steps=24", "economy.commoners=10000"});
  sim::Simulation simulation(s);
  const auto gdp = series_index(s, "gdp");
  const auto unemployment = series_index(s, "unemployment_rate");
  const auto deficit = series_index(s, "state_deficit");
  const double gdp0 = simulation.measure()[gdp];
  CHECK(simulation.measure()[unemployment] == Approx(0.06).margin(1e-3));
  while (simulation.steps_done() < s.steps) {
    simulation.step();
    const auto v = simulation.measure();
    INFO("month " << simulation.steps_done());
    CHECK(std::abs(v[gdp] / gdp0 - 1.0) < 0.05);
    CHECK(std::abs(v[unemployment] - 0.06) < 0.02);
    CHECK(std::abs(v[deficit]) < 0.01 * v[gdp]);
  }
}

TEST_CASE("economy resumes from a checkpoint to the same next steps", "[economy]") {
  // Co-ops are founded and platforms may enter while it runs, so producer slots grow.
  const auto s = scenario("commons_transition.ini", {"sim.steps=150", "economy.commoners=2000",
                                                     "economy.coop_founding_rate=0.002"});
  sim::Simulation straight(s);
  for (int i = 0; i < 110; ++i) straight.step();
  sim::State state;
  straight.save(state);
  sim::Simulation resumed(s);
  resumed.restore(state, 110);
  for (int i = 0; i < 40; ++i) {
    straight.step();
    resumed.step();
    const auto a = straight.measure();
    const std::vector<double> av(a.begin(), a.end());
    const auto b = resumed.measure();
    REQUIRE(av.size() == b.size());
    CHECK(std::memcmp(av.data(), b.data(), av.size() * sizeof(double)) == 0);
    const auto ra = straight.measure_regions();
    const std::vector<double> rav(ra.begin(), ra.end());
    const auto rb = resumed.measure_regions();
    REQUIRE(rav.size() == rb.size());
    CHECK(std::memcmp(rav.data(), rb.data(), rav.size() * sizeof(double)) == 0);
    const auto fa = straight.take_flows();
    const auto fb = resumed.take_flows();
    CHECK(std::memcmp(fa.cells().data(), fb.cells().data(), fa.cells().size() * sizeof(double)) == 0);
  }
}

TEST_CASE("economy: the money its last phase sums is what the accounts hold", "[economy]") {
  // The conservation check reads the commoners' money summed by the step's last phase; a model
  // restored from the same state sums the accounts afresh, in the same order: the same bits.
  // With 5 000 commoners the sum runs over two blocks.
  const auto s = scenario("partner_state.ini", {"sim.steps=6", "economy.commoners=5000"});
  sim::Simulation simulation(s);
  for (int i = 1; i <= 6; ++i) {
    simulation.step();
    sim::State state;
    simulation.save(state);
    sim::Simulation fresh(s);
    fresh.restore(state, i);
    const double summed = simulation.model().money_in_accounts();
    const double afresh = fresh.model().money_in_accounts();
    CHECK(std::memcmp(&summed, &afresh, sizeof(double)) == 0);
  }
}

TEST_CASE("economy checkpoint entries are named <kind>.<field>", "[economy]") {
  const auto s = scenario("workshop.ini", {"sim.steps=2"});
  sim::Simulation simulation(s);
  simulation.step();
  sim::State state;
  simulation.model().save(state);
  REQUIRE(!state.entries().empty());
  for (const auto& [name, entry] : state.entries()) {
    INFO(name);
    const auto dot = name.find('.');
    REQUIRE(dot != std::string::npos);
    const std::string kind = name.substr(0, dot);
    CHECK((kind == "commoners" || kind == "producers" || kind == "platforms" || kind == "coops" ||
           kind == "regions" || kind == "state"));
  }
}

TEST_CASE("economy per-region series add up to the national ones", "[economy]") {
  const auto s = scenario("municipalist_network.ini", {"sim.steps=24", "economy.commoners=2000"});
  sim::Simulation simulation(s);
  {
    // Region 0 starts as a partner state (economy.region_policy), the 19 others do not.
    const auto opening = simulation.measure_regions();
    const auto& names = s.model->region_series;
    const auto it = std::find_if(names.begin(), names.end(), [](const auto& n) { return n.name == "partner_policy"; });
    REQUIRE(it != names.end());
    const auto k = static_cast<std::size_t>(it - names.begin());
    CHECK(opening[k * 20 + 0] == 1.0);
    for (std::size_t r = 1; r < 20; ++r) CHECK(opening[k * 20 + r] == 0.0);
  }
  for (int i = 0; i < 24; ++i) simulation.step();
  const auto national = simulation.measure();
  const std::vector<double> nv(national.begin(), national.end());
  const auto regional = simulation.measure_regions();
  const std::size_t R = simulation.regions();
  REQUIRE(R == 20);
  const auto& names = s.model->region_series;
  const auto row = [&](const std::string& name) {
    for (std::size_t k = 0; k < names.size(); ++k)
      if (names[k].name == name) return k;
    FAIL("no region series " << name);
    return std::size_t{0};
  };
  // 2 000 commoners in 20 regions: 100 each, so national means are plain means over regions.
  for (const std::string name : {"unemployment_rate", "hours_wage", "hours_commons", "hours_leisure", "care_gap",
                                 "mean_propensity", "gig_share"}) {
    double mean = 0.0;
    for (std::size_t r = 0; r < R; ++r) mean += regional[row(name) * R + r] / static_cast<double>(R);
    INFO(name);
    CHECK(mean == Approx(nv[series_index(s, name)]).epsilon(1e-9).margin(1e-12));
  }
  double coops = 0.0, partner = 0.0;
  for (std::size_t r = 0; r < R; ++r) {
    coops += regional[row("coops") * R + r];
    partner += regional[row("partner_policy") * R + r];
  }
  CHECK(coops == nv[series_index(s, "coops")]);
  CHECK(partner == nv[series_index(s, "regions_with_partner_policy")]);
}

TEST_CASE("economy snapshots hold one value per commoner for every declared field", "[economy]") {
  const auto s = scenario("workshop.ini", {"sim.steps=3"});
  sim::Simulation simulation(s);
  for (int i = 0; i < 3; ++i) simulation.step();
  sim::State snap;
  simulation.model().snapshot(snap);
  for (const auto& field : s.model->snapshot_fields) {
    INFO(field.name);
    REQUIRE(snap.entries().count(field.name) == 1);
    CHECK(snap.entries().at(field.name).count == 2000);
  }
  std::vector<double> hours(2000, 0.0), part(2000);
  for (const char* h : {"commoners/hours_wage", "commoners/hours_gig", "commoners/hours_coop", "commoners/hours_commons",
                        "commoners/hours_care", "commoners/hours_leisure"}) {
    snap.get(h, part);
    for (std::size_t i = 0; i < part.size(); ++i) hours[i] += part[i];
  }
  for (double h : hours) CHECK(h == Approx(480.0).margin(1e-3));
  std::vector<std::int32_t> employer(2000);
  snap.get("commoners/employer", employer);
  const double unemployed = static_cast<double>(std::count(employer.begin(), employer.end(), -1)) / 2000.0;
  CHECK(unemployed == Approx(simulation.measure()[series_index(s, "unemployment_rate")]));
}

TEST_CASE("economy job guarantee employs every unemployed commoner", "[economy]") {
  const auto s = scenario("workshop.ini", {"sim.steps=12", "economy.job_guarantee=0:false, 6:true"});
  sim::Simulation simulation(s);
  const auto unemployment = series_index(s, "unemployment_rate");
  const auto jg = series_index(s, "job_guarantee_share");
  for (int i = 0; i < 5; ++i) simulation.step();
  CHECK(simulation.measure()[unemployment] > 0.01);
  for (int i = 0; i < 7; ++i) {
    simulation.step();
    CHECK(simulation.measure()[unemployment] == 0.0);
  }
  CHECK(simulation.measure()[jg] > 0.0);
}

TEST_CASE("economy reciprocity licences move fees from platforms to the commons fund and on", "[economy]") {
  const auto s = scenario("workshop.ini", {"sim.steps=6", "economy.licence=reciprocity"});
  sim::Simulation simulation(s);
  const auto& names = simulation.ledger().flow_types();
  const auto& sectors = simulation.ledger().sectors();
  const auto at = [](const std::vector<std::string>& v, const std::string& x) {
    return static_cast<std::uint16_t>(std::find(v.begin(), v.end(), x) - v.begin());
  };
  double fees = 0.0, paid_out = 0.0;
  for (int i = 0; i < 6; ++i) {
    simulation.step();
    const auto flows = simulation.take_flows();
    fees += flows.at(at(names, "licence_fees"), at(sectors, "commons_fund"));
    paid_out -= flows.at(at(names, "commons_pay"), at(sectors, "commons_fund"));
  }
  CHECK(fees > 0.0);
  CHECK(paid_out > 0.0);
  CHECK(paid_out <= fees * (1.0 + 1e-12));
  CHECK(simulation.measure()[series_index(s, "licence_fees")] > 0.0);
}

TEST_CASE("economy rejects bad regional overrides with the key and the value", "[economy]") {
  const auto message = [](const std::string& value) {
    try {
      scenario("workshop.ini", {"economy.region_policy=" + value});
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message("9: public_care=0.3"), Catch::Contains("economy.region_policy") && Catch::Contains("region 9"));
  CHECK_THAT(message("0: care=0.3"), Catch::Contains("unknown lever 'care'"));
  CHECK_THAT(message("0: public_care=2"), Catch::Contains("outside [0, 1]"));
  CHECK_THAT(message("x: public_care=0.3"), Catch::Contains("not a region number"));
  CHECK_THAT(message("0: public_care=abc"), Catch::Contains("not a number"));
  CHECK_THAT(message("0 public_care=0.3"), Catch::Contains("no ':'"));
  CHECK(message("0: public_care=0.3; 2: coop_loans=0.5") == "no error");
}
