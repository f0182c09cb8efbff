// Commoners, co-ops, platforms and the state, one month a step (docs/models/economy.md).
//
// Stage 1 of the specification in ECONOMY.md: prices from the going wage and mark-ups, a labour
// market with hysteresis, work incomes, time use, income and platform taxes with benefits and a
// fiscal rule, consumption split between platforms and co-ops by a logit, production rationed
// by capacity, and platform profits paid out as dividends or spent as investment. Every money
// loop is closed, and the opening stocks are the stock-flow consistent steady state of the
// opening flows (Caiani et al. 2016): each commoner holds the money at which consumption equals
// income, the income tax balances the budget and the co-op bias in the logit reproduces the
// opening co-op share, so the market baseline does not drift.
#include "models/economy/economy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/rng.hpp"
#include "sim/stats.hpp"

namespace models::economy {
namespace {

enum class Stream : std::uint64_t {
  Traits = 300,         // skill, propensity and care need of each commoner, drawn once
  InitialJobs = 301,    // who holds which job at the start
  Owners = 302,         // who owns the platforms and in which shares
  PlatformShares = 303, // the platforms' opening market shares (Dirichlet)
  LabourSearch = 304,   // the order in which producers hire and the unemployed are met
  Firing = 305,         // whom a producer lets go
  CoopSwitch = 306,     // whether a platform worker with high propensity moves to a co-op
};

// employer_ codes; co-op j is platforms + j, platform k is k.
constexpr std::int32_t unemployed = -1;
constexpr std::int32_t public_sector = -2;

struct Params {
  std::size_t regions, commoners, platforms, coops_per_region;
  double skill_sigma, propensity_alpha, propensity_beta;
  double time_budget, care_hours, dependant_care_hours, dependant_share, commons_time_share;
  double productivity, coop_productivity, markup_base, markup_share, coop_markup;
  double initial_wage, standard_hours;
  sim::Schedule working_time_reduction, wtr_wage_compensation;
  double staff_buffer, firing_band, expectation_weight, share_adjustment;
  double wage_flexibility, natural_unemployment, public_employment, coop_initial_share, coop_switch_rate;
  sim::Schedule unemployment_benefit, platform_tax, deficit_target;
  double fiscal_adjustment;
  double subsistence, mpc_income, mpc_wealth;
  double price_sensitivity, network_effect, ethical_preference;
  double payout_ratio, owner_share, owner_pareto;

  explicit Params(const sim::ParamValues& p)
      : regions(static_cast<std::size_t>(p.integer("economy.regions"))),
        commoners(static_cast<std::size_t>(p.integer("economy.commoners"))),
        platforms(static_cast<std::size_t>(p.integer("economy.platforms"))),
        coops_per_region(static_cast<std::size_t>(p.integer("economy.coops_per_region"))),
        skill_sigma(p.real("economy.skill_sigma")),
        propensity_alpha(p.real("economy.propensity_alpha")),
        propensity_beta(p.real("economy.propensity_beta")),
        time_budget(p.real("economy.time_budget")),
        care_hours(p.real("economy.care_hours")),
        dependant_care_hours(p.real("economy.dependant_care_hours")),
        dependant_share(p.real("economy.dependant_share")),
        commons_time_share(p.real("economy.commons_time_share")),
        productivity(p.real("economy.productivity")),
        coop_productivity(p.real("economy.coop_productivity")),
        markup_base(p.real("economy.markup_base")),
        markup_share(p.real("economy.markup_share")),
        coop_markup(p.real("economy.coop_markup")),
        initial_wage(p.real("economy.initial_wage")),
        standard_hours(p.real("economy.standard_hours")),
        working_time_reduction(p.schedule("economy.working_time_reduction")),
        wtr_wage_compensation(p.schedule("economy.wtr_wage_compensation")),
        staff_buffer(p.real("economy.staff_buffer")),
        firing_band(p.real("economy.firing_band")),
        expectation_weight(p.real("economy.expectation_weight")),
        share_adjustment(p.real("economy.share_adjustment")),
        wage_flexibility(p.real("economy.wage_flexibility")),
        natural_unemployment(p.real("economy.natural_unemployment")),
        public_employment(p.real("economy.public_employment")),
        coop_initial_share(p.real("economy.coop_initial_share")),
        coop_switch_rate(p.real("economy.coop_switch_rate")),
        unemployment_benefit(p.schedule("economy.unemployment_benefit")),
        platform_tax(p.schedule("economy.platform_tax")),
        deficit_target(p.schedule("economy.deficit_target")),
        fiscal_adjustment(p.real("economy.fiscal_adjustment")),
        subsistence(p.real("economy.subsistence")),
        mpc_income(p.real("economy.mpc_income")),
        mpc_wealth(p.real("economy.mpc_wealth")),
        price_sensitivity(p.real("economy.price_sensitivity")),
        network_effect(p.real("economy.network_effect")),
        ethical_preference(p.real("economy.ethical_preference")),
        payout_ratio(p.real("economy.payout_ratio")),
        owner_share(p.real("economy.owner_share")),
        owner_pareto(p.real("economy.owner_pareto")) {}

