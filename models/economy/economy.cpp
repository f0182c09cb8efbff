// Commoners, co-ops, platforms, the commons and the partner state, one month a step
// (docs/models/economy.md, ECONOMY.md).
//
// The step reads top to bottom (Economy::phases): policy, prices, labour, work incomes, time
// use, gig tasks, the commons, taxes and transfers, co-op founding, spending, profits, co-op
// dissolution and platform entry and exit, propensity. Every money loop is closed (dividends
// are income, retained profits are spent, the state follows fiscal rules, the commons fund
// pays out what it receives) and the opening stocks are the stock-flow consistent steady state
// of the opening flows (Caiani et al. 2016), so the market baseline does not drift.
//
// Memory per commoner (bytes), kept compact for bench/million (<= 512 B):
//   traits   region u32 4, skill f32 4, care need f32 4                                  12
//   state    money f64 8, propensity f64 8, employer i32 4, gross and net income f64 16,
//            commons and co-op income f32 4, gig pay f32 4                                 44
//   time     wage, gig, co-op, commons, care, leisure hours f32 x 6                        24
//   scratch  consumption f64 8, co-op part f32 4, neighbour mean f64 8, propensity next
//            f64 8, staff list u32 4, unemployed and switcher lists u32 8,
//            income, wealth and gig pay copied by region for the statistics f64 x 3      64
//   network  degree x u32 links (network.hpp)                                    4 x degree
//   total    144 + 4 x degree (168 at degree 6)
#include "models/economy/economy.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "models/economy/io_table.hpp"
#include "models/economy/network.hpp"
#include "models/economy/policy_learning.hpp"
#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/rng.hpp"
#include "sim/stats.hpp"

namespace models::economy {
namespace {

enum class Stream : std::uint64_t {
  Traits = 300,          // skill, propensity and care need of each commoner, drawn once
  InitialJobs = 301,     // who holds which job at the start
  Owners = 302,          // who owns the platforms and in which shares
  PlatformShares = 303,  // the platforms' opening market shares (Dirichlet)
  LabourSearch = 304,    // the order in which producers hire and the unemployed are met
  Firing = 305,          // whom a producer lets go
  CoopSwitch = 306,      // whether a platform worker with high propensity moves to a co-op
  CoopFounding = 307,    // how many co-ops are founded in a region, and by whom
  PropensityNoise = 308, // the small noise in each commoner's propensity
  PlatformEntry = 309,   // whether a platform enters
};  // 320-322: the social network and policy learning (network.hpp, policy_learning.hpp)

// employer_ codes; co-op slot j is producer platforms + j, platform k is k.
constexpr std::int32_t unemployed = -1;
constexpr std::int32_t public_sector = -2;
constexpr std::int32_t job_guarantee = -3;

// The regional partner state's levers: the package a city holds, overridable per region
// (economy.region_policy) and copied between regions by policy learning.
enum Lever : std::size_t {
  PcpGrant, Procurement, ProcurementCoopShare, CoopLoans, CommonsRegulation, PublicCare, RegionalDeficit,
  LeverCount
};
const std::array<const char*, LeverCount> lever_names = {
    "pcp_grant_per_capita", "procurement_per_capita", "procurement_coop_share", "coop_loans",
    "commons_regulation",   "public_care",            "regional_deficit_target"};
using Package = std::array<double, LeverCount>;

// economy.region_policy: "R: lever=value lever=value; R: ..." (constant values).
struct RegionOverride {
  std::size_t region;
  std::size_t lever;
  double value;
};

sim::ParamTable parameters();

std::vector<RegionOverride> parse_region_policy(const std::string& text, std::size_t regions) {
  std::vector<RegionOverride> out;
  const auto table = parameters();
  const auto fail = [&](const std::string& why) {
    throw sim::InputError("economy.region_policy = '" + text + "': " + why +
                          " (expected 'REGION: lever=value ...; REGION: ...')");
  };
  std::stringstream groups(text);
  std::string group;
  while (std::getline(groups, group, ';')) {
    if (group.find_first_not_of(" \t") == std::string::npos) continue;
    const auto colon = group.find(':');
    if (colon == std::string::npos) fail("no ':' after the region in '" + group + "'");
    std::size_t region = 0;
    try {
      std::size_t used = 0;
      const std::string head = group.substr(0, colon);
      const long long r = std::stoll(head, &used);
      if (head.find_first_not_of(" \t", used) != std::string::npos || r < 0) throw std::invalid_argument(head);
      region = static_cast<std::size_t>(r);
    } catch (const std::exception&) {
      fail("'" + group.substr(0, colon) + "' is not a region number");
    }
    if (region >= regions) fail("region " + std::to_string(region) + " does not exist (economy.regions = " +
                                std::to_string(regions) + ")");
    std::stringstream items(group.substr(colon + 1));
    std::string item;
    while (items >> item) {
      const auto eq = item.find('=');
      if (eq == std::string::npos) fail("'" + item + "' is not lever=value");
      const std::string name = item.substr(0, eq);
      const auto lever = std::find_if(lever_names.begin(), lever_names.end(), [&](const char* n) { return name == n; });
      if (lever == lever_names.end()) {
        std::string known;
        for (const char* n : lever_names) known += std::string(known.empty() ? "" : ", ") + n;
        fail("unknown lever '" + name + "' (regional levers: " + known + ")");
      }
      double value = 0.0;
      try {
        std::size_t used = 0;
        value = std::stod(item.substr(eq + 1), &used);
        if (used != item.size() - eq - 1 || !std::isfinite(value)) throw std::invalid_argument(item);
      } catch (const std::exception&) {
        fail("'" + item.substr(eq + 1) + "' is not a number");
      }
      const auto spec = std::find_if(table.begin(), table.end(),
                                     [&](const sim::ParamSpec& s) { return s.name == "economy." + name; });
      if (value < spec->min || value > spec->max)
        fail(name + " = " + sim::format_real(value) + " is outside [" + sim::format_real(spec->min) + ", " +
             sim::format_real(spec->max) + "]");
      out.push_back({region, static_cast<std::size_t>(lever - lever_names.begin()), value});
    }
  }
  return out;
}

struct Params {
  std::size_t regions, commoners, platforms, coops_per_region;
  double skill_sigma, propensity_alpha, propensity_beta;
  double time_budget, care_hours, dependant_care_hours, dependant_share, care_capacity, commons_time_share;
  double productivity, coop_productivity, knowledge_elasticity, markup_base, markup_share, coop_markup;
  double initial_wage, standard_hours;
  sim::Schedule working_time_reduction, wtr_wage_compensation;
  double staff_buffer, firing_band, expectation_weight, share_adjustment;
  double wage_flexibility, natural_unemployment, public_employment, coop_initial_share, coop_switch_rate,
      coop_switch_propensity;
  double gig_task_share, gig_task_pay, gig_free_share, living_income;
  sim::Schedule unemployment_benefit, platform_tax, deficit_target, wealth_tax, basic_income, care_income,
      job_guarantee, job_guarantee_wage, licence, licence_fee, throughput_cap;
  double wealth_tax_threshold, jg_care_share, fiscal_adjustment, national_cofinancing;
  double subsistence, mpc_income, mpc_wealth;
  double price_sensitivity, network_effect, ethical_preference;
  double payout_ratio, owner_share, owner_pareto;
  // Commons.
  double knowledge_depreciation, knowledge_returns, urban_commons_depreciation, urban_commons_relief_max,
      urban_commons_half, pcp_effect, pcp_half, regulation_commons_gain, coop_commons_share, commons_fund_coop_share;
  // Throughput and the resource.
  double resource_growth, initial_resource, resource_pressure, material_efficiency, permit_adjustment;
  // Co-op founding and dissolution; platform entry and exit.
  double coop_founding_rate, founders, founder_propensity, founding_cost, regulation_cost_cut, loan_term,
      dissolution_months;
  double platform_exit_share, platform_exit_months, platform_entry_rate, platform_entry_share;
  // Propensity and policy learning.
  double norm_influence, experience_influence, experience_threshold, propensity_noise;
  std::int64_t network_degree;
  double network_rewire, network_cross_region;
  std::int64_t policy_learning_every, policy_long_links;
  double policy_learning_rate, policy_learning_margin;
  std::array<double, 6> demand_shares;
  // Regional levers: defaults for every region, then the overrides.
  std::array<sim::Schedule, LeverCount> regional;
  std::vector<RegionOverride> region_policy;

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
        care_capacity(p.real("economy.care_capacity")),
        commons_time_share(p.real("economy.commons_time_share")),
        productivity(p.real("economy.productivity")),
        coop_productivity(p.real("economy.coop_productivity")),
        knowledge_elasticity(p.real("economy.knowledge_elasticity")),
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
        coop_switch_propensity(p.real("economy.coop_switch_propensity")),
        gig_task_share(p.real("economy.gig_task_share")),
        gig_task_pay(p.real("economy.gig_task_pay")),
        gig_free_share(p.real("economy.gig_free_share")),
        living_income(p.real("economy.living_income")),
        unemployment_benefit(p.schedule("economy.unemployment_benefit")),
        platform_tax(p.schedule("economy.platform_tax")),
        deficit_target(p.schedule("economy.deficit_target")),
        wealth_tax(p.schedule("economy.wealth_tax")),
        basic_income(p.schedule("economy.basic_income")),
        care_income(p.schedule("economy.care_income")),
        job_guarantee(p.schedule("economy.job_guarantee")),
        job_guarantee_wage(p.schedule("economy.job_guarantee_wage")),
        licence(p.schedule("economy.licence")),
        licence_fee(p.schedule("economy.licence_fee")),
        throughput_cap(p.schedule("economy.throughput_cap")),
        wealth_tax_threshold(p.real("economy.wealth_tax_threshold")),
        jg_care_share(p.real("economy.jg_care_share")),
        fiscal_adjustment(p.real("economy.fiscal_adjustment")),
        national_cofinancing(p.real("economy.national_cofinancing")),
        subsistence(p.real("economy.subsistence")),
        mpc_income(p.real("economy.mpc_income")),
        mpc_wealth(p.real("economy.mpc_wealth")),
        price_sensitivity(p.real("economy.price_sensitivity")),
        network_effect(p.real("economy.network_effect")),
        ethical_preference(p.real("economy.ethical_preference")),
        payout_ratio(p.real("economy.payout_ratio")),
        owner_share(p.real("economy.owner_share")),
        owner_pareto(p.real("economy.owner_pareto")),
        knowledge_depreciation(p.real("economy.knowledge_depreciation")),
        knowledge_returns(p.real("economy.knowledge_returns")),
        urban_commons_depreciation(p.real("economy.urban_commons_depreciation")),
        urban_commons_relief_max(p.real("economy.urban_commons_relief_max")),
        urban_commons_half(p.real("economy.urban_commons_half")),
        pcp_effect(p.real("economy.pcp_effect")),
        pcp_half(p.real("economy.pcp_half")),
        regulation_commons_gain(p.real("economy.regulation_commons_gain")),
        coop_commons_share(p.real("economy.coop_commons_share")),
        commons_fund_coop_share(p.real("economy.commons_fund_coop_share")),
        resource_growth(p.real("economy.resource_growth")),
        initial_resource(p.real("economy.initial_resource")),
        resource_pressure(p.real("economy.resource_pressure")),
        material_efficiency(p.real("economy.material_efficiency")),
        permit_adjustment(p.real("economy.permit_adjustment")),
        coop_founding_rate(p.real("economy.coop_founding_rate")),
        founders(static_cast<double>(p.integer("economy.founders"))),
        founder_propensity(p.real("economy.founder_propensity")),
        founding_cost(p.real("economy.founding_cost")),
        regulation_cost_cut(p.real("economy.regulation_cost_cut")),
        loan_term(static_cast<double>(p.integer("economy.loan_term"))),
        dissolution_months(static_cast<double>(p.integer("economy.dissolution_months"))),
        platform_exit_share(p.real("economy.platform_exit_share")),
        platform_exit_months(static_cast<double>(p.integer("economy.platform_exit_months"))),
        platform_entry_rate(p.real("economy.platform_entry_rate")),
        platform_entry_share(p.real("economy.platform_entry_share")),
        norm_influence(p.real("economy.norm_influence")),
        experience_influence(p.real("economy.experience_influence")),
        experience_threshold(p.real("economy.experience_threshold")),
        propensity_noise(p.real("economy.propensity_noise")),
        network_degree(p.integer("economy.network_degree")),
        network_rewire(p.real("economy.network_rewire")),
        network_cross_region(p.real("economy.network_cross_region")),
        policy_learning_every(p.integer("economy.policy_learning_every")),
        policy_long_links(p.integer("economy.policy_long_links")),
        policy_learning_rate(p.real("economy.policy_learning_rate")),
        policy_learning_margin(p.real("economy.policy_learning_margin")),
        demand_shares{p.real("economy.demand_share_food"), p.real("economy.demand_share_housing"),
                      p.real("economy.demand_share_goods"), p.real("economy.demand_share_digital"),
                      p.real("economy.demand_share_care"), p.real("economy.demand_share_energy")} {
    const double total = std::accumulate(demand_shares.begin(), demand_shares.end(), 0.0);
    for (auto& x : demand_shares) x /= total;
    for (std::size_t l = 0; l < LeverCount; ++l) regional[l] = p.schedule(std::string("economy.") + lever_names[l]);
    region_policy = parse_region_policy(p.text("economy.region_policy"), regions);
  }

