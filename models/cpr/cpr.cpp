// Common-pool resource under governance regimes (docs/models/cpr.md).
//
// Fishery mode. P patches, each a logistic stock S with harvest by the harvesters based there:
//   dS/dt = r S (1 - S/K) - q E S,   E = sum_i skill_i e_i   (Gordon 1954; Schaefer 1957)
// With effort held constant over a step the equation is a logistic with rate r - qE, so the stock
// and the step's catch integral I = int S dt are computed exactly; effort is updated between steps
// (first-order operator splitting: the fixed points are exact, trajectories converge as O(dt)).
// Harvester i catches q skill_i e_i I, sells it at p to buyers outside the commons and pays
// c e_i dt for its effort. Regimes (schedulable):
//   open_access  effort grows or shrinks with the profit per unit effort pq skill S - c; entry and
//                exit by profitability. Aims at nothing: ends at the bionomic equilibrium S = c/(pq).
//   market       a cap on the catch (the rent-maximising rate F_MEY times the assessed stock),
//                individual transferable quotas leased on a market that clears each step.
//   state        a total allowable catch split equally among licensed harvesters, enforced by
//                inspections paid from a levy; harvesters weigh the gain from cheating against
//                the expected fine.
//   commons      a membership boundary, a quota chosen by the members (median of their
//                proposals from the stock each observes), monitoring by members, graduated
//                sanctions and conflict resolution (Ostrom 1990).
// Appropriation-game mode: the Ostrom, Gardner & Walker (1994) laboratory game with learning
// players and an optional communication treatment.
#include "models/cpr/cpr.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/rng.hpp"
#include "sim/stats.hpp"

namespace models::cpr {
namespace {

enum class Stream : std::uint64_t {
  Traits = 200,       // skill and cooperativeness of each harvester, drawn once
  Membership = 201,   // who belongs to the commons (the boundary), drawn once
  Decision = 202,     // entry, exit and the choice to over-harvest, per harvester and step
  Enforcement = 203,  // inspections, detection by monitors, conflict resolution
  Assessment = 204,   // the regulator's and the members' noisy view of the stock
  Game = 205,         // the appropriation game's choices
};

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

enum class Mode { Fishery, Game };
enum class Regime : int { OpenAccess = 0, Market = 1, State = 2, Commons = 3 };
enum class Target { Mey, Msy };

const std::vector<std::string> regime_names = {"open_access", "market", "state", "commons"};

struct Params {
  Mode mode;
  sim::Schedule regime;
  std::size_t patches;
  double r, K, initial_stock, q, p, c, dt;
  std::size_t harvesters;
  double max_effort, initial_active, initial_effort, entry_effort;
  double skill_sd, cooperativeness, cooperativeness_spread;
  double adjustment_rate, entry_rate, exit_rate;
  Target market_cap, state_target;
  sim::Schedule cap_factor;
  double review_interval, assessment_error, observation_error;
  double members_share, proposal_bias, monitoring_effort, monitoring_efficiency;
  double fine, state_fine, sanction_escalation, conflict_resolution, resentment, norm_recovery;
  double decision_noise, state_legitimacy, licence_utilisation, inspection_rate, inspection_cost, levy_rate;
  double initial_wealth;
  std::size_t game_players;
  int game_endowment;
  sim::Schedule game_communication;
  double game_keep, game_learning_rate, game_noise;

  explicit Params(const sim::ParamValues& v)
      : mode(v.choice("cpr.mode") == "appropriation_game" ? Mode::Game : Mode::Fishery),
        regime(v.schedule("cpr.regime")),
        patches(static_cast<std::size_t>(v.integer("cpr.patches"))),
        r(v.real("cpr.growth_rate")),
        K(v.real("cpr.capacity")),
        initial_stock(v.real("cpr.initial_stock")),
        q(v.real("cpr.catchability")),
        p(v.real("cpr.price")),
        c(v.real("cpr.effort_cost")),
        dt(v.real("cpr.dt")),
        harvesters(static_cast<std::size_t>(v.integer("cpr.harvesters"))),
        max_effort(v.real("cpr.max_effort")),
        initial_active(v.real("cpr.initial_active")),
        initial_effort(v.real("cpr.initial_effort")),
        entry_effort(v.real("cpr.entry_effort")),
        skill_sd(v.real("cpr.skill_sd")),
        cooperativeness(v.real("cpr.cooperativeness")),
        cooperativeness_spread(v.real("cpr.cooperativeness_spread")),
        adjustment_rate(v.real("cpr.adjustment_rate")),
        entry_rate(v.real("cpr.entry_rate")),
        exit_rate(v.real("cpr.exit_rate")),
        market_cap(v.choice("cpr.market_cap") == "msy" ? Target::Msy : Target::Mey),
        state_target(v.choice("cpr.state_target") == "msy" ? Target::Msy : Target::Mey),
        cap_factor(v.schedule("cpr.cap_factor")),
        review_interval(v.real("cpr.review_interval")),
        assessment_error(v.real("cpr.assessment_error")),
        observation_error(v.real("cpr.observation_error")),
        members_share(v.real("cpr.members_share")),
        proposal_bias(v.real("cpr.proposal_bias")),
        monitoring_effort(v.real("cpr.monitoring_effort")),
        monitoring_efficiency(v.real("cpr.monitoring_efficiency")),
        fine(v.real("cpr.fine")),
        state_fine(v.real("cpr.state_fine")),
        sanction_escalation(v.real("cpr.sanction_escalation")),
        conflict_resolution(v.real("cpr.conflict_resolution")),
        resentment(v.real("cpr.resentment")),
        norm_recovery(v.real("cpr.norm_recovery")),
        decision_noise(v.real("cpr.decision_noise")),
        state_legitimacy(v.real("cpr.state_legitimacy")),
        licence_utilisation(v.real("cpr.licence_utilisation")),
        inspection_rate(v.real("cpr.inspection_rate")),
        inspection_cost(v.real("cpr.inspection_cost")),
        levy_rate(v.real("cpr.levy_rate")),
        initial_wealth(v.real("cpr.initial_wealth")),
        game_players(static_cast<std::size_t>(v.integer("cpr.game_players"))),
        game_endowment(static_cast<int>(v.integer("cpr.game_endowment"))),
        game_communication(v.schedule("cpr.game_communication")),
        game_keep(v.real("cpr.game_keep_propensity")),
        game_learning_rate(v.real("cpr.game_learning_rate")),
        game_noise(v.real("cpr.game_noise")) {}

  Regime regime_at(std::int64_t step) const { return static_cast<Regime>(std::lround(regime.at(step))); }

