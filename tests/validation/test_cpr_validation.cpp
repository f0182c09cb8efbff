// The cpr model against published equilibria (VALIDATION.md): Gordon-Schaefer open access,
// maximum economic yield under the market and commons regimes, the state against open access,
// and the Ostrom-Gardner-Walker appropriation game. Each test runs a scenario from
// scenarios/validation/ at several parameter points and compares time averages with the formula;
// tolerances are stated per test.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

#include "tests/validation/validation_run.hpp"

using validation::run_and_average;

namespace {

// A Gordon-Schaefer parameter point where c/(pq) < K, so that the formulas apply.
struct Point {
  double r, K, q, p, c;
  std::vector<std::string> overrides() const {
    return {"cpr.growth_rate=" + std::to_string(r), "cpr.capacity=" + std::to_string(K),
            "cpr.initial_stock=" + std::to_string(K), "cpr.catchability=" + std::to_string(q),
            "cpr.price=" + std::to_string(p), "cpr.effort_cost=" + std::to_string(c)};
  }
  double bionomic_stock() const { return c / (p * q); }
  double bionomic_effort() const { return r / q * (1.0 - c / (p * q * K)); }
  double mey_stock() const { return 0.5 * (K + c / (p * q)); }
  double mey_effort() const { return 0.5 * bionomic_effort(); }
  double mey_rent() const { return (p * q * mey_stock() - c) * mey_effort(); }
};

// Defaults (S_inf = 300, E_inf = 350), a slow stock with a high bionomic level (500 of 2000,
// E_inf = 450) and a fast one at half capacity (250 of 500, E_inf = 250). The pool of 200
// harvesters with 5 units of effort each can always supply E_inf.
const std::vector<Point> points = {
    {0.5, 1000.0, 0.001, 10.0, 3.0}, {0.3, 2000.0, 0.0005, 8.0, 2.0}, {1.0, 500.0, 0.002, 20.0, 10.0}};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

// Open access with homogeneous harvesters has its fixed point exactly at the bionomic
// equilibrium at any dt (the stock is integrated exactly at constant effort and effort stops
// moving when pqS = c), and entry and exit vanish there, so the only error is the transient:
// after 200 time units (60-200 growth times 1/r) the damped oscillation has died out to well
// below 0.1 %. Tolerance 1 % relative on S and E, and |rent| below 1 % of the MEY rent.
TEST_CASE("open access converges to the bionomic equilibrium S = c/(pq), E = (r/q)(1 - c/(pqK)) (Gordon-Schaefer)",
          "[validation][cpr]") {
  for (const auto& point : points) {
    for (const char* dt : {"0.1", "0.02"}) {
      INFO("r = " << point.r << ", K = " << point.K << ", q = " << point.q << ", p = " << point.p
                  << ", c = " << point.c << ", dt = " << dt);
      const double steps = std::round(300.0 / std::stod(dt));
      const auto a = run_and_average(
          validation::scenario("cpr_gordon_schaefer.ini",
                              with(point.overrides(), {std::string("cpr.dt=") + dt,
                                                       "sim.steps=" + std::to_string(static_cast<long>(steps))})),
          static_cast<std::int64_t>(steps * 2.0 / 3.0));
      CHECK(a["stock"] == Approx(point.bionomic_stock()).epsilon(0.01));
      CHECK(a["effort"] == Approx(point.bionomic_effort()).epsilon(0.01));
      CHECK(std::abs(a["rent"]) < 0.01 * point.mey_rent());
      CHECK(a["harvest"] == Approx(point.q * point.bionomic_effort() * point.bionomic_stock()).epsilon(0.02));
    }
  }
}

// The market caps the catch at F_MEY times the assessed stock (assessment error 10 %, revised
// every time unit): the stock is then pulled to K(1 - F_MEY/r) = S_MEY and quota goes to
// effort just sufficient to catch it. The assessment noise moves the stock by a few percent
// and costs about 1 % of the rent (rent is flat at its maximum). Tolerances: rent at least 90 %
// of the MEY rent (the bound), mean stock within 5 % of S_MEY, effort within 10 % of
// E_MEY; the quota price equals the scarcity rent p - c/(qS) to within 5 %.
TEST_CASE("the market regime (ITQ at the rent-maximising cap) reaches maximum economic yield", "[validation][cpr]") {
  for (const auto& point : points) {
    INFO("r = " << point.r << ", K = " << point.K << ", c/(pq) = " << point.bionomic_stock());
    const auto a = run_and_average(validation::scenario("cpr_mey.ini", with(point.overrides(), {"cpr.regime=market"})), 1000);
    INFO("rent " << a["rent"] << " of " << point.mey_rent() << ", stock " << a["stock"] << " vs " << point.mey_stock());
    CHECK(a["rent"] >= 0.9 * point.mey_rent());
    CHECK(a["stock"] == Approx(point.mey_stock()).epsilon(0.05));
    CHECK(a["effort"] == Approx(point.mey_effort()).epsilon(0.1));
    CHECK(a["quota_price"] == Approx(point.p - point.c / (point.q * point.mey_stock())).epsilon(0.05));
    CHECK(a["compliance"] == 1.0);
  }
}

// The commons sets the quota as the median of the members' proposals F_MEY (1 + 0.2 (1 -
// cooperativeness)) S_seen, so it aims a few percent above F_MEY (median cooperativeness 0.6:
// +8 %), which lowers the stock by about 3 % of S_MEY and costs well under 1 % of the rent.
// Tolerances: rent at least 90 % of the MEY rent (the bound) and also net of the
// members' monitoring cost; stock within 7 % of S_MEY; compliance above 0.95.
TEST_CASE("the commons regime (Ostrom's design principles) reaches close to maximum economic yield",
          "[validation][cpr]") {
  for (const auto& point : points) {
    INFO("r = " << point.r << ", K = " << point.K << ", c/(pq) = " << point.bionomic_stock());
    const auto a = run_and_average(validation::scenario("cpr_mey.ini", with(point.overrides(), {"cpr.regime=commons"})), 1000);
    INFO("rent " << a["rent"] << " of " << point.mey_rent() << ", stock " << a["stock"] << " vs " << point.mey_stock()
                 << ", monitoring " << a["monitoring_cost"] << ", compliance " << a["compliance"]);
    CHECK(a["rent"] >= 0.9 * point.mey_rent());
    CHECK(a["rent"] - a["monitoring_cost"] >= 0.9 * point.mey_rent());
    CHECK(a["stock"] == Approx(point.mey_stock()).epsilon(0.07));
    CHECK(a["compliance"] > 0.95);
  }
}

// The state aims at MEY through a catch limit on a licensed fleet, with imperfect compliance
// (where the gain from over-harvest is large) and a deficit-prone inspection budget; it must
// beat open access on rent and stock (VALIDATION.md). Open access ends at rent 0 and
// S = c/(pq); the state must give a rent above 5 % of the MEY rent (far outside the open-access
// run's noise, which is below 1 %) and a stock above c/(pq) by at least 5 %.
TEST_CASE("the state regime beats open access on rent and stock", "[validation][cpr]") {
  for (const auto& point : points) {
    INFO("r = " << point.r << ", K = " << point.K << ", c/(pq) = " << point.bionomic_stock());
    const auto state = run_and_average(validation::scenario("cpr_mey.ini", with(point.overrides(), {"cpr.regime=state"})), 1000);
    const auto open = run_and_average(
        validation::scenario("cpr_mey.ini", with(point.overrides(), {"cpr.regime=open_access"})), 1000);
    INFO("state: rent " << state["rent"] << ", stock " << state["stock"] << ", compliance " << state["compliance"]
                        << "; open access: rent " << open["rent"] << ", stock " << open["stock"]);
    CHECK(state["rent"] > open["rent"] + 0.05 * point.mey_rent());
    CHECK(state["stock"] > 1.05 * open["stock"]);
  }
}

// Learning players in the OGW game: belief learning with a logit best response (noise 0.002
// dollars: the choice has a spread of about 0.6 tokens around the best response). Averaged
// over rounds 101-400 of 8 players (2400 choices), the mean's sampling error is about 0.02
// tokens. Without communication the best response to others at Nash is 8 tokens: tolerance
// 0.3 tokens on the mean and 0.05 on the efficiency (0.395 at Nash). With communication and
// agreements kept with propensity k the mean is k 4.5 + (1 - k) (best response to about 31.5,
// about 20 tokens): 4.81 at k = 0.98, within 0.5 of the optimum 4.5; exactly 4.5 at k = 1.
TEST_CASE("appropriation game: learners approach Nash (8 tokens) without communication and the optimum (4.5) with it",
          "[validation][cpr]") {
  for (const char* endowment : {"25", "10"}) {
    INFO("endowment " << endowment);
    const auto silent = run_and_average(
        validation::scenario("cpr_appropriation_game.ini", {std::string("cpr.game_endowment=") + endowment}), 100);
    CHECK(silent["mean_tokens"] == Approx(8.0).margin(0.3));
    CHECK(silent["efficiency"] == Approx(0.395).margin(0.05));
    const auto talking = run_and_average(
        validation::scenario("cpr_appropriation_game.ini",
                            {std::string("cpr.game_endowment=") + endowment, "cpr.game_communication=true"}),
        100);
    CHECK(talking["mean_tokens"] == Approx(4.5).margin(0.5));
    CHECK(talking["efficiency"] > 0.9);
    const auto faithful = run_and_average(
        validation::scenario("cpr_appropriation_game.ini",
                            {std::string("cpr.game_endowment=") + endowment, "cpr.game_communication=true",
                             "cpr.game_keep_propensity=1"}),
        100);
    CHECK(faithful["mean_tokens"] == Approx(4.5).margin(1e-12));
    CHECK(faithful["efficiency"] == Approx(1.0).margin(1e-12));
  }
}