  std::size_t initial_coops() const { return regions * coops_per_region; }
  // Paid hours a month and the hourly wage factor under working-time reduction r with wage
  // compensation c: monthly pay falls to 1 - r (1 - c) of the standard.
  double hours(std::int64_t step) const { return standard_hours * (1.0 - working_time_reduction.at(step)); }
  double hourly_factor(std::int64_t step) const {
    const double r = working_time_reduction.at(step);
    return (1.0 - r * (1.0 - wtr_wage_compensation.at(step))) / (1.0 - r);
  }
  bool reciprocity(std::int64_t step) const { return licence.at(step) != 0.0; }
};

sim::ParamTable parameters() {
  using sim::ParamSpec;
  return {
      // ---- structure
      ParamSpec::integer("economy.regions", 4).with_unit("regions").range(1, 1000)
          .describe("Number of regions (cities), each with a partner state; commoner i lives in region i mod regions"),
      ParamSpec::integer("economy.commoners", 4000).with_unit("commoners").range(10, 100000000)
          .describe("Number of commoners (households of one working-age adult)"),
      ParamSpec::integer("economy.platforms", 5).with_unit("platforms").range(1, 1000)
          .describe("Platform slots: for-profit platforms selling in every region, all active at the start"),
      ParamSpec::integer("economy.coops_per_region", 3).with_unit("co-ops").range(1, 100000)
          .describe("Co-ops per region at the start; more are founded and some dissolve"),
      // ---- commoners
      ParamSpec::real("economy.skill_sigma", 0.3).range(0.0, 2.0)
          .describe("sigma of the log-normal skill s_i, normalised to mean 1; output and wage scale with s_i")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.propensity_alpha", 2.0).range(0.01, 100.0)
          .describe("alpha of the Beta distribution of the opening commoning propensity pi_i").cite("ECONOMY.md"),
      ParamSpec::real("economy.propensity_beta", 5.0).range(0.01, 100.0)
          .describe("beta of the Beta distribution of the opening commoning propensity pi_i").cite("ECONOMY.md"),
      ParamSpec::real("economy.time_budget", 480.0).with_unit("hours/month").range(1.0, 744.0)
          .describe("Waking hours a month shared among care, paid work, gig work, commons and leisure"),
      ParamSpec::real("economy.care_hours", 40.0).with_unit("hours/month").range(0.0, 744.0)
          .describe("Care every commoner needs (for themselves and the household)").cite("ECONOMY.md"),
      ParamSpec::real("economy.dependant_care_hours", 60.0).with_unit("hours/month").range(0.0, 744.0)
          .describe("Extra care needed by commoners with dependants").cite("ECONOMY.md"),
      ParamSpec::real("economy.dependant_share", 0.3).range(0.0, 1.0)
          .describe("Share of commoners with dependants").cite("ECONOMY.md"),
      ParamSpec::real("economy.care_capacity", 80.0).with_unit("hours/month").range(0.0, 744.0)
          .describe("Most unpaid care a commoner in paid work can give; need beyond it (after public care) is the care gap"),
      ParamSpec::real("economy.commons_time_share", 0.3).range(0.0, 1.0)
          .describe("Commons hours = pi_i x commons_time_share x the time left after care, paid work and gig work"),
      // ---- production and prices
      ParamSpec::real("economy.productivity", 20.0).with_unit("units/hour").range(1e-6, 1e6)
          .describe("Output per hour A_0 of a worker of skill 1 at a platform when K = 1").cite("ECONOMY.md"),
      ParamSpec::real("economy.coop_productivity", 0.9).range(0.01, 10.0)
          .describe("Co-op output per hour relative to a platform's").cite("ECONOMY.md"),
      ParamSpec::real("economy.knowledge_elasticity", 0.1).range(0.0, 2.0)
          .describe("theta: productivity A = A_0 ((1 + K) / 2)^theta; the commons-attributable value share 1 - (1 + K)^-theta")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.markup_base", 0.15).range(0.0, 10.0)
          .describe("mu_0 in the platform price p_k = (1 + mu_0 + mu_1 sigma_k) W / A").cite("ECONOMY.md"),
      ParamSpec::real("economy.markup_share", 0.5).range(0.0, 10.0)
          .describe("mu_1: how the platform mark-up rises with its market share sigma_k").cite("ECONOMY.md"),
      ParamSpec::real("economy.coop_markup", 0.05).range(0.0, 10.0)
          .describe("mu_c in the co-op price p_c = (1 + mu_c) W / (A coop_productivity)").cite("ECONOMY.md"),
      ParamSpec::real("economy.initial_wage", 15.0).with_unit("credits/hour").range(1e-6, 1e9)
          .describe("Going hourly wage W for skill 1 at the start (1 credit ~ 1 US dollar of 2018)"),
      ParamSpec::real("economy.standard_hours", 160.0).with_unit("hours/month").range(1.0, 400.0)
          .describe("Paid hours a month of a full job before working-time reduction").cite("ECONOMY.md"),
      ParamSpec::real("economy.working_time_reduction", 0.0).range(0.0, 0.9).allow_schedule()
          .describe("National lever: share by which paid hours are cut (a change re-sizes staff gradually)")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.wtr_wage_compensation", 0.5).range(0.0, 1.0).allow_schedule()
          .describe("National lever: share of the pay lost to working-time reduction that hourly wages make up")
          .cite("ECONOMY.md; Eurogreen package (D'Alessandro et al. 2020, Nature Sustainability 3)"),
      // ---- labour market
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
          .describe("Share of commoners employed by the national state at the going wage (fixed)"),
      ParamSpec::real("economy.coop_initial_share", 0.05).range(0.0, 1.0)
          .describe("Co-op members as a share of private employment at the start").cite("ECONOMY.md (prototype 0.048)"),
      ParamSpec::real("economy.coop_switch_rate", 0.05).with_unit("1/month").range(0.0, 1.0)
          .describe("Monthly probability that a platform worker with high propensity takes an open co-op place in the region")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.coop_switch_propensity", 0.6).range(0.0, 1.0)
          .describe("Propensity above which a platform worker considers moving to a co-op").cite("ECONOMY.md"),
      // ---- gig tasks
      ParamSpec::real("economy.gig_task_share", 0.05).range(0.0, 0.9)
          .describe("Share of each platform's labour need bought as gig tasks instead of wage work").cite("ECONOMY.md"),
      ParamSpec::real("economy.gig_task_pay", 10.0).with_unit("credits/task-hour").range(0.0, 1e6)
          .describe("Pay per task-hour (at skill 1, indexed to the wage); search and waiting are unpaid. Calibrated "
                    "so the median effective hourly gig pay in market_baseline is about 2")
          .cite("Hara et al. 2018, CHI '18: median ~2 USD/h"),
      ParamSpec::real("economy.gig_free_share", 0.4).range(0.0, 1.0)
          .describe("Share of free time (after care and paid work) that a commoner below a living income offers as gig work")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.living_income", 1700.0).with_unit("credits/month").range(0.0, 1e9)
          .describe("Living income at opening prices (indexed to the CPI): disposable income plus urban-commons relief at "
                    "or above it counts as a living income; below it commoners seek gig work"),
      // ---- national state
      ParamSpec::real("economy.unemployment_benefit", 1000.0).with_unit("credits/month").range(0.0, 1e9)
          .allow_schedule()
          .describe("National lever: benefit to each unemployed commoner, at opening prices (indexed to the CPI)"),
      ParamSpec::real("economy.platform_tax", 0.2).range(0.0, 1.0).allow_schedule()
          .describe("National lever: tax rate on positive platform profits"),
      ParamSpec::real("economy.deficit_target", 0.0).range(-0.5, 0.5).allow_schedule()
          .describe("National lever: national deficit over GDP the fiscal rule steers the income tax toward (0: balanced)")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.wealth_tax", 0.0).with_unit("1/year").range(0.0, 1.0).allow_schedule()
          .describe("National lever: yearly tax on money above the threshold, levied monthly"),
      ParamSpec::real("economy.wealth_tax_threshold", 50000.0).with_unit("credits").range(0.0, 1e12)
          .describe("Money exempt from the wealth tax, at opening prices (indexed)"),
      ParamSpec::real("economy.basic_income", 0.0).with_unit("credits/month").range(0.0, 1e9).allow_schedule()
          .describe("National lever: basic income to every commoner, at opening prices (indexed)"),
      ParamSpec::real("economy.care_income", 0.0).with_unit("credits/hour").range(0.0, 1e6).allow_schedule()
          .describe("National lever: care income per hour of unpaid care given, at opening prices (indexed)"),
      ParamSpec::boolean("economy.job_guarantee", false).allow_schedule()
          .describe("National lever: the state employs every unemployed commoner in care and commons work"),
      ParamSpec::real("economy.job_guarantee_wage", 12.0).with_unit("credits/hour").range(0.0, 1e6).allow_schedule()
          .describe("National lever: hourly job-guarantee wage at opening wages (indexed to the going wage)")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.jg_care_share", 0.5).range(0.0, 1.0)
          .describe("Share of job-guarantee hours spent on public care in the region; the rest on commons work"),
      ParamSpec::choice("economy.licence", {"open", "reciprocity"}, "open").allow_schedule()
          .describe("National lever: knowledge-commons licence; under reciprocity for-profit users pay a fee to the commons fund")
          .cite("Kleiner 2010, The Telekommunist Manifesto (peer production licence)"),
      ParamSpec::real("economy.licence_fee", 0.5).range(0.0, 1.0).allow_schedule()
          .describe("National lever: share of the platform value attributable to the commons paid as the reciprocity fee")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.throughput_cap", 0.0).range(0.0, 10.0).allow_schedule()
          .describe("National lever: cap on throughput relative to its opening value, enforced by permits whose revenue "
                    "is paid back as an equal dividend; 0 = no cap"),
      ParamSpec::real("economy.permit_adjustment", 0.1).with_unit("1/month").range(0.0, 10.0)
          .describe("Permit price (share of unit cost) <- max(0, price + k (throughput / cap - 1)), monthly"),
      ParamSpec::real("economy.fiscal_adjustment", 0.5).range(0.0, 10.0)
          .describe("Fiscal rules: each tax rate <- rate + k (deficit / GDP - target), monthly (national and regional)"),
      // ---- regional partner state (defaults for every region; economy.region_policy overrides)
      ParamSpec::real("economy.pcp_grant_per_capita", 0.0).with_unit("credits/month").range(0.0, 1e6).allow_schedule()
          .describe("Regional lever: public-commons partnership grants per resident, paid to commons contributors by hours (indexed)")
          .cite("Milburn & Russell 2019, Public-Common Partnerships"),
      ParamSpec::real("economy.procurement_per_capita", 0.0).with_unit("credits/month").range(0.0, 1e6).allow_schedule()
          .describe("Regional lever: public purchases of goods per resident (indexed)"),
      ParamSpec::real("economy.procurement_coop_share", 0.0).range(0.0, 1.0).allow_schedule()
          .describe("Regional lever: share of public purchases given to the region's co-ops (pro-social procurement)")
          .cite("Preston model: CLES 2017, Community wealth building"),
      ParamSpec::real("economy.coop_loans", 0.0).range(0.0, 1.0).allow_schedule()
          .describe("Regional lever: share of a new co-op's founding cost lent by the loan fund (money created, destroyed on repayment)"),
      ParamSpec::real("economy.commons_regulation", 0.0).range(0.0, 1.0).allow_schedule()
          .describe("Regional lever: Bologna-style regulation for the care of the commons (lower founding cost, more effective commons work)")
          .cite("Iaione 2016, Am. J. Econ. Sociol. 75(2) (Bologna regulation 2014)"),
      ParamSpec::real("economy.public_care", 0.0).range(0.0, 1.0).allow_schedule()
          .describe("Regional lever: share of households' care need met by public care services bought from social co-ops"),
      ParamSpec::real("economy.regional_deficit_target", 0.0).range(-0.5, 0.5).allow_schedule()
          .describe("Regional lever: regional deficit over regional income that its fiscal rule steers the regional tax toward"),
      ParamSpec::real("economy.national_cofinancing", 0.5).range(0.0, 1.0)
          .describe("Share of each regional state's lever spending (grants, procurement, public care) the national state pays")
          .cite("co-financing of municipal programmes, e.g. EU cohesion funds"),
      ParamSpec::text("economy.region_policy", "")
          .describe("Per-region overrides of the regional levers: 'REGION: lever=value ...; REGION: ...' (e.g. "
                    "'0: pcp_grant_per_capita=40 public_care=0.3')"),
      // ---- households
      ParamSpec::real("economy.subsistence", 300.0).with_unit("credits/month").range(0.0, 1e9)
          .describe("c_0 in C = min(money, c_0 (1 - relief) CPI + alpha_y y + alpha_w w)").cite("ECONOMY.md"),
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
      // ---- platforms
      ParamSpec::real("economy.payout_ratio", 0.7).range(0.0, 1.0)
          .describe("Share of after-tax platform profit paid as dividends next month; the rest is spent as investment")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.owner_share", 0.01).range(0.0, 1.0)
          .describe("Share of commoners who own the platforms").cite("ECONOMY.md"),
      ParamSpec::real("economy.owner_pareto", 1.5).range(0.1, 100.0)
          .describe("Pareto exponent of the owners' shares"),
      ParamSpec::real("economy.platform_exit_share", 0.01).range(0.0, 1.0)
          .describe("A platform whose market share stays below this for platform_exit_months exits"),
      ParamSpec::integer("economy.platform_exit_months", 12).with_unit("months").range(1, 1200)
          .describe("Months below the exit share before a platform exits"),
      ParamSpec::real("economy.platform_entry_rate", 0.02).with_unit("1/month").range(0.0, 1.0)
          .describe("Monthly probability that a new platform enters an empty slot"),
      ParamSpec::real("economy.platform_entry_share", 0.02).range(0.0, 0.5)
          .describe("Market share an entrant starts with (the others shrink in proportion)"),
      // ---- commons
      ParamSpec::real("economy.knowledge_depreciation", 0.01).with_unit("1/month").range(0.0, 1.0)
          .describe("delta_K in K <- (1 - delta_K) K + delta_K (H_c / H_ref)^gamma (K = 1 at the start)").cite("ECONOMY.md"),
      ParamSpec::real("economy.knowledge_returns", 0.7).range(0.0, 1.0)
          .describe("gamma: diminishing returns of commons hours in the knowledge and urban commons"),
      ParamSpec::real("economy.urban_commons_depreciation", 0.02).with_unit("1/month").range(0.0, 1.0)
          .describe("delta_U of the urban commons U_r (gardens, tool libraries, care circles), U_r = 1 at the start"),
      ParamSpec::real("economy.urban_commons_relief_max", 0.2).range(0.0, 1.0)
          .describe("rho in relief_r = rho U_r / (U_r + U_half): share of subsistence needs met outside the market")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.urban_commons_half", 1.0).range(1e-6, 1e6)
          .describe("U_half: urban commons at which relief reaches half its maximum"),
      ParamSpec::real("economy.pcp_effect", 1.0).range(0.0, 100.0)
          .describe("Urban-commons growth multiplier 1 + e g / (g + g_half) from partnership grants g per capita"),
      ParamSpec::real("economy.pcp_half", 50.0).with_unit("credits/month").range(1e-6, 1e9)
          .describe("g_half: grants per capita at which their effect on the urban commons is half its maximum"),
      ParamSpec::real("economy.regulation_commons_gain", 0.5).range(0.0, 10.0)
          .describe("Commons hours count 1 + gain x commons_regulation times in the commons stocks"),
      ParamSpec::real("economy.coop_commons_share", 0.1).range(0.0, 1.0)
          .describe("Share of co-op member hours contributed to the commons instead of production"),
      ParamSpec::real("economy.commons_fund_coop_share", 0.3).range(0.0, 1.0)
          .describe("Share of the commons fund's monthly payout to co-ops (by members); the rest to contributors by hours"),
      // ---- throughput and the natural resource
      ParamSpec::real("economy.resource_growth", 0.02).with_unit("1/month").range(0.0, 1.0)
          .describe("r in S <- S + r S (1 - S) - throughput (S a share of its capacity), as in cpr").cite("ECONOMY.md"),
      ParamSpec::real("economy.initial_resource", 0.6).range(0.0, 1.0)
          .describe("Resource stock at the start, as a share of its capacity"),
      ParamSpec::real("economy.resource_pressure", 1.2).range(0.0, 100.0)
          .describe("Opening throughput over the resource's maximum sustainable yield r / 4").cite("ECONOMY.md"),
      ParamSpec::real("economy.material_efficiency", 0.3).range(0.0, 10.0)
          .describe("Material intensity falls as ((1 + K) / 2)^-e: knowledge makes production lighter"),
      // ---- co-ops
      ParamSpec::real("economy.coop_founding_rate", 0.00007).with_unit("1/(commoner month)").range(0.0, 1.0)
          .describe("lambda_f: co-ops founded per month in region r ~ Poisson(lambda_f N_r mean(pi)^2 (1 + loans + regulation))")
          .cite("ECONOMY.md"),
      ParamSpec::integer("economy.founders", 3).with_unit("commoners").range(1, 1000)
          .describe("Founding members of a new co-op"),
      ParamSpec::real("economy.founder_propensity", 0.4).range(0.0, 1.0)
          .describe("Propensity above which an unemployed or platform-employed commoner may found a co-op"),
      ParamSpec::real("economy.founding_cost", 6000.0).with_unit("credits").range(0.0, 1e12)
          .describe("Capital a new co-op spends on equipment, at opening prices; founders pay what loans do not cover"),
      ParamSpec::real("economy.regulation_cost_cut", 0.5).range(0.0, 1.0)
          .describe("Founding cost x (1 - cut x commons_regulation)"),
      ParamSpec::integer("economy.loan_term", 60).with_unit("months").range(1, 1200)
          .describe("Co-op loans are repaid in equal monthly instalments over this term"),
      ParamSpec::integer("economy.dissolution_months", 6).with_unit("months").range(1, 1200)
          .describe("A co-op whose pay per member stays below the benefit this many months dissolves").cite("ECONOMY.md"),
      // ---- propensity
      ParamSpec::real("economy.norm_influence", 0.02).with_unit("1/month").range(0.0, 1.0)
          .describe("nu: pi moves toward the neighbours' mean by nu (mean - pi) a month").cite("ECONOMY.md"),
      ParamSpec::real("economy.experience_influence", 0.01).with_unit("1/month").range(0.0, 1.0)
          .describe("epsilon: pi moves toward 1 by epsilon (1 - pi) a month when commoning pays").cite("ECONOMY.md"),
      ParamSpec::real("economy.experience_threshold", 0.1).range(0.0, 1.0)
          .describe("Commoning pays for co-op members and for those with at least this share of income from the commons")
          .cite("ECONOMY.md"),
      ParamSpec::real("economy.propensity_noise", 0.01).range(0.0, 1.0)
          .describe("Standard deviation of the monthly uniform noise in pi (kept in [0, 1])"),
      ParamSpec::integer("economy.network_degree", 6).with_unit("links").range(1, 64)
          .describe("Neighbours each commoner looks at in the social network"),
      ParamSpec::real("economy.network_rewire", 0.1).range(0.0, 1.0)
          .describe("Small-world rewiring probability inside a region").cite("Watts & Strogatz 1998, Nature 393"),
      ParamSpec::real("economy.network_cross_region", 0.02).range(0.0, 1.0)
          .describe("Share of links that go to another region"),
      // ---- policy learning
      ParamSpec::integer("economy.policy_learning_every", 12).with_unit("months").range(1, 1200)
          .describe("Regions compare well-being with their neighbours this often").cite("ECONOMY.md"),
      ParamSpec::real("economy.policy_learning_rate", 0.5).range(0.0, 1.0)
          .describe("Probability that a region adopts the package of a neighbour doing clearly better").cite("ECONOMY.md"),
      ParamSpec::real("economy.policy_learning_margin", 0.015).range(0.0, 1.0)
          .describe("Relative margin: a neighbour does clearly better when its well-being exceeds the region's by this share")
          .cite("Shipan & Volden 2008, Am. J. Polit. Sci. 52(4)"),
      ParamSpec::integer("economy.policy_long_links", 0).with_unit("links").range(0, 1000000)
          .describe("Long links between cities added to the ring of cities that compare their well-being"),
      // ---- final demand by sector (input-output throughput)
      ParamSpec::real("economy.demand_share_food", 0.17).range(0.0, 1.0)
          .describe("Share of private final demand for food (shares are normalised to sum 1)")
          .cite("Eurostat household budget survey, COICOP shares, EU-27 2020, rounded"),
      ParamSpec::real("economy.demand_share_housing", 0.22).range(0.0, 1.0)
          .describe("Share of private final demand for housing").cite("Eurostat HBS, rounded"),
      ParamSpec::real("economy.demand_share_goods", 0.30).range(0.0, 1.0)
          .describe("Share of private final demand for manufactured goods (investment is all goods)")
          .cite("Eurostat HBS, rounded"),
      ParamSpec::real("economy.demand_share_digital", 0.12).range(0.0, 1.0)
          .describe("Share of private final demand for digital services").cite("Eurostat HBS, rounded"),
      ParamSpec::real("economy.demand_share_care", 0.10).range(0.0, 1.0)
          .describe("Share of private final demand for care (public care is all care)").cite("Eurostat HBS, rounded"),
      ParamSpec::real("economy.demand_share_energy", 0.09).range(0.0, 1.0)
          .describe("Share of private final demand for energy").cite("Eurostat HBS, rounded"),
  };
}

enum Series : std::size_t {
  Gdp, CoopShare, PlatformShare, Hhi, PlatformProfits, ValueCaptured, LicenceFees, CoopEmployment, GigShare,
  Unemployment, GigPayMedian, MedianIncome, LivingIncomeShare, CommonsIncomeShare, GiniIncome, GiniWealth,
  Top10Wealth, Top1Wealth, HoursWage, HoursGig, HoursCoop, HoursCommons, HoursCare, HoursLeisure, CareGap,
  KnowledgeStock, UrbanCommons, Throughput, ResourceStock, StateDeficit, PublicDebt, Wellbeing, MeanPropensity,
  Coops, Platforms, PartnerRegions, Wage, Cpi, IncomeTax, CoopMeanSize, JobGuaranteeShare, PermitPrice,
  LoansOutstanding, ThroughputFood, ThroughputHousing, ThroughputGoods, ThroughputDigital, ThroughputCare,
  ThroughputEnergy, SeriesCount
};

std::vector<sim::SeriesSpec> series() {
  return {
      {"gdp", "credits/month", "Sales of platforms and co-ops (households, state, investment) plus public and job-guarantee wages"},
      {"coop_output_share", "1", "Co-op sales over gdp"},
      {"platform_output_share", "1", "Platform sales over gdp"},
      {"platform_hhi", "1", "Herfindahl-Hirschman index of the platforms' sales shares in the month"},
      {"platform_profits", "credits/month", "Platform revenue minus wages, gig pay, licence fees and permits, before tax"},
      {"value_captured", "credits/month", "Platform revenue attributable to the knowledge commons, (1 - (1 + K)^-theta) x revenue, net of licence fees"},
      {"licence_fees", "credits/month", "Reciprocity-licence fees paid by platforms into the commons fund"},
      {"coop_employment_share", "1", "Co-op members over employed commoners (job guarantee counts as employed)"},
      {"gig_share", "1", "Share of commoners who did gig work in the month"},
      {"unemployment_rate", "1", "Share of commoners without a job (the job guarantee counts as a job)"},
      {"gig_hourly_pay_median", "credits/hour", "Median over gig workers of gig pay over gig hours (unpaid search included); 0 with no gig workers"},
      {"median_income", "credits/month", "Median disposable income: pay, dividends, commons pay and transfers after taxes"},
      {"living_income_share", "1", "Share of commoners whose disposable income plus urban-commons relief reaches the living income (indexed)"},
      {"commons_income_share", "1", "Co-op pay and commons pay (grants, commons fund) over all gross income"},
      {"gini_income", "1", "Gini coefficient of disposable income"},
      {"gini_wealth", "1", "Gini coefficient of the commoners' money"},
      {"top10_wealth_share", "1", "Share of the commoners' money held by the richest 10 %"},
      {"top1_wealth_share", "1", "Share of the commoners' money held by the richest 1 %"},
      {"hours_wage", "hours/month", "Mean hours of wage work (platforms, public sector, job guarantee) per commoner"},
      {"hours_gig", "hours/month", "Mean hours of gig work, task time and unpaid search, per commoner"},
      {"hours_coop", "hours/month", "Mean hours of co-op work per commoner"},
      {"hours_commons", "hours/month", "Mean hours of unpaid commons contribution per commoner"},
      {"hours_care", "hours/month", "Mean hours of unpaid care per commoner"},
      {"hours_leisure", "hours/month", "Mean hours of leisure per commoner"},
      {"care_gap", "hours/month", "Mean care need met neither by public care nor by the household (beyond care_capacity)"},
      {"knowledge_stock", "1", "Knowledge commons K (1 at the start)"},
      {"urban_commons", "1", "Mean over regions of the urban commons U_r (1 at the start)"},
      {"throughput", "1", "Material throughput in units of the resource's capacity a month"},
      {"resource_stock", "1", "Natural resource stock as a share of its capacity"},
      {"state_deficit", "credits/month", "Spending minus revenue of the national and regional states together in the month"},
      {"public_debt", "credits", "Minus the balances of the national and regional states together"},
      {"wellbeing", "1", "(living_income_share + 1 - gini_income + free-time share + resource_stock + 1 - care gap / care need) / 5"},
      {"mean_propensity", "1", "Mean commoning propensity pi"},
      {"coops", "co-ops", "Co-ops with at least one member"},
      {"platforms", "platforms", "Active platforms"},
      {"regions_with_partner_policy", "regions", "Regions whose package gives public-commons partnership grants"},
      {"wage", "credits/hour", "Going hourly wage W for skill 1 (before working-time compensation)"},
      {"cpi", "1", "Consumer price index: spending-weighted price over its opening value"},
      {"income_tax", "1", "National income tax rate set by the fiscal rule"},
      {"coop_mean_size", "members", "Members per co-op with at least one member"},
      {"job_guarantee_share", "1", "Share of commoners in the job guarantee"},
      {"permit_price", "1", "Throughput permit price as a share of unit labour cost (0 without a binding cap)"},
      {"loans_outstanding", "credits", "Co-op loans not yet repaid"},
      {"throughput_food", "1", "Throughput extracted for food (input-output table: direct and through inputs)"},
      {"throughput_housing", "1", "Throughput extracted for housing"},
      {"throughput_goods", "1", "Throughput extracted for manufactured goods"},
      {"throughput_digital", "1", "Throughput extracted for digital services"},
      {"throughput_care", "1", "Throughput extracted for care"},
      {"throughput_energy", "1", "Throughput extracted for energy"},
  };
}

enum RegionSeries : std::size_t {
  RCoopEmployment, RGigShare, RUnemployment, RGigPayMedian, RMedianIncome, RLivingIncomeShare,
  RCommonsIncomeShare, RGiniIncome, RGiniWealth, RTop10Wealth, RTop1Wealth, RHoursWage, RHoursGig, RHoursCoop,
  RHoursCommons, RHoursCare, RHoursLeisure, RCareGap, RUrbanCommons, RStateDeficit, RPublicDebt, RWellbeing,
  RMeanPropensity, RCoops, RPartnerPolicy, RCoopOutputShare, RRegionalTax, RegionSeriesCount
};

std::vector<sim::SeriesSpec> region_series() {
  return {
      {"coop_employment_share", "1", "Co-op members over employed residents"},
      {"gig_share", "1", "Share of residents who did gig work"},
      {"unemployment_rate", "1", "Share of residents without a job"},
      {"gig_hourly_pay_median", "credits/hour", "Median effective hourly gig pay of the region's gig workers"},
      {"median_income", "credits/month", "Median disposable income of residents"},
      {"living_income_share", "1", "Share of residents at or above a living income"},
      {"commons_income_share", "1", "Co-op and commons pay over residents' gross income"},
      {"gini_income", "1", "Gini coefficient of residents' disposable income"},
      {"gini_wealth", "1", "Gini coefficient of residents' money"},
      {"top10_wealth_share", "1", "Share of residents' money held by the region's richest 10 %"},
      {"top1_wealth_share", "1", "Share of residents' money held by the region's richest 1 %"},
      {"hours_wage", "hours/month", "Mean hours of wage work per resident"},
      {"hours_gig", "hours/month", "Mean hours of gig work per resident"},
      {"hours_coop", "hours/month", "Mean hours of co-op work per resident"},
      {"hours_commons", "hours/month", "Mean hours of unpaid commons contribution per resident"},
      {"hours_care", "hours/month", "Mean hours of unpaid care per resident"},
      {"hours_leisure", "hours/month", "Mean hours of leisure per resident"},
      {"care_gap", "hours/month", "Mean unmet care need per resident"},
      {"urban_commons", "1", "Urban commons U_r"},
      {"state_deficit", "credits/month", "Regional state's spending minus revenue"},
      {"public_debt", "credits", "Minus the regional state's balance"},
      {"wellbeing", "1", "The well-being index of the region's residents (resource stock national)"},
      {"mean_propensity", "1", "Mean propensity of residents"},
      {"coops", "co-ops", "Co-ops of the region with at least one member"},
      {"partner_policy", "1", "1 when the region's package gives public-commons partnership grants"},
      {"coop_output_share", "1", "Region's co-op sales over the demand of its residents and its regional state"},
      {"regional_tax", "1", "Regional income tax rate set by the region's fiscal rule"},
  };
}

std::vector<sim::SeriesSpec> snapshot_fields() {
  return {
      {"commoners/wealth", "credits", "Money held"},
      {"commoners/income", "credits/month", "Disposable income in the step"},
      {"commoners/propensity", "1", "Commoning propensity pi"},
      {"commoners/region", "1", "Region"},
      {"commoners/employer", "1", "Producer id (platforms 0..K-1, co-ops from K), -1 none, -2 public sector, -3 job guarantee"},
      {"commoners/hours_wage", "hours/month", "Hours of wage work"},
      {"commoners/hours_gig", "hours/month", "Hours of gig work"},
      {"commoners/hours_coop", "hours/month", "Hours of co-op work"},
      {"commoners/hours_commons", "hours/month", "Hours of unpaid commons contribution"},
      {"commoners/hours_care", "hours/month", "Hours of unpaid care"},
      {"commoners/hours_leisure", "hours/month", "Hours of leisure"},
  };
}

// What a step leaves for measure() and for the next step; saved in checkpoints.
struct Flows {
  double platform_sales = 0, coop_sales = 0, public_wages = 0, platform_profits = 0;
  double deficit = 0, hhi = 0, coop_spend_share = 0, value_captured = 0, licence_fees = 0;
  double throughput = 0, permit_revenue = 0, gig_done = 0, gig_demand = 0, real_output = 0;
  static constexpr std::size_t count = 14;
  std::array<double, count> as_array() const {
    return {platform_sales, coop_sales, public_wages, platform_profits, deficit, hhi, coop_spend_share,
            value_captured, licence_fees, throughput, permit_revenue, gig_done, gig_demand, real_output};
  }
  static Flows from(const std::vector<double>& x) {
    return Flows{x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11], x[12], x[13]};
  }
};

// float columns go into checkpoints as doubles (exact both ways).
void put_floats(sim::State& s, const std::string& name, const std::vector<float>& v) {
  s.put(name, std::vector<double>(v.begin(), v.end()));
}
void get_floats(const sim::State& s, const std::string& name, std::vector<float>& v) {
  std::vector<double> x(v.size());
  s.get(name, x);
  std::transform(x.begin(), x.end(), v.begin(), [](double d) { return static_cast<float>(d); });
}

// Poisson draw by inversion (means here are small: a few foundings a month in a region).
std::uint64_t poisson(sim::Rng& rng, double mean) {
  if (mean <= 0) return 0;
  if (mean > 500) return static_cast<std::uint64_t>(std::max(0.0, std::llround(rng.normal(mean, std::sqrt(mean))) * 1.0));
  const double limit = std::exp(-mean);
  double product = rng.u01();
  std::uint64_t k = 0;
  while (product > limit) {
    product *= rng.u01();
    ++k;
  }
  return k;
}

class Economy final : public sim::Model {
 public:
  explicit Economy(const sim::ModelInit& init)
      : p_(init.params),
        seed_(init.seed),
        n_(p_.commoners),
        R_(p_.regions),
        K_(p_.platforms),
        ledger_(&init.ledger),
        commoners_s_(init.ledger.sector("commoners")),
        platforms_s_(init.ledger.sector("platforms")),
        coops_s_(init.ledger.sector("coops")),
        state_s_(init.ledger.sector("state")),
        regions_s_(init.ledger.sector("regions")),
        fund_s_(init.ledger.sector("commons_fund")),
        wages_f_(init.ledger.flow("wages")),
        coop_pay_f_(init.ledger.flow("coop_pay")),
        gig_pay_f_(init.ledger.flow("gig_pay")),
        jg_wages_f_(init.ledger.flow("job_guarantee_wages")),
        purchases_f_(init.ledger.flow("purchases")),
        procurement_f_(init.ledger.flow("procurement")),
        investment_f_(init.ledger.flow("investment")),
        income_tax_f_(init.ledger.flow("income_tax")),
        regional_tax_f_(init.ledger.flow("regional_tax")),
        wealth_tax_f_(init.ledger.flow("wealth_tax")),
        platform_tax_f_(init.ledger.flow("platform_tax")),
        benefits_f_(init.ledger.flow("benefits")),
        basic_income_f_(init.ledger.flow("basic_income")),
        care_income_f_(init.ledger.flow("care_income")),
        dividends_f_(init.ledger.flow("dividends")),
        licence_fees_f_(init.ledger.flow("licence_fees")),
        commons_pay_f_(init.ledger.flow("commons_pay")),
        pcp_grants_f_(init.ledger.flow("pcp_grants")),
        permits_f_(init.ledger.flow("permits")),
        throughput_dividend_f_(init.ledger.flow("throughput_dividend")),
        coop_capital_f_(init.ledger.flow("coop_capital")),
        loans_f_(init.ledger.flow("loans")),
        repayment_f_(init.ledger.flow("loan_repayment")),
        dissolution_f_(init.ledger.flow("dissolution")),
        cofinancing_f_(init.ledger.flow("cofinancing")) {
    draw_commoners();
    network_ = std::make_unique<Network>(seed_, region_, R_, static_cast<unsigned>(p_.network_degree),
                                         p_.network_rewire, p_.network_cross_region);
    if (R_ > 1) cities_ = region_ring_adjacency(R_, static_cast<std::size_t>(p_.policy_long_links), seed_);
    else cities_.assign(1, {});
    open_steady_state();
    init.ledger.open(money_in_accounts());
  }