  // Bionomic (open-access) stock c/(pq) and the rent-maximising (MEY) and maximum-sustainable-yield
  // harvest rates F = qE, per patch. F_MEY = (r/2)(1 - c/(pqK)) (Clark 1990, ch. 2).
  double bionomic_stock() const { return c / (p * q); }
  double f_mey() const { return std::max(0.0, 0.5 * r * (1.0 - bionomic_stock() / K)); }
  double f_msy() const { return 0.5 * r; }
  double f_target(Target t) const { return t == Target::Mey ? f_mey() : f_msy(); }
};

sim::ParamTable parameters() {
  using sim::ParamSpec;
  const std::string gordon = "Gordon 1954, J. Political Economy 62; Schaefer 1957; Clark 1990, Mathematical Bioeconomics";
  const std::string ostrom = "Ostrom 1990, Governing the Commons, ch. 3 (design principles)";
  const std::string ogw = "Ostrom, Gardner & Walker 1994, Rules, Games and Common-Pool Resources, ch. 5-7";
  return {
      ParamSpec::choice("cpr.mode", {"fishery", "appropriation_game"}, "fishery")
          .describe("fishery: harvesters on logistic stocks under cpr.regime; appropriation_game: the "
                    "8-player laboratory CPR game with learning players")
          .cite(ogw),
      ParamSpec::choice("cpr.regime", regime_names, "open_access")
          .allow_schedule()
          .describe("Governance: open_access (free entry), market (transferable quotas), state (top-down "
                    "catch limit, inspections), commons (Ostrom's design principles); schedulable")
          .cite(ostrom),
      ParamSpec::integer("cpr.patches", 1)
          .with_unit("patches")
          .range(1, 100000)
          .describe("Number of resource patches, each a logistic stock; harvester i fishes patch i mod patches"),
      ParamSpec::real("cpr.growth_rate", 0.5)
          .with_unit("1/time")
          .range(1e-6, 100)
          .describe("Intrinsic growth rate r of the logistic stock")
          .cite(gordon),
      ParamSpec::real("cpr.capacity", 1000.0)
          .with_unit("t")
          .range(1e-6, 1e12)
          .describe("Carrying capacity K of each patch")
          .cite(gordon),
      ParamSpec::real("cpr.initial_stock", 1000.0)
          .with_unit("t")
          .range(1e-9, 1e12)
          .describe("Stock of each patch at the start"),
      ParamSpec::real("cpr.catchability", 0.001)
          .with_unit("1/(effort time)")
          .range(1e-12, 1e6)
          .describe("Catchability q: a unit of effort at skill 1 catches q S per unit time")
          .cite(gordon),
      ParamSpec::real("cpr.price", 10.0)
          .with_unit("credits/t")
          .range(1e-9, 1e9)
          .describe("Price p paid by buyers outside the commons per tonne landed")
          .cite(gordon),
      ParamSpec::real("cpr.effort_cost", 3.0)
          .with_unit("credits/(effort time)")
          .range(0, 1e9)
          .describe("Cost c of one unit of effort for one unit of time (fuel, gear, labour), paid outside")
          .cite(gordon),
      ParamSpec::real("cpr.dt", 0.1)
          .with_unit("time")
          .range(1e-6, 10)
          .describe("Length of a step; the stock is integrated exactly over a step at constant effort"),
      ParamSpec::integer("cpr.harvesters", 100)
          .with_unit("harvesters")
          .range(1, 100000000)
          .describe("Pool of potential harvesters (who may enter under open access; licence or quota "
                    "holders under the other regimes)"),
      ParamSpec::real("cpr.max_effort", 5.0)
          .with_unit("effort")
          .range(1e-9, 1e9)
          .describe("Largest effort one harvester can put in (its boat's capacity)"),
      ParamSpec::real("cpr.initial_active", 0.2)
          .range(0, 1)
          .describe("Share of the pool fishing at the start (the first ones by id)"),
      ParamSpec::real("cpr.initial_effort", 1.0)
          .with_unit("effort")
          .range(0, 1e9)
          .describe("Effort of each harvester fishing at the start"),
      ParamSpec::real("cpr.entry_effort", 0.5)
          .with_unit("effort")
          .range(1e-9, 1e9)
          .describe("Effort of a harvester when it enters under open access"),
      ParamSpec::real("cpr.skill_sd", 0.0)
          .range(0, 3)
          .describe("Spread of skill: skill_i = exp(sd z - sd^2/2), z standard normal (mean 1); "
                    "skill multiplies catchability"),
      ParamSpec::real("cpr.cooperativeness", 0.6)
          .range(0, 1)
          .describe("Mean cooperativeness: the share of the gain from breaking a rule a harvester "
                    "forgoes because it holds the rule legitimate"),
      ParamSpec::real("cpr.cooperativeness_spread", 0.4)
          .range(0, 1)
          .describe("Cooperativeness is uniform on mean +- spread/2, clipped to [0, 1]"),
      ParamSpec::real("cpr.adjustment_rate", 1.0)
          .with_unit("1/time")
          .range(0, 1e3)
          .describe("Open access: effort grows as e *= exp(rate dt (pq skill S - c)/c), up to max_effort"),
      ParamSpec::real("cpr.entry_rate", 1.0)
          .with_unit("1/time")
          .range(0, 1e3)
          .describe("Open access: an idle harvester enters with probability 1 - exp(-rate dt max(0, pq skill S - c)/c)"),
      ParamSpec::real("cpr.exit_rate", 1.0)
          .with_unit("1/time")
          .range(0, 1e3)
          .describe("Open access: an active harvester exits with probability 1 - exp(-rate dt max(0, c - pq skill S)/c)"),
      ParamSpec::choice("cpr.market_cap", {"mey", "msy"}, "mey")
          .describe("Market: the catch cap is F S_assessed with F the rent-maximising (mey) or the "
                    "maximum-sustainable-yield (msy) harvest rate, times cap_factor")
          .cite("Clark 1990, Mathematical Bioeconomics; Grafton 1996, Rev. Fish Biol. Fish. 6"),
      ParamSpec::choice("cpr.state_target", {"mey", "msy"}, "mey")
          .describe("State: the total allowable catch aims at maximum economic yield (mey) or maximum sustainable "
                    "yield (msy, F = r/2: no better than open access on stock when c/(pq) >= K/2), times cap_factor")
          .cite("Schaefer 1957; Clark 1990"),
      ParamSpec::real("cpr.cap_factor", 1.0)
          .range(0, 10)
          .allow_schedule()
          .describe("Multiplies the harvest rate behind every cap and quota (market, state, commons); 1 aims at the target"),
      ParamSpec::real("cpr.review_interval", 1.0)
          .with_unit("time")
          .range(1e-6, 1e6)
          .describe("Time between revisions of the catch limit (market cap, state TAC, commons quota)"),
      ParamSpec::real("cpr.assessment_error", 0.1)
          .range(0, 3)
          .describe("Market and state: standard deviation of the log error of the regulator's stock assessment"),
      ParamSpec::real("cpr.observation_error", 0.1)
          .range(0, 3)
          .describe("Commons: standard deviation of the log error of each member's view of the stock; "
                    "the quota is the median of the members' proposals")
          .cite(ostrom),
      ParamSpec::real("cpr.members_share", 0.6)
          .range(0, 1)
          .describe("Commons: share of the pool inside the membership boundary (drawn once); outsiders hold no quota")
          .cite(ostrom + ", principle 1"),
      ParamSpec::real("cpr.proposal_bias", 0.2)
          .range(0, 10)
          .describe("Commons: a member proposes the harvest rate F_MEY (1 + bias (1 - cooperativeness)) times the stock it sees")
          .cite(ostrom + ", principles 2-3"),
      ParamSpec::real("cpr.monitoring_effort", 0.02)
          .with_unit("effort")
          .range(0, 1e9)
          .describe("Commons: effort each member spends monitoring, paid at the effort cost")
          .cite(ostrom + ", principle 4"),
      ParamSpec::real("cpr.monitoring_efficiency", 200.0)
          .with_unit("1/(effort time)")
          .range(0, 1e9)
          .describe("Commons: a violator is detected in a step with probability 1 - exp(-efficiency monitoring_effort dt)")
          .cite(ostrom + ", principle 4"),
      ParamSpec::real("cpr.fine", 1.5)
          .range(0, 1e6)
          .describe("Commons: fine per tonne caught beyond the quota, as a multiple of the price, at a first offence")
          .cite(ostrom + ", principle 5"),
      ParamSpec::real("cpr.state_fine", 3.0)
          .range(0, 1e6)
          .describe("State: fine per tonne caught beyond the quota, as a multiple of the price, the same at every offence"),
      ParamSpec::real("cpr.sanction_escalation", 1.0)
          .range(0, 1e6)
          .describe("Commons: graduated sanctions, the fine grows by this multiple of the first fine per earlier offence")
          .cite(ostrom + ", principle 5"),
      ParamSpec::real("cpr.conflict_resolution", 0.8)
          .range(0, 1)
          .describe("Commons: probability that a sanction's dispute is settled in a low-cost arena, so "
                    "the sanctioned member's cooperativeness is not eroded (the state has none)")
          .cite(ostrom + ", principle 6"),
      ParamSpec::real("cpr.resentment", 0.2)
          .range(0, 1)
          .describe("Loss of cooperativeness after a sanction whose dispute is not settled"),
      ParamSpec::real("cpr.norm_recovery", 0.1)
          .with_unit("1/time")
          .range(0, 1e3)
          .describe("Rate at which cooperativeness returns to the harvester's own level"),
      ParamSpec::real("cpr.decision_noise", 0.05)
          .range(1e-6, 100)
          .describe("Logit noise of the choice to over-harvest, as a share of the price: P = 1/(1 + exp(-(gain - expected fine)/(noise p)))"),
      ParamSpec::real("cpr.state_legitimacy", 0.5)
          .range(0, 1)
          .describe("State: weight of cooperativeness in the choice to comply with a rule made top-down (1 in the commons)")
          .cite(ostrom + ", principle 3"),
      ParamSpec::real("cpr.licence_utilisation", 0.8)
          .range(0.01, 1)
          .describe("State: licences go to just enough boats (the first by id on each patch) to take the catch "
                    "limit at this share of their capacity; the unlicensed cannot land fish")
          .cite("Clark 1990, ch. 8 (limited entry)"),
      ParamSpec::real("cpr.inspection_rate", 2.0)
          .with_unit("1/time")
          .range(0, 1e6)
          .describe("State: each licensed harvester that fishes is inspected in a step with probability 1 - exp(-rate dt)"),
      ParamSpec::real("cpr.inspection_cost", 0.5)
          .with_unit("credits")
          .range(0, 1e9)
          .describe("State: cost of one inspection, paid by the state to inspectors outside the commons"),
      ParamSpec::real("cpr.levy_rate", 0.05)
          .range(0, 1)
          .describe("State: share of each harvester's sales paid to the state as a levy that funds inspections"),
      ParamSpec::real("cpr.initial_wealth", 100.0)
          .with_unit("credits")
          .range(0, 1e12)
          .describe("Money of each harvester (or player) at the start"),
      ParamSpec::integer("cpr.game_players", 8)
          .with_unit("players")
          .range(2, 100000)
          .describe("Appropriation game: number of players (8 in the experiments)")
          .cite(ogw),
      ParamSpec::integer("cpr.game_endowment", 25)
          .with_unit("tokens")
          .range(1, 100000)
          .describe("Appropriation game: tokens per player and round (10 or 25 in the experiments)")
          .cite(ogw),
      ParamSpec::boolean("cpr.game_communication", false)
          .allow_schedule()
          .describe("Appropriation game: players talk before each round and agree to invest 36/n tokens each (the group optimum); schedulable")
          .cite(ogw + ", ch. 7"),
      ParamSpec::real("cpr.game_keep_propensity", 0.98)
          .range(0, 1)
          .describe("Appropriation game: probability that a player keeps the agreement in a round with communication"),
      ParamSpec::real("cpr.game_learning_rate", 0.3)
          .range(1e-6, 1)
          .describe("Appropriation game: weight of the last round in a player's belief about the others' tokens"),
      ParamSpec::real("cpr.game_noise", 0.002)
          .with_unit("dollars")
          .range(1e-9, 1e3)
          .describe("Appropriation game: logit noise of the best response (a deviation of d tokens from it costs 0.0025 d^2)"),
  };
}

enum Series : std::size_t {
  Stock, Effort, Harvest, Rent, ActiveHarvesters, Compliance, Sanctions, QuotaPrice, MonitoringCost,
  IncomeGini, MeanTokens, Efficiency, SeriesCount
};

std::vector<sim::SeriesSpec> series() {
  return {
      {"stock", "t", "Resource stock summed over patches (NaN in the appropriation game)"},
      {"effort", "effort", "Fishing effort summed over harvesters in the step, monitoring not included (NaN in the game)"},
      {"harvest", "t/time", "Catch landed in the step by all harvesters, divided by dt (NaN in the game)"},
      {"rent", "credits/time",
       "Resource rent: sales minus effort costs of all harvesters in the step, divided by dt; "
       "fines, levies and quota payments are transfers and not part of it (NaN in the game)"},
      {"active_harvesters", "harvesters", "Harvesters with positive effort in the step (players in the game)"},
      {"compliance", "1",
       "Share of the harvesters fishing under a quota who kept within it in the step (1 under market: landings are "
       "checked; NaN under open access); in the game with communication the share of players keeping the agreement, "
       "NaN without"},
      {"sanctions", "sanctions", "Sanctions imposed in the step (0 under open access and market, NaN in the game)"},
      {"quota_price", "credits/t", "Market-clearing lease price of quota, catch-weighted over patches (NaN outside the market regime)"},
      {"monitoring_cost", "credits/time",
       "Cost of enforcement in the step divided by dt: members' monitoring effort (commons) or inspections (state); 0 "
       "otherwise, NaN in the game"},
      {"income_gini", "1",
       "Gini coefficient of net income over the pool of harvesters (or players) since the previous record: sales "
       "minus effort costs, fines, levy and quota payments plus fund dividends and quota lease income; NaN when the "
       "pool's net income is not clearly positive (below 1 % of the sum of absolute incomes, as at the open-access "
       "equilibrium)"},
      {"mean_tokens", "tokens", "Appropriation game: mean tokens a player invested in the round (NaN in the fishery)"},
      {"efficiency", "1",
       "Appropriation game: group net return (23X - 0.25X^2)/100 - 0.05X over its maximum 3.24 at X = 36 (NaN in the fishery)"},
  };
}

// A balance that carries its rounding error, for the account of the world outside the commons:
// it takes every sale and cost, grows without bound, and would otherwise drift from the sum of
// the harvesters' balances by more than the ledger's tolerance in long runs.
struct CompensatedBalance {
  double hi = 0.0;
  double lo = 0.0;
  void add(double x) {
    const double s = hi + x;
    const double bp = s - hi;
    lo += (hi - (s - bp)) + (x - bp);
    hi = s;
  }
  void add(const CompensatedBalance& other) {
    add(other.hi);
    add(other.lo);
  }
  double value() const { return hi + lo; }
};

// Exact solution of dS/dt = a S - b S^2 over a step of length T from S0 > 0, and int_0^T S dt.
struct LogisticStep {
  double stock;
  double integral;
};
LogisticStep logistic_step(double s0, double a, double b, double T) {
  if (s0 <= 0.0) return {0.0, 0.0};
  // g = (e^{aT} - 1)/a, written to stay accurate as a -> 0.
  const double g = std::abs(a * T) < 1e-8 ? T * (1.0 + 0.5 * a * T) : std::expm1(a * T) / a;
  const double denominator = 1.0 + b * s0 * g;
  const double stock = s0 * std::exp(a * T) / denominator;
  const double integral = b > 0.0 ? std::log1p(b * s0 * g) / b : s0 * g;
  return {stock, integral};
}

// Per-block results of a pass over harvesters, merged in block order.
struct BlockTotals {
  std::vector<double> weighted_effort;  // per patch, sum of skill * effort
  double effort = 0.0;
  double harvest = 0.0;
  double revenue = 0.0;
  double effort_cost = 0.0;
  double monitoring = 0.0;
  double inspections = 0.0;
  std::uint64_t active = 0;
  std::uint64_t under_quota = 0;
  std::uint64_t violators = 0;
  std::uint64_t sanctions = 0;
  CompensatedBalance outside;  // change of the outside world's balance
  double state = 0.0;          // change of the state's balance
  double fund = 0.0;           // change of the commons fund's balance
  double exchange = 0.0;       // change of the quota exchange's balance
  void reset(std::size_t patches) {
    *this = BlockTotals{};
    weighted_effort.assign(patches, 0.0);
  }
};

class Cpr final : public sim::Model {
 public:
  explicit Cpr(const sim::ModelInit& init)
      : p_(init.params),
        seed_(init.seed),
        harvesters_sector_(init.ledger.sector("harvesters")),
        outside_sector_(init.ledger.sector("outside")),
        state_sector_(init.ledger.sector("state")),
        fund_sector_(init.ledger.sector("commons_fund")),
        sales_(init.ledger.flow("sales")),
        effort_costs_(init.ledger.flow("effort_costs")),
        quota_trade_(init.ledger.flow("quota_trade")),
        levy_(init.ledger.flow("levy")),
        fines_(init.ledger.flow("fines")),
        inspection_(init.ledger.flow("inspection")),
        monitoring_(init.ledger.flow("monitoring")),
        dividends_(init.ledger.flow("fund_dividends")),
        game_payoffs_(init.ledger.flow("game_payoffs")) {
    if (p_.mode == Mode::Fishery)
      init_fishery();
    else
      init_game();
    blocks_.resize(sim::block_count(n()));
    tallies_.assign(blocks_.size(), init.ledger.blank_flows());
    for (auto& b : blocks_) b.reset(p_.patches);
    init.ledger.open(money_in_accounts());
  }