  std::size_t coops() const { return regions * coops_per_region; }
  std::size_t producers() const { return platforms + coops(); }
  // Paid hours a month and the hourly wage factor under working-time reduction r with wage
  // compensation c: monthly pay falls to 1 - r (1 - c) of the standard.
  double hours(std::int64_t step) const { return standard_hours * (1.0 - working_time_reduction.at(step)); }
  double hourly_factor(std::int64_t step) const {
    const double r = working_time_reduction.at(step);
    return (1.0 - r * (1.0 - wtr_wage_compensation.at(step))) / (1.0 - r);
  }
};

sim::ParamTable parameters() {
  using sim::ParamSpec;
  return {
      ParamSpec::integer("economy.regions", 4).with_unit("regions").range(1, 1000)
          .describe("Number of regions (cities); commoner i lives in region i mod regions"),
      ParamSpec::integer("economy.commoners", 4000).with_unit("commoners").range(10, 100000000)
          .describe("Number of commoners (households of one working-age adult)"),
      ParamSpec::integer("economy.platforms", 5).with_unit("platforms").range(1, 1000)
          .describe("Number of for-profit platforms, each selling in every region"),
      ParamSpec::integer("economy.coops_per_region", 3).with_unit("co-ops").range(1, 10000)
          .describe("Co-ops per region at the start (stage 1: none are founded or dissolved)"),
      ParamSpec::real("economy.skill_sigma", 0.3).range(0.0, 2.0)
          .describe("sigma of the log-normal skill s_i, normalised to mean 1; output and wage scale with s_i")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.propensity_alpha", 2.0).range(0.01, 100.0)
          .describe("alpha of the Beta distribution of the commoning propensity pi_i"),
      ParamSpec::real("economy.propensity_beta", 5.0).range(0.01, 100.0)
          .describe("beta of the Beta distribution of the commoning propensity pi_i"),
      ParamSpec::real("economy.time_budget", 480.0).with_unit("hours/month").range(1.0, 744.0)
          .describe("Waking hours a month shared among care, paid work, commons and leisure"),
      ParamSpec::real("economy.care_hours", 40.0).with_unit("hours/month").range(0.0, 744.0)
          .describe("Care every commoner needs (for themselves and the household)").cite("ECONOMY.md"),
      ParamSpec::real("economy.dependant_care_hours", 60.0).with_unit("hours/month").range(0.0, 744.0)
          .describe("Extra care needed by commoners with dependants").cite("ECONOMY.md"),
      ParamSpec::real("economy.dependant_share", 0.3).range(0.0, 1.0)
          .describe("Share of commoners with dependants").cite("ECONOMY.md"),
      ParamSpec::real("economy.commons_time_share", 0.3).range(0.0, 1.0)
          .describe("Commons hours = pi_i x commons_time_share x the time left after care and paid work"),
      ParamSpec::real("economy.productivity", 20.0).with_unit("units/hour").range(1e-6, 1e6)
          .describe("Output per hour A of a worker of skill 1 at a platform").cite("ECONOMY.md"),
      ParamSpec::real("economy.coop_productivity", 0.9).range(0.01, 10.0)
          .describe("Co-op output per hour relative to a platform's").cite("ECONOMY.md"),
      ParamSpec::real("economy.markup_base", 0.15).range(0.0, 10.0)
          .describe("mu_0 in the platform price p_k = (1 + mu_0 + mu_1 sigma_k) W / A").cite("ECONOMY.md"),
      ParamSpec::real("economy.markup_share", 0.5).range(0.0, 10.0)
          .describe("mu_1: how the platform mark-up rises with its market share sigma_k").cite("ECONOMY.md"),
      ParamSpec::real("economy.coop_markup", 0.05).range(0.0, 10.0)
          .describe("mu_c in the co-op price p_c = (1 + mu_c) W / (A coop_productivity)").cite("ECONOMY.md"),
      ParamSpec::real("economy.initial_wage", 15.0).with_unit("credits/hour").range(1e-6, 1e9)
          .describe("Going hourly wage W for skill 1 at the start"),
      ParamSpec::real("economy.standard_hours", 160.0).with_unit("hours/month").range(1.0, 400.0)
          .describe("Paid hours a month of a full job before working-time reduction").cite("ECONOMY.md"),
      ParamSpec::real("economy.working_time_reduction", 0.0).range(0.0, 0.9).allow_schedule()
          .describe("Policy lever: share by which paid hours are cut (a change re-sizes staff gradually)")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.wtr_wage_compensation", 0.5).range(0.0, 1.0).allow_schedule()
          .describe("Policy lever: share of the pay lost to working-time reduction that hourly wages make up")
          .cite("ECONOMY.md; Eurogreen package"),
      ParamSpec::real("economy.staff_buffer", 0.02).range(0.0, 1.0)
          .describe("Producers staff for expected demand times 1 + staff_buffer"),
      ParamSpec::real("economy.firing_band", 0.05).range(0.0, 1.0)
          .describe("Hysteresis: a producer fires only while staff without the next leaver exceeds target x (1 + band)")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.expectation_weight", 0.2).range(0.0, 1.0)
          .describe("Adaptive expectations: E <- (1 - w) E + w x real demand").cite("ECONOMY.md"),
      ParamSpec::real("economy.share_adjustment", 0.05).range(0.0, 1.0)
          .describe("Platform market shares follow sales: sigma <- (1 - a) sigma + a x sales share").cite("ECONOMY.md"),
      ParamSpec::real("economy.wage_flexibility", 0.01).range(0.0, 1.0)
          .describe("phi in W <- W (1 + phi (u* - u)), monthly").cite("ECONOMY.md"),
      ParamSpec::real("economy.natural_unemployment", 0.06).range(0.0, 0.5)
          .describe("u*: unemployment at which the wage is stable; the opening state has it").cite("ECONOMY.md"),
      ParamSpec::real("economy.public_employment", 0.15).range(0.0, 0.8)
          .describe("Share of commoners employed by the state at the going wage (fixed in stage 1)"),
      ParamSpec::real("economy.coop_initial_share", 0.05).range(0.0, 1.0)
          .describe("Co-op members as a share of private employment at the start").cite("ECONOMY.md (prototype 0.048)"),
      ParamSpec::real("economy.coop_switch_rate", 0.05).with_unit("1/month").range(0.0, 1.0)
          .describe("Monthly probability that a platform worker with pi > 0.6 takes an open co-op place in the region")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.unemployment_benefit", 1000.0).with_unit("credits/month").range(0.0, 1e9)
          .allow_schedule()
          .describe("Policy lever: benefit to each unemployed commoner, at opening prices (indexed to the CPI)"),
      ParamSpec::real("economy.platform_tax", 0.2).range(0.0, 1.0).allow_schedule()
          .describe("Policy lever: tax rate on positive platform profits"),
      ParamSpec::real("economy.deficit_target", 0.0).range(-0.5, 0.5).allow_schedule()
          .describe("Policy lever: state deficit over GDP that the fiscal rule steers the income tax toward")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.fiscal_adjustment", 0.5).range(0.0, 10.0)
          .describe("Fiscal rule: income tax <- income tax + k (deficit / GDP - target), monthly"),
      ParamSpec::real("economy.subsistence", 300.0).with_unit("credits/month").range(0.0, 1e9)
          .describe("c_0 in C = min(money, c_0 CPI + alpha_y y + alpha_w w)").cite("ECONOMY.md"),
      ParamSpec::real("economy.mpc_income", 0.75).range(0.0, 0.999)
          .describe("alpha_y: propensity to consume out of disposable income").cite("ECONOMY.md"),
      ParamSpec::real("economy.mpc_wealth", 0.03).with_unit("1/month").range(1e-6, 1.0)
          .describe("alpha_w: propensity to consume out of money held").cite("ECONOMY.md"),
      ParamSpec::real("economy.price_sensitivity", 4.0).range(0.0, 100.0)
          .describe("beta_p: weight of log price in the logit choice of provider").cite("ECONOMY.md"),
      ParamSpec::real("economy.network_effect", 0.6).range(0.0, 10.0)
          .describe("beta_n: network effect in platform utility and in the split among platforms").cite("ECONOMY.md"),
      ParamSpec::real("economy.ethical_preference", 2.5).range(0.0, 100.0)
          .describe("beta_e: utility of co-ops per unit of (pi_i - 1/2)").cite("ECONOMY.md"),
      ParamSpec::real("economy.payout_ratio", 0.7).range(0.0, 1.0)
          .describe("Share of after-tax platform profit paid as dividends next month; the rest is spent as investment")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.owner_share", 0.01).range(0.0, 1.0)
          .describe("Share of commoners who own the platforms").cite("ECONOMY.md"),
      ParamSpec::real("economy.owner_pareto", 1.5).range(0.1, 100.0)
          .describe("Pareto exponent of the owners' shares"),
  };
}

enum Series : std::size_t {
  Gdp, CoopShare, PlatformShare, Hhi, PlatformProfits, Unemployment, MedianIncome, GiniIncome, GiniWealth,
  Top10Wealth, HoursWage, HoursCoop, HoursCommons, HoursCare, HoursLeisure, StateDeficit, PublicDebt,
  MeanPropensity, Coops, Wage, Cpi, IncomeTax, CoopEmployment, SeriesCount
};

std::vector<sim::SeriesSpec> series() {
  return {
      {"gdp", "credits/month", "Sales of platforms and co-ops (consumption and investment) plus public wages"},
      {"coop_output_share", "1", "Co-op sales over gdp"},
      {"platform_output_share", "1", "Platform sales over gdp"},
      {"platform_hhi", "1", "Herfindahl-Hirschman index of the platforms' sales shares in the month"},
      {"platform_profits", "credits/month", "Platform revenue minus wages, before tax, summed over platforms"},
      {"unemployment_rate", "1", "Share of commoners without a job"},
      {"median_income", "credits/month", "Median disposable income: pay, dividends and benefits after income tax"},
      {"gini_income", "1", "Gini coefficient of disposable income"},
      {"gini_wealth", "1", "Gini coefficient of the commoners' money"},
      {"top10_wealth_share", "1", "Share of the commoners' money held by the richest 10 %"},
      {"hours_wage", "hours/month", "Mean hours of wage work (platforms and public sector) per commoner"},
      {"hours_coop", "hours/month", "Mean hours of co-op work per commoner"},
      {"hours_commons", "hours/month", "Mean hours of unpaid commons contribution per commoner"},
      {"hours_care", "hours/month", "Mean hours of care per commoner"},
      {"hours_leisure", "hours/month", "Mean hours of leisure per commoner"},
      {"state_deficit", "credits/month", "Public wages and benefits minus income and platform tax in the month"},
      {"public_debt", "credits", "Minus the state's balance"},
      {"mean_propensity", "1", "Mean commoning propensity pi"},
      {"coops", "co-ops", "Co-ops with at least one member"},
      {"wage", "credits/hour", "Going hourly wage W for skill 1 (before working-time compensation)"},
      {"cpi", "1", "Consumer price index: spending-weighted price over its opening value"},
      {"income_tax", "1", "Income tax rate set by the fiscal rule"},
      {"coop_employment_share", "1", "Co-op members over employed commoners"},
  };
}

// What a step leaves for measure() and for the next step; saved in checkpoints.
struct Flows {
  double platform_sales = 0, coop_sales = 0, public_wages = 0, platform_profits = 0;
  double deficit = 0, hhi = 0, coop_spend_share = 0;
};

class Economy final : public sim::Model {
 public:
  explicit Economy(const sim::ModelInit& init)
      : p_(init.params),
        seed_(init.seed),
        n_(p_.commoners),
        commoners_s_(init.ledger.sector("commoners")),
        platforms_s_(init.ledger.sector("platforms")),
        coops_s_(init.ledger.sector("coops")),
        state_s_(init.ledger.sector("state")),
        wages_f_(init.ledger.flow("wages")),
        coop_pay_f_(init.ledger.flow("coop_pay")),
        purchases_f_(init.ledger.flow("purchases")),
        investment_f_(init.ledger.flow("investment")),
        income_tax_f_(init.ledger.flow("income_tax")),
        platform_tax_f_(init.ledger.flow("platform_tax")),
        benefits_f_(init.ledger.flow("benefits")),
        dividends_f_(init.ledger.flow("dividends")) {
    draw_commoners();
    open_steady_state();
    init.ledger.open(money_in_accounts());
  }