  std::vector<sim::Phase> phases() override {
    const auto phase = [this](std::string name, std::string what, void (Economy::*f)(sim::StepContext&)) {
      return sim::Phase{std::move(name), std::move(what), [this, f](sim::StepContext& c) { (this->*f)(c); }};
    };
    return {
        phase("apply_policy", "levers from schedules and regional packages; policy learning every 12 months",
              &Economy::apply_policy),
        phase("set_prices", "prices from the wage, mark-ups, knowledge and permits; the CPI", &Economy::set_prices),
        phase("match_labour", "fire beyond a band, hire the unemployed, co-op switching, job guarantee",
              &Economy::match_labour),
        phase("pay_work_incomes", "loan instalments, co-op pay, wages, job-guarantee wages, dividends; the wage moves",
              &Economy::pay_work_incomes),
        phase("allocate_time", "care first, then paid work, gig offers below a living income, commons, leisure",
              &Economy::allocate_time),
        phase("pay_gig_tasks", "platforms buy gig tasks; offered time beyond the tasks is unpaid search",
              &Economy::pay_gig_tasks),
        phase("share_commons", "commons fund and partnership grants pay contributors; knowledge and urban commons",
              &Economy::share_commons),
        phase("tax_and_transfer", "income, regional and wealth taxes; benefits, basic and care income, permit dividend",
              &Economy::tax_and_transfer),
        phase("found_coops", "co-ops founded where high-propensity commoners and finance meet", &Economy::found_coops),
        phase("spend", "consumption, procurement, public care and investment by a logit, rationed by capacity; permits",
              &Economy::spend),
        phase("settle_profits", "licence fees, platform tax, dividends; shares, throughput, resource, fiscal rules",
              &Economy::settle_profits),
        phase("dissolve_and_enter", "co-ops with sustained losses dissolve; platforms exit and enter",
              &Economy::dissolve_and_enter),
        phase("update_propensity", "propensity moves toward neighbours' norms and with experience",
              &Economy::update_propensity),
    };
  }

  double time_at(std::int64_t step) const override { return static_cast<double>(step) / 12.0; }

  double money_in_accounts() const override {
    double total = commoners_money_known_ ? commoners_money_
                                          : sim::sum(n_, [&](std::size_t i) { return money_[i]; });
    for (double c : cash_) total += c;
    for (double b : region_balance_) total += b;
    return total + state_ + commons_fund_;
  }

  double largest_time_budget_error() const {
    double worst = 0.0;
    for (std::size_t i = 0; i < n_; ++i) {
      const double h[] = {h_care_[i], h_wage_[i], h_gig_[i], h_coop_[i], h_commons_[i], h_leisure_[i]};
      double total = 0.0;
      for (double x : h) {
        total += x;
        if (x < 0) worst = std::max(worst, p_.time_budget);
      }
      // Hours are single precision: compare to float resolution of the budget.
      worst = std::max(worst, std::abs(total - p_.time_budget));
    }
    return worst;
  }

  double largest_employment_identity_error() const {
    std::vector<double> staff(producers(), 0.0);
    for (std::size_t i = 0; i < n_; ++i)
      if (employer_[i] >= 0) staff[static_cast<std::size_t>(employer_[i])] += skill_[i];
    double worst = 0.0;
    for (std::size_t q = 0; q < producers(); ++q) {
      const double implied = staff_capacity_[q] / (productivity_of(q) * hours_now_ * staff_hours_factor(q));
      worst = std::max(worst, std::abs(implied - staff[q]) / std::max(1.0, staff[q]));
    }
    return worst;
  }

  // ------------------------------------------------------------------ outputs

  void measure(std::span<double> v) override {
    const double gdp = last_.platform_sales + last_.coop_sales + last_.public_wages;
    v[Gdp] = gdp;
    v[CoopShare] = gdp > 0 ? last_.coop_sales / gdp : 0.0;
    v[PlatformShare] = gdp > 0 ? last_.platform_sales / gdp : 0.0;
    v[Hhi] = last_.hhi;
    v[PlatformProfits] = last_.platform_profits;
    v[ValueCaptured] = last_.value_captured;
    v[LicenceFees] = last_.licence_fees;
    group_stats_ = group_stats();
    group_stats_fresh_ = true;
    const Group& all = group_stats_.all;
    v[CoopEmployment] = all.coop_employment;
    v[GigShare] = all.gig_share;
    v[Unemployment] = all.unemployment;
    v[GigPayMedian] = all.gig_pay_median;
    v[MedianIncome] = all.median_income;
    v[LivingIncomeShare] = all.living_share;
    v[CommonsIncomeShare] = all.commons_share;
    v[GiniIncome] = all.gini_income;
    v[GiniWealth] = all.gini_wealth;
    v[Top10Wealth] = all.top10;
    v[Top1Wealth] = all.top1;
    v[HoursWage] = all.hours[0];
    v[HoursGig] = all.hours[1];
    v[HoursCoop] = all.hours[2];
    v[HoursCommons] = all.hours[3];
    v[HoursCare] = all.hours[4];
    v[HoursLeisure] = all.hours[5];
    v[CareGap] = all.care_gap;
    v[KnowledgeStock] = knowledge_;
    v[UrbanCommons] = std::accumulate(urban_.begin(), urban_.end(), 0.0) / static_cast<double>(R_);
    v[Throughput] = last_.throughput;
    v[ResourceStock] = resource_;
    v[StateDeficit] = last_.deficit;
    v[PublicDebt] = -(state_ + std::accumulate(region_balance_.begin(), region_balance_.end(), 0.0));
    v[Wellbeing] = wellbeing(all);
    v[MeanPropensity] = all.mean_propensity;
    std::size_t active = 0, members = 0;
    for (std::size_t q = K_; q < producers(); ++q) {
      active += members_[q] > 0;
      members += members_[q];
    }
    v[Coops] = static_cast<double>(active);
    v[CoopMeanSize] = active > 0 ? static_cast<double>(members) / static_cast<double>(active) : 0.0;
    v[Platforms] = static_cast<double>(std::count(platform_alive_.begin(), platform_alive_.end(), 1));
    std::size_t partner = 0;
    for (std::size_t r = 0; r < R_; ++r) partner += partner_policy(r);
    v[PartnerRegions] = static_cast<double>(partner);
    v[Wage] = wage_;
    v[Cpi] = cpi_;
    v[IncomeTax] = income_tax_;
    v[JobGuaranteeShare] = all.job_guarantee;
    v[PermitPrice] = permit_price_;
    v[LoansOutstanding] = std::accumulate(coop_loan_.begin(), coop_loan_.end(), 0.0);
    for (std::size_t k = 0; k < 6; ++k) v[ThroughputFood + k] = sector_throughput_[k];
  }

  void measure_regions(std::span<double> v) override {
    // measure() of the same state has made them, unless it was not called since the last step.
    if (!group_stats_fresh_) group_stats_ = group_stats();
    group_stats_fresh_ = false;
    for (std::size_t r = 0; r < R_; ++r) {
      const Group& g = group_stats_.regions[r];
      const auto put = [&](RegionSeries s, double x) { v[s * R_ + r] = x; };
      put(RCoopEmployment, g.coop_employment);
      put(RGigShare, g.gig_share);
      put(RUnemployment, g.unemployment);
      put(RGigPayMedian, g.gig_pay_median);
      put(RMedianIncome, g.median_income);
      put(RLivingIncomeShare, g.living_share);
      put(RCommonsIncomeShare, g.commons_share);
      put(RGiniIncome, g.gini_income);
      put(RGiniWealth, g.gini_wealth);
      put(RTop10Wealth, g.top10);
      put(RTop1Wealth, g.top1);
      for (std::size_t h = 0; h < 6; ++h) put(static_cast<RegionSeries>(RHoursWage + h), g.hours[h]);
      put(RCareGap, g.care_gap);
      put(RUrbanCommons, urban_[r]);
      put(RStateDeficit, region_deficit_[r]);
      put(RPublicDebt, -region_balance_[r]);
      put(RWellbeing, wellbeing(g));
      put(RMeanPropensity, g.mean_propensity);
      std::size_t active = 0;
      for (std::size_t q = K_; q < producers(); ++q) active += members_[q] > 0 && coop_region_[q - K_] == r;
      put(RCoops, static_cast<double>(active));
      put(RPartnerPolicy, partner_policy(r) ? 1.0 : 0.0);
      put(RCoopOutputShare, region_purchases_[r] > 0 ? region_coop_sales_[r] / region_purchases_[r] : 0.0);
      put(RRegionalTax, region_tax_[r]);
    }
  }

  void snapshot(sim::State& out) const override {
    out.put("commoners/wealth", money_);
    out.put("commoners/income", net_income_);
    out.put("commoners/propensity", propensity_);
    out.put("commoners/region", region_);
    out.put("commoners/employer", employer_);
    put_floats(out, "commoners/hours_wage", h_wage_);
    put_floats(out, "commoners/hours_gig", h_gig_);
    put_floats(out, "commoners/hours_coop", h_coop_);
    put_floats(out, "commoners/hours_commons", h_commons_);
    put_floats(out, "commoners/hours_care", h_care_);
    put_floats(out, "commoners/hours_leisure", h_leisure_);
  }

  // ------------------------------------------------------------------ checkpoints

  // Every saved array once, by name, in two lists: the commoners', then (after the producer
  // count, which sizes them) the producers' and regions'. save() puts them, restore() gets them.
  template <class Self, class Field>
  static void commoner_fields(Self& self, Field&& field) {
    field("commoners.money", self.money_);
    field("commoners.propensity", self.propensity_);
    field("commoners.employer", self.employer_);
    field("commoners.gross_income", self.gross_income_);
    field("commoners.net_income", self.net_income_);
    field("commoners.commons_income", self.commons_income_);
    field("commoners.gig_pay", self.gig_pay_);
    field("commoners.hours_wage", self.h_wage_);
    field("commoners.hours_gig", self.h_gig_);
    field("commoners.hours_coop", self.h_coop_);
    field("commoners.hours_commons", self.h_commons_);
    field("commoners.hours_care", self.h_care_);
    field("commoners.hours_leisure", self.h_leisure_);
  }
  template <class Self, class Field>
  static void producer_and_region_fields(Self& self, Field&& field) {
    field("producers.cash", self.cash_);
    field("producers.expected", self.expected_);
    field("producers.price", self.price_);
    field("producers.sales", self.sales_);
    field("producers.staff_capacity", self.staff_capacity_);
    field("platforms.market_share", self.market_share_);
    field("platforms.pending_dividends", self.pending_dividends_);
    field("platforms.pending_investment", self.pending_investment_);
    field("platforms.low_months", self.platform_low_);
    field("platforms.alive", self.platform_alive_);
    field("coops.region", self.coop_region_);
    field("coops.weak_months", self.coop_weak_);
    field("coops.loan", self.coop_loan_);
    field("coops.instalment", self.coop_instalment_);
    field("coops.capital", self.coop_capital_);
    field("coops.alive", self.coop_alive_);
    field("regions.balance", self.region_balance_);
    field("regions.tax", self.region_tax_);
    field("regions.deficit", self.region_deficit_);
    field("regions.urban_commons", self.urban_);
    field("regions.care_coverage", self.care_coverage_);
    field("regions.coop_sales", self.region_coop_sales_);
    field("regions.purchases", self.region_purchases_);
    field("regions.adopted", self.adopted_);
  }
  // Single-precision arrays are saved as float64 (exact), so a checkpoint has fewer types.
  static void put_field(sim::State& s, const char* name, const std::vector<float>& v) { put_floats(s, name, v); }
  template <class T>
  static void put_field(sim::State& s, const char* name, const std::vector<T>& v) {
    s.put(name, v);
  }
  static void get_field(const sim::State& s, const char* name, std::vector<float>& v) { get_floats(s, name, v); }
  template <class T>
  static void get_field(const sim::State& s, const char* name, std::vector<T>& v) {
    s.get(name, v);
  }

  // Skill, care need, region and ownership are drawn from the seed; the rest is saved.
  void save(sim::State& s) const override {
    const auto put = [&](const char* name, const auto& v) { put_field(s, name, v); };
    commoner_fields(*this, put);
    s.put("producers.count", static_cast<std::uint64_t>(producers()));
    producer_and_region_fields(*this, put);
    std::vector<double> packages;
    for (const auto& pk : package_) packages.insert(packages.end(), pk.begin(), pk.end());
    s.put("regions.package", packages);
    s.put("state.scalars", std::vector<double>{state_, wage_, cpi_, income_tax_, coop_bias_, permit_price_, knowledge_,
                                               resource_, commons_fund_, hours_now_});
    const auto flows = last_.as_array();
    s.put("state.last", std::vector<double>(flows.begin(), flows.end()));
    s.put("state.sector_throughput", std::vector<double>(sector_throughput_.begin(), sector_throughput_.end()));
  }

  void restore(const sim::State& s) override {
    group_stats_fresh_ = false;
    first_free_coop_ = 0;
    commoners_money_known_ = false;
    const auto get = [&](const char* name, auto& v) { get_field(s, name, v); };
    commoner_fields(*this, get);
    resize_producers(static_cast<std::size_t>(s.get<std::uint64_t>("producers.count")));
    producer_and_region_fields(*this, get);
    std::vector<double> packages(R_ * LeverCount);
    s.get("regions.package", packages);
    for (std::size_t r = 0; r < R_; ++r)
      std::copy_n(packages.begin() + static_cast<std::ptrdiff_t>(r * LeverCount), LeverCount, package_[r].begin());
    std::vector<double> x(10);
    s.get("state.scalars", x);
    state_ = x[0];
    wage_ = x[1];
    cpi_ = x[2];
    income_tax_ = x[3];
    coop_bias_ = x[4];
    permit_price_ = x[5];
    set_knowledge(x[6]);
    resource_ = x[7];
    commons_fund_ = x[8];
    hours_now_ = x[9];
    std::vector<double> flows(Flows::count);
    s.get("state.last", flows);
    last_ = Flows::from(flows);
    std::vector<double> sectors(6);
    s.get("state.sector_throughput", sectors);
    std::copy(sectors.begin(), sectors.end(), sector_throughput_.begin());
    recount_staff();
    region_propensity();
  }

 private:
  // ------------------------------------------------------------------ helpers

