// The economy model against its calibration targets and the directions the literature and the
// prototype expect (ECONOMY.md, issue "Model economy"). Each direction compares the means of a
// series over 10 replicas (seeds 1..10) of two shipped scenarios, run at 4 000 commoners for 10
// years and averaged over the last 2 years; the tolerance is statistical: the mean of the paired
// differences (replica k of both scenarios shares seed k, hence its opening state) must exceed
// twice its standard error (about 2.5 % one-sided). The stylised facts of the market baseline
// are printed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"
#include "sim/state.hpp"

#include "tests/validation/validation_run.hpp"

namespace {

constexpr int replicas = 10;
constexpr int burn_in = 96;  // of 120 months: the last 2 years are averaged

sim::Scenario shipped(const std::string& file, std::vector<std::string> overrides) {
  return sim::load_scenario(std::string(SIM_SOURCE_DIR) + "/scenarios/" + file, overrides, validation::models());
}

// Time averages of every series for each replica, cached by scenario and size.
const std::vector<validation::Averages>& runs(const std::string& file, int commoners = 4000, int steps = 120,
                                              int skip = burn_in) {
  static std::map<std::string, std::vector<validation::Averages>> cache;
  const std::string key = file + "/" + std::to_string(commoners) + "/" + std::to_string(steps) + "/" + std::to_string(skip);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::vector<validation::Averages> out;
  for (int seed = 1; seed <= replicas; ++seed)
    out.push_back(validation::run_and_average(
        shipped(file, {"sim.seed=" + std::to_string(seed), "sim.steps=" + std::to_string(steps),
                       "economy.commoners=" + std::to_string(commoners), "sim.record_every=1"}),
        skip));
  return cache.emplace(key, std::move(out)).first->second;
}

struct Estimate {
  double mean = 0.0, se = 0.0;
};

Estimate estimate(const std::vector<validation::Averages>& rs, const std::string& series) {
  std::vector<double> x;
  for (const auto& r : rs) x.push_back(r[series]);
  const double n = static_cast<double>(x.size());
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double ss = 0.0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return {mean, std::sqrt(ss / (n - 1.0) / n)};
}

// `higher` true: a's mean exceeds b's by more than twice the standard error of the mean of
// the paired differences (replica k of both scenarios shares its seed, hence its opening state:
// common random numbers).
void check_paired(const std::vector<validation::Averages>& a, const std::vector<validation::Averages>& b,
                  const std::string& a_name, const std::string& b_name, const std::string& series, bool higher) {
  std::vector<double> d;
  for (std::size_t k = 0; k < a.size(); ++k) d.push_back(a[k][series] - b[k][series]);
  const double n = static_cast<double>(d.size());
  const double mean = std::accumulate(d.begin(), d.end(), 0.0) / n;
  double ss = 0.0;
  for (double v : d) ss += (v - mean) * (v - mean);
  const double se = std::sqrt(ss / (n - 1.0) / n);
  const auto ea = estimate(a, series), eb = estimate(b, series);
  std::printf("  %-22s %-24s %12.5g vs %-24s %12.5g: difference %12.5g +- %.3g\n", series.c_str(), a_name.c_str(),
              ea.mean, b_name.c_str(), eb.mean, mean, se);
  INFO(series << ": " << a_name << " " << ea.mean << ", " << b_name << " " << eb.mean << ", paired difference " << mean
              << " +- " << se);
  if (higher)
    CHECK(mean > 2.0 * se);
  else
    CHECK(-mean > 2.0 * se);
}

void check_direction(const std::string& a_file, const std::string& b_file, const std::string& series, bool higher) {
  check_paired(runs(a_file), runs(b_file), a_file, b_file, series, higher);
}

}  // namespace

// Hara et al. 2018 (CHI '18, 3.8 million tasks on Mechanical Turk): median effective hourly pay
// about 2 USD once unpaid search and waiting are counted. Tolerance: the replica mean of the
// last 2 years' median within [1.5, 3], as the issue asks.
TEST_CASE("economy market baseline: median effective hourly gig pay about 2 (Hara et al. 2018)",
          "[validation][economy]") {
  const auto e = estimate(runs("market_baseline.ini"), "gig_hourly_pay_median");
  std::printf("gig_hourly_pay_median (market baseline): %.3f +- %.3f credits/h\n", e.mean, e.se);
  CHECK(e.mean >= 1.5);
  CHECK(e.mean <= 3.0);
}

// Italian social co-operatives average about 18 workers (ISTAT 2019 census of social
// co-operatives: ~15 000 co-ops, ~280 000 workers). Averaged over years 2-20 of partner_state
// (co-ops are founded small and grow), the replica mean must lie within 18 +- 5: founding and
// growth are calibrated on the founding rate alone, so a third off is the stated tolerance.
TEST_CASE("economy partner state: co-ops average about 18 members (Italian social co-operatives)",
          "[validation][economy]") {
  const auto e = estimate(runs("partner_state.ini", 4000, 240, 12), "coop_mean_size");
  std::printf("coop_mean_size (partner state, years 2-20): %.2f +- %.2f members\n", e.mean, e.se);
  CHECK(std::abs(e.mean - 18.0) <= 5.0);
}

TEST_CASE("economy partner state vs market baseline: more co-op work and living incomes, less inequality and capture",
          "[validation][economy]") {
  check_direction("partner_state.ini", "market_baseline.ini", "coop_employment_share", true);
  check_direction("partner_state.ini", "market_baseline.ini", "living_income_share", true);
  check_direction("partner_state.ini", "market_baseline.ini", "gini_income", false);
  check_direction("partner_state.ini", "market_baseline.ini", "value_captured", false);
}