  std::vector<sim::Phase> phases() override {
    return {
        {"set_prices", "platform and co-op prices from the going wage and mark-ups; the CPI",
         [this](sim::StepContext& c) { set_prices(c); }},
        {"match_labour", "producers staff for expected demand: fire beyond a band, hire the unemployed",
         [this](sim::StepContext& c) { match_labour(c); }},
        {"pay_work_incomes", "wages, co-op pay, last month's dividends; the wage moves with tightness",
         [this](sim::StepContext& c) { pay_work_incomes(c); }},
        {"allocate_time", "care first, then paid work, commons by propensity, leisure",
         [this](sim::StepContext& c) { allocate_time(c); }},
        {"tax_and_transfer", "income tax and unemployment benefit", [this](sim::StepContext& c) { tax_and_transfer(c); }},
        {"spend", "consumption and investment split by a logit, sales rationed by capacity",
         [this](sim::StepContext& c) { spend(c); }},
        {"settle_profits", "platform tax, dividends and investment for next month; shares, expectations, fiscal rule",
         [this](sim::StepContext& c) { settle_profits(c); }},
    };
  }

  void measure(std::span<double> v) override {
    const double gdp = last_.platform_sales + last_.coop_sales + last_.public_wages;
    v[Gdp] = gdp;
    v[CoopShare] = gdp > 0 ? last_.coop_sales / gdp : 0.0;
    v[PlatformShare] = gdp > 0 ? last_.platform_sales / gdp : 0.0;
    v[Hhi] = last_.hhi;
    v[PlatformProfits] = last_.platform_profits;
    std::size_t jobless = 0, in_coops = 0;
    for (std::size_t i = 0; i < n_; ++i) {
      jobless += employer_[i] == unemployed;
      in_coops += employer_[i] >= static_cast<std::int32_t>(p_.platforms);
    }
    v[Unemployment] = static_cast<double>(jobless) / static_cast<double>(n_);
    v[CoopEmployment] = jobless == n_ ? 0.0 : static_cast<double>(in_coops) / static_cast<double>(n_ - jobless);
    const auto income = sim::sorted_copy(net_income_);
    v[MedianIncome] = sim::median_sorted(income);
    v[GiniIncome] = sim::gini_sorted(income);
    const auto wealth = sim::sorted_copy(money_);
    v[GiniWealth] = sim::gini_sorted(wealth);
    v[Top10Wealth] = sim::top_share_sorted(wealth, 0.1);
    const double n = static_cast<double>(n_);
    v[HoursWage] = sim::sum(n_, [&](std::size_t i) { return hours_wage_[i]; }) / n;
    v[HoursCoop] = sim::sum(n_, [&](std::size_t i) { return hours_coop_[i]; }) / n;
    v[HoursCommons] = sim::sum(n_, [&](std::size_t i) { return hours_commons_[i]; }) / n;
    v[HoursCare] = sim::sum(n_, [&](std::size_t i) { return care_[i]; }) / n;
    v[HoursLeisure] = sim::sum(n_, [&](std::size_t i) { return hours_leisure_[i]; }) / n;
    v[StateDeficit] = last_.deficit;
    v[PublicDebt] = -state_;
    v[MeanPropensity] = sim::sum(n_, [&](std::size_t i) { return propensity_[i]; }) / n;
    std::size_t active = 0;
    for (std::size_t j = 0; j < p_.coops(); ++j) active += members_[p_.platforms + j] > 0;
    v[Coops] = static_cast<double>(active);
    v[Wage] = wage_;
    v[Cpi] = cpi_;
    v[IncomeTax] = income_tax_;
  }

  double time_at(std::int64_t step) const override { return static_cast<double>(step) / 12.0; }