  struct Group {
    double coop_employment = 0, gig_share = 0, unemployment = 0, gig_pay_median = 0, median_income = 0;
    double living_share = 0, commons_share = 0, gini_income = 0, gini_wealth = 0, top10 = 0, top1 = 0;
    double care_gap = 0, care_need = 0, mean_propensity = 0, job_guarantee = 0, free_time_share = 0;
    std::array<double, 6> hours{};  // wage, gig, co-op, commons, care, leisure
  };

  // Counts and sums over a group of commoners. Partial tallies over fixed blocks of commoners
  // are added in block order, so the sums are the same on any thread count.
  struct Tally {
    std::size_t members = 0, jobless = 0, job_guarantee = 0, in_coops = 0, gig = 0, living = 0;
    double gross = 0, commons = 0, propensity = 0, gap = 0, need = 0;
    std::array<double, 6> hours{};  // wage, gig, co-op, commons, care, leisure
    void add(const Tally& t) {
      members += t.members;
      jobless += t.jobless;
      job_guarantee += t.job_guarantee;
      in_coops += t.in_coops;
      gig += t.gig;
      living += t.living;
      gross += t.gross;
      commons += t.commons;
      propensity += t.propensity;
      gap += t.gap;
      need += t.need;
      for (std::size_t h = 0; h < hours.size(); ++h) hours[h] += t.hours[h];
    }
  };

  struct GroupStats {
    Group all;
    std::vector<Group> regions;
  };

  // Statistics of every region and of everyone (commoner i lives in region i mod R): one pass
  // over the commoners tallies the counts and sums and copies the gig pay rates into
  // region-major slices; one sort of the incomes, and one of wealth, give the statistics of
  // everyone's distribution and each region's (sim::distributions_by_group). With
  // `wellbeing_only`, only what well-being needs (regions only; no wealth or gig pay
  // distributions).
  GroupStats group_stats(bool wellbeing_only = false) {
    constexpr std::size_t per_region_in_block = 4096;
    const std::size_t block =
        R_ * per_region_in_block;  // a multiple of R: block starts are in region 0
    const std::size_t blocks = sim::block_count(n_, block);
    std::vector<std::size_t> start(R_ + 1, 0);
    std::vector<double> relief_values(R_);
    for (std::size_t r = 0; r < R_; ++r) {
      start[r + 1] = start[r] + region_size(r);
      relief_values[r] = relief_value(r);
    }
    // The gig pay rates (region-major), in a buffer borrowed from the steps (it holds nothing
    // between the phases that fill it): touching fresh memory costs more here than filling it.
    std::vector<double>& gig_rates = propensity_next_;
    gig_rates.resize(n_);
    std::vector<Tally> tallies(blocks * R_);
    const double living_level = p_.living_income * cpi_;
    sim::for_blocks(
        n_,
        [&](std::size_t begin, std::size_t end, std::size_t b) {
          Tally* tally = &tallies[b * R_];
          // Field by field, each loop reading its arrays straight through: a chunk of R
          // commoners holds one of each region, in region order, and adds to R running sums.
          // These are the sums a commoner-by-commoner pass makes, in the same order, but the
          // loops vectorise and keep few streams open at once.
          const auto each = [&](auto&& add) {
            for (std::size_t base = begin; base < end; base += R_) {
              const std::size_t k =
                  base / R_;  // the chunk's commoners are the k-th of their regions
              const std::size_t m = std::min(R_, end - base);
              for (std::size_t r = 0; r < m; ++r) add(r, base + r, k);
            }
          };
          std::vector<double> sum(R_);
          const auto sums = [&](auto&& value, double Tally::*field) {
            std::fill(sum.begin(), sum.end(), 0.0);
            each([&](std::size_t r, std::size_t i, std::size_t) { sum[r] += value(r, i); });
            for (std::size_t r = 0; r < R_; ++r) tally[r].*field = sum[r];
          };
          const auto hours = [&](const std::vector<float>& h, std::size_t which) {
            std::fill(sum.begin(), sum.end(), 0.0);
            each([&](std::size_t r, std::size_t i, std::size_t) { sum[r] += h[i]; });
            for (std::size_t r = 0; r < R_; ++r) tally[r].hours[which] = sum[r];
          };
          std::vector<std::size_t> count(R_);
          const auto counts = [&](auto&& holds, std::size_t Tally::*field) {
            std::fill(count.begin(), count.end(), std::size_t{0});
            each([&](std::size_t r, std::size_t i, std::size_t) {
              count[r] += holds(r, i) ? 1 : 0;
            });
            for (std::size_t r = 0; r < R_; ++r) tally[r].*field = count[r];
          };
          counts([](std::size_t, std::size_t) { return true; }, &Tally::members);
          counts([&](std::size_t, std::size_t i) { return employer_[i] == unemployed; },
                 &Tally::jobless);
          counts([&](std::size_t, std::size_t i) { return employer_[i] == job_guarantee; },
                 &Tally::job_guarantee);
          counts([&](std::size_t,
                     std::size_t i) { return employer_[i] >= static_cast<std::int32_t>(K_); },
                 &Tally::in_coops);
          counts([&](std::size_t r,
                     std::size_t i) { return net_income_[i] + relief_values[r] >= living_level; },
                 &Tally::living);
          // The region's gig pay rates, packed at the front of its part of the region-major
          // buffer (its commoners k = b * per_region_in_block onwards): each is written, and
          // kept by moving on only for a gig worker.
          std::fill(count.begin(), count.end(), std::size_t{0});
          each([&](std::size_t r, std::size_t i, std::size_t) {
            const bool works = h_gig_[i] > 0;
            if (!wellbeing_only)
              gig_rates[start[r] + b * per_region_in_block + count[r]] =
                  works ? static_cast<double>(gig_pay_[i]) / static_cast<double>(h_gig_[i]) : 0.0;
            count[r] += works ? 1 : 0;
          });
          for (std::size_t r = 0; r < R_; ++r) tally[r].gig = count[r];
          sums([&](std::size_t, std::size_t i) { return gross_income_[i]; }, &Tally::gross);
          sums([&](std::size_t, std::size_t i) { return static_cast<double>(commons_income_[i]); },
               &Tally::commons);
          sums([&](std::size_t, std::size_t i) { return propensity_[i]; }, &Tally::propensity);
          sums(
              [&](std::size_t r, std::size_t i) {
                const double own = care_need_[i] * (1.0 - care_coverage_[r]);
                return std::max(0.0, own - static_cast<double>(h_care_[i]));
              },
              &Tally::gap);
          sums([&](std::size_t, std::size_t i) { return static_cast<double>(care_need_[i]); },
               &Tally::need);
          hours(h_wage_, 0);
          hours(h_gig_, 1);
          hours(h_coop_, 2);
          hours(h_commons_, 3);
          hours(h_care_, 4);
          hours(h_leisure_, 5);
        },
        block);
    GroupStats stats;
    stats.regions.resize(R_);
    std::vector<Tally> region_tally(R_);
    std::vector<std::span<const double>> gig_run(R_);
    const auto regions = static_cast<std::int64_t>(R_);
#pragma omp parallel for schedule(dynamic)
    for (std::int64_t region = 0; region < regions; ++region) {
      const auto r = static_cast<std::size_t>(region);
      for (std::size_t b = 0; b < blocks; ++b) region_tally[r].add(tallies[b * R_ + r]);
      stats.regions[r] = group_from(region_tally[r]);
      if (wellbeing_only || region_tally[r].members == 0) continue;
      // The region's gig pay rates, each block's moved up to the front of its slice, sorted.
      std::size_t gig_end = start[r];
      for (std::size_t b = 0; b < blocks; ++b) {
        const auto from =
            gig_rates.begin() + static_cast<std::ptrdiff_t>(start[r] + b * per_region_in_block);
        gig_end = static_cast<std::size_t>(
            std::copy(from, from + static_cast<std::ptrdiff_t>(tallies[b * R_ + r].gig),
                      gig_rates.begin() + static_cast<std::ptrdiff_t>(gig_end)) -
            gig_rates.begin());
      }
      const std::span<double> gig(gig_rates.data() + start[r], gig_end - start[r]);
      sim::sort_ascending(gig);
      gig_run[r] = gig;
      stats.regions[r].gig_pay_median = gig.empty() ? 0.0 : sim::median_sorted(gig);
    }
    Tally everyone;
    for (const Tally& t : region_tally) everyone.add(t);
    if (!wellbeing_only) {
      stats.all = group_from(everyone);
      stats.all.gig_pay_median = everyone.gig == 0 ? 0.0 : sim::median_of_runs(gig_run);
    }
    // Each distribution sorted once, for everyone and for the regions
    // (sim::distributions_by_group).
    const sim::DistributionsByGroup income = sim::distributions_by_group(net_income_, R_);
    const auto income_stats = [](Group& g, const sim::DistributionStats& d) {
      g.median_income = d.median;
      g.gini_income = d.gini;
    };
    for (std::size_t r = 0; r < R_; ++r)
      if (region_tally[r].members > 0) income_stats(stats.regions[r], income.groups[r]);
    if (wellbeing_only) return stats;
    income_stats(stats.all, income.all);
    const sim::DistributionsByGroup wealth = sim::distributions_by_group(money_, R_);
    const auto wealth_stats = [](Group& g, const sim::DistributionStats& d) {
      g.gini_wealth = d.gini;
      g.top10 = d.top10_share;
      g.top1 = d.top1_share;
    };
    for (std::size_t r = 0; r < R_; ++r)
      if (region_tally[r].members > 0) wealth_stats(stats.regions[r], wealth.groups[r]);
    wealth_stats(stats.all, wealth.all);
    return stats;
  }

  // A group's statistics from its tally (those of its distributions are set by group_stats).
  Group group_from(const Tally& t) const {
    Group g;
    if (t.members == 0) return g;
    const double dm = static_cast<double>(t.members);
    for (std::size_t h = 0; h < g.hours.size(); ++h) g.hours[h] = t.hours[h] / dm;
    g.unemployment = static_cast<double>(t.jobless) / dm;
    g.job_guarantee = static_cast<double>(t.job_guarantee) / dm;
    g.coop_employment = t.jobless == t.members ? 0.0
                                               : static_cast<double>(t.in_coops) /
                                                     static_cast<double>(t.members - t.jobless);
    g.gig_share = static_cast<double>(t.gig) / dm;
    g.living_share = static_cast<double>(t.living) / dm;
    g.commons_share = t.gross > 0 ? t.commons / t.gross : 0.0;
    g.mean_propensity = t.propensity / dm;
    g.care_gap = t.gap / dm;
    g.care_need = t.need / dm;
    g.free_time_share = (g.hours[3] + g.hours[5]) / p_.time_budget;
    return g;
  }

  // Well-being: the mean of five components in [0, 1] (docs/models/economy.md).
  double wellbeing(const Group& g) const {
    const double care = g.care_need > 0 ? 1.0 - g.care_gap / g.care_need : 1.0;
    return (g.living_share + (1.0 - g.gini_income) + g.free_time_share + resource_ + care) / 5.0;
  }

  bool partner_policy(std::size_t r) const { return package_[r][PcpGrant] > 0.0; }

  std::size_t producers() const { return cash_.size(); }
  bool is_coop(std::size_t q) const { return q >= K_; }
  bool alive(std::size_t q) const { return is_coop(q) ? coop_alive_[q - K_] != 0 : platform_alive_[q] != 0; }
  // The knowledge commons' productivity factor, ((1 + K) / 2)^elasticity, kept with K: asked for
  // by every producer several times a month.
  double knowledge_factor() const { return knowledge_factor_; }
  void set_knowledge(double k) {
    knowledge_ = k;
    knowledge_factor_ = std::pow((1.0 + k) / 2.0, p_.knowledge_elasticity);
  }
  double productivity_of(std::size_t q) const {
    return p_.productivity * knowledge_factor() * (is_coop(q) ? p_.coop_productivity : 1.0);
  }
  // Share of paid hours that produce for sale (co-ops give a share to the commons).
  double staff_hours_factor(std::size_t q) const { return is_coop(q) ? 1.0 - p_.coop_commons_share : 1.0; }
  double relief(std::size_t r) const {
    return p_.urban_commons_relief_max * urban_[r] / (urban_[r] + p_.urban_commons_half);
  }
  // Subsistence needs met by the urban commons, in credits at today's prices.
  double relief_value(std::size_t r) const { return relief(r) * p_.subsistence * cpi_; }
  static std::uint64_t u(std::int64_t step) { return static_cast<std::uint64_t>(step); }
  std::size_t region_size(std::size_t r) const { return n_ / R_ + (r < n_ % R_ ? 1 : 0); }
  bool paid_work(std::int32_t e) const { return e != unemployed; }

  void resize_producers(std::size_t P) {
    cash_.resize(P, 0.0);
    expected_.resize(P, 0.0);
    price_.resize(P, 0.0);
    sales_.resize(P, 0.0);
    staff_capacity_.resize(P, 0.0);
    effective_.resize(P, 0.0);
    members_.resize(P, 0);
    wage_bill_.resize(P, 0.0);
    demand_.resize(P, 0.0);
    fill_.resize(P, 0.0);
    split_.resize(P, 0.0);
    fill_capacity_.resize(P, 0.0);
    const std::size_t J = P - K_;
    coop_region_.resize(J, 0);
    coop_weak_.resize(J, 0);
    coop_loan_.resize(J, 0.0);
    coop_instalment_.resize(J, 0.0);
    coop_capital_.resize(J, 0.0);
    coop_alive_.resize(J, 0);
  }

  // From employer_: members_ and effective_ (the sum of the workers' skills) by producer, from
  // tallies by block of commoners (staff_counts_, staff_skill_) summed in block order, so the
  // same on any thread count. The tallies stay for staff_lists(). A block's tallies have a column
  // for every value of employer_ (column employer_[i] + tally_shift), so the loop has no branch.
  static constexpr std::int32_t tally_shift = -job_guarantee;
  void recount_staff() {
    const std::size_t P = producers(), columns = P + tally_shift, block = staff_block_size();
    staff_counts_.resize(sim::block_count(n_, block) * columns);
    staff_skill_.resize(staff_counts_.size());
    sim::for_blocks(
        n_,
        [&](std::size_t begin, std::size_t end, std::size_t b) {
          std::uint32_t* count = staff_counts_.data() + b * columns;
          double* skill = staff_skill_.data() + b * columns;
          std::fill_n(count, columns, 0u);
          std::fill_n(skill, columns, 0.0);
          for (std::size_t i = begin; i < end; ++i) {
            const auto c = static_cast<std::size_t>(employer_[i] + tally_shift);
            ++count[c];
            skill[c] += skill_[i];
          }
        },
        block);
    const std::size_t blocks = staff_counts_.size() / columns;
    sim::for_blocks(
        P,
        [&](std::size_t begin, std::size_t end, std::size_t) {
          std::fill(members_.begin() + begin, members_.begin() + end, 0u);
          std::fill(effective_.begin() + begin, effective_.begin() + end, 0.0);
          for (std::size_t b = 0; b < blocks; ++b) {
            const std::uint32_t* count = staff_counts_.data() + b * columns + tally_shift;
            const double* skill = staff_skill_.data() + b * columns + tally_shift;
            for (std::size_t q = begin; q < end; ++q) {
              members_[q] += count[q];
              effective_[q] += skill[q];
            }
          }
        },
        producer_block);
  }

  // Blocks of producers for loops over them: ten or so at 10^4 producers, so two threads get
  // near-equal shares.
  static constexpr std::size_t producer_block = 1024;

  // recount_staff()'s blocks: about 2^15 commoners or more, few enough that each block's tallies
  // (12 bytes a producer) stay a small part of its work, and never more than 64.
  std::size_t staff_block_size() const {
    const std::size_t blocks = std::clamp<std::size_t>(
        std::min(n_ >> 15, (std::size_t{1} << 21) / std::max<std::size_t>(producers(), 1)), 1, 64);
    return std::max<std::size_t>(1, (n_ + blocks - 1) / blocks);
  }

  // The staff lists of the producers `listed` (in increasing order): listed[f]'s staff are
  // staff_[staff_offsets_[f]] .. staff_[staff_offsets_[f + 1]], in id order. A stable counting
  // sort from recount_staff()'s tallies (which employer_ must still match; they become write
  // cursors) that moves only their staff.
  void staff_lists(std::span<const std::uint32_t> listed) {
    const std::size_t P = producers(), columns = P + tally_shift, L = listed.size(),
                      block = staff_block_size();
    const std::size_t blocks = staff_counts_.size() / columns;
    staff_offsets_.resize(L + 1);
    list_next_.assign(columns, 0);  // a listed producer's column: where its list starts
    is_listed_.assign(columns, 0);
    std::size_t at = 0;
    for (std::size_t f = 0; f < L; ++f) {
      const std::size_t c = listed[f] + tally_shift;
      is_listed_[c] = 1;
      staff_offsets_[f] = list_next_[c] = at;
      at += members_[listed[f]];
    }
    staff_offsets_[L] = at;
    // Block b's cursor in a listed producer's column: its list's start plus the earlier blocks'
    // counts.
    sim::for_blocks(
        columns,
        [&](std::size_t begin, std::size_t end, std::size_t) {
          for (std::size_t b = 0; b < blocks; ++b) {
            std::uint32_t* count = staff_counts_.data() + b * columns;
            for (std::size_t c = begin; c < end; ++c) {
              const std::uint32_t here = count[c];
              count[c] = static_cast<std::uint32_t>(list_next_[c]);
              list_next_[c] += here;
            }
          }
        },
        producer_block);
    // By chunks that fit in the first-level cache: the listed staff picked out without a branch
    // (a quarter of the commoners in bench/million, at random), then moved to their lists.
    sim::for_blocks(
        n_,
        [&](std::size_t begin, std::size_t end, std::size_t b) {
          std::uint32_t* next = staff_counts_.data() + b * columns;
          constexpr std::size_t chunk = 1024;
          std::array<std::uint32_t, chunk> picked;
          for (std::size_t first = begin; first < end; first += chunk) {
            const std::size_t last = std::min(end, first + chunk);
            std::size_t k = 0;
            for (std::size_t i = first; i < last; ++i) {
              picked[k] = static_cast<std::uint32_t>(i);
              k += is_listed_[static_cast<std::size_t>(employer_[i] + tally_shift)];
            }
            for (std::size_t j = 0; j < k; ++j) {
              const std::uint32_t i = picked[j];
              staff_[next[static_cast<std::size_t>(employer_[i] + tally_shift)]++] = i;
            }
          }
        },
        block);
  }