TEST_CASE("economy reciprocity licence vs open: fees, more commons income, lower platform profits",
          "[validation][economy]") {
  for (const auto& r : runs("reciprocity_licence.ini")) CHECK(r["licence_fees"] > 0.0);
  for (const auto& r : runs("market_baseline.ini")) CHECK(r["licence_fees"] == 0.0);
  check_direction("reciprocity_licence.ini", "market_baseline.ini", "commons_income_share", true);
  check_direction("reciprocity_licence.ini", "market_baseline.ini", "platform_profits", false);
}

// The Eurogreen ranking (D'Alessandro et al. 2020): degrowth lowers throughput, lets the
// resource recover, ends unemployment with the job guarantee and runs a higher deficit.
TEST_CASE("economy degrowth vs market baseline: the Eurogreen ranking", "[validation][economy]") {
  check_direction("degrowth.ini", "market_baseline.ini", "throughput", false);
  check_direction("degrowth.ini", "market_baseline.ini", "resource_stock", true);
  check_direction("degrowth.ini", "market_baseline.ini", "unemployment_rate", false);
  check_direction("degrowth.ini", "market_baseline.ini", "state_deficit", true);
}

// Network effects concentrate the platforms (ECONOMY.md: HHI 0.27 -> 0.50 in the prototype):
// the HHI of the last 2 years exceeds that of the first year of the same replica, by more than
// twice the standard error of the mean difference.
TEST_CASE("economy market baseline: platform concentration rises", "[validation][economy]") {
  check_paired(runs("market_baseline.ini"), runs("market_baseline.ini", 4000, 12, 0), "years 9-10", "first year",
               "platform_hhi", true);
}

// Translocal diffusion: one city of 20 (1 000 residents each) starts with the partner-state
// package; cities adopt a linked city's package when it does clearly better on well-being. Over
// 10 replicas the mean number of partner cities after 15 years exceeds 1 by more than twice its
// standard error.
TEST_CASE("economy municipalist network: partner-state policies spread", "[validation][economy]") {
  std::vector<validation::Averages> rs;
  for (int seed = 1; seed <= replicas; ++seed)
    rs.push_back(validation::run_and_average(
        shipped("municipalist_network.ini", {"sim.seed=" + std::to_string(seed), "sim.steps=180", "sim.record_every=12"}),
        168));
  const auto e = estimate(rs, "regions_with_partner_policy");
  std::printf("regions_with_partner_policy after 15 years: %.2f +- %.2f (of 20; 1 at the start)\n", e.mean, e.se);
  CHECK(e.mean - 1.0 > 2.0 * e.se);
}

// Stylised facts of the market baseline, printed: the Pareto tail index of wealth by maximum
// likelihood (Hill) on the top 5 %, and how close the bulk of income (below the 95th
// percentile) is to an exponential (Dragulescu & Yakovenko 2001) and to a log-normal, by the
// Kolmogorov-Smirnov distance. Asserted: a finite tail index between 1 and 4 (wealth tails
// measured in rich countries lie around 1.3-2; the owners' Pareto shares here have exponent 1.5).
TEST_CASE("economy market baseline: stylised facts of wealth and income", "[validation][economy]") {
  auto s = shipped("market_baseline.ini", {"sim.steps=120", "economy.commoners=20000"});
  sim::Simulation simulation(s);
  while (simulation.steps_done() < s.steps) simulation.step();
  sim::State snap;
  simulation.model().snapshot(snap);
  std::vector<double> wealth(20000), income(20000);
  snap.get("commoners/wealth", wealth);
  snap.get("commoners/income", income);
  std::sort(wealth.begin(), wealth.end());
  std::sort(income.begin(), income.end());
  const std::size_t top = wealth.size() / 20;
  const double xmin = wealth[wealth.size() - top - 1];
  double logs = 0.0;
  for (std::size_t k = wealth.size() - top; k < wealth.size(); ++k) logs += std::log(wealth[k] / xmin);
  const double alpha = static_cast<double>(top) / logs;
  // The bulk: incomes below the 95th percentile.
  const std::vector<double> bulk(income.begin(), income.begin() + static_cast<std::ptrdiff_t>(income.size() * 95 / 100));
  const double n = static_cast<double>(bulk.size());
  const double lo = bulk.front();
  double mean = 0.0, lmean = 0.0, lvar = 0.0;
  for (double x : bulk) {
    mean += (x - lo) / n;
    lmean += std::log(std::max(x, 1e-9)) / n;
  }
  for (double x : bulk) lvar += std::pow(std::log(std::max(x, 1e-9)) - lmean, 2) / n;
  double ks_exp = 0.0, ks_lognormal = 0.0;
  for (std::size_t k = 0; k < bulk.size(); ++k) {
    const double empirical = (static_cast<double>(k) + 1.0) / n;
    const double fe = 1.0 - std::exp(-(bulk[k] - lo) / mean);
    const double fl = 0.5 * std::erfc(-(std::log(std::max(bulk[k], 1e-9)) - lmean) / std::sqrt(2.0 * lvar));
    ks_exp = std::max(ks_exp, std::abs(empirical - fe));
    ks_lognormal = std::max(ks_lognormal, std::abs(empirical - fl));
  }
  std::printf("stylised facts (market baseline, 20 000 commoners, year 10):\n"
              "  wealth Pareto tail index (Hill, top 5 %%): %.2f\n"
              "  income bulk (below p95): KS distance to an exponential %.3f, to a log-normal %.3f\n",
              alpha, ks_exp, ks_lognormal);
  CHECK(std::isfinite(alpha));
  CHECK(alpha > 1.0);
  CHECK(alpha < 4.0);
  CHECK(std::isfinite(ks_exp));
}