  // Skill, propensity, care need, region, public jobs and ownership are drawn from the seed; the
  // rest is saved.
  void save(sim::State& s) const override {
    s.put("money", money_);
    s.put("employer", employer_);
    s.put("gross_income", gross_income_);
    s.put("net_income", net_income_);
    s.put("hours_wage", hours_wage_);
    s.put("hours_coop", hours_coop_);
    s.put("hours_commons", hours_commons_);
    s.put("hours_leisure", hours_leisure_);
    s.put("cash", cash_);
    s.put("expected", expected_);
    s.put("market_share", market_share_);
    s.put("pending_dividends", pending_dividends_);
    s.put("pending_investment", pending_investment_);
    s.put("price", price_);
    s.put("scalars", std::vector<double>{state_, wage_, cpi_, income_tax_, coop_bias_, last_.platform_sales,
                                         last_.coop_sales, last_.public_wages, last_.platform_profits,
                                         last_.deficit, last_.hhi, last_.coop_spend_share});
  }
  void restore(const sim::State& s) override {
    s.get("money", money_);
    s.get("employer", employer_);
    s.get("gross_income", gross_income_);
    s.get("net_income", net_income_);
    s.get("hours_wage", hours_wage_);
    s.get("hours_coop", hours_coop_);
    s.get("hours_commons", hours_commons_);
    s.get("hours_leisure", hours_leisure_);
    s.get("cash", cash_);
    s.get("expected", expected_);
    s.get("market_share", market_share_);
    s.get("pending_dividends", pending_dividends_);
    s.get("pending_investment", pending_investment_);
    s.get("price", price_);
    std::vector<double> x(12);
    s.get("scalars", x);
    state_ = x[0];
    wage_ = x[1];
    cpi_ = x[2];
    income_tax_ = x[3];
    coop_bias_ = x[4];
    last_ = Flows{x[5], x[6], x[7], x[8], x[9], x[10], x[11]};
    count_members();
  }

  double money_in_accounts() const override {
    double total = sim::sum(n_, [&](std::size_t i) { return money_[i]; });
    for (double c : cash_) total += c;
    return total + state_;
  }

  double largest_time_budget_error() const {
    double worst = 0.0;
    for (std::size_t i = 0; i < n_; ++i) {
      const double total = care_[i] + hours_wage_[i] + hours_coop_[i] + hours_commons_[i] + hours_leisure_[i];
      worst = std::max(worst, std::abs(total - p_.time_budget));
      if (hours_wage_[i] < 0 || hours_coop_[i] < 0 || hours_commons_[i] < 0 || hours_leisure_[i] < 0)
        worst = std::max(worst, p_.time_budget);
    }
    return worst;
  }

 private:
  std::size_t platforms() const { return p_.platforms; }
  std::size_t producers() const { return p_.producers(); }
  bool is_coop(std::size_t producer) const { return producer >= p_.platforms; }
  std::size_t region_of_coop(std::size_t producer) const { return (producer - p_.platforms) / p_.coops_per_region; }
  double productivity_of(std::size_t producer) const {
    return is_coop(producer) ? p_.productivity * p_.coop_productivity : p_.productivity;
  }
  static std::uint64_t u(std::int64_t step) { return static_cast<std::uint64_t>(step); }

  // ------------------------------------------------------------------ set-up

  void draw_commoners() {
    region_.resize(n_);
    skill_.resize(n_);
    propensity_.resize(n_);
    care_.resize(n_);
    money_.assign(n_, 0.0);
    employer_.assign(n_, unemployed);
    gross_income_.assign(n_, 0.0);
    net_income_.assign(n_, 0.0);
    hours_wage_.assign(n_, 0.0);
    hours_coop_.assign(n_, 0.0);
    hours_commons_.assign(n_, 0.0);
    hours_leisure_.assign(n_, 0.0);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) {
        sim::Rng rng{seed_, Stream::Traits, 0, i};
        region_[i] = static_cast<std::uint32_t>(i % p_.regions);
        skill_[i] = rng.lognormal(0.0, p_.skill_sigma);
        propensity_[i] = rng.beta(p_.propensity_alpha, p_.propensity_beta);
        care_[i] = p_.care_hours + (rng.bernoulli(p_.dependant_share) ? p_.dependant_care_hours : 0.0);
      }
    });
    const double mean_skill = sim::sum(n_, [&](std::size_t i) { return skill_[i]; }) / static_cast<double>(n_);
    for (auto& s : skill_) s /= mean_skill;