  std::vector<sim::Phase> phases() override {
    return {
        {"set_rules", "apply the regime: boundary, catch limits revised from the assessed or observed stock, quotas",
         [this](sim::StepContext& c) { set_rules(c); }},
        {"trade_quota", "market: quota leases clear at one price per patch", [this](sim::StepContext& c) { trade_quota(c); }},
        {"decide_effort", "each harvester chooses its effort: entry, exit and profit under open access, comply or over-harvest under a quota",
         [this](sim::StepContext& c) { decide_effort(c); }},
        {"harvest", "stocks grow and are fished over the step; catches sold outside, effort paid outside",
         [this](sim::StepContext& c) { harvest(c); }},
        {"enforce", "levy, inspections or monitoring, graduated sanctions, conflict resolution, norms recover",
         [this](sim::StepContext& c) { enforce(c); }},
        {"play_round", "appropriation game: players invest tokens, are paid and update their beliefs",
         [this](sim::StepContext& c) { play_round(c); }},
    };
  }

  void measure(std::span<double> v) override {
    std::fill(v.begin(), v.end(), nan);
    // The Gini is only meaningful when the pool earns a clearly positive net income; at the
    // open-access equilibrium incomes sum to about zero and it is left undefined (NaN).
    const auto sorted = sim::sorted_copy(income_);
    double total = 0.0, absolute = 0.0;
    for (double x : sorted) {
      total += x;
      absolute += std::abs(x);
    }
    v[IncomeGini] = total > 0.01 * absolute ? sim::gini_sorted(sorted) : nan;
    std::fill(income_.begin(), income_.end(), 0.0);
    if (p_.mode == Mode::Game) {
      v[ActiveHarvesters] = static_cast<double>(p_.game_players);
      v[MeanTokens] = last_.mean_tokens;
      v[Efficiency] = last_.efficiency;
      v[Compliance] = last_.compliance;
      return;
    }
    v[Stock] = 0.0;
    for (double s : stock_) v[Stock] += s;
    v[Effort] = last_.effort;
    v[Harvest] = last_.harvest;
    v[Rent] = last_.rent;
    v[ActiveHarvesters] = last_.active;
    v[Compliance] = last_.compliance;
    v[Sanctions] = last_.sanctions;
    v[QuotaPrice] = last_.quota_price;
    v[MonitoringCost] = last_.monitoring_cost;
  }