  // Mean propensity by region (region_pi_), from per-block partials in block order.
  void region_propensity() {
    const std::size_t blocks = sim::block_count(n_);
    block_scratch_.assign(blocks * R_, 0.0);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      double* s = block_scratch_.data() + b * R_;
      for (std::size_t i = begin; i < end; ++i) s[region_[i]] += propensity_[i];
    });
    region_pi_.assign(R_, 0.0);
    for (std::size_t b = 0; b < blocks; ++b)
      for (std::size_t r = 0; r < R_; ++r) region_pi_[r] += block_scratch_[b * R_ + r];
    for (std::size_t r = 0; r < R_; ++r) region_pi_[r] /= static_cast<double>(region_size(r));
  }

  // f(i) for every commoner, in parallel (f may write only to commoner i's own fields).
  template <class F>
  void each_commoner(F&& f) {
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) f(i);
    });
  }

  // A uniformly random order of `ids` (Fisher-Yates) from one addressed generator.
  template <class S>
  void shuffle(std::span<std::uint32_t> ids, S stream, std::int64_t step, std::uint64_t index) const {
    sim::Rng rng{seed_, stream, u(step), index};
    for (std::size_t k = ids.size(); k > 1; --k) std::swap(ids[k - 1], ids[rng.below32(static_cast<std::uint32_t>(k))]);
  }

  // The regional levers now: each region follows the schedules and its overrides until it
  // adopts a neighbour's package, which it then keeps.
  void resolve_packages(std::int64_t step) {
    for (std::size_t r = 0; r < R_; ++r) {
      if (adopted_[r]) continue;
      for (std::size_t l = 0; l < LeverCount; ++l) package_[r][l] = p_.regional[l].at(step);
    }
    for (const auto& o : p_.region_policy)
      if (!adopted_[o.region]) package_[o.region][o.lever] = o.value;
  }

  // ------------------------------------------------------------------ set-up

  void draw_commoners() {
    // The columns are filled side by side, in tasks of 8 bytes a commoner: zeroing 150 bytes a
    // commoner, with the kernel's first touch of each page, takes a tenth of a second on one
    // thread at 10^6 commoners.
    const auto zero = [this](auto& column) { column.assign(n_, {}); };
    const std::function<void()> fill[] = {
        [&] { zero(propensity_); },
        [&] { zero(money_); },
        [&] { zero(gross_income_); },
        [&] { zero(net_income_); },
        [&] { zero(consumption_); },
        [&] { zero(neighbour_mean_); },
        [&] { zero(propensity_next_); },
        [&] { zero(region_), zero(skill_); },
        [&] { zero(care_need_), employer_.assign(n_, unemployed); },
        [&] { zero(staff_), zero(commons_income_); },
        [&] { zero(gig_pay_), zero(coop_part_); },
        [&] { zero(h_wage_), zero(h_gig_); },
        [&] { zero(h_coop_), zero(h_commons_); },
        [&] { zero(h_care_), zero(h_leisure_); },
    };
    sim::run_tasks(fill);
    pool_.reserve(n_);
    switchers_.reserve(n_);
    std::vector<double> skill(n_);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) {
        sim::Rng rng{seed_, Stream::Traits, 0, i};
        region_[i] = static_cast<std::uint32_t>(i % R_);
        skill[i] = rng.lognormal(0.0, p_.skill_sigma);
        propensity_[i] = rng.beta(p_.propensity_alpha, p_.propensity_beta);
        care_need_[i] = static_cast<float>(p_.care_hours +
                                           (rng.bernoulli(p_.dependant_share) ? p_.dependant_care_hours : 0.0));
      }
    });
    const double mean_skill = sim::sum(n_, [&](std::size_t i) { return skill[i]; }) / static_cast<double>(n_);
    each_commoner([&](std::size_t i) { skill_[i] = static_cast<float>(skill[i] / mean_skill); });

    // Owners: a random set of commoners with Pareto-distributed shares summing to 1.
    const std::size_t owners = std::max<std::size_t>(1, sim::top_count(n_, p_.owner_share));
    std::vector<std::uint32_t> order(n_);
    std::iota(order.begin(), order.end(), 0u);
    shuffle(order, Stream::Owners, 0, 0);
    owners_.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(owners));
    std::sort(owners_.begin(), owners_.end());
    owner_share_.resize(owners);
    sim::Rng rng{seed_, Stream::Owners, 0, 1};
    for (auto& o : owner_share_) o = std::pow(rng.u01(), -1.0 / p_.owner_pareto);
    const double total = std::accumulate(owner_share_.begin(), owner_share_.end(), 0.0);
    for (auto& o : owner_share_) o /= total;
  }

  // The opening state is the stationary state of the opening flows: jobs at the natural rate of
  // unemployment, staff equal to expected demand (gig tasks covering their share), each
  // commoner's money where consumption equals disposable income, the income tax that balances
  // the budget, and the co-op bias in the logit that makes households buy what co-ops produce.
  void open_steady_state() {
    const std::size_t J0 = p_.initial_coops();
    resize_producers(K_ + J0);
    for (std::size_t j = 0; j < J0; ++j) {
      coop_region_[j] = static_cast<std::uint32_t>(j / p_.coops_per_region);
      coop_alive_[j] = 1;
    }
    platform_alive_.assign(K_, 1);
    platform_low_.assign(K_, 0);
    pending_dividends_.assign(K_, 0.0);
    pending_investment_.assign(K_, 0.0);
    gig_tasks_.assign(K_, 0.0);
    spending_.assign(K_, 0.0);
    market_share_.resize(K_);
    {
      sim::Rng rng{seed_, Stream::PlatformShares, 0, 0};
      for (auto& s : market_share_) s = rng.gamma(1.0, 1.0);
      const double total = std::accumulate(market_share_.begin(), market_share_.end(), 0.0);
      for (auto& s : market_share_) s /= total;
    }
    set_knowledge(1.0);
    urban_.assign(R_, 1.0);
    region_need_.assign(R_, 0.0);
    for (std::size_t i = 0; i < n_; ++i) region_need_[region_[i]] += care_need_[i];
    jg_by_region_.assign(R_, 0);
    care_coverage_.assign(R_, 0.0);
    resource_ = p_.initial_resource;
    region_balance_.assign(R_, 0.0);
    region_tax_.assign(R_, 0.0);
    region_deficit_.assign(R_, 0.0);
    region_coop_sales_.assign(R_, 0.0);
    region_purchases_.assign(R_, 0.0);
    adopted_.assign(R_, 0);
    package_.assign(R_, Package{});
    resolve_packages(0);
    wage_ = p_.initial_wage;
    hours_now_ = p_.hours(0);
    compute_prices(0);
    spending_ = platform_split();

    // Jobs: public first, then co-op places by region, then platform places by real demand.
    const double n = static_cast<double>(n_);
    const auto public_jobs = static_cast<std::size_t>(std::llround(p_.public_employment * n));
    const auto private_jobs = static_cast<std::size_t>(
        std::llround(std::max(0.0, 1.0 - p_.natural_unemployment - p_.public_employment) * n));
    const auto coop_jobs =
        static_cast<std::size_t>(std::llround(p_.coop_initial_share * static_cast<double>(private_jobs)));
    std::vector<std::size_t> quota(producers(), 0);
    for (std::size_t j = 0; j < J0; ++j) quota[K_ + j] = coop_jobs / J0 + (j < coop_jobs % J0 ? 1 : 0);
    {
      std::vector<double> real(K_);
      double total = 0.0;
      for (std::size_t k = 0; k < K_; ++k) total += real[k] = spending_[k] / price_[k];
      std::size_t given = 0;
      for (std::size_t k = 0; k < K_; ++k) {
        quota[k] = static_cast<std::size_t>(std::floor(real[k] / total * static_cast<double>(private_jobs - coop_jobs)));
        given += quota[k];
      }
      for (std::size_t k = 0; given < private_jobs - coop_jobs; k = (k + 1) % K_, ++given) ++quota[k];
    }
    std::vector<std::uint32_t> order(n_);
    std::iota(order.begin(), order.end(), 0u);
    shuffle(order, Stream::InitialJobs, 0, 0);
    // In that order, the first public_jobs commoners take the public jobs. Each other commoner
    // joins the co-op of its region with the most places left (the first of them on a tie) and,
    // failing that, the first platform with places left. Co-op places are taken round a region's
    // co-ops (those with a place more first), so the k-th of a region's other commoners in the
    // order takes place k of its region's round while there is one, and the m-th of those left
    // over the m-th platform place: a closed form, run by blocks of the order in parallel from
    // how many of each region the earlier blocks hold.
    const std::size_t C = p_.coops_per_region, base = coop_jobs / J0, extra = coop_jobs % J0;
    std::vector<std::size_t> extras(R_), places(R_), platform_end(K_);
    for (std::size_t r = 0; r < R_; ++r) {
      extras[r] = std::min(C, extra > r * C ? extra - r * C : 0);
      places[r] = extras[r] + C * base;
    }
    for (std::size_t k = 0, end = 0; k < K_; ++k) platform_end[k] = end += quota[k];
    const std::span<const std::uint32_t> others =
        std::span<const std::uint32_t>(order).subspan(std::min(public_jobs, n_));
    const std::size_t block = std::size_t{1} << 16, blocks = sim::block_count(others.size(), block);
    // Per block: how many of each region it holds, then the rank its first one of each region
    // has; left_over[b]: how many commoners the blocks before b leave over for the platforms.
    std::vector<std::size_t> first_rank(blocks * R_, 0), left_over(blocks + 1, 0);
    sim::for_blocks(
        others.size(),
        [&](std::size_t begin, std::size_t end, std::size_t b) {
          for (std::size_t k = begin; k < end; ++k) ++first_rank[b * R_ + region_[others[k]]];
        },
        block);
    std::vector<std::size_t> seen(R_, 0);
    for (std::size_t b = 0; b < blocks; ++b) {
      left_over[b + 1] = left_over[b];
      for (std::size_t r = 0; r < R_; ++r) {
        const std::size_t first = seen[r];
        seen[r] += first_rank[b * R_ + r];
        if (seen[r] > places[r]) left_over[b + 1] += seen[r] - std::max(places[r], first);
        first_rank[b * R_ + r] = first;
      }
    }
    sim::for_blocks(std::min(public_jobs, n_),
                    [&](std::size_t begin, std::size_t end, std::size_t) {
                      for (std::size_t k = begin; k < end; ++k) employer_[order[k]] = public_sector;
                    });
    sim::for_blocks(
        others.size(),
        [&](std::size_t begin, std::size_t end, std::size_t b) {
          std::size_t* rank = first_rank.data() + b * R_;  // the next rank in each region
          std::size_t m = left_over[b], platform = 0;
          for (std::size_t k = begin; k < end; ++k) {
            const std::uint32_t i = others[k];
            const std::size_t r = region_[i], place = rank[r]++;
            if (place < places[r]) {
              const std::size_t c = place < extras[r] ? place : (place - extras[r]) % C;
              employer_[i] = static_cast<std::int32_t>(K_ + r * C + c);
              continue;
            }
            while (platform < K_ && platform_end[platform] <= m) ++platform;
            if (platform == K_) continue;  // no place left: unemployed
            employer_[i] = static_cast<std::int32_t>(platform);
            ++m;
          }
        },
        block);
    recount_staff();

    // Flows of the opening month: each producer sells its expected demand, capacity / (1 + buffer).
    const double hours = hours_now_, hourly = wage_ * p_.hourly_factor(0), g = p_.gig_task_share;
    double platform_sales = 0.0, coop_sales = 0.0, output = 0.0;
    for (std::size_t q = 0; q < producers(); ++q) {
      const double staff_output = productivity_of(q) * hours * staff_hours_factor(q) * effective_[q];
      expected_[q] = (is_coop(q) ? staff_output : staff_output / (1.0 - g)) / (1.0 + p_.staff_buffer);
      staff_capacity_[q] = staff_output;
      sales_[q] = price_[q] * expected_[q];
      cash_[q] = sales_[q];
      output += expected_[q];
      (is_coop(q) ? coop_sales : platform_sales) += sales_[q];
    }
    // Incomes, gig work and the balancing income tax, to a fixed point (a few rounds suffice:
    // gig income is a small share of income).
    double tax = 0.2, public_wages = 0.0, profits = 0.0, taxes_from_platforms = 0.0;
    const double benefit = p_.unemployment_benefit.at(0);
    for (int round = 0; round < 4; ++round) {
      each_commoner([&](std::size_t i) {
        const std::int32_t e = employer_[i];
        double pay = 0.0;
        if (e == public_sector || (e >= 0 && !is_coop(static_cast<std::size_t>(e)))) pay = hourly * skill_[i] * hours;
        if (e >= 0 && is_coop(static_cast<std::size_t>(e)))
          pay = sales_[static_cast<std::size_t>(e)] / static_cast<double>(members_[static_cast<std::size_t>(e)]);
        if (round == 0) net_income_[i] = (1.0 - tax) * pay + (e == unemployed ? benefit : 0.0);
        gross_income_[i] = pay;
        commons_income_[i] = static_cast<float>(e >= 0 && is_coop(static_cast<std::size_t>(e)) ? pay : 0.0);
      });
      compute_living_gap();
      each_commoner([&](std::size_t i) { time_use(i, 0); });
      const double paid_out = allocate_gig_tasks(0, nullptr);
      each_commoner([&](std::size_t i) { gross_income_[i] += gig_pay_[i]; });
      public_wages = 0.0;
      profits = 0.0;
      taxes_from_platforms = 0.0;
      double dividends = 0.0;
      for (std::size_t k = 0; k < K_; ++k) {
        const double profit = sales_[k] - hourly * hours * effective_[k] - gig_rate(0) * gig_tasks_[k] * gig_fill_;
        profits += profit;
        const double t = p_.platform_tax.at(0) * std::max(0.0, profit);
        pending_dividends_[k] = p_.payout_ratio * std::max(0.0, profit - t);
        pending_investment_[k] = std::max(0.0, profit - t) - pending_dividends_[k];
        taxes_from_platforms += t;
        dividends += pending_dividends_[k];
      }
      (void)paid_out;
      for (std::size_t o = 0; o < owners_.size(); ++o) gross_income_[owners_[o]] += owner_share_[o] * dividends;
      const double taxable = sim::sum(n_, [&](std::size_t i) { return gross_income_[i]; });
      public_wages = sim::sum(n_, [&](std::size_t i) {
        return employer_[i] == public_sector ? hourly * static_cast<double>(skill_[i]) * hours : 0.0;
      });
      const double benefits = sim::sum(n_, [&](std::size_t i) { return employer_[i] == unemployed ? benefit : 0.0; });
      tax = std::clamp((public_wages + benefits - taxes_from_platforms) / taxable, 0.0, 0.95);
      each_commoner([&](std::size_t i) {
        net_income_[i] = (1.0 - tax) * gross_income_[i] + (employer_[i] == unemployed ? benefit : 0.0);
      });
    }
    income_tax_ = tax;
    each_commoner([&](std::size_t i) {
      const double c0 = p_.subsistence * (1.0 - relief(region_[i]));
      money_[i] = std::max(0.0, ((1.0 - p_.mpc_income) * net_income_[i] - c0) / p_.mpc_wealth);
    });
    // The co-op bias: households' spending on co-ops (consumption = income) matches co-op
    // sales. f(bias) = sum y_i / (1 + exp(a_i - bias)) - sales is increasing in the bias: Newton
    // steps, kept inside a shrinking bracket (bisection when a step leaves it).
    coop_bias_ = solve_coop_bias(coop_sales);
    const double household_spending = sim::sum(n_, [&](std::size_t i) { return net_income_[i]; });
    double hhi = 0.0;
    for (std::size_t k = 0; k < K_; ++k) hhi += (sales_[k] / platform_sales) * (sales_[k] / platform_sales);
    last_ = Flows{};
    last_.platform_sales = platform_sales;
    last_.coop_sales = coop_sales;
    last_.public_wages = public_wages;
    last_.platform_profits = profits;
    last_.hhi = hhi;
    last_.coop_spend_share = coop_sales / household_spending;
    last_.real_output = output;
    output_open_ = output;
    throughput_open_ = p_.resource_pressure * p_.resource_growth / 4.0;
    last_.throughput = throughput_open_;
    {
      double invested = 0.0, platform_price = 0.0;
      for (std::size_t k = 0; k < K_; ++k) {
        invested += pending_investment_[k];
        platform_price += spending_[k] * price_[k];
      }
      invest_real_ = invested / platform_price;
      const auto material = material_by_sector(output, 0.0, invest_real_);
      material_open_ = material.sum();
      for (std::size_t k = 0; k < 6; ++k)
        sector_throughput_[k] = throughput_open_ * material[static_cast<Eigen::Index>(k)] / material_open_;
    }
    for (std::size_t k = 0; k < K_; ++k) {
      const double v = sales_[k] * (1.0 - std::pow(1.0 + knowledge_, -p_.knowledge_elasticity));
      last_.value_captured += v;
    }
    cpi_ = 1.0;
    cpi_base_ = 1.0;
    cpi_base_ = consumer_price();
    // The reference commons hours per capita: the knowledge and urban commons start at their
    // steady state, 1.
    const double commons = sim::sum(n_, [&](std::size_t i) {
      return static_cast<double>(h_commons_[i]) + p_.coop_commons_share * static_cast<double>(h_coop_[i]);
    });
    commons_ref_ = std::max(1e-12, commons / n);
    region_propensity();
  }

  // ------------------------------------------------------------------ prices

  // Unit labour cost W_h / A of a platform; permits add permit_price_ of it to every unit.
  double unit_cost(std::int64_t step) const {
    return wage_ * p_.hourly_factor(step) / (p_.productivity * knowledge_factor());
  }

  void compute_prices(std::int64_t step) {
    const double unit = unit_cost(step);
    for (std::size_t k = 0; k < K_; ++k)
      price_[k] = (1.0 + p_.markup_base + p_.markup_share * market_share_[k] + permit_price_) * unit;
    coop_price_ = ((1.0 + p_.coop_markup) / p_.coop_productivity + permit_price_) * unit;
    for (std::size_t q = K_; q < producers(); ++q) price_[q] = coop_price_;
  }

  double coop_price() const { return coop_price_; }

  // Shares of platform spending: sigma_k^(1 + beta_n) p_k^(-beta_p), normalised over active platforms.
  std::vector<double> platform_split() const {
    std::vector<double> w(K_, 0.0);
    double total = 0.0;
    for (std::size_t k = 0; k < K_; ++k)
      if (platform_alive_[k])
        total += w[k] = std::pow(market_share_[k], 1.0 + p_.network_effect) * std::pow(price_[k], -p_.price_sensitivity);
    for (auto& x : w) x = total > 0 ? x / total : 0.0;
    return w;
  }

  double platform_utility_now() const {
    double mean_price = 0.0, largest = 0.0, shares = 0.0;
    for (std::size_t k = 0; k < K_; ++k) {
      mean_price += market_share_[k] * price_[k];
      shares += market_share_[k];
      largest = std::max(largest, market_share_[k]);
    }
    mean_price /= shares;
    return -p_.price_sensitivity * std::log(mean_price) +
           p_.network_effect * std::log(1.0 + static_cast<double>(K_) * largest);
  }

  // U_p - U_c,i without the commoner's own term: computed once a step.
  double logit_base(double platform_utility, double bias) const {
    return platform_utility + p_.price_sensitivity * std::log(coop_price()) - bias;
  }
  double coop_probability(std::size_t i, double base) const {
    return 1.0 / (1.0 + std::exp(base - p_.ethical_preference * (propensity_[i] - 0.5)));
  }

  // At start-up only: borrows consumption_ (spend's scratch) for the probabilities, computed in
  // parallel and then summed in index order.
  double solve_coop_bias(double target) {
    const double base0 = logit_base(platform_utility_now(), 0.0);
    double lo = -50.0, hi = 50.0, bias = 0.0;
    std::vector<double>& probability = consumption_;
    for (int it = 0; it < 60; ++it) {
      each_commoner([&](std::size_t i) { probability[i] = coop_probability(i, base0 - bias); });
      double f = -target, slope = 0.0;
      for (std::size_t i = 0; i < n_; ++i) {
        const double q = probability[i];
        f += net_income_[i] * q;
        slope += net_income_[i] * q * (1.0 - q);
      }
      if (std::abs(f) <= 1e-13 * std::max(1.0, target)) break;
      (f < 0 ? lo : hi) = bias;
      double next = slope > 0 ? bias - f / slope : 0.5 * (lo + hi);
      if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
      if (next == bias) break;
      bias = next;
    }
    return bias;
  }

  double consumer_price() const {
    double platform_price = 0.0;
    for (std::size_t k = 0; k < K_; ++k) platform_price += spending_[k] * price_[k];
    const double c = last_.coop_spend_share;
    return ((1.0 - c) * platform_price + c * coop_price()) / cpi_base_;
  }

  // ------------------------------------------------------------------ time use and gig tasks

  // Care first (public care and the job guarantee take part of the need; a commoner in paid
  // work gives at most care_capacity), then paid work; a commoner below a living income offers a
  // share of the free time as gig work; commons by propensity; leisure the rest.
  void time_use(std::size_t i, std::int64_t step) {
    const std::int32_t e = employer_[i];
    const double paid = paid_work(e) ? p_.hours(step) : 0.0;
    const bool coop = e >= 0 && is_coop(static_cast<std::size_t>(e));
    const double own_need = care_need_[i] * (1.0 - care_coverage_[region_[i]]);
    const double cap = paid > 0 ? p_.care_capacity : p_.time_budget;
    const double care = std::max(0.0, std::min({own_need, cap, p_.time_budget - paid}));
    const double free = p_.time_budget - care - paid;
    const bool short_of_living = net_income_[i] < living_gap_[region_[i]];
    const double gig = short_of_living ? p_.gig_free_share * free : 0.0;
    const double commons = propensity_[i] * p_.commons_time_share * (free - gig);
    h_care_[i] = static_cast<float>(care);
    h_wage_[i] = static_cast<float>(coop ? 0.0 : paid);
    h_coop_[i] = static_cast<float>(coop ? paid : 0.0);
    h_gig_[i] = static_cast<float>(gig);
    h_commons_[i] = static_cast<float>(commons);
    // The remainder in single precision, so the six columns add up to the budget.
    h_leisure_[i] = static_cast<float>(p_.time_budget) - h_care_[i] - h_wage_[i] - h_coop_[i] - h_gig_[i] - h_commons_[i];
  }

  // Pay per task-hour of skill 1, indexed to the going wage.
  double gig_rate(std::int64_t) const { return p_.gig_task_pay * wage_ / p_.initial_wage; }

  // Platforms' task demand T_k = g x labour need (skill-hours); offers weighted by skill;
  // D = min(T, O) done; each offerer is paid rate x offer x skill x D / O, so the time offered
  // beyond the tasks is unpaid search. Fills gig_pay_, gig_tasks_, gig_fill_, gig_ratio_; moves
  // no money. Returns the total pay.
  double allocate_gig_tasks(std::int64_t step, std::vector<double>* block_totals) {
    double tasks = 0.0;
    for (std::size_t k = 0; k < K_; ++k) {
      gig_tasks_[k] = platform_alive_[k]
                          ? p_.gig_task_share * expected_[k] * (1.0 + p_.staff_buffer) / productivity_of(k)
                          : 0.0;
      tasks += gig_tasks_[k];
    }
    const double offered = sim::sum(n_, [&](std::size_t i) { return static_cast<double>(h_gig_[i]) * skill_[i]; });
    const double done = std::min(tasks, offered);
    gig_fill_ = tasks > 0 ? done / tasks : 0.0;
    gig_ratio_ = offered > 0 ? done / offered : 0.0;
    const double rate = gig_rate(step) * gig_ratio_;
    const std::size_t blocks = sim::block_count(n_);
    std::vector<double> local(blocks, 0.0);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      double total = 0.0;
      for (std::size_t i = begin; i < end; ++i) {
        const double pay = rate * static_cast<double>(h_gig_[i]) * skill_[i];
        gig_pay_[i] = static_cast<float>(pay);
        total += static_cast<double>(gig_pay_[i]);
      }
      local[b] = total;
    });
    if (block_totals) *block_totals = local;
    double total = 0.0;
    for (double x : local) total += x;
    last_.gig_done = done;
    last_.gig_demand = tasks;
    return total;
  }

  // ------------------------------------------------------------------ policy and prices

  void apply_policy(sim::StepContext& c) {
    group_stats_fresh_ = false;
    commoners_money_known_ = false;
    resolve_packages(c.step);
    hours_now_ = p_.hours(c.step);
    if (R_ > 1 && c.step % p_.policy_learning_every == 0) learn_policies(c);
  }

  void set_prices(sim::StepContext& c) {
    compute_prices(c.step);
    spending_ = platform_split();
    cpi_ = consumer_price();
  }

  // ------------------------------------------------------------------ labour market

  double staff_target(std::size_t q) const {
    if (!alive(q)) return 0.0;
    const double need = expected_[q] * (1.0 + p_.staff_buffer) / (productivity_of(q) * hours_now_ * staff_hours_factor(q));
    return is_coop(q) ? need : (1.0 - p_.gig_task_share) * need;
  }

  void hire(std::uint32_t i, std::size_t q) {
    employer_[i] = static_cast<std::int32_t>(q);
    effective_[q] += skill_[i];
    ++members_[q];
  }
  void release(std::uint32_t i) {
    const std::int32_t e = employer_[i];
    if (e >= 0) {
      effective_[static_cast<std::size_t>(e)] -= skill_[i];
      --members_[static_cast<std::size_t>(e)];
    }
    employer_[i] = unemployed;
  }

  void match_labour(sim::StepContext& c) {
    const std::size_t P = producers();
    // The job guarantee is a buffer: its workers are free to take any job every month.
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i)
        if (employer_[i] == job_guarantee) employer_[i] = unemployed;
    });
    recount_staff();

    // Firing: while the staff without the next leaver still exceeds the band. Producers fire
    // only their own staff, each with its own stream: in parallel.
    firing_.clear();
    for (std::size_t q = 0; q < P; ++q)
      if (effective_[q] > staff_target(q) * (1.0 + p_.firing_band))
        firing_.push_back(static_cast<std::uint32_t>(q));
    staff_lists(firing_);
    const auto firing_count = static_cast<std::int64_t>(firing_.size());