    // Owners: a random set of commoners with Pareto-distributed shares summing to 1.
    const std::size_t owners = std::max<std::size_t>(1, sim::top_count(n_, p_.owner_share));
    const auto order = shuffled(n_, Stream::Owners, 0);
    owners_.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(owners));
    std::sort(owners_.begin(), owners_.end());
    owner_share_.resize(owners);
    sim::Rng rng{seed_, Stream::Owners, 0, 1};
    for (auto& o : owner_share_) o = std::pow(rng.u01(), -1.0 / p_.owner_pareto);
    const double total = std::accumulate(owner_share_.begin(), owner_share_.end(), 0.0);
    for (auto& o : owner_share_) o /= total;
  }

  // A uniformly random order of [0, n) from one addressed generator (Fisher-Yates).
  template <class S>
  std::vector<std::uint32_t> shuffled(std::size_t n, S stream, std::int64_t step, std::uint64_t index = 0) const {
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    sim::Rng rng{seed_, stream, u(step), index};
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    return order;
  }

  // The opening state is the stationary state of the opening flows: jobs at the natural rate of
  // unemployment, staff equal to expected demand, each commoner's money where consumption equals
  // disposable income, the income tax that balances the budget, and the co-op bias in the
  // logit that makes households buy what the co-ops produce.
  void open_steady_state() {
    const std::size_t P = producers(), K = platforms();
    cash_.assign(P, 0.0);
    expected_.assign(P, 0.0);
    price_.assign(P, 0.0);
    members_.assign(P, 0);
    pending_dividends_.assign(K, 0.0);
    pending_investment_.assign(K, 0.0);
    wage_ = p_.initial_wage;
    market_share_.resize(K);
    {
      sim::Rng rng{seed_, Stream::PlatformShares, 0, 0};
      for (auto& s : market_share_) s = rng.gamma(1.0, 1.0);
      const double total = std::accumulate(market_share_.begin(), market_share_.end(), 0.0);
      for (auto& s : market_share_) s /= total;
    }
    compute_prices(0);
    const auto split = platform_split();

    // Jobs: public first, then co-op places by region, then platform places by real demand.
    const double n = static_cast<double>(n_);
    const auto public_jobs = static_cast<std::size_t>(std::llround(p_.public_employment * n));
    const auto private_jobs = static_cast<std::size_t>(
        std::llround(std::max(0.0, 1.0 - p_.natural_unemployment - p_.public_employment) * n));
    const auto coop_jobs = static_cast<std::size_t>(std::llround(p_.coop_initial_share * static_cast<double>(private_jobs)));
    std::vector<std::size_t> quota(P, 0);
    for (std::size_t j = 0; j < p_.coops(); ++j)
      quota[K + j] = coop_jobs / p_.coops() + (j < coop_jobs % p_.coops() ? 1 : 0);
    {
      std::vector<double> real(K);
      double total = 0.0;
      for (std::size_t k = 0; k < K; ++k) total += real[k] = split[k] / price_[k];
      std::size_t given = 0;
      for (std::size_t k = 0; k < K; ++k) {
        quota[k] = static_cast<std::size_t>(std::floor(real[k] / total * static_cast<double>(private_jobs - coop_jobs)));
        given += quota[k];
      }
      for (std::size_t k = 0; given < private_jobs - coop_jobs; k = (k + 1) % K, ++given) ++quota[k];
    }
    std::size_t publics = 0;
    for (std::uint32_t i : shuffled(n_, Stream::InitialJobs, 0)) {
      if (publics < public_jobs) {
        employer_[i] = public_sector;
        ++publics;
        continue;
      }
      const std::size_t first = K + region_[i] * p_.coops_per_region;
      std::size_t best = first;
      for (std::size_t j = first; j < first + p_.coops_per_region; ++j)
        if (quota[j] > quota[best]) best = j;
      if (quota[best] > 0) {
        employer_[i] = static_cast<std::int32_t>(best);
        --quota[best];
        continue;
      }
      for (std::size_t k = 0; k < K; ++k)
        if (quota[k] > 0) {
          employer_[i] = static_cast<std::int32_t>(k);
          --quota[k];
          break;
        }
    }
    count_members();

    // Flows of the opening month: each producer sells its expected demand, capacity / (1 + buffer).
    const double hours = p_.hours(0), hourly = wage_ * p_.hourly_factor(0);
    std::vector<double> effective(P, 0.0);
    for (std::size_t i = 0; i < n_; ++i)
      if (employer_[i] >= 0) effective[static_cast<std::size_t>(employer_[i])] += skill_[i];
    std::vector<double> revenue(P);
    double taxes_from_platforms = 0.0, dividends = 0.0, platform_sales = 0.0, coop_sales = 0.0, profits = 0.0;
    for (std::size_t q = 0; q < P; ++q) {
      expected_[q] = productivity_of(q) * effective[q] * hours / (1.0 + p_.staff_buffer);
      revenue[q] = price_[q] * expected_[q];
      cash_[q] = revenue[q];
      if (is_coop(q)) {
        coop_sales += revenue[q];
        continue;
      }
      platform_sales += revenue[q];
      const double profit = revenue[q] - hourly * hours * effective[q];
      profits += profit;
      const double tax = p_.platform_tax.at(0) * std::max(0.0, profit);
      pending_dividends_[q] = p_.payout_ratio * std::max(0.0, profit - tax);
      pending_investment_[q] = std::max(0.0, profit - tax) - pending_dividends_[q];
      taxes_from_platforms += tax;
      dividends += pending_dividends_[q];
    }
    // Gross incomes, then the income tax that balances the budget.
    double taxable = 0.0, public_wages = 0.0, benefits = 0.0;
    for (std::size_t i = 0; i < n_; ++i) {
      const std::int32_t e = employer_[i];
      double g = 0.0;
      if (e == public_sector || (e >= 0 && !is_coop(static_cast<std::size_t>(e)))) g = hourly * skill_[i] * hours;
      if (e == public_sector) public_wages += g;
      if (e >= 0 && is_coop(static_cast<std::size_t>(e)))
        g = revenue[static_cast<std::size_t>(e)] / static_cast<double>(members_[static_cast<std::size_t>(e)]);
      if (e == unemployed) benefits += p_.unemployment_benefit.at(0);
      gross_income_[i] = g;
    }
    for (std::size_t o = 0; o < owners_.size(); ++o) gross_income_[owners_[o]] += owner_share_[o] * dividends;
    for (std::size_t i = 0; i < n_; ++i) taxable += gross_income_[i];
    income_tax_ = std::clamp((public_wages + benefits - taxes_from_platforms) / taxable, 0.0, 0.95);
    for (std::size_t i = 0; i < n_; ++i) {
      net_income_[i] = (1.0 - income_tax_) * gross_income_[i] +
                       (employer_[i] == unemployed ? p_.unemployment_benefit.at(0) : 0.0);
      money_[i] = std::max(0.0, ((1.0 - p_.mpc_income) * net_income_[i] - p_.subsistence) / p_.mpc_wealth);
    }
    // The co-op bias: households' spending on co-ops (consumption = income) matches co-op sales.
    const double platform_utility = platform_utility_now();
    double lo = -50.0, hi = 50.0;
    for (int it = 0; it < 100; ++it) {
      const double mid = 0.5 * (lo + hi);
      double coop_spend = 0.0;
      for (std::size_t i = 0; i < n_; ++i) coop_spend += net_income_[i] * coop_probability(i, platform_utility, mid);
      (coop_spend < coop_sales ? lo : hi) = mid;
    }
    coop_bias_ = 0.5 * (lo + hi);
    double household_spending = 0.0;
    for (std::size_t i = 0; i < n_; ++i) household_spending += net_income_[i];
    double hhi = 0.0;
    for (std::size_t k = 0; k < K; ++k) hhi += (revenue[k] / platform_sales) * (revenue[k] / platform_sales);
    last_ = Flows{platform_sales, coop_sales, public_wages, profits, 0.0, hhi, coop_sales / household_spending};
    spending_ = split;
    cpi_ = 1.0;
    cpi_base_ = 1.0;
    cpi_base_ = consumer_price(split);
    for (std::size_t i = 0; i < n_; ++i) time_use(i, 0);
  }

  // ------------------------------------------------------------------ prices

  void compute_prices(std::int64_t step) {
    const double unit_cost = wage_ * p_.hourly_factor(step) / p_.productivity;
    for (std::size_t k = 0; k < platforms(); ++k)
      price_[k] = (1.0 + p_.markup_base + p_.markup_share * market_share_[k]) * unit_cost;
    for (std::size_t q = platforms(); q < producers(); ++q)
      price_[q] = (1.0 + p_.coop_markup) * unit_cost / p_.coop_productivity;
  }

  // Shares of platform spending: sigma_k^(1 + beta_n) p_k^(-beta_p), normalised.
  std::vector<double> platform_split() const {
    std::vector<double> w(platforms());
    double total = 0.0;
    for (std::size_t k = 0; k < platforms(); ++k)
      total += w[k] = std::pow(market_share_[k], 1.0 + p_.network_effect) * std::pow(price_[k], -p_.price_sensitivity);
    for (auto& x : w) x = total > 0 ? x / total : 1.0 / static_cast<double>(platforms());
    return w;
  }

  double platform_utility_now() const {
    double mean_price = 0.0;
    for (std::size_t k = 0; k < platforms(); ++k) mean_price += market_share_[k] * price_[k];
    const double largest = *std::max_element(market_share_.begin(), market_share_.end());
    return -p_.price_sensitivity * std::log(mean_price) +
           p_.network_effect * std::log(1.0 + static_cast<double>(platforms()) * largest);
  }

  double coop_probability(std::size_t i, double platform_utility, double bias) const {
    const double coop_price = price_[platforms()];
    const double coop = -p_.price_sensitivity * std::log(coop_price) + p_.ethical_preference * (propensity_[i] - 0.5) + bias;
    return 1.0 / (1.0 + std::exp(platform_utility - coop));
  }

  double consumer_price(const std::vector<double>& split) const {
    double platform_price = 0.0;
    for (std::size_t k = 0; k < platforms(); ++k) platform_price += split[k] * price_[k];
    const double c = last_.coop_spend_share;
    return ((1.0 - c) * platform_price + c * price_[platforms()]) / cpi_base_;
  }

  void set_prices(sim::StepContext& c) {
    compute_prices(c.step);
    spending_ = platform_split();
    cpi_ = consumer_price(spending_);
  }

  // ------------------------------------------------------------------ labour market

  void count_members() {
    members_.assign(producers(), 0);
    for (std::size_t i = 0; i < n_; ++i)
      if (employer_[i] >= 0) ++members_[static_cast<std::size_t>(employer_[i])];
  }

  void match_labour(sim::StepContext& c) {
    const std::size_t P = producers();
    const double hours = p_.hours(c.step);
    std::vector<double> effective(P, 0.0), target(P);
    std::vector<std::vector<std::uint32_t>> staff(P);
    for (std::size_t i = 0; i < n_; ++i)
      if (employer_[i] >= 0) {
        effective[static_cast<std::size_t>(employer_[i])] += skill_[i];
        staff[static_cast<std::size_t>(employer_[i])].push_back(static_cast<std::uint32_t>(i));
      }
    for (std::size_t q = 0; q < P; ++q) target[q] = expected_[q] * (1.0 + p_.staff_buffer) / (productivity_of(q) * hours);

    // Firing: while the staff without the next leaver still exceeds the band.
    for (std::size_t q = 0; q < P; ++q) {
      if (effective[q] <= target[q] * (1.0 + p_.firing_band)) continue;
      sim::Rng rng{seed_, Stream::Firing, u(c.step), q};
      auto& s = staff[q];
      for (std::size_t m = s.size(); m > 1; --m) std::swap(s[m - 1], s[rng.below(m)]);
      for (std::uint32_t i : s) {
        if (effective[q] - skill_[i] <= target[q] * (1.0 + p_.firing_band)) break;
        effective[q] -= skill_[i];
        employer_[i] = unemployed;
      }
    }

    // Hiring: producers in random order; platforms meet the unemployed in one random order,
    // co-ops those of their region, then platform workers of the region with pi > 0.6 who switch.
    const auto order = shuffled(n_, Stream::LabourSearch, c.step, 0);
    std::vector<std::vector<std::uint32_t>> local(p_.regions);
    for (std::uint32_t i : order) local[region_[i]].push_back(i);
    std::vector<std::size_t> local_cursor(p_.regions, 0), switch_cursor(p_.regions, 0);
    std::size_t cursor = 0;
    const double switch_rate = p_.coop_switch_rate;
    for (std::uint32_t q : shuffled(P, Stream::LabourSearch, c.step, 1)) {
      const double want = target[q] * (1.0 - 1e-12);
      if (!is_coop(q)) {
        while (effective[q] < want && cursor < order.size()) {
          const std::uint32_t i = order[cursor++];
          if (employer_[i] != unemployed) continue;
          employer_[i] = static_cast<std::int32_t>(q);
          effective[q] += skill_[i];
        }
        continue;
      }
      const std::size_t r = region_of_coop(q);
      const auto& pool = local[r];
      while (effective[q] < want && local_cursor[r] < pool.size()) {
        const std::uint32_t i = pool[local_cursor[r]++];
        if (employer_[i] != unemployed) continue;
        employer_[i] = static_cast<std::int32_t>(q);
        effective[q] += skill_[i];
      }
      while (effective[q] < want && switch_cursor[r] < pool.size()) {
        const std::uint32_t i = pool[switch_cursor[r]++];
        const std::int32_t e = employer_[i];
        if (e < 0 || is_coop(static_cast<std::size_t>(e)) || propensity_[i] <= 0.6) continue;
        sim::Rng rng{seed_, Stream::CoopSwitch, u(c.step), i};
        if (!rng.bernoulli(switch_rate)) continue;
        effective[static_cast<std::size_t>(e)] -= skill_[i];
        employer_[i] = static_cast<std::int32_t>(q);
        effective[q] += skill_[i];
      }
    }
    count_members();
  }

  // ------------------------------------------------------------------ incomes

  void pay_work_incomes(sim::StepContext& c) {
    const std::size_t P = producers(), K = platforms();
    const double hours = p_.hours(c.step), hourly = wage_ * p_.hourly_factor(c.step);
    // Co-ops pay out all they hold (last month's sales) to members, equally per hour.
    std::vector<double> coop_rate(P, 0.0);
    for (std::size_t q = K; q < P; ++q)
      if (members_[q] > 0) coop_rate[q] = cash_[q] / static_cast<double>(members_[q]);
    const std::size_t blocks = sim::block_count(n_);
    std::vector<std::vector<double>> paid(blocks, std::vector<double>(P + 1, 0.0));  // last: state
    std::vector<sim::FlowMatrix> tallies(blocks, c.ledger->blank_flows());
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      sim::TransferTally wages{wages_f_, platforms_s_, commoners_s_};
      sim::TransferTally public_wages{wages_f_, state_s_, commoners_s_};
      sim::TransferTally coop_pay{coop_pay_f_, coops_s_, commoners_s_};
      auto& out = paid[b];
      for (std::size_t i = begin; i < end; ++i) {
        const std::int32_t e = employer_[i];
        double pay = 0.0;
        if (e == public_sector) {
          pay = hourly * skill_[i] * hours;
          sim::transfer(out[P], money_[i], pay, public_wages);
        } else if (e >= 0 && !is_coop(static_cast<std::size_t>(e))) {
          pay = hourly * skill_[i] * hours;
          sim::transfer(out[static_cast<std::size_t>(e)], money_[i], pay, wages);
        } else if (e >= 0) {
          pay = coop_rate[static_cast<std::size_t>(e)];
          sim::transfer(out[static_cast<std::size_t>(e)], money_[i], pay, coop_pay);
        }
        gross_income_[i] = pay;
      }
      wages.add_to(tallies[b]);
      public_wages.add_to(tallies[b]);
      coop_pay.add_to(tallies[b]);
    });
    wage_bill_.assign(K, 0.0);
    double public_paid = 0.0;
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t q = 0; q < P; ++q) {
        cash_[q] += paid[b][q];
        if (q < K) wage_bill_[q] -= paid[b][q];
      }
      state_ += paid[b][P];
      public_paid -= paid[b][P];
      c.ledger->flows().merge(tallies[b]);
    }
    last_.public_wages = public_paid;
    state_spending_ = public_paid;

    // Last month's dividends to the owners, in proportion to their shares.
    sim::TransferTally dividends{dividends_f_, platforms_s_, commoners_s_};
    for (std::size_t k = 0; k < K; ++k) {
      for (std::size_t o = 0; o < owners_.size(); ++o) {
        const double d = owner_share_[o] * pending_dividends_[k];
        sim::transfer(cash_[k], money_[owners_[o]], d, dividends);
        gross_income_[owners_[o]] += d;
      }
      pending_dividends_[k] = 0.0;
    }
    dividends.add_to(c.ledger->flows());

    // The wage moves with tightness.
    std::size_t jobless = 0;
    for (std::size_t i = 0; i < n_; ++i) jobless += employer_[i] == unemployed;
    const double unemployment = static_cast<double>(jobless) / static_cast<double>(n_);
    wage_ *= 1.0 + p_.wage_flexibility * (p_.natural_unemployment - unemployment);
  }

  // ------------------------------------------------------------------ time use

  void time_use(std::size_t i, std::int64_t step) {
    const std::int32_t e = employer_[i];
    const double paid = e == unemployed ? 0.0 : p_.hours(step);
    const bool coop = e >= 0 && is_coop(static_cast<std::size_t>(e));
    const double care = std::min(care_[i], p_.time_budget);
    const double work = std::min(paid, p_.time_budget - care);
    const double free = p_.time_budget - care - work;
    hours_wage_[i] = coop ? 0.0 : work;
    hours_coop_[i] = coop ? work : 0.0;
    hours_commons_[i] = propensity_[i] * p_.commons_time_share * free;
    hours_leisure_[i] = free - hours_commons_[i];
  }

  void allocate_time(sim::StepContext& c) {
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) time_use(i, c.step);
    });
  }

  // ------------------------------------------------------------------ taxes and transfers

  void tax_and_transfer(sim::StepContext& c) {
    const double benefit = p_.unemployment_benefit.at(c.step) * cpi_;
    const double tax_rate = income_tax_;
    const std::size_t blocks = sim::block_count(n_);
    std::vector<double> state_partial(blocks, 0.0), benefit_partial(blocks, 0.0), tax_partial(blocks, 0.0);
    std::vector<sim::FlowMatrix> tallies(blocks, c.ledger->blank_flows());
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      sim::TransferTally taxes{income_tax_f_, commoners_s_, state_s_};
      sim::TransferTally benefits{benefits_f_, state_s_, commoners_s_};
      double account = 0.0, paid_out = 0.0, collected = 0.0;
      for (std::size_t i = begin; i < end; ++i) {
        const double tax = tax_rate * gross_income_[i];
        sim::transfer(money_[i], account, tax, taxes);
        collected += tax;
        double transfer = 0.0;
        if (employer_[i] == unemployed) {
          transfer = benefit;
          sim::transfer(account, money_[i], transfer, benefits);
          paid_out += transfer;
        }
        net_income_[i] = gross_income_[i] - tax + transfer;
      }
      state_partial[b] = account;
      benefit_partial[b] = paid_out;
      tax_partial[b] = collected;
      taxes.add_to(tallies[b]);
      benefits.add_to(tallies[b]);
    });
    state_revenue_ = 0.0;
    for (std::size_t b = 0; b < blocks; ++b) {
      state_ += state_partial[b];
      state_spending_ += benefit_partial[b];
      state_revenue_ += tax_partial[b];
      c.ledger->flows().merge(tallies[b]);
    }
  }

  // ------------------------------------------------------------------ spending and production

  void spend(sim::StepContext& c) {
    const std::size_t P = producers(), K = platforms(), R = p_.regions, J = p_.coops_per_region;
    const double platform_utility = platform_utility_now();
    const double subsistence = p_.subsistence * cpi_;
    const std::size_t blocks = sim::block_count(n_);

    // Demand: consumption C_i = min(money, c0 CPI + alpha_y y + alpha_w (money - y)), split by
    // the logit; per block, platform demand and co-op demand by region.
    std::vector<double> consumption(n_), coop_part(n_);
    std::vector<std::vector<double>> demand_partial(blocks, std::vector<double>(R + 1, 0.0));
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      auto& d = demand_partial[b];
      for (std::size_t i = begin; i < end; ++i) {
        const double before = money_[i] - net_income_[i];
        const double want = subsistence + p_.mpc_income * net_income_[i] + p_.mpc_wealth * std::max(0.0, before);
        consumption[i] = std::clamp(want, 0.0, std::max(0.0, money_[i]));
        coop_part[i] = coop_probability(i, platform_utility, coop_bias_);
        d[R] += consumption[i] * (1.0 - coop_part[i]);
        d[region_[i]] += consumption[i] * coop_part[i];
      }
    });
    std::vector<double> regional(R + 1, 0.0);
    for (const auto& d : demand_partial)
      for (std::size_t r = 0; r <= R; ++r) regional[r] += d[r];
    double investment = 0.0;
    for (std::size_t k = 0; k < K; ++k) investment += pending_investment_[k];

    // Capacity, the co-ops' split of their region's demand (by capacity, plus one worker so an
    // empty co-op can attract demand and hire), and each producer's fill ratio.
    const double hours = p_.hours(c.step);
    std::vector<double> capacity(P, 0.0);
    for (std::size_t i = 0; i < n_; ++i)
      if (employer_[i] >= 0) capacity[static_cast<std::size_t>(employer_[i])] += skill_[i];
    for (std::size_t q = 0; q < P; ++q) capacity[q] *= productivity_of(q) * hours;
    std::vector<double> coop_split(P, 0.0), demand(P, 0.0), fill(P, 0.0);
    for (std::size_t r = 0; r < R; ++r) {
      double total = 0.0;
      for (std::size_t q = K + r * J; q < K + (r + 1) * J; ++q) total += capacity[q] + productivity_of(q) * hours;
      for (std::size_t q = K + r * J; q < K + (r + 1) * J; ++q) {
        coop_split[q] = (capacity[q] + productivity_of(q) * hours) / total;
        demand[q] = regional[r] * coop_split[q];
      }
    }
    for (std::size_t k = 0; k < K; ++k) demand[k] = (regional[R] + investment) * spending_[k];
    for (std::size_t q = 0; q < P; ++q)
      fill[q] = demand[q] > 0 ? std::min(1.0, price_[q] * capacity[q] / demand[q]) : 0.0;
    double platform_fill = 0.0;
    for (std::size_t k = 0; k < K; ++k) platform_fill += spending_[k] * fill[k];

    // Payments: each buyer pays what its providers can supply; rationed buyers keep the rest.
    std::vector<std::vector<double>> received(blocks, std::vector<double>(P, 0.0));
    std::vector<sim::FlowMatrix> tallies(blocks, c.ledger->blank_flows());
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      sim::TransferTally to_platforms{purchases_f_, commoners_s_, platforms_s_};
      sim::TransferTally to_coops{purchases_f_, commoners_s_, coops_s_};
      auto& in = received[b];
      for (std::size_t i = begin; i < end; ++i) {
        const double platform_spend = consumption[i] * (1.0 - coop_part[i]);
        for (std::size_t k = 0; k < K; ++k)
          sim::transfer(money_[i], in[k], platform_spend * spending_[k] * fill[k], to_platforms);
        const double coop_spend = consumption[i] * coop_part[i];
        const std::size_t first = K + region_[i] * J;
        for (std::size_t q = first; q < first + J; ++q)
          sim::transfer(money_[i], in[q], coop_spend * coop_split[q] * fill[q], to_coops);
      }
      to_platforms.add_to(tallies[b]);
      to_coops.add_to(tallies[b]);
    });
    sales_.assign(P, 0.0);
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t q = 0; q < P; ++q) {
        cash_[q] += received[b][q];
        sales_[q] += received[b][q];
      }
      c.ledger->flows().merge(tallies[b]);
    }
    // Investment: retained profits bought from the platforms; what is rationed stays pending.
    sim::TransferTally invest{investment_f_, platforms_s_, platforms_s_};
    for (std::size_t k = 0; k < K; ++k) {
      for (std::size_t j = 0; j < K; ++j) {
        const double x = pending_investment_[k] * spending_[j] * fill[j];
        sim::transfer(cash_[k], cash_[j], x, invest);
        sales_[j] += x;
      }
      pending_investment_[k] *= 1.0 - platform_fill;
    }
    invest.add_to(c.ledger->flows());
    double coop_spend = 0.0, total_spend = 0.0;
    for (std::size_t r = 0; r < R; ++r) coop_spend += regional[r];
    total_spend = coop_spend + regional[R];
    last_.coop_spend_share = total_spend > 0 ? coop_spend / total_spend : 0.0;
    for (std::size_t q = 0; q < P; ++q)
      expected_[q] = (1.0 - p_.expectation_weight) * expected_[q] + p_.expectation_weight * demand[q] / price_[q];
  }

  // ------------------------------------------------------------------ profits and the state

  void settle_profits(sim::StepContext& c) {
    const std::size_t K = platforms(), P = producers();
    const double tax_rate = p_.platform_tax.at(c.step);
    sim::TransferTally tax{platform_tax_f_, platforms_s_, state_s_};
    double platform_sales = 0.0, profits = 0.0, hhi = 0.0;
    for (std::size_t k = 0; k < K; ++k) platform_sales += sales_[k];
    for (std::size_t k = 0; k < K; ++k) {
      const double profit = sales_[k] - wage_bill_[k];
      profits += profit;
      const double t = tax_rate * std::max(0.0, profit);
      sim::transfer(cash_[k], state_, t, tax);
      state_revenue_ += t;
      const double after_tax = std::max(0.0, profit - t);
      pending_dividends_[k] += p_.payout_ratio * after_tax;
      pending_investment_[k] += (1.0 - p_.payout_ratio) * after_tax;
      const double share = platform_sales > 0 ? sales_[k] / platform_sales : 0.0;
      hhi += share * share;
      market_share_[k] = (1.0 - p_.share_adjustment) * market_share_[k] + p_.share_adjustment * share;
    }
    tax.add_to(c.ledger->flows());
    double coop_sales = 0.0;
    for (std::size_t q = K; q < P; ++q) coop_sales += sales_[q];
    last_.platform_sales = platform_sales;
    last_.coop_sales = coop_sales;
    last_.platform_profits = profits;
    last_.hhi = hhi;
    last_.deficit = state_spending_ - state_revenue_;
    // Fiscal rule: the income tax moves toward the deficit target.
    const double gdp = platform_sales + coop_sales + last_.public_wages;
    if (gdp > 0)
      income_tax_ = std::clamp(income_tax_ + p_.fiscal_adjustment * (last_.deficit / gdp - p_.deficit_target.at(c.step)),
                               0.0, 0.95);
  }

  Params p_;
  std::uint64_t seed_;
  std::size_t n_;
  // Commoners (columns). Drawn from the seed:
  std::vector<std::uint32_t> region_;
  std::vector<double> skill_, propensity_, care_;
  std::vector<std::uint32_t> owners_;
  std::vector<double> owner_share_;
  // Commoners' state:
  std::vector<double> money_;
  std::vector<std::int32_t> employer_;
  std::vector<double> gross_income_, net_income_;
  std::vector<double> hours_wage_, hours_coop_, hours_commons_, hours_leisure_;
  // Producers: platforms 0..K-1, then co-ops by region.
  std::vector<double> cash_, expected_, price_;
  std::vector<std::size_t> members_;
  std::vector<double> market_share_, pending_dividends_, pending_investment_;
  // The state (one national account: regional states are for a later stage).
  double state_ = 0.0;
  double wage_ = 0.0, cpi_ = 1.0, cpi_base_ = 1.0, income_tax_ = 0.0, coop_bias_ = 0.0;
  Flows last_;
  // Scratch within a step.
  std::vector<double> spending_, sales_, wage_bill_;
  double state_spending_ = 0.0, state_revenue_ = 0.0;
  sim::SectorId commoners_s_, platforms_s_, coops_s_, state_s_;
  sim::FlowId wages_f_, coop_pay_f_, purchases_f_, investment_f_, income_tax_f_, platform_tax_f_, benefits_f_,
      dividends_f_;
};

}  // namespace