  double time_at(std::int64_t step) const override {
    return p_.mode == Mode::Game ? static_cast<double>(step) : static_cast<double>(step) * p_.dt;
  }

  // The columns of doubles a checkpoint saves, by name (const for save, mutable for restore).
  template <class Self>
  static auto double_columns(Self& self) {
    using Column = decltype(&self.skill_);
    return std::array<std::pair<const char*, Column>, 16>{{{"skill", &self.skill_},
                                                           {"base_coop", &self.base_coop_},
                                                           {"coop", &self.coop_},
                                                           {"effort", &self.effort_},
                                                           {"allowed", &self.allowed_},
                                                           {"quota", &self.quota_},
                                                           {"holding", &self.holding_},
                                                           {"use", &self.use_},
                                                           {"revenue", &self.revenue_},
                                                           {"excess", &self.excess_},
                                                           {"wealth", &self.wealth_},
                                                           {"income", &self.income_},
                                                           {"belief", &self.belief_},
                                                           {"stock", &self.stock_},
                                                           {"tac", &self.tac_},
                                                           {"quota_price", &self.quota_price_}}};
  }

  // Every column and account; per-block buffers are scratch, rebuilt each step.
  void save(sim::State& s) const override {
    for (const auto& [name, column] : double_columns(*this)) s.put(std::string("agents.") + name, *column);
    s.put("agents.member", member_);
    s.put("agents.violating", violating_);
    s.put("agents.offences", offences_);
    s.put("agents.tokens", tokens_);
    s.put("patches.size", patch_size_);
    s.put("patches.members", patch_members_);
    s.put("patches.licences", patch_licences_);
    s.put("outside.prices", std::vector<double>{outside_.hi, outside_.lo});
    s.put("government.accounts", std::vector<double>{state_, fund_, exchange_});
    s.put("government.regimes", std::vector<std::int32_t>{static_cast<std::int32_t>(regime_), static_cast<std::int32_t>(previous_regime_)});
    s.put("government.review", std::vector<std::int64_t>{review_steps_, last_review_, review_now_ ? 1 : 0});
    s.put("government.counts", std::vector<std::uint64_t>{under_quota_, violators_});
    s.put("measures.last", std::vector<double>{last_.effort, last_.harvest, last_.rent, last_.active, last_.compliance,
                                      last_.sanctions, last_.quota_price, last_.monitoring_cost, last_.mean_tokens,
                                      last_.efficiency});
  }
  void restore(const sim::State& s) override {
    for (const auto& [name, column] : double_columns(*this)) s.get(std::string("agents.") + name, *column);
    s.get("agents.member", member_);
    s.get("agents.violating", violating_);
    s.get("agents.offences", offences_);
    s.get("agents.tokens", tokens_);
    s.get("patches.size", patch_size_);
    s.get("patches.members", patch_members_);
    s.get("patches.licences", patch_licences_);
    std::vector<double> outside(2), accounts(3), last(10);
    std::vector<std::int32_t> regimes(2);
    std::vector<std::int64_t> review(3);
    std::vector<std::uint64_t> counts(2);
    s.get("outside.prices", outside);
    s.get("government.accounts", accounts);
    s.get("government.regimes", regimes);
    s.get("government.review", review);
    s.get("government.counts", counts);
    s.get("measures.last", last);
    outside_.hi = outside[0];
    outside_.lo = outside[1];
    state_ = accounts[0];
    fund_ = accounts[1];
    exchange_ = accounts[2];
    regime_ = static_cast<Regime>(regimes[0]);
    previous_regime_ = static_cast<Regime>(regimes[1]);
    review_steps_ = review[0];
    last_review_ = review[1];
    review_now_ = review[2] != 0;
    under_quota_ = counts[0];
    violators_ = counts[1];
    last_ = Outcome{last[0], last[1], last[2], last[3], last[4], last[5], last[6], last[7], last[8], last[9]};
  }