#pragma omp parallel for schedule(dynamic, 16)
    for (std::int64_t f = 0; f < firing_count; ++f) {
      const std::size_t q = firing_[static_cast<std::size_t>(f)];
      const double keep = staff_target(q) * (1.0 + p_.firing_band);
      std::span<std::uint32_t> s(staff_.data() + staff_offsets_[f],
                                 staff_offsets_[f + 1] - staff_offsets_[f]);
      shuffle(s, Stream::Firing, c.step, q);
      for (std::uint32_t i : s) {
        if (effective_[q] - skill_[i] <= keep) break;
        release(i);
      }
    }

    // The unemployed in one random order, and by region in that order; platform workers with
    // high propensity who would switch to a co-op this month, by region.
    sim::select_indices(n_, [&](std::size_t i) { return employer_[i] == unemployed; }, pool_, select_scratch_);
    shuffle(pool_, Stream::LabourSearch, c.step, 0);
    by_region(pool_, region_pool_, region_pool_offsets_);
    sim::select_indices(
        n_,
        [&](std::size_t i) {
          const std::int32_t e = employer_[i];
          if (e < 0 || is_coop(static_cast<std::size_t>(e)) || propensity_[i] <= p_.coop_switch_propensity) return false;
          sim::Rng rng{seed_, Stream::CoopSwitch, u(c.step), i};
          return rng.bernoulli(p_.coop_switch_rate);
        },
        switchers_, select_scratch_);
    by_region(switchers_, region_switchers_, region_switcher_offsets_);

    // Hiring: producers in random order; platforms meet the unemployed in the national order,
    // co-ops those of their region, then the region's switchers.
    order_.resize(P);
    std::iota(order_.begin(), order_.end(), 0u);
    shuffle(order_, Stream::LabourSearch, c.step, 1);
    std::size_t cursor = 0;
    std::vector<std::size_t>& local = local_cursor_;
    std::vector<std::size_t>& switch_at = switch_cursor_;
    local.assign(region_pool_offsets_.begin(), region_pool_offsets_.end() - 1);
    switch_at.assign(region_switcher_offsets_.begin(), region_switcher_offsets_.end() - 1);
    for (std::uint32_t q : order_) {
      if (!alive(q)) continue;
      const double want = staff_target(q) * (1.0 - 1e-12);
      if (!is_coop(q)) {
        while (effective_[q] < want && cursor < pool_.size()) {
          const std::uint32_t i = pool_[cursor++];
          if (employer_[i] == unemployed) hire(i, q);
        }
        continue;
      }
      const std::size_t r = coop_region_[q - K_];
      while (effective_[q] < want && local[r] < region_pool_offsets_[r + 1]) {
        const std::uint32_t i = region_pool_[local[r]++];
        if (employer_[i] == unemployed) hire(i, q);
      }
      while (effective_[q] < want && switch_at[r] < region_switcher_offsets_[r + 1]) {
        const std::uint32_t i = region_switchers_[switch_at[r]++];
        const std::int32_t e = employer_[i];
        if (e < 0 || is_coop(static_cast<std::size_t>(e))) continue;
        release(i);
        hire(i, q);
      }
    }

    // Job guarantee: the state employs everyone still unemployed. They are all in the pool
    // (hiring only takes commoners out of it, and a switcher released by a platform is hired at
    // once), so the pool is walked rather than every commoner.
    jg_by_region_.assign(R_, 0);
    if (p_.job_guarantee.at(c.step) != 0.0)
      for (const std::uint32_t i : pool_)
        if (employer_[i] == unemployed) {
          employer_[i] = job_guarantee;
          ++jg_by_region_[region_[i]];
        }
  }

  // Stable counting sort of `ids` by region into `out`, with offsets[r]..offsets[r+1].
  void by_region(const std::vector<std::uint32_t>& ids, std::vector<std::uint32_t>& out,
                 std::vector<std::size_t>& offsets) const {
    offsets.assign(R_ + 1, 0);
    for (std::uint32_t i : ids) ++offsets[region_[i] + 1];
    for (std::size_t r = 0; r < R_; ++r) offsets[r + 1] += offsets[r];
    out.resize(ids.size());
    std::vector<std::size_t> at(offsets.begin(), offsets.end() - 1);
    for (std::uint32_t i : ids) out[at[region_[i]]++] = i;
  }

  // ------------------------------------------------------------------ incomes

  void pay_work_incomes(sim::StepContext& c) {
    const std::size_t P = producers();
    const double hours = hours_now_, hourly = wage_ * p_.hourly_factor(c.step);
    const double wage_rate = hourly * hours;
    const double jg_rate = p_.job_guarantee_wage.at(c.step) * (wage_ / p_.initial_wage) * hours;
    const double benefit = p_.unemployment_benefit.at(c.step) * cpi_;
    // Co-ops repay their loans first (the repaid money is destroyed), then pay out all they
    // hold to their members, equally (equal hours).
    coop_rate_.assign(P, 0.0);
    double repaid = 0.0;
    for (std::size_t q = K_; q < P; ++q) {
      const std::size_t j = q - K_;
      if (!coop_alive_[j]) continue;
      const double instalment = std::clamp(std::min(coop_instalment_[j], coop_loan_[j]), 0.0, std::max(0.0, cash_[q]));
      if (instalment > 0) {
        cash_[q] -= instalment;
        coop_loan_[j] -= instalment;
        repaid += instalment;
      }
      const double spare = std::max(0.0, cash_[q] - coop_capital_[j]);  // capital not yet spent stays
      coop_rate_[q] = members_[q] > 0 ? spare / static_cast<double>(members_[q]) : 0.0;
      coop_weak_[j] = coop_rate_[q] < benefit ? coop_weak_[j] + 1 : 0;
    }
    if (repaid > 0) c.ledger->destroy(repaid, repayment_f_, coops_s_);

    const std::size_t blocks = sim::block_count(n_);
    block_scratch_.assign(blocks * 4, 0.0);  // platform wages, public wages, job guarantee, co-op pay
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      double* s = block_scratch_.data() + b * 4;
      for (std::size_t i = begin; i < end; ++i) {
        const std::int32_t e = employer_[i];
        double pay = 0.0, commons = 0.0;
        if (e == public_sector) {
          pay = wage_rate * skill_[i];
          s[1] += pay;
        } else if (e == job_guarantee) {
          pay = jg_rate;
          s[2] += pay;
        } else if (e >= 0 && !is_coop(static_cast<std::size_t>(e))) {
          pay = wage_rate * skill_[i];
          s[0] += pay;
        } else if (e >= 0) {
          pay = commons = coop_rate_[static_cast<std::size_t>(e)];
          s[3] += pay;
        }
        money_[i] += pay;
        gross_income_[i] = pay;
        commons_income_[i] = static_cast<float>(commons);
      }
    });
    double totals[4] = {0, 0, 0, 0};
    for (std::size_t b = 0; b < blocks; ++b)
      for (int t = 0; t < 4; ++t) totals[t] += block_scratch_[b * 4 + t];
    auto& flows = c.ledger->flows();
    // Producers pay in aggregate; the platform wage bills split the per-commoner total by staff.
    double platform_staff = 0.0;
    for (std::size_t k = 0; k < K_; ++k) platform_staff += effective_[k];
    for (std::size_t k = 0; k < K_; ++k) {
      wage_bill_[k] = platform_staff > 0 ? totals[0] * effective_[k] / platform_staff : 0.0;
      cash_[k] -= wage_bill_[k];
    }
    double coop_paid = 0.0;
    for (std::size_t q = K_; q < P; ++q) {
      const double out = coop_rate_[q] * static_cast<double>(members_[q]);
      cash_[q] -= out;
      coop_paid += out;
    }
    // The per-commoner and per-producer sums differ by rounding only; the co-ops' sector takes
    // the commoners' total so each flow row balances.
    cash_[K_ < P ? first_alive_coop() : 0] += coop_paid - totals[3];
    flows.add(wages_f_, platforms_s_, -totals[0]);
    flows.add(wages_f_, state_s_, -totals[1]);
    flows.add(wages_f_, commoners_s_, totals[0] + totals[1]);
    flows.add(jg_wages_f_, state_s_, -totals[2]);
    flows.add(jg_wages_f_, commoners_s_, totals[2]);
    flows.add(coop_pay_f_, coops_s_, -totals[3]);
    flows.add(coop_pay_f_, commoners_s_, totals[3]);
    state_ -= totals[1] + totals[2];
    national_spending_ = totals[1] + totals[2];
    national_revenue_ = 0.0;
    last_.public_wages = totals[1] + totals[2];

    // Last month's dividends to the owners, in proportion to their shares.
    double dividends = 0.0;
    for (std::size_t k = 0; k < K_; ++k) {
      cash_[k] -= pending_dividends_[k];
      dividends += pending_dividends_[k];
      pending_dividends_[k] = 0.0;
    }
    double paid = 0.0;
    for (std::size_t o = 0; o < owners_.size(); ++o) {
      const double d = owner_share_[o] * dividends;
      money_[owners_[o]] += d;
      gross_income_[owners_[o]] += d;
      paid += d;
    }
    cash_[first_alive_platform()] += dividends - paid;
    flows.add(dividends_f_, platforms_s_, -paid);
    flows.add(dividends_f_, commoners_s_, paid);

    // The wage moves with tightness; the job guarantee is slack, not tightness.
    std::size_t slack = 0;
    for (const std::size_t part : sim::block_partials<std::size_t>(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
           std::size_t count = 0;
           for (std::size_t i = begin; i < end; ++i) count += employer_[i] == unemployed || employer_[i] == job_guarantee;
           return count;
         }))
      slack += part;
    const double u_rate = static_cast<double>(slack) / static_cast<double>(n_);
    wage_ *= 1.0 + p_.wage_flexibility * (p_.natural_unemployment - u_rate);
  }

  std::size_t first_alive_platform() const {
    for (std::size_t k = 0; k < K_; ++k)
      if (platform_alive_[k]) return k;
    return 0;
  }
  std::size_t first_alive_coop() const {
    for (std::size_t q = K_; q < producers(); ++q)
      if (coop_alive_[q - K_]) return q;
    return K_;
  }

  // ------------------------------------------------------------------ time, gig tasks, commons

  // Disposable income below which a commoner of region r is short of a living income.
  void compute_living_gap() {
    living_gap_.resize(R_);
    for (std::size_t r = 0; r < R_; ++r) living_gap_[r] = p_.living_income * cpi_ - relief_value(r);
  }

  void allocate_time(sim::StepContext& c) {
    compute_living_gap();
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) time_use(i, c.step);
    });
  }

  void pay_gig_tasks(sim::StepContext& c) {
    std::vector<double>& totals = gig_block_totals_;
    allocate_gig_tasks(c.step, &totals);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) {
        money_[i] += gig_pay_[i];
        gross_income_[i] += gig_pay_[i];
      }
    });
    double paid = 0.0;
    for (double x : totals) paid += x;
    const double tasks = last_.gig_demand;
    double charged = 0.0;
    for (std::size_t k = 0; k < K_; ++k) {
      const double cost = tasks > 0 ? paid * gig_tasks_[k] / tasks : 0.0;
      cash_[k] -= cost;
      wage_bill_[k] += cost;
      charged += cost;
    }
    cash_[first_alive_platform()] -= paid - charged;
    c.ledger->flows().add(gig_pay_f_, platforms_s_, -paid);
    c.ledger->flows().add(gig_pay_f_, commoners_s_, paid);
  }

  // Commons hours that build the stocks, by region: unpaid commons hours, the co-ops' share of
  // member hours and the commons part of job-guarantee hours, weighted by 1 + gain x regulation.
  void share_commons(sim::StepContext& c) {
    const std::size_t blocks = sim::block_count(n_);
    const double jg_commons = (1.0 - p_.jg_care_share) * hours_now_;
    const std::size_t W = 2 * R_;  // per region: weighted stock hours, unpaid hours
    block_scratch_.assign(blocks * W, 0.0);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      double* s = block_scratch_.data() + b * W;
      for (std::size_t i = begin; i < end; ++i) {
        const std::size_t r = region_[i];
        s[2 * r] += h_commons_[i] + p_.coop_commons_share * h_coop_[i] + (employer_[i] == job_guarantee ? jg_commons : 0.0);
        s[2 * r + 1] += h_commons_[i];
      }
    });
    std::vector<double>& stock_hours = region_a_;
    std::vector<double>& unpaid = region_b_;
    stock_hours.assign(R_, 0.0);
    unpaid.assign(R_, 0.0);
    for (std::size_t b = 0; b < blocks; ++b)
      for (std::size_t r = 0; r < R_; ++r) {
        stock_hours[r] += block_scratch_[b * W + 2 * r];
        unpaid[r] += block_scratch_[b * W + 2 * r + 1];
      }
    double unpaid_total = 0.0;
    for (double h : unpaid) unpaid_total += h;

    // The commons fund pays out what it holds: a share to co-ops by members, the rest to
    // contributors by hours (to co-ops alone when nobody contributes, and the reverse).
    std::size_t coop_members = 0;
    for (std::size_t q = K_; q < producers(); ++q) coop_members += members_[q];
    double to_coops = unpaid_total > 0 ? p_.commons_fund_coop_share * commons_fund_ : commons_fund_;
    if (coop_members == 0) to_coops = 0.0;
    const double to_people = unpaid_total > 0 ? commons_fund_ - to_coops : 0.0;
    auto& flows = c.ledger->flows();
    if (to_coops > 0) {
      double given = 0.0;
      for (std::size_t q = K_; q < producers(); ++q) {
        const double x = to_coops * static_cast<double>(members_[q]) / static_cast<double>(coop_members);
        cash_[q] += x;
        given += x;
      }
      cash_[first_alive_coop()] += to_coops - given;
      commons_fund_ -= to_coops;
      flows.add(commons_pay_f_, fund_s_, -to_coops);
      flows.add(commons_pay_f_, coops_s_, to_coops);
    }
    const double fund_rate = unpaid_total > 0 ? to_people / unpaid_total : 0.0;
    // Partnership grants from each regional state to its contributors, by hours.
    std::vector<double>& grant_rate = region_c_;
    grant_rate.assign(R_, 0.0);
    for (std::size_t r = 0; r < R_; ++r) {
      const double grants = package_[r][PcpGrant] * static_cast<double>(region_size(r)) * cpi_;
      grant_rate[r] = unpaid[r] > 0 ? grants / unpaid[r] : 0.0;
    }
    const std::size_t V = R_ + 1;  // per region grants paid, then fund paid
    block_scratch_.assign(blocks * V, 0.0);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      double* s = block_scratch_.data() + b * V;
      for (std::size_t i = begin; i < end; ++i) {
        if (h_commons_[i] <= 0) continue;
        const double from_fund = fund_rate * h_commons_[i];
        const double grant = grant_rate[region_[i]] * h_commons_[i];
        money_[i] += from_fund + grant;
        gross_income_[i] += from_fund + grant;
        commons_income_[i] += static_cast<float>(from_fund + grant);
        s[region_[i]] += grant;
        s[R_] += from_fund;
      }
    });
    double fund_paid = 0.0;
    region_spending_.assign(R_, 0.0);
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t r = 0; r < R_; ++r) region_spending_[r] += block_scratch_[b * V + r];
      fund_paid += block_scratch_[b * V + R_];
    }
    double grants_paid = 0.0;
    for (std::size_t r = 0; r < R_; ++r) {
      region_balance_[r] -= region_spending_[r];
      grants_paid += region_spending_[r];
    }
    commons_fund_ -= fund_paid;
    flows.add(commons_pay_f_, fund_s_, -fund_paid);
    flows.add(commons_pay_f_, commoners_s_, fund_paid);
    flows.add(pcp_grants_f_, regions_s_, -grants_paid);
    flows.add(pcp_grants_f_, commoners_s_, grants_paid);

    // The stocks: K <- (1 - d) K + d (h / h_ref)^gamma, U_r likewise, boosted by grants.
    double weighted = 0.0;
    for (std::size_t r = 0; r < R_; ++r) {
      const double gain = 1.0 + p_.regulation_commons_gain * package_[r][CommonsRegulation];
      const double per_capita = stock_hours[r] * gain / static_cast<double>(region_size(r));
      weighted += stock_hours[r] * gain;
      const double g = package_[r][PcpGrant];
      const double boost = 1.0 + p_.pcp_effect * g / (g + p_.pcp_half);
      urban_[r] = (1.0 - p_.urban_commons_depreciation) * urban_[r] +
                  p_.urban_commons_depreciation * std::pow(per_capita / commons_ref_, p_.knowledge_returns) * boost;
    }
    const double per_capita = weighted / static_cast<double>(n_);
    set_knowledge((1.0 - p_.knowledge_depreciation) * knowledge_ +
                  p_.knowledge_depreciation *
                      std::pow(per_capita / commons_ref_, p_.knowledge_returns));
  }

  // ------------------------------------------------------------------ taxes and transfers

  void tax_and_transfer(sim::StepContext& c) {
    const std::int64_t t = c.step;
    const double tax_rate = income_tax_;
    const double wealth_rate = p_.wealth_tax.at(t) / 12.0;
    const double threshold = p_.wealth_tax_threshold * cpi_;
    const double benefit = p_.unemployment_benefit.at(t) * cpi_;
    const double basic = p_.basic_income.at(t) * cpi_;
    const double care_pay = p_.care_income.at(t) * cpi_;
    const double dividend = last_.permit_revenue / static_cast<double>(n_);
    const std::size_t blocks = sim::block_count(n_);
    // Per block: income tax, wealth tax, benefits, basic income, care income, permit dividend,
    // then per region: regional tax, residents' gross income.
    const std::size_t W = 6 + 2 * R_;
    block_scratch_.assign(blocks * W, 0.0);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      double* s = block_scratch_.data() + b * W;
      for (std::size_t i = begin; i < end; ++i) {
        const std::size_t r = region_[i];
        const double gross = gross_income_[i];
        const double national = tax_rate * gross;
        const double regional = region_tax_[r] * gross;
        const double wealth = wealth_rate * std::max(0.0, money_[i] - threshold);
        const double benefits = employer_[i] == unemployed ? benefit : 0.0;
        const double care = care_pay * h_care_[i];
        money_[i] += benefits + basic + care + dividend - national - regional - wealth;
        net_income_[i] = gross - national - regional + benefits + basic + care + dividend;
        s[0] += national;
        s[1] += wealth;
        s[2] += benefits;
        s[3] += basic;
        s[4] += care;
        s[5] += dividend;
        s[6 + 2 * r] += regional;
        s[7 + 2 * r] += gross;
      }
    });
    std::array<double, 6> totals{};
    region_revenue_.assign(R_, 0.0);
    region_income_.assign(R_, 0.0);
    for (std::size_t b = 0; b < blocks; ++b) {
      const double* s = block_scratch_.data() + b * W;
      for (std::size_t k = 0; k < 6; ++k) totals[k] += s[k];
      for (std::size_t r = 0; r < R_; ++r) {
        region_revenue_[r] += s[6 + 2 * r];
        region_income_[r] += s[7 + 2 * r];
      }
    }
    auto& flows = c.ledger->flows();
    const auto move = [&](sim::FlowId f, sim::SectorId from, sim::SectorId to, double x) {
      flows.add(f, from, -x);
      flows.add(f, to, x);
    };
    move(income_tax_f_, commoners_s_, state_s_, totals[0]);
    move(wealth_tax_f_, commoners_s_, state_s_, totals[1]);
    move(benefits_f_, state_s_, commoners_s_, totals[2]);
    move(basic_income_f_, state_s_, commoners_s_, totals[3]);
    move(care_income_f_, state_s_, commoners_s_, totals[4]);
    move(throughput_dividend_f_, state_s_, commoners_s_, totals[5]);
    state_ += totals[0] + totals[1] - totals[2] - totals[3] - totals[4] - totals[5];
    national_revenue_ += totals[0] + totals[1];
    national_spending_ += totals[2] + totals[3] + totals[4] + totals[5];
    double regional = 0.0;
    for (std::size_t r = 0; r < R_; ++r) {
      region_balance_[r] += region_revenue_[r];
      regional += region_revenue_[r];
    }
    move(regional_tax_f_, commoners_s_, regions_s_, regional);
  }

  // ------------------------------------------------------------------ co-op founding

  // Per region a Poisson number of foundings, rate lambda_f N_r mean(pi_r)^2 (1 + loans +
  // regulation). Founders are drawn among the region's unemployed, job-guarantee and platform
  // workers with propensity above founder_propensity; the loan fund lends its share of the
  // founding cost (money created), the founders pay the rest equally from their money (a
  // founding fails when one of them cannot). The capital is spent on equipment at the platforms.
  void found_coops(sim::StepContext& c) {
    const std::size_t F = static_cast<std::size_t>(p_.founders);
    std::vector<std::uint32_t>& chosen = founders_;
    auto& flows = c.ledger->flows();
    for (std::size_t r = 0; r < R_; ++r) {
      const auto& pk = package_[r];
      const double N = static_cast<double>(region_size(r));
      const double rate = p_.coop_founding_rate * N * region_pi_[r] * region_pi_[r] *
                          (1.0 + pk[CoopLoans] + pk[CommonsRegulation]);
      sim::Rng rng{seed_, Stream::CoopFounding, u(c.step), r};
      const std::uint64_t foundings = poisson(rng, rate);
      for (std::uint64_t f = 0; f < foundings; ++f) {
        chosen.clear();
        for (std::size_t attempt = 0; attempt < 50 * F && chosen.size() < F; ++attempt) {
          const std::size_t i = r + R_ * static_cast<std::size_t>(rng.below(region_size(r)));
          const std::int32_t e = employer_[i];
          const bool free = e == unemployed || e == job_guarantee || (e >= 0 && !is_coop(static_cast<std::size_t>(e)));
          if (!free || propensity_[i] <= p_.founder_propensity) continue;
          if (std::find(chosen.begin(), chosen.end(), static_cast<std::uint32_t>(i)) != chosen.end()) continue;
          chosen.push_back(static_cast<std::uint32_t>(i));
        }
        if (chosen.size() < F) continue;
        const double cost = p_.founding_cost * cpi_ * (1.0 - p_.regulation_cost_cut * pk[CommonsRegulation]);
        const double loan = pk[CoopLoans] * cost;
        const double own = (cost - loan) / static_cast<double>(F);
        bool able = true;
        for (std::uint32_t i : chosen) able = able && money_[i] >= own;
        if (!able) continue;
        const std::size_t q = new_coop_slot();
        coop_region_[q - K_] = static_cast<std::uint32_t>(r);
        coop_alive_[q - K_] = 1;
        coop_weak_[q - K_] = 0;
        coop_loan_[q - K_] = loan;
        coop_instalment_[q - K_] = loan / p_.loan_term;
        coop_capital_[q - K_] = cost;
        if (loan > 0) c.ledger->create(loan, loans_f_, coops_s_);
        cash_[q] = loan;
        for (std::uint32_t i : chosen) {
          money_[i] -= own;
          cash_[q] += own;
          if (employer_[i] >= 0) release(i);
          hire(i, q);
        }
        flows.add(coop_capital_f_, commoners_s_, -own * static_cast<double>(F));
        flows.add(coop_capital_f_, coops_s_, own * static_cast<double>(F));
        price_[q] = coop_price();
        expected_[q] = productivity_of(q) * hours_now_ * staff_hours_factor(q) * effective_[q] / (1.0 + p_.staff_buffer);
        sales_[q] = 0.0;
        ++founded_;
      }
    }
  }

  // The lowest free co-op slot, or a new one at the end. The search starts at
  // first_free_coop_: no slot below it is free (a slot is freed only by dissolve_and_enter,
  // which moves it down).
  std::size_t new_coop_slot() {
    for (std::size_t j = first_free_coop_; j < coop_alive_.size(); ++j)
      if (!coop_alive_[j] && members_[K_ + j] == 0 && std::abs(cash_[K_ + j]) == 0.0) {
        first_free_coop_ = j + 1;
        return K_ + j;
      }
    resize_producers(producers() + 1);
    first_free_coop_ = coop_alive_.size();
    return producers() - 1;
  }

  // ------------------------------------------------------------------ spending and production

  void spend(sim::StepContext& c) {
    const std::size_t P = producers(), R = R_;
    const double base = logit_base(platform_utility_now(), coop_bias_);
    const std::size_t blocks = sim::block_count(n_);
    std::vector<double>& c0 = region_a_;
    c0.assign(R, 0.0);
    for (std::size_t r = 0; r < R; ++r) c0[r] = p_.subsistence * cpi_ * (1.0 - relief(r));

    // Demand: C_i = min(money, c0_r + alpha_y y + alpha_w (money before income)), split by the
    // logit; per block, platform demand and co-op demand by region.
    const std::size_t W = R + 1, W2 = 2 * R + 1;  // co-op demand by region, platform demand, by region
    block_scratch_.assign(blocks * W2, 0.0);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      double* d = block_scratch_.data() + b * W2;
      for (std::size_t i = begin; i < end; ++i) {
        const double before = money_[i] - net_income_[i];
        const double want = c0[region_[i]] + p_.mpc_income * net_income_[i] + p_.mpc_wealth * std::max(0.0, before);
        consumption_[i] = std::clamp(want, 0.0, std::max(0.0, money_[i]));
        coop_part_[i] = static_cast<float>(coop_probability(i, base));
        d[R] += consumption_[i] * (1.0 - coop_part_[i]);
        d[region_[i]] += consumption_[i] * coop_part_[i];
        d[R + 1 + region_[i]] += consumption_[i] * (1.0 - coop_part_[i]);
      }
    });
    std::vector<double>& coop_demand = region_b_;  // households, then the state's
    coop_demand.assign(R, 0.0);
    region_purchases_.assign(R, 0.0);
    double household_platform = 0.0;
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t r = 0; r < R; ++r) {
        coop_demand[r] += block_scratch_[b * W2 + r];
        region_purchases_[r] += block_scratch_[b * W2 + R + 1 + r];
      }
      household_platform += block_scratch_[b * W2 + R];
    }
    double household_coop = 0.0;
    for (double x : coop_demand) household_coop += x;
    // The regional states: procurement (a share to co-ops) and public care bought from co-ops.
    std::vector<double>& public_coop = region_c_;
    std::vector<double>& public_platform = region_d_;
    public_coop.assign(R, 0.0);
    public_platform.assign(R, 0.0);
    // An hour of care costs what a co-op hour of output sells for.
    const double care_hour_cost = coop_price() * p_.productivity * knowledge_factor() * p_.coop_productivity;
    for (std::size_t r = 0; r < R; ++r) {
      const auto& pk = package_[r];
      const double procurement = pk[Procurement] * static_cast<double>(region_size(r)) * cpi_;
      public_platform[r] = procurement * (1.0 - pk[ProcurementCoopShare]);
      public_coop[r] = procurement * pk[ProcurementCoopShare] + pk[PublicCare] * region_need(r) * care_hour_cost;
    }
    double investment = 0.0;
    for (std::size_t k = 0; k < K_; ++k) investment += pending_investment_[k];
    double capital = 0.0;
    for (double x : coop_capital_) capital += x;

    // Capacity, the co-ops' split of their region's demand (by capacity, plus one worker so an
    // empty co-op can attract demand and hire), and each producer's fill ratio.
    for (std::size_t q = 0; q < P; ++q) {
      staff_capacity_[q] = productivity_of(q) * hours_now_ * staff_hours_factor(q) * effective_[q];
      const double gig = is_coop(q) ? 0.0 : productivity_of(q) * gig_tasks_[q] * gig_fill_;
      capacity_scratch(q) = alive(q) ? staff_capacity_[q] + gig : 0.0;
    }
    std::vector<double>& weight_total = region_e_;
    weight_total.assign(R, 0.0);
    const double one_worker = p_.productivity * knowledge_factor() * p_.coop_productivity * hours_now_ *
                              (1.0 - p_.coop_commons_share);
    for (std::size_t q = K_; q < P; ++q)
      if (alive(q)) weight_total[coop_region_[q - K_]] += capacity_scratch(q) + one_worker;
    double public_platform_total = 0.0;
    for (double x : public_platform) public_platform_total += x;
    const double platform_total = household_platform + public_platform_total + investment + capital;
    std::vector<double>& region_fill = region_f_;
    region_fill.assign(R, 0.0);
    for (std::size_t q = 0; q < P; ++q) {
      if (!alive(q)) {
        split_[q] = demand_[q] = fill_[q] = 0.0;
        continue;
      }
      if (is_coop(q)) {
        const std::size_t r = coop_region_[q - K_];
        split_[q] = (capacity_scratch(q) + one_worker) / weight_total[r];
        demand_[q] = (coop_demand[r] + public_coop[r]) * split_[q];
      } else {
        split_[q] = spending_[q];
        demand_[q] = platform_total * split_[q];
      }
      fill_[q] = demand_[q] > 0 ? std::min(1.0, price_[q] * capacity_scratch(q) / demand_[q]) : 0.0;
      if (is_coop(q)) region_fill[coop_region_[q - K_]] += split_[q] * fill_[q];
    }
    double platform_fill = 0.0;
    for (std::size_t k = 0; k < K_; ++k) platform_fill += split_[k] * fill_[k];

    // Payments: each buyer pays what its providers can supply; rationed buyers keep the rest.
    block_scratch_.assign(blocks * W, 0.0);
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      double* d = block_scratch_.data() + b * W;
      for (std::size_t i = begin; i < end; ++i) {
        const double to_platforms = consumption_[i] * (1.0 - coop_part_[i]) * platform_fill;
        const double to_coops = consumption_[i] * coop_part_[i] * region_fill[region_[i]];
        money_[i] -= to_platforms + to_coops;
        d[R] += to_platforms;
        d[region_[i]] += to_coops;
      }
    });
    std::vector<double>& coop_pool = region_g_;
    coop_pool.assign(R, 0.0);
    double platform_pool = 0.0;
    for (std::size_t b = 0; b < blocks; ++b) {
      for (std::size_t r = 0; r < R; ++r) coop_pool[r] += block_scratch_[b * W + r];
      platform_pool += block_scratch_[b * W + R];
    }
    auto& flows = c.ledger->flows();
    const auto move = [&](sim::FlowId f, sim::SectorId from, sim::SectorId to, double x) {
      flows.add(f, from, -x);
      flows.add(f, to, x);
    };
    double households_to_coops = 0.0;
    for (double x : coop_pool) households_to_coops += x;
    move(purchases_f_, commoners_s_, platforms_s_, platform_pool);
    move(purchases_f_, commoners_s_, coops_s_, households_to_coops);
    double public_total = 0.0;
    for (std::size_t r = 0; r < R; ++r) {
      const double to_platforms = public_platform[r] * platform_fill;
      const double to_coops = public_coop[r] * region_fill[r];
      region_balance_[r] -= to_platforms + to_coops;
      region_spending_[r] += to_platforms + to_coops;
      region_purchases_[r] += coop_demand[r] + public_coop[r] + public_platform[r];
      coop_pool[r] += to_coops;
      platform_pool += to_platforms;
      move(procurement_f_, regions_s_, platforms_s_, to_platforms);
      move(procurement_f_, regions_s_, coops_s_, to_coops);
      public_total += to_platforms + to_coops;
      care_real_ += coop_price() > 0 ? package_[r][PublicCare] * region_need(r) * care_hour_cost * region_fill[r] / coop_price() : 0.0;
      // Care delivered this month covers the need next month, with the job guarantee's care hours.
      care_coverage_[r] = pk_care_coverage(r, public_coop[r] > 0 ? region_fill[r] : 0.0, c.step);
    }
    // Investment: retained profits and new co-ops' capital bought from the platforms.
    double invested = 0.0;
    for (std::size_t k = 0; k < K_; ++k) {
      const double x = pending_investment_[k] * platform_fill;
      cash_[k] -= x;
      pending_investment_[k] -= x;
      invested += x;
    }
    move(investment_f_, platforms_s_, platforms_s_, invested);
    double equipment = 0.0;
    for (std::size_t q = K_; q < P; ++q) {
      const double x = coop_capital_[q - K_] * platform_fill;
      cash_[q] -= x;
      coop_capital_[q - K_] -= x;
      equipment += x;
    }
    move(investment_f_, coops_s_, platforms_s_, equipment);
    platform_pool += invested + equipment;
    double platform_price = 0.0;
    for (std::size_t k = 0; k < K_; ++k) platform_price += split_[k] * price_[k];
    invest_real_ = platform_price > 0 ? (invested + equipment) / platform_price : 0.0;
    care_real_ = 0.0;

    // The pools go to the producers: each receives its demand times its fill.
    std::fill(sales_.begin(), sales_.end(), 0.0);
    double given = 0.0;
    for (std::size_t k = 0; k < K_; ++k) {
      sales_[k] = platform_fill > 0 ? platform_pool * split_[k] * fill_[k] / platform_fill : 0.0;
      given += sales_[k];
    }
    sales_[first_alive_platform()] += platform_pool - given;
    std::vector<double>& coop_given = region_a_;
    coop_given.assign(R, 0.0);
    for (std::size_t q = K_; q < P; ++q) {
      if (!alive(q)) continue;
      const std::size_t r = coop_region_[q - K_];
      sales_[q] = region_fill[r] > 0 ? coop_pool[r] * split_[q] * fill_[q] / region_fill[r] : 0.0;
      coop_given[r] += sales_[q];
    }
    region_coop_sales_.assign(R, 0.0);
    for (std::size_t q = K_; q < P; ++q)
      if (alive(q)) {
        const std::size_t r = coop_region_[q - K_];
        if (coop_given[r] != coop_pool[r]) {
          sales_[q] += coop_pool[r] - coop_given[r];
          coop_given[r] = coop_pool[r];
        }
        region_coop_sales_[r] += sales_[q];
      }
    for (std::size_t q = 0; q < P; ++q) cash_[q] += sales_[q];

    // Throughput permits: every unit sold carries permit_price x unit cost, paid to the state
    // and returned next month as an equal dividend.
    const double permit = permit_price_ * unit_cost(c.step);
    double permits = 0.0, platform_permits = 0.0, output = 0.0;
    for (std::size_t q = 0; q < P; ++q) {
      const double real = price_[q] > 0 ? sales_[q] / price_[q] : 0.0;
      output += real;
      const double x = permit * real;
      cash_[q] -= x;
      permits += x;
      if (!is_coop(q)) {
        platform_permits += x;
        wage_bill_[q] += x;
      }
      expected_[q] = (1.0 - p_.expectation_weight) * expected_[q] +
                     p_.expectation_weight * (price_[q] > 0 ? demand_[q] / price_[q] : 0.0);
    }
    move(permits_f_, platforms_s_, state_s_, platform_permits);
    move(permits_f_, coops_s_, state_s_, permits - platform_permits);
    state_ += permits;
    national_revenue_ += permits;
    last_.permit_revenue = permits;
    last_.real_output = output;
    const double spend_total = household_platform + household_coop;
    last_.coop_spend_share = spend_total > 0 ? household_coop / spend_total : 0.0;
  }

  double& capacity_scratch(std::size_t q) { return fill_capacity_[q]; }

  double region_need(std::size_t r) const { return region_need_[r]; }

  // Share of the region's care need met publicly next month: care bought from co-ops (as far
  // as they could deliver) and the care part of job-guarantee hours.
  double pk_care_coverage(std::size_t r, double delivered, std::int64_t) const {
    const double need = region_need(r);
    if (need <= 0) return 0.0;
    const double bought = package_[r][PublicCare] * delivered;
    const double jg = p_.jg_care_share * hours_now_ * static_cast<double>(jg_by_region_[r]) / need;
    return std::min(1.0, bought + jg);
  }

  // ------------------------------------------------------------------ profits, throughput, the state

  // Materials extracted by sector: final demand y (private real output by the demand shares,
  // public care to care, investment and co-op equipment to goods) through the Leontief inverse,
  // at the efficiency ((1 + K)/2)^e that the knowledge commons gives.
  Eigen::VectorXd material_by_sector(double real_output, double care, double investment) const {
    Eigen::VectorXd y(6);
    const double priv = std::max(0.0, real_output - care - investment);
    for (std::size_t k = 0; k < 6; ++k) y[static_cast<Eigen::Index>(k)] = priv * p_.demand_shares[k];
    y[4] += care;
    y[2] += investment;
    return io_.material(y, std::pow((1.0 + knowledge_) / 2.0, p_.material_efficiency));
  }

  void settle_profits(sim::StepContext& c) {
    const std::int64_t t = c.step;
    const double tax_rate = p_.platform_tax.at(t);
    const bool reciprocity = p_.reciprocity(t);
    const double commons_part = 1.0 - std::pow(1.0 + knowledge_, -p_.knowledge_elasticity);
    auto& flows = c.ledger->flows();
    double platform_sales = 0.0, profits = 0.0, hhi = 0.0, captured = 0.0, fees = 0.0, taxes = 0.0;
    for (std::size_t k = 0; k < K_; ++k) platform_sales += sales_[k];
    for (std::size_t k = 0; k < K_; ++k) {
      if (!platform_alive_[k]) continue;
      // Licences: the value attributable to the commons; under reciprocity a fee of it goes to
      // the commons fund.
      const double attributable = sales_[k] * commons_part;
      const double fee = reciprocity ? p_.licence_fee.at(t) * attributable : 0.0;
      cash_[k] -= fee;
      commons_fund_ += fee;
      fees += fee;
      captured += attributable - fee;
      const double profit = sales_[k] - wage_bill_[k] - fee;
      profits += profit;
      const double tax = tax_rate * std::max(0.0, profit);
      cash_[k] -= tax;
      taxes += tax;
      const double after_tax = std::max(0.0, profit - tax);
      pending_dividends_[k] += p_.payout_ratio * after_tax;
      pending_investment_[k] += (1.0 - p_.payout_ratio) * after_tax;
      const double share = platform_sales > 0 ? sales_[k] / platform_sales : 0.0;
      hhi += share * share;
      market_share_[k] = (1.0 - p_.share_adjustment) * market_share_[k] + p_.share_adjustment * share;
      platform_low_[k] = market_share_[k] < p_.platform_exit_share ? platform_low_[k] + 1 : 0;
    }
    flows.add(licence_fees_f_, platforms_s_, -fees);
    flows.add(licence_fees_f_, fund_s_, fees);
    flows.add(platform_tax_f_, platforms_s_, -taxes);
    flows.add(platform_tax_f_, state_s_, taxes);
    state_ += taxes;
    national_revenue_ += taxes;
    double coop_sales = 0.0;
    for (std::size_t q = K_; q < producers(); ++q) coop_sales += sales_[q];
    last_.platform_sales = platform_sales;
    last_.coop_sales = coop_sales;
    last_.platform_profits = profits;
    last_.hhi = hhi;
    last_.value_captured = captured;
    last_.licence_fees = fees;

    // Throughput: real output through the material intensity, which falls as K grows; the
    // resource regrows logistically (as in cpr) and is drawn down.
    const auto material = material_by_sector(last_.real_output, care_real_, invest_real_);
    const double total = material.sum();
    const double wanted = throughput_open_ * total / material_open_;
    const double taken = std::min(wanted, resource_);
    for (std::size_t k = 0; k < 6; ++k) sector_throughput_[k] = total > 0 ? taken * material[static_cast<Eigen::Index>(k)] / total : 0.0;
    resource_ = std::clamp(resource_ + p_.resource_growth * resource_ * (1.0 - resource_) - taken, 0.0, 1.0);
    last_.throughput = taken;
    const double cap = p_.throughput_cap.at(t);
    permit_price_ = cap > 0 ? std::max(0.0, permit_price_ + p_.permit_adjustment * (taken / (cap * throughput_open_) - 1.0))
                            : 0.0;

    // Co-financing: the national state pays its share of the regions' lever spending.
    double cofinancing = 0.0;
    for (std::size_t r = 0; r < R_; ++r) {
      const double x = p_.national_cofinancing * region_spending_[r];
      region_balance_[r] += x;
      region_revenue_[r] += x;
      cofinancing += x;
    }
    state_ -= cofinancing;
    national_spending_ += cofinancing;
    flows.add(cofinancing_f_, state_s_, -cofinancing);
    flows.add(cofinancing_f_, regions_s_, cofinancing);

    // Fiscal rules: the national income tax and each regional tax move toward their targets.
    const double gdp = platform_sales + coop_sales + last_.public_wages;
    const double national_deficit = national_spending_ - national_revenue_;
    if (gdp > 0)
      income_tax_ = std::clamp(income_tax_ + p_.fiscal_adjustment * (national_deficit / gdp - p_.deficit_target.at(t)),
                               0.0, 0.95);
    double deficit = national_deficit;
    for (std::size_t r = 0; r < R_; ++r) {
      region_deficit_[r] = region_spending_[r] - region_revenue_[r];
      deficit += region_deficit_[r];
      if (region_income_[r] > 0)
        region_tax_[r] = std::clamp(region_tax_[r] + p_.fiscal_adjustment * (region_deficit_[r] / region_income_[r] -
                                                                             package_[r][RegionalDeficit]),
                                    0.0, 0.95);
    }
    last_.deficit = deficit;
  }

  // ------------------------------------------------------------------ co-op dissolution, platform entry and exit

  void dissolve_and_enter(sim::StepContext& c) {
    const std::size_t P = producers();
    closing_.assign(P, 0);
    bool any = false;
    for (std::size_t q = K_; q < P; ++q)
      if (coop_alive_[q - K_] && coop_weak_[q - K_] >= p_.dissolution_months) closing_[q] = any = true;
    std::size_t alive_platforms = 0;
    for (std::size_t k = 0; k < K_; ++k) alive_platforms += platform_alive_[k];
    for (std::size_t k = 0; k < K_; ++k)
      if (platform_alive_[k] && platform_low_[k] >= p_.platform_exit_months && alive_platforms > 1) {
        closing_[k] = any = true;
        --alive_platforms;
      }
    auto& flows = c.ledger->flows();
    if (any) {
      // What a closing producer holds goes to its members (a co-op) or to the owners (a
      // platform, with its pending dividends); co-op loans still due are written off.
      std::vector<double>& share = closing_share_;
      share.assign(P, 0.0);
      for (std::size_t q = 0; q < P; ++q)
        if (closing_[q] && members_[q] > 0 && is_coop(q)) share[q] = cash_[q] / static_cast<double>(members_[q]);
      // Their members take their shares and leave, in parallel (the shares summed by blocks, in
      // block order); the closing producers are left with no staff.
      double to_members = 0.0;
      for (const double part :
           sim::block_partials<double>(n_, [&](std::size_t begin, std::size_t end, std::size_t) {
             double paid = 0.0;
             for (std::size_t i = begin; i < end; ++i) {
               const std::int32_t e = employer_[i];
               if (e < 0 || !closing_[static_cast<std::size_t>(e)]) continue;
               const double x = share[static_cast<std::size_t>(e)];
               money_[i] += x;
               paid += x;
               employer_[i] = unemployed;
             }
             return paid;
           }))
        to_members += part;
      for (std::size_t q = 0; q < P; ++q)
        if (closing_[q]) {
          members_[q] = 0;
          effective_[q] = 0.0;
        }
      double from_coops = 0.0, to_region = 0.0, from_platforms = 0.0;
      for (std::size_t q = 0; q < P; ++q) {
        if (!closing_[q]) continue;
        if (is_coop(q)) {
          const std::size_t j = q - K_;
          const double held = cash_[q];
          if (share[q] == 0.0) {
            region_balance_[coop_region_[j]] += held;
            to_region += held;
          } else {
            from_coops += held;
          }
          cash_[q] = 0.0;
          written_off_ += coop_loan_[j];
          coop_loan_[j] = coop_instalment_[j] = coop_capital_[j] = 0.0;
          coop_alive_[j] = 0;
          first_free_coop_ = std::min(first_free_coop_, j);
          coop_weak_[j] = 0;
          ++dissolved_;
        } else {
          from_platforms += cash_[q];
          cash_[q] = 0.0;
          pending_dividends_[q] = pending_investment_[q] = 0.0;
          platform_alive_[q] = 0;
          platform_low_[q] = 0;
          market_share_[q] = 0.0;
        }
        expected_[q] = staff_capacity_[q] = sales_[q] = 0.0;
      }
      // Rounding between the members' shares and the co-ops' cash stays with the members' sector.
      money_[0] += from_coops - to_members;
      flows.add(dissolution_f_, coops_s_, -(from_coops + to_region));
      flows.add(dissolution_f_, commoners_s_, from_coops);
      flows.add(dissolution_f_, regions_s_, to_region);
      double paid = 0.0;
      for (std::size_t o = 0; o < owners_.size(); ++o) {
        const double d = owner_share_[o] * from_platforms;
        money_[owners_[o]] += d;
        paid += d;
      }
      money_[owners_[0]] += from_platforms - paid;
      flows.add(dividends_f_, platforms_s_, -from_platforms);
      flows.add(dividends_f_, commoners_s_, from_platforms);
      normalise_shares();
    }
    // Entry: an empty platform slot is taken with probability platform_entry_rate a month.
    std::size_t slot = K_;
    for (std::size_t k = 0; k < K_ && slot == K_; ++k)
      if (!platform_alive_[k]) slot = k;
    if (slot < K_) {
      sim::Rng rng{seed_, Stream::PlatformEntry, u(c.step), 0};
      if (rng.bernoulli(p_.platform_entry_rate)) {
        double expected = 0.0;
        for (std::size_t k = 0; k < K_; ++k) {
          expected += expected_[k];
          market_share_[k] *= 1.0 - p_.platform_entry_share;
        }
        platform_alive_[slot] = 1;
        platform_low_[slot] = 0;
        market_share_[slot] = p_.platform_entry_share;
        expected_[slot] = p_.platform_entry_share * expected;
        normalise_shares();
      }
    }
  }

  void normalise_shares() {
    double total = 0.0;
    for (std::size_t k = 0; k < K_; ++k) total += market_share_[k];
    if (total > 0)
      for (auto& s : market_share_) s /= total;
  }

  // ------------------------------------------------------------------ propensity

  // pi_i <- pi_i + nu (m_i - pi_i) + epsilon pays_i (1 - pi_i) + noise, in [0, 1]; m_i the mean
  // propensity of i's neighbours (norms); commoning pays for co-op members and for those with at
  // least experience_threshold of their gross income from the commons.
  void update_propensity(sim::StepContext& c) {
    neighbour_norms();
    const double noise_half_width = std::sqrt(3.0) * p_.propensity_noise;
    // The last phase, which moves no money, also sums the commoners' money for the conservation
    // check, in sim::sum's blocks and order (the same bits as summing it afresh), sparing it a
    // pass over every commoner.
    block_scratch_.assign(sim::block_count(n_), 0.0);
    // One generator per block of commoners (block boundaries depend only on n, never on the
    // threads), drawn in index order: a quarter of the Philox calls of one per commoner.
    sim::for_blocks(n_, [&](std::size_t begin, std::size_t end, std::size_t b) {
      sim::Rng rng{seed_, Stream::PropensityNoise, u(c.step), b};
      double money = 0.0;
      for (std::size_t i = begin; i < end; ++i) money += money_[i];
      block_scratch_[b] = money;
      for (std::size_t i = begin; i < end; ++i) {
        const std::int32_t e = employer_[i];
        const bool member = e >= 0 && is_coop(static_cast<std::size_t>(e));
        const bool pays = member || (gross_income_[i] > 0 &&
                                     commons_income_[i] >= p_.experience_threshold * gross_income_[i]);
        double x = propensity_[i] + p_.norm_influence * (neighbour_mean_[i] - propensity_[i]) +
                   (pays ? p_.experience_influence * (1.0 - propensity_[i]) : 0.0);
        // Uniform noise with standard deviation propensity_noise: one draw, no transcendental.
        if (p_.propensity_noise > 0) x += noise_half_width * (2.0 * rng.u01() - 1.0);
        propensity_next_[i] = std::clamp(x, 0.0, 1.0);
      }
    });
    commoners_money_ = 0.0;
    for (const double m : block_scratch_) commoners_money_ += m;
    commoners_money_known_ = true;
    propensity_.swap(propensity_next_);
    region_propensity();  // reuses block_scratch_
  }

  // The norms each commoner sees: the mean propensity of its neighbours in the social network
  // (a small world inside each region with a few links across; network.hpp).
  void neighbour_norms() { network_->neighbour_mean(propensity_, neighbour_mean_); }

  // ------------------------------------------------------------------ policy learning

  // Every policy_learning_every months each region compares its well-being with the cities it
  // is linked to (a ring, plus policy_long_links long links) and, with probability
  // policy_learning_rate, adopts the package of the best one that does better by more than the
  // relative margin (policy_learning.hpp: simultaneous, success-biased imitation).
  void learn_policies(sim::StepContext& c) {
    std::vector<double> wellbeing(R_);
    const GroupStats stats = group_stats(/*wellbeing_only=*/true);
    for (std::size_t r = 0; r < R_; ++r) wellbeing[r] = this->wellbeing(stats.regions[r]);
    const auto source = choose_policy_sources(wellbeing, cities_, p_.policy_learning_margin,
                                              p_.policy_learning_rate, seed_, u(c.step));
    std::vector<PolicyPackage> packages(R_);
    for (std::size_t r = 0; r < R_; ++r)
      for (std::size_t l = 0; l < LeverCount; ++l) packages[r].set(lever_names[l], package_[r][l]);
    adopt_policies(source, packages);
    for (std::size_t r = 0; r < R_; ++r) {
      if (source[r] == r) continue;
      for (std::size_t l = 0; l < LeverCount; ++l) package_[r][l] = packages[r].at(lever_names[l]);
      adopted_[r] = 1;
    }
  }

  // ------------------------------------------------------------------ members

  Params p_;
  std::uint64_t seed_;
  std::size_t n_, R_, K_;
  sim::Ledger* ledger_;
  std::unique_ptr<Network> network_;  // the commoners' social network (4 x degree bytes each)
  GroupStats group_stats_;           // made by measure(), for measure_regions() of the same state
  bool group_stats_fresh_ = false;   // ... until the next step or restore
  double commoners_money_ = 0.0;     // the commoners' money summed by update_propensity(), ...
  bool commoners_money_known_ = false;  // ... valid until the next step or restore
  RegionAdjacency cities_;            // which cities compare their well-being
  ::models::economy::Throughput io_{IoTable::standard()};
  std::array<double, 6> sector_throughput_{};
  double material_open_ = 1.0, care_real_ = 0.0, invest_real_ = 0.0;
  // Commoners (columns). Drawn from the seed:
  std::vector<std::uint32_t> region_;
  std::vector<float> skill_, care_need_;
  std::vector<std::uint32_t> owners_;
  std::vector<double> owner_share_;
  // Commoners' state:
  std::vector<double> money_, propensity_, gross_income_, net_income_;
  std::vector<std::int32_t> employer_;
  std::vector<float> commons_income_, gig_pay_;
  std::vector<float> h_wage_, h_gig_, h_coop_, h_commons_, h_care_, h_leisure_;
  // Producers: platforms 0..K-1, then co-op slots.
  std::vector<double> cash_, expected_, price_, sales_, staff_capacity_, effective_, wage_bill_;
  std::vector<std::uint32_t> members_;
  std::vector<double> market_share_, pending_dividends_, pending_investment_, gig_tasks_;
  std::vector<std::int32_t> platform_low_;
  std::vector<std::uint8_t> platform_alive_;
  std::vector<std::uint32_t> coop_region_;
  std::vector<std::int32_t> coop_weak_;
  std::vector<double> coop_loan_, coop_instalment_, coop_capital_;
  std::vector<std::uint8_t> coop_alive_;
  // The national state, the regional states and the commons.
  double state_ = 0.0, commons_fund_ = 0.0;
  std::vector<double> region_balance_, region_tax_, region_deficit_, urban_, care_coverage_, region_need_;
  std::vector<double> region_coop_sales_, region_purchases_;
  std::vector<Package> package_;
  std::vector<std::uint8_t> adopted_;
  double wage_ = 0.0, cpi_ = 1.0, cpi_base_ = 1.0, income_tax_ = 0.0, coop_bias_ = 0.0, coop_price_ = 0.0;
  double permit_price_ = 0.0, knowledge_ = 1.0, knowledge_factor_ = 1.0, resource_ = 1.0,
         hours_now_ = 0.0;
  double throughput_open_ = 0.0, output_open_ = 1.0, commons_ref_ = 1.0;
  double gig_fill_ = 0.0, gig_ratio_ = 0.0, written_off_ = 0.0;
  std::uint64_t founded_ = 0, dissolved_ = 0;
  std::size_t first_free_coop_ = 0;  // new_coop_slot() searches from here
  Flows last_;
  // Scratch within a step, kept to be reused.
  // consumption_ (spend), neighbour_mean_ and propensity_next_ (update_propensity) are filled
  // afresh by their phase each step before they are read, so group_stats() borrows
  // propensity_next_ for the gig pay rates.
  std::vector<double> consumption_, neighbour_mean_, propensity_next_, block_scratch_, spending_, region_pi_;
  std::vector<float> coop_part_;
  std::vector<std::uint32_t> staff_, pool_, region_pool_, switchers_, region_switchers_, order_, founders_;
  std::vector<std::vector<std::uint32_t>> select_scratch_;  // per-block lists (sim::select_indices)
  // recount_staff()'s tallies by block and producer (members, skill), which staff_lists() turns
  // into write cursors; the producers firing this month (match_labour); staff_lists()' marks of
  // the listed producers and its cursors by producer.
  std::vector<std::uint32_t> staff_counts_, firing_;
  std::vector<double> staff_skill_;
  std::vector<std::uint8_t> is_listed_;
  std::vector<std::size_t> list_next_;
  std::vector<std::size_t> staff_offsets_, region_pool_offsets_, region_switcher_offsets_, local_cursor_,
      switch_cursor_, jg_by_region_;
  std::vector<double> coop_rate_, demand_, fill_, split_, fill_capacity_, closing_share_, gig_block_totals_;
  std::vector<std::uint8_t> closing_;
  std::vector<double> region_a_, region_b_, region_c_, region_d_, region_e_, region_f_, region_g_;
  std::vector<double> region_spending_, region_revenue_, region_income_, living_gap_;
  double national_spending_ = 0.0, national_revenue_ = 0.0;
  sim::SectorId commoners_s_, platforms_s_, coops_s_, state_s_, regions_s_, fund_s_;
  sim::FlowId wages_f_, coop_pay_f_, gig_pay_f_, jg_wages_f_, purchases_f_, procurement_f_, investment_f_,
      income_tax_f_, regional_tax_f_, wealth_tax_f_, platform_tax_f_, benefits_f_, basic_income_f_, care_income_f_,
      dividends_f_, licence_fees_f_, commons_pay_f_, pcp_grants_f_, permits_f_, throughput_dividend_f_,
      coop_capital_f_, loans_f_, repayment_f_, dissolution_f_, cofinancing_f_;
};

}  // namespace