double largest_time_budget_error(const sim::Model& model) {
  const auto* economy = dynamic_cast<const Economy*>(&model);
  if (economy == nullptr) throw std::invalid_argument("not an economy model");
  return economy->largest_time_budget_error();
}

sim::ModelSpec spec() {
  sim::ModelSpec s;
  s.name = "economy";
  s.summary = "Commoners, co-ops, platforms and the state, monthly (stage 1: labour, incomes, time use, "
              "taxes, spending, profits)";
  s.params = parameters();
  s.series = series();
  s.phase_names = {"set_prices", "match_labour", "pay_work_incomes", "allocate_time",
                   "tax_and_transfer", "spend", "settle_profits"};
  s.streams = {{"economy.Traits", static_cast<std::uint64_t>(Stream::Traits)},
               {"economy.InitialJobs", static_cast<std::uint64_t>(Stream::InitialJobs)},
               {"economy.Owners", static_cast<std::uint64_t>(Stream::Owners)},
               {"economy.PlatformShares", static_cast<std::uint64_t>(Stream::PlatformShares)},
               {"economy.LabourSearch", static_cast<std::uint64_t>(Stream::LabourSearch)},
               {"economy.Firing", static_cast<std::uint64_t>(Stream::Firing)},
               {"economy.CoopSwitch", static_cast<std::uint64_t>(Stream::CoopSwitch)}};
  s.sectors = {"commoners", "platforms", "coops", "state"};
  s.flow_types = {"wages", "coop_pay", "purchases", "investment", "income_tax", "platform_tax", "benefits",
                  "dividends"};
  s.time_name = "year";
  s.time_units = "years";
  s.check_params = [](const sim::ParamValues& p) {
    if (p.real("economy.public_employment") + p.real("economy.natural_unemployment") >= 1.0)
      throw sim::InputError("economy.public_employment + economy.natural_unemployment must be below 1 (" +
                            p.text("economy.public_employment") + " + " + p.text("economy.natural_unemployment") + ")");
    if (p.real("economy.care_hours") + p.real("economy.dependant_care_hours") + p.real("economy.standard_hours") >
        p.real("economy.time_budget"))
      throw sim::InputError("economy.care_hours + economy.dependant_care_hours + economy.standard_hours exceed "
                            "economy.time_budget = " + p.text("economy.time_budget"));
  };
  s.make = [](const sim::ModelInit& init) { return std::make_unique<Economy>(init); };
  return s;
}

}  // namespace models::economy