  double money_in_accounts() const override {
    // In index order within a block, blocks in order: the same sum as sim::sum.
    std::vector<double> sums(sim::block_count(wealth_.size()), 0.0);
    sim::for_blocks(wealth_.size(), [&](std::size_t begin, std::size_t end, std::size_t b) {
      double s = 0.0;
      for (std::size_t i = begin; i < end; ++i) s += wealth_[i];
      sums[b] = s;
    });
    double total = 0.0;
    for (double x : sums) total += x;
    return total + outside_.value() + state_ + fund_ + exchange_;
  }

 private:
  std::size_t n() const { return p_.mode == Mode::Fishery ? p_.harvesters : p_.game_players; }
  std::size_t patch_of(std::size_t i) const { return i % p_.patches; }

  // ---------------------------------------------------------------- fishery: set-up

  void init_fishery() {
    const std::size_t N = p_.harvesters;
    skill_.resize(N);
    base_coop_.resize(N);
    coop_.resize(N);
    member_.assign(N, 0);
    effort_.assign(N, 0.0);
    allowed_.assign(N, 0.0);
    quota_.assign(N, 0.0);
    holding_.assign(N, 0.0);
    use_.assign(N, 0.0);
    revenue_.assign(N, 0.0);
    excess_.assign(N, 0.0);
    violating_.assign(N, 0);
    offences_.assign(N, 0);
    wealth_.assign(N, p_.initial_wealth);
    income_.assign(N, 0.0);
    const auto first_idle = static_cast<std::size_t>(std::llround(p_.initial_active * static_cast<double>(N)));
    sim::for_blocks(N, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) {
        sim::Rng rng{seed_, Stream::Traits, 0, i};
        const double z = rng.normal(0.0, 1.0);
        skill_[i] = std::exp(p_.skill_sd * z - 0.5 * p_.skill_sd * p_.skill_sd);
        const double u = rng.uniform(-0.5, 0.5);
        base_coop_[i] = std::clamp(p_.cooperativeness + p_.cooperativeness_spread * u, 0.0, 1.0);
        coop_[i] = base_coop_[i];
        sim::Rng membership{seed_, Stream::Membership, 0, i};
        member_[i] = membership.u01() <= p_.members_share ? 1 : 0;
        effort_[i] = i < first_idle ? std::min(p_.initial_effort, p_.max_effort) : 0.0;
      }
    });
    stock_.assign(p_.patches, p_.initial_stock);
    tac_.assign(p_.patches, 0.0);
    quota_price_.assign(p_.patches, 0.0);
    patch_size_.assign(p_.patches, 0);
    patch_members_.assign(p_.patches, 0);
    patch_licences_.assign(p_.patches, 0);
    for (std::size_t i = 0; i < N; ++i) {
      ++patch_size_[patch_of(i)];
      patch_members_[patch_of(i)] += member_[i];
    }
    review_steps_ = std::max<std::int64_t>(1, std::llround(p_.review_interval / p_.dt));
  }

  // ---------------------------------------------------------------- fishery: phases