double largest_time_budget_error(const sim::Model& model) {
  const auto* economy = dynamic_cast<const Economy*>(&model);
  if (economy == nullptr) throw std::invalid_argument("not an economy model");
  return economy->largest_time_budget_error();
}

double largest_employment_identity_error(const sim::Model& model) {
  const auto* economy = dynamic_cast<const Economy*>(&model);
  if (economy == nullptr) throw std::invalid_argument("not an economy model");
  return economy->largest_employment_identity_error();
}

sim::ModelSpec spec() {
  sim::ModelSpec s;
  s.name = "economy";
  s.summary = "Commoners, co-ops, platforms, the commons and the partner state, monthly";
  s.params = parameters();
  s.series = series();
  s.region_series = region_series();
  s.region_count = [](const sim::ParamValues& p) { return static_cast<std::size_t>(p.integer("economy.regions")); };
  s.snapshot_fields = snapshot_fields();
  s.phase_names = {"apply_policy",     "set_prices",  "match_labour", "pay_work_incomes",   "allocate_time",
                   "pay_gig_tasks",    "share_commons", "tax_and_transfer", "found_coops", "spend",
                   "settle_profits",   "dissolve_and_enter", "update_propensity"};
  s.streams = {{"economy.Traits", static_cast<std::uint64_t>(Stream::Traits)},
               {"economy.InitialJobs", static_cast<std::uint64_t>(Stream::InitialJobs)},
               {"economy.Owners", static_cast<std::uint64_t>(Stream::Owners)},
               {"economy.PlatformShares", static_cast<std::uint64_t>(Stream::PlatformShares)},
               {"economy.LabourSearch", static_cast<std::uint64_t>(Stream::LabourSearch)},
               {"economy.Firing", static_cast<std::uint64_t>(Stream::Firing)},
               {"economy.CoopSwitch", static_cast<std::uint64_t>(Stream::CoopSwitch)},
               {"economy.CoopFounding", static_cast<std::uint64_t>(Stream::CoopFounding)},
               {"economy.PropensityNoise", static_cast<std::uint64_t>(Stream::PropensityNoise)},
               {"economy.PlatformEntry", static_cast<std::uint64_t>(Stream::PlatformEntry)},
               {"economy.NetworkLinks", static_cast<std::uint64_t>(NetworkStream::Links)},
               {"economy.PolicyAdoption", static_cast<std::uint64_t>(PolicyStream::Adoption)},
               {"economy.CityLinks", static_cast<std::uint64_t>(PolicyStream::CityLinks)}};
  s.sectors = {"commoners", "platforms", "coops", "state", "regions", "commons_fund"};
  s.flow_types = {"wages",      "coop_pay",     "gig_pay",       "job_guarantee_wages", "purchases",
                  "procurement", "investment",  "income_tax",    "regional_tax",        "wealth_tax",
                  "platform_tax", "benefits",   "basic_income",  "care_income",         "dividends",
                  "licence_fees", "commons_pay", "pcp_grants",   "permits",             "throughput_dividend",
                  "coop_capital", "loans",      "loan_repayment", "dissolution",         "cofinancing"};
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
    if (p.integer("economy.commoners") < p.integer("economy.regions"))
      throw sim::InputError("economy.commoners = " + p.text("economy.commoners") +
                            " is fewer than economy.regions = " + p.text("economy.regions"));
    parse_region_policy(p.text("economy.region_policy"), static_cast<std::size_t>(p.integer("economy.regions")));
    double shares = 0.0;
    for (const char* k : {"food", "housing", "goods", "digital", "care", "energy"})
      shares += p.real(std::string("economy.demand_share_") + k);
    if (shares <= 0.0) throw sim::InputError("economy.demand_share_*: the six demand shares are all 0");
    const auto R = static_cast<double>(p.integer("economy.regions"));
    const double ring = R < 2 ? 0.0 : (R == 2 ? 1.0 : R);
    if (static_cast<double>(p.integer("economy.policy_long_links")) > R * (R - 1.0) / 2.0 - ring)
      throw sim::InputError("economy.policy_long_links = " + p.text("economy.policy_long_links") +
                            " exceeds the pairs of cities not already on the ring (" +
                            sim::format_real(R * (R - 1.0) / 2.0 - ring) + ")");
  };
  s.make = [](const sim::ModelInit& init) { return std::make_unique<Economy>(init); };
  return s;
}

}  // namespace models::economy