  void set_rules(sim::StepContext& c) {
    if (p_.mode != Mode::Fishery) return;
    regime_ = p_.regime_at(c.step);
    const bool switched = c.step == 1 || regime_ != previous_regime_;
    previous_regime_ = regime_;
    if (switched) last_review_ = c.step - review_steps_;  // a new regime sets its limits at once
    if (regime_ == Regime::OpenAccess) return;
    review_now_ = c.step - last_review_ >= review_steps_;
    if (review_now_) {
      last_review_ = c.step;
      review_limits(c);
    }
    // Quotas for this step (t): the limit's rate times dt, shared by the holders of the patch.
    sim::for_blocks(p_.harvesters, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) {
        const std::size_t k = patch_of(i);
        const double step_catch = tac_[k] * p_.dt;
        switch (regime_) {
          case Regime::Market:
            holding_[i] = step_catch / static_cast<double>(patch_size_[k]);
            break;
          case Regime::State:
            quota_[i] = licensed(i) ? step_catch / static_cast<double>(patch_licences_[k]) : 0.0;
            break;
          case Regime::Commons:
            quota_[i] = member_[i] ? step_catch / static_cast<double>(patch_members_[k]) : 0.0;
            break;
          case Regime::OpenAccess:
            break;
        }
      }
    });
  }

  // The catch limit of each patch, as a rate (t/time), held until the next review.
  void review_limits(const sim::StepContext& c) {
    const double factor = p_.cap_factor.at(c.step);
    // Patches review independently (each writes only its own limit and licences), in parallel.
    const auto patches = static_cast<std::int64_t>(p_.patches);
#pragma omp parallel if (patches > 1 && p_.harvesters >= 2 * sim::default_block_size)
    {
      std::vector<double> proposals;
#pragma omp for schedule(static)
      for (std::int64_t patch = 0; patch < patches; ++patch) {
        const auto k = static_cast<std::size_t>(patch);
        if (regime_ == Regime::Commons) {
          // Collective choice: every member proposes a rate from the stock it sees; the median wins.
          proposals.clear();
          for (std::size_t i = k; i < p_.harvesters; i += p_.patches) {
            if (!member_[i]) continue;
            sim::Rng rng{seed_, Stream::Assessment, static_cast<std::uint64_t>(c.step), i};
            const double seen = stock_[k] * std::exp(p_.observation_error * rng.normal(0.0, 1.0));
            const double rate = p_.f_mey() * factor * (1.0 + p_.proposal_bias * (1.0 - coop_[i]));
            proposals.push_back(rate * seen);
          }
          if (proposals.empty()) {
            tac_[k] = 0.0;
            continue;
          }
          std::sort(proposals.begin(), proposals.end());
          tac_[k] = sim::median_sorted(proposals);
        } else {
          // The regulator assesses each patch once (index past the harvesters' ids).
          sim::Rng rng{seed_, Stream::Assessment, static_cast<std::uint64_t>(c.step), p_.harvesters + k};
          const double assessed = stock_[k] * std::exp(p_.assessment_error * rng.normal(0.0, 1.0));
          const Target target = regime_ == Regime::Market ? p_.market_cap : p_.state_target;
          tac_[k] = p_.f_target(target) * factor * assessed;
          // Limited entry: the state licenses just enough boats to take the catch at the target
          // while using `licence_utilisation` of their capacity (skill 1), the first ones by id.
          const double needed = p_.f_target(target) * factor / (p_.q * p_.max_effort * p_.licence_utilisation);
          patch_licences_[k] = std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(needed)), 1, patch_size_[k]);
        }
      }
    }
  }

  // Uniform-price clearing of the quota lease market of each patch: harvesters bid their margin
  // per tonne p - c/(q skill S); the cap goes to the highest margins up to each one's capacity;
  // the price is the margin of the last harvester served (0 if the cap is not scarce).
  void trade_quota(sim::StepContext&) {
    if (p_.mode != Mode::Fishery || regime_ != Regime::Market) return;
    std::fill(use_.begin(), use_.end(), 0.0);
    // Patches clear independently (each writes only its own harvesters and price), in parallel.
    const auto patches = static_cast<std::int64_t>(p_.patches);
#pragma omp parallel if (patches > 1 && p_.harvesters >= 2 * sim::default_block_size)
    {
      std::vector<std::size_t> order;
#pragma omp for schedule(static)
      for (std::int64_t patch = 0; patch < patches; ++patch) {
        const auto k = static_cast<std::size_t>(patch);
        order.clear();
        for (std::size_t i = k; i < p_.harvesters; i += p_.patches)
          if (margin(i) > 0.0) order.push_back(i);
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return margin(a) > margin(b); });
        double left = tac_[k] * p_.dt;
        double price = 0.0;
        for (std::size_t i : order) {
          if (left <= 0.0) break;
          const double capacity = p_.q * skill_[i] * p_.max_effort * stock_[k] * p_.dt;
          use_[i] = std::min(capacity, left);
          left -= use_[i];
          if (left <= 0.0) price = margin(i);
        }
        quota_price_[k] = price;
      }
    }
  }

  // Under the state only licensed boats fish: landings need a licence.
  bool licensed(std::size_t i) const { return i / p_.patches < patch_licences_[patch_of(i)]; }

  double margin(std::size_t i) const {
    const double s = stock_[patch_of(i)];
    return s > 0.0 ? p_.p - p_.c / (p_.q * skill_[i] * s) : -p_.c;
  }

  // Detection probability a harvester expects in a step, and the fine per tonne it would pay.
  double detection_probability() const {
    if (regime_ == Regime::Commons) return -std::expm1(-p_.monitoring_efficiency * p_.monitoring_effort * p_.dt);
    if (regime_ == Regime::State) return -std::expm1(-p_.inspection_rate * p_.dt);
    return 0.0;
  }
  double fine_per_tonne(std::size_t i) const {
    const double escalation = regime_ == Regime::Commons ? p_.sanction_escalation * offences_[i] : 0.0;
    return (regime_ == Regime::State ? p_.state_fine : p_.fine) * p_.p * (1.0 + escalation);
  }

  void decide_effort(sim::StepContext& c) {
    if (p_.mode != Mode::Fishery) return;
    const auto step = static_cast<std::uint64_t>(c.step);
    const double detect = detection_probability();
    sim::for_blocks(p_.harvesters, [&](std::size_t begin, std::size_t end, std::size_t) {
      for (std::size_t i = begin; i < end; ++i) {
        sim::Rng rng{seed_, Stream::Decision, step, i};
        const double u = rng.u01();
        const double s = stock_[patch_of(i)];
        const double catch_per_effort = p_.q * skill_[i] * s * p_.dt;  // t per unit effort this step
        violating_[i] = 0;
        allowed_[i] = 0.0;
        switch (regime_) {
          case Regime::OpenAccess: {
            // Profit per unit effort and time, relative to its cost.
            const double profit = (p_.p * p_.q * skill_[i] * s - p_.c) / std::max(p_.c, 1e-300);
            if (effort_[i] > 0.0) {
              if (u <= -std::expm1(-p_.exit_rate * p_.dt * std::max(0.0, -profit)))
                effort_[i] = 0.0;
              else
                effort_[i] = std::min(p_.max_effort, effort_[i] * std::exp(p_.adjustment_rate * p_.dt * profit));
            } else if (u <= -std::expm1(-p_.entry_rate * p_.dt * std::max(0.0, profit))) {
              effort_[i] = std::min(p_.entry_effort, p_.max_effort);
            }
            break;
          }
          case Regime::Market:
            effort_[i] = catch_per_effort > 0.0 ? use_[i] / catch_per_effort : 0.0;
            break;
          case Regime::State:
          case Regime::Commons: {
            const double gain = margin(i);  // per tonne
            if (gain <= 0.0 || catch_per_effort <= 0.0 || (regime_ == Regime::State && !licensed(i))) {
              effort_[i] = 0.0;
              break;
            }
            allowed_[i] = std::min(p_.max_effort, quota_[i] / catch_per_effort);
            effort_[i] = allowed_[i];
            if (allowed_[i] >= p_.max_effort) break;
            // Over-harvest when the gain, less what the harvester's norms forgo, beats the
            // expected fine (logit choice).
            const double weight = regime_ == Regime::State ? p_.state_legitimacy : (member_[i] ? 1.0 : 0.0);
            const double net = gain * (1.0 - weight * coop_[i]) - detect * fine_per_tonne(i);
            const double probability = 1.0 / (1.0 + std::exp(-net / (p_.decision_noise * p_.p)));
            if (u <= probability) {
              violating_[i] = 1;
              effort_[i] = p_.max_effort;
            }
            break;
          }
        }
      }
    });
  }

  void harvest(sim::StepContext& c) {
    if (p_.mode != Mode::Fishery) return;
    // 1. Skill-weighted effort per patch, in block order.
    sim::for_blocks(p_.harvesters, [&](std::size_t begin, std::size_t end, std::size_t b) {
      auto& t = blocks_[b];
      t.reset(p_.patches);
      for (std::size_t i = begin; i < end; ++i) t.weighted_effort[patch_of(i)] += skill_[i] * effort_[i];
    });
    std::vector<double> integral(p_.patches, 0.0);
    for (std::size_t k = 0; k < p_.patches; ++k) {
      double weighted = 0.0;
      for (const auto& t : blocks_) weighted += t.weighted_effort[k];
      // 2. The stock over the step, exactly, at this effort (main thread, once per patch).
      const auto next = logistic_step(stock_[k], p_.r - p_.q * weighted, p_.r / p_.K, p_.dt);
      stock_[k] = next.stock;
      integral[k] = next.integral;
    }
    // 3. Catches, sales and effort costs; quota leases under the market.
    sim::for_blocks(p_.harvesters, [&](std::size_t begin, std::size_t end, std::size_t b) {
      auto& t = blocks_[b];
      auto& tally = tallies_[b];
      for (std::size_t i = begin; i < end; ++i) {
        const std::size_t k = patch_of(i);
        const double caught = p_.q * skill_[i] * effort_[i] * integral[k];
        const double sale = p_.p * caught;
        const double cost = p_.c * effort_[i] * p_.dt;
        revenue_[i] = sale;
        excess_[i] = violating_[i] ? p_.q * skill_[i] * (effort_[i] - allowed_[i]) * integral[k] : 0.0;
        pay_from_outside(i, sale, sales_, t, tally);
        pay_from_outside(i, -cost, effort_costs_, t, tally);
        if (regime_ == Regime::Market) {
          const double lease = (use_[i] - holding_[i]) * quota_price_[k];
          wealth_[i] -= lease;
          income_[i] -= lease;
          t.exchange += lease;
          tally.add(quota_trade_, harvesters_sector_, -lease);
          tally.add(quota_trade_, harvesters_sector_, lease);
        }
        t.effort += effort_[i];
        t.harvest += caught;
        t.revenue += sale;
        t.effort_cost += cost;
        t.active += effort_[i] > 0.0;
        if (regime_ == Regime::State || regime_ == Regime::Commons) {
          t.under_quota += effort_[i] > 0.0;
          t.violators += violating_[i];
        }
      }
    });
    last_ = Outcome{};
    double weighted_price = 0.0;
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      const auto& t = blocks_[b];
      outside_.add(t.outside);
      exchange_ += t.exchange;
      last_.effort += t.effort;
      last_.harvest += t.harvest;
      last_.rent += t.revenue - t.effort_cost;
      last_.active += static_cast<double>(t.active);
      under_quota_ += t.under_quota;
      violators_ += t.violators;
      c.ledger->flows().merge(tallies_[b]);
      tallies_[b].clear();
    }
    if (regime_ == Regime::Market) {
      double weight = 0.0;
      for (std::size_t k = 0; k < p_.patches; ++k) {
        weighted_price += quota_price_[k] * tac_[k];
        weight += tac_[k];
      }
      last_.quota_price = weight > 0.0 ? weighted_price / weight : quota_price_[0];
      last_.compliance = 1.0;
    }
    last_.harvest /= p_.dt;
    last_.rent /= p_.dt;
  }

  // Moves `amount` from the outside world to harvester i (negative: from i to the outside).
  void pay_from_outside(std::size_t i, double amount, sim::FlowId flow, BlockTotals& t, sim::FlowMatrix& tally) {
    wealth_[i] += amount;
    income_[i] += amount;
    t.outside.add(-amount);
    tally.add(flow, harvesters_sector_, amount);
    tally.add(flow, outside_sector_, -amount);
  }

  void enforce(sim::StepContext& c) {
    if (p_.mode != Mode::Fishery) return;
    const bool state = regime_ == Regime::State;
    const bool commons = regime_ == Regime::Commons;
    const auto step = static_cast<std::uint64_t>(c.step);
    const double inspect = -std::expm1(-p_.inspection_rate * p_.dt);
    const double detect = detection_probability();
    const double recovery = -std::expm1(-p_.norm_recovery * p_.dt);
    const double monitoring_cost = p_.c * p_.monitoring_effort * p_.dt;
    sim::for_blocks(p_.harvesters, [&](std::size_t begin, std::size_t end, std::size_t b) {
      auto& t = blocks_[b];
      auto& tally = tallies_[b];
      t.outside = CompensatedBalance{};
      t.sanctions = 0;
      t.inspections = 0.0;
      t.monitoring = 0.0;
      t.state = 0.0;
      t.fund = 0.0;
      for (std::size_t i = begin; i < end; ++i) {
        coop_[i] += (base_coop_[i] - coop_[i]) * recovery;
        if (!state && !commons) continue;
        sim::Rng rng{seed_, Stream::Enforcement, step, i};
        const double u_detect = rng.u01();
        const double u_settle = rng.u01();
        if (state) {
          const double levy = p_.levy_rate * revenue_[i];
          pay(i, t.state, levy, levy_, state_sector_, tally);
        }
        if (commons && member_[i]) {
          pay_from_outside(i, -monitoring_cost, monitoring_, t, tally);
          t.monitoring += monitoring_cost;
        }
        if (effort_[i] <= 0.0) continue;
        // The state inspects fishing harvesters at random; in the commons members watch each other.
        bool caught = false;
        if (state) {
          const bool inspected = u_detect <= inspect;
          t.inspections += inspected;
          caught = inspected && violating_[i];
        } else {
          caught = violating_[i] && u_detect <= detect;
        }
        if (!caught) continue;
        const double fine = fine_per_tonne(i) * excess_[i];
        pay(i, state ? t.state : t.fund, fine, fines_, state ? state_sector_ : fund_sector_, tally);
        ++offences_[i];
        ++t.sanctions;
        const bool settled = commons && u_settle <= p_.conflict_resolution;
        if (!settled) coop_[i] = std::max(0.0, coop_[i] - p_.resentment);
      }
    });
    double inspections = 0.0;
    double monitoring = 0.0;
    double sanctions = 0.0;
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
      const auto& t = blocks_[b];
      outside_.add(t.outside);
      state_ += t.state;
      fund_ += t.fund;
      inspections += t.inspections;
      monitoring += t.monitoring;
      sanctions += static_cast<double>(t.sanctions);
      c.ledger->flows().merge(tallies_[b]);
      tallies_[b].clear();
    }
    // The state pays its inspectors outside the commons (its balance may go negative: a deficit).
    const double inspection_cost = inspections * p_.inspection_cost;
    if (inspection_cost > 0.0) {
      state_ -= inspection_cost;
      outside_.add(inspection_cost);
      c.ledger->flows().add(inspection_, state_sector_, -inspection_cost);
      c.ledger->flows().add(inspection_, outside_sector_, inspection_cost);
    }
    if (commons && review_now_) pay_fund_dividends(c);
    last_.sanctions = sanctions;
    last_.monitoring_cost = (state ? inspection_cost : monitoring) / p_.dt;
    if (state || commons) {
      last_.compliance = under_quota_ > 0 ? 1.0 - static_cast<double>(violators_) / static_cast<double>(under_quota_) : 1.0;
    } else if (regime_ == Regime::OpenAccess) {
      last_.compliance = nan;
    }
    if (regime_ != Regime::Market) last_.quota_price = nan;
    under_quota_ = 0;
    violators_ = 0;
  }

  // Harvester i pays `amount` into an account of the state or the commons fund.
  void pay(std::size_t i, double& account_change, double amount, sim::FlowId flow, sim::SectorId to,
           sim::FlowMatrix& tally) {
    wealth_[i] -= amount;
    income_[i] -= amount;
    account_change += amount;
    tally.add(flow, harvesters_sector_, -amount);
    tally.add(flow, to, amount);
  }

  // At each review the commons fund pays out the fines it collected, equally to the members.
  void pay_fund_dividends(sim::StepContext& c) {
    std::size_t members = 0;
    for (auto m : member_) members += m;
    if (members == 0 || fund_ <= 0.0) return;
    const double share = fund_ / static_cast<double>(members);
    double paid = 0.0;
    for (std::size_t i = 0; i < p_.harvesters; ++i) {
      if (!member_[i]) continue;
      wealth_[i] += share;
      income_[i] += share;
      paid += share;
    }
    fund_ -= paid;
    c.ledger->flows().add(dividends_, fund_sector_, -paid);
    c.ledger->flows().add(dividends_, harvesters_sector_, paid);
  }

  // ---------------------------------------------------------------- appropriation game

  void init_game() {
    const std::size_t n = p_.game_players;
    wealth_.assign(n, p_.initial_wealth);
    income_.assign(n, 0.0);
    tokens_.assign(n, 0);
    // Before the first round a player expects the others to invest half their endowment.
    belief_.assign(n, 0.5 * static_cast<double>(p_.game_endowment) * static_cast<double>(n - 1));
  }

  // The experiments' payoff in dollars: 0.05 per token kept, and the market's return
  // (23X - 0.25X^2)/100 shared in proportion to tokens invested.
  static double group_return(double total) { return (23.0 * total - 0.25 * total * total) / 100.0; }
  double payoff(double mine, double total) const {
    const double kept = 0.05 * (p_.game_endowment - mine);
    return total > 0.0 ? kept + mine / total * group_return(total) : kept;
  }

  void play_round(sim::StepContext& c) {
    if (p_.mode != Mode::Game) return;
    const std::size_t n = p_.game_players;
    const int e = p_.game_endowment;
    const bool talk = p_.game_communication.at(c.step) > 0.5;
    // The agreement: the group optimum X = 36 split as evenly as tokens allow.
    const auto optimum = static_cast<std::size_t>(std::min<double>(36.0, static_cast<double>(e) * static_cast<double>(n)));
    std::size_t kept = 0;
    std::vector<double> weights(static_cast<std::size_t>(e) + 1);
    for (std::size_t i = 0; i < n; ++i) {
      sim::Rng rng{seed_, Stream::Game, static_cast<std::uint64_t>(c.step), i};
      const double u_keep = rng.u01();
      const double u_choice = rng.u01();
      if (talk && u_keep <= p_.game_keep) {
        const auto base = optimum / n;
        const auto extra = optimum % n;
        tokens_[i] = static_cast<int>(base + (i < extra ? 1 : 0));
        ++kept;
        continue;
      }
      // Logit best response to the belief about the others' total.
      double best = -std::numeric_limits<double>::infinity();
      for (int x = 0; x <= e; ++x) best = std::max(best, payoff(x, x + belief_[i]));
      double total_weight = 0.0;
      for (int x = 0; x <= e; ++x) {
        weights[static_cast<std::size_t>(x)] = std::exp((payoff(x, x + belief_[i]) - best) / p_.game_noise);
        total_weight += weights[static_cast<std::size_t>(x)];
      }
      double target = u_choice * total_weight;
      int choice = e;
      for (int x = 0; x <= e; ++x) {
        target -= weights[static_cast<std::size_t>(x)];
        if (target <= 0.0) {
          choice = x;
          break;
        }
      }
      tokens_[i] = choice;
    }
    double total = 0.0;
    for (int x : tokens_) total += x;
    auto& flows = c.ledger->flows();
    for (std::size_t i = 0; i < n; ++i) {
      const double u = payoff(tokens_[i], total);
      wealth_[i] += u;
      income_[i] += u;
      outside_.add(-u);
      flows.add(game_payoffs_, harvesters_sector_, u);
      flows.add(game_payoffs_, outside_sector_, -u);
      belief_[i] += p_.game_learning_rate * ((total - tokens_[i]) - belief_[i]);
    }
    last_ = Outcome{};
    last_.mean_tokens = total / static_cast<double>(n);
    last_.efficiency = (group_return(total) - 0.05 * total) / (group_return(36.0) - 0.05 * 36.0);
    last_.compliance = talk ? static_cast<double>(kept) / static_cast<double>(n) : nan;
  }

  // ---------------------------------------------------------------- state


  struct Outcome {
    double effort = 0.0, harvest = 0.0, rent = 0.0, active = 0.0;
    double compliance = nan, sanctions = 0.0, quota_price = nan, monitoring_cost = 0.0;
    double mean_tokens = nan, efficiency = nan;
  };

  Params p_;
  std::uint64_t seed_;
  // Harvesters (or players), one column per field.
  std::vector<double> skill_, base_coop_, coop_, effort_, allowed_, quota_, holding_, use_, revenue_, excess_;
  std::vector<std::uint8_t> member_, violating_;
  std::vector<std::uint32_t> offences_;
  std::vector<double> wealth_, income_;
  std::vector<int> tokens_;
  std::vector<double> belief_;
  // Patches.
  std::vector<double> stock_, tac_, quota_price_;
  std::vector<std::size_t> patch_size_, patch_members_, patch_licences_;
  // Accounts besides the harvesters'.
  CompensatedBalance outside_;
  double state_ = 0.0, fund_ = 0.0, exchange_ = 0.0;
  // Regime bookkeeping.
  Regime regime_ = Regime::OpenAccess;
  Regime previous_regime_ = Regime::OpenAccess;
  std::int64_t review_steps_ = 1;
  std::int64_t last_review_ = 0;
  bool review_now_ = false;
  std::uint64_t under_quota_ = 0, violators_ = 0;
  Outcome last_;
  std::vector<BlockTotals> blocks_;
  std::vector<sim::FlowMatrix> tallies_;
  sim::SectorId harvesters_sector_, outside_sector_, state_sector_, fund_sector_;
  sim::FlowId sales_, effort_costs_, quota_trade_, levy_, fines_, inspection_, monitoring_, dividends_, game_payoffs_;
};

}  // namespace

sim::ModelSpec spec() {
  sim::ModelSpec s;
  s.name = "cpr";
  s.summary = "Common-pool resource: Gordon-Schaefer fishery under open access, market, state and commons; "
              "Ostrom-Gardner-Walker appropriation game";
  s.params = parameters();
  s.series = series();
  s.phase_names = {"set_rules", "trade_quota", "decide_effort", "harvest", "enforce", "play_round"};
  s.streams = {{"cpr.Traits", static_cast<std::uint64_t>(Stream::Traits)},
               {"cpr.Membership", static_cast<std::uint64_t>(Stream::Membership)},
               {"cpr.Decision", static_cast<std::uint64_t>(Stream::Decision)},
               {"cpr.Enforcement", static_cast<std::uint64_t>(Stream::Enforcement)},
               {"cpr.Assessment", static_cast<std::uint64_t>(Stream::Assessment)},
               {"cpr.Game", static_cast<std::uint64_t>(Stream::Game)}};
  s.sectors = {"harvesters", "outside", "state", "commons_fund"};
  s.flow_types = {"sales", "effort_costs", "quota_trade", "levy", "fines", "inspection", "monitoring",
                  "fund_dividends", "game_payoffs"};
  s.time_name = "time";
  s.time_units = "time";
  s.check_params = [](const sim::ParamValues& v) {
    auto above = [&](const char* a, const char* b) {
      if (v.real(a) > v.real(b))
        throw sim::InputError(std::string(a) + " = " + v.text(a) + " is above " + b + " = " + v.text(b));
    };
    above("cpr.initial_effort", "cpr.max_effort");
    above("cpr.entry_effort", "cpr.max_effort");
  };
  s.make = [](const sim::ModelInit& init) { return std::make_unique<Cpr>(init); };
  return s;
}

}  // namespace models::cpr
