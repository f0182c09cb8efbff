// Kinetic wealth exchange (docs/models/exchange.md).
//
// N agents hold wealth w_i. Each step every agent is paired once by a random permutation and
// every pair exchanges once by the chosen rule:
//   random    (Dragulescu & Yakovenko 2000):  w_i' = eps (w_i + w_j),  w_j' = (1 - eps)(w_i + w_j)
//   saving    (Chakraborti & Chakrabarti 2000; Chatterjee, Chakrabarti & Manna 2004 for lambda
//              varying across agents):
//              pot = (1 - l_i) w_i + (1 - l_j) w_j,  w_i' = l_i w_i + eps pot,  w_j' = l_j w_j + (1 - eps) pot
//   yard_sale (Boghosian et al. 2017): stake dw = sqrt(gamma dt) min(w_i + kappa W, w_j + kappa W);
//              i wins with p = 1/2 [1 + zeta sqrt(dt / gamma) (w_i - w_j) / W], clipped to [0, 1]
// then every agent moves toward the mean: w += chi dt (W - w)   (W: mean wealth).
#include "models/exchange/exchange.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/permutation.hpp"
#include "sim/rng.hpp"
#include "sim/stats.hpp"

namespace models::exchange {
namespace {

enum class Stream : std::uint64_t {
  Matching = 100,       // the per-step permutation that pairs agents
  Exchange = 101,       // the split or the winner of each pair
  SavingPropensity = 102,  // each agent's lambda, drawn once at the start
};

enum class Rule { Random, Saving, YardSale };

struct Params {
  std::size_t agents;
  Rule rule;
  double initial_wealth;
  sim::Schedule saving;
  bool saving_uniform;
  double saving_min;
  sim::Schedule chi;
  sim::Schedule zeta;
  double kappa;
  double gamma;
  double dt;

  explicit Params(const sim::ParamValues& p)
      : agents(static_cast<std::size_t>(p.integer("exchange.agents"))),
        rule(rule_from(p.choice("exchange.rule"))),
        initial_wealth(p.real("exchange.initial_wealth")),
        saving(p.schedule("exchange.saving")),
        saving_uniform(p.choice("exchange.saving_distribution") == "uniform"),
        saving_min(p.real("exchange.saving_min")),
        chi(p.schedule("exchange.chi")),
        zeta(p.schedule("exchange.zeta")),
        kappa(p.real("exchange.kappa")),
        gamma(p.real("exchange.gamma")),
        dt(p.real("exchange.dt")) {}

  static Rule rule_from(const std::string& name) {
    if (name == "saving") return Rule::Saving;
    if (name == "yard_sale") return Rule::YardSale;
    return Rule::Random;
  }
};

sim::ParamTable parameters() {
  using sim::ParamSpec;
  return {
      ParamSpec::integer("exchange.agents", 1000)
          .with_unit("agents")
          .range(2, 2147483647)
          .describe("Number of agents N; with N odd one agent sits out each step"),
      ParamSpec::choice("exchange.rule", {"random", "saving", "yard_sale"}, "random")
          .describe("Exchange rule: random split, split with saving propensity, or yard-sale stake")
          .cite("Dragulescu & Yakovenko 2000; Chakraborti & Chakrabarti 2000; Boghosian et al. 2017"),
      ParamSpec::real("exchange.initial_wealth", 1.0)
          .with_unit("credits")
          .range(1e-9, 1e12)
          .describe("Wealth of every agent at the start (equal start); the mean W stays at this value"),
      ParamSpec::real("exchange.saving", 0.0)
          .range(0.0, 0.999)
          .allow_schedule()
          .describe("Saving propensity lambda (rule saving); with saving_distribution = uniform, the "
                    "upper end of the range lambda_i is drawn from")
          .cite("Chakraborti & Chakrabarti 2000, Eur. Phys. J. B 17"),
      ParamSpec::choice("exchange.saving_distribution", {"fixed", "uniform"}, "fixed")
          .describe("fixed: every agent saves lambda = saving; uniform: lambda_i ~ U[saving_min, saving), "
                    "drawn once per agent and scaled with saving when it is scheduled")
          .cite("Chatterjee, Chakrabarti & Manna 2004, Physica A 335"),
      ParamSpec::real("exchange.saving_min", 0.0)
          .range(0.0, 0.999)
          .describe("Lower end of the saving propensities when saving_distribution = uniform"),
      ParamSpec::real("exchange.chi", 0.0)
          .with_unit("1/time")
          .range(0.0, 100.0)
          .allow_schedule()
          .describe("Redistribution rate chi: after the exchanges every agent moves by chi dt (W - w)")
          .cite("Boghosian et al. 2017, Physica A 476"),
      ParamSpec::real("exchange.zeta", 0.0)
          .with_unit("1/time")
          .range(0.0, 100.0)
          .allow_schedule()
          .describe("Wealth-attained advantage zeta (rule yard_sale): bias of the win probability")
          .cite("Boghosian et al. 2017, Physica A 476"),
      ParamSpec::real("exchange.kappa", 0.0)
          .range(0.0, 10.0)
          .describe("Negative-wealth shift: stakes are computed on w + kappa W, so agents may go down "
                    "to -kappa W (rule yard_sale)")
          .cite("Li, Boghosian & Li 2019"),
      ParamSpec::real("exchange.gamma", 0.1)
          .with_unit("1/time")
          .range(1e-9, 1e6)
          .describe("Transaction intensity gamma (rule yard_sale): the stake is sqrt(gamma dt) of the poorer side"),
      ParamSpec::real("exchange.dt", 0.01)
          .with_unit("time")
          .range(1e-9, 1e6)
          .describe("Time per step; every agent exchanges once per step (rule yard_sale and chi)"),
  };
}

enum Series : std::size_t {
  Gini, Top10, Top1, Largest, BelowMean, Mean, Median, VarOverMeanSq, Negative, ClippedShare, SeriesCount
};

std::vector<sim::SeriesSpec> series() {
  return {
      {"gini", "1", "Gini coefficient of wealth"},
      {"top10_share", "1", "Share of all wealth held by the richest 10 % of agents"},
      {"top1_share", "1", "Share of all wealth held by the richest 1 % of agents"},
      {"largest_share", "1", "Share of all wealth held by the richest agent"},
      {"below_mean_share", "1", "Share of agents with wealth below the mean"},
      {"mean", "credits", "Mean wealth W (constant: money is conserved)"},
      {"median", "credits", "Median wealth"},
      {"var_over_mean_sq", "1", "Variance of wealth over the squared mean"},
      {"negative_share", "1", "Share of agents with negative wealth (rule yard_sale with kappa > 0)"},
      {"clipped_share", "1",
       "Share of the exchanges since the previous record whose win probability was clipped to [0, 1] "
       "(rule yard_sale); choose dt so that it stays 0"},
  };
}

class Exchange final : public sim::Model {
 public:
  explicit Exchange(const sim::ModelInit& init)
      : p_(init.params),
        seed_(init.seed),
        wealth_(p_.agents, p_.initial_wealth),
        perm_(p_.agents),
        households_(init.ledger.sector("households")),
        exchange_flow_(init.ledger.flow("exchange")),
        redistribution_flow_(init.ledger.flow("redistribution")) {
    if (p_.rule == Rule::Saving && p_.saving_uniform) {
      base_saving_.resize(p_.agents);
      sim::for_blocks(p_.agents, [&](std::size_t begin, std::size_t end, std::size_t) {
        for (std::size_t i = begin; i < end; ++i) {
          sim::Rng rng{seed_, Stream::SavingPropensity, 0, i};
          base_saving_[i] = rng.uniform(p_.saving_min, p_.saving.at(0));
        }
      });
    }
    // Per bucket of the permutation and one for the pairs across buckets, or per block of pairs.
    pair_partials_.assign(
        fused_ ? sim::Permuter::bucket_count(p_.agents) + 1 : sim::block_count(pairs()),
        PairPartial{{exchange_flow_, households_, households_}});
    pool_partials_.assign(sim::block_count(p_.agents), 0.0);
    redistribution_money_.assign(sim::block_count(p_.agents), 0.0);
    redistribution_tallies_.assign(sim::block_count(p_.agents),
                                   {redistribution_flow_, households_, households_});
    init.ledger.open(money_in_accounts());
  }

  std::vector<sim::Phase> phases() override {
    return {
        {"match_pairs",
         "pair every agent with another by a random permutation (with many agents, its "
         "buckets are shuffled in the exchange phase)",
         [this](sim::StepContext& c) { match_pairs(c); }},
        {"exchange", "each pair exchanges once by the rule",
         [this](sim::StepContext& c) { exchange(c); }},
        {"redistribute", "every agent moves toward the mean: w += chi dt (W - w)",
         [this](sim::StepContext& c) { redistribute(c); }},
    };
  }

  void measure(std::span<double> values) override {
    const auto sorted = sim::sorted_copy(wealth_);
    const auto s = sim::summarise_sorted(sorted);
    values[Gini] = s.gini;
    values[Top10] = s.top10_share;
    values[Top1] = s.top1_share;
    values[Largest] = s.largest_share;
    values[BelowMean] = s.below_mean_share;
    values[Mean] = s.mean;
    values[Median] = s.median;
    values[VarOverMeanSq] = s.var_over_mean_sq;
    values[Negative] = s.negative_share;
    values[ClippedShare] = exchanges_since_measure_ == 0 ? 0.0
                                                         : static_cast<double>(clipped_since_measure_) /
                                                               static_cast<double>(exchanges_since_measure_);
    clipped_since_measure_ = 0;
    exchanges_since_measure_ = 0;
  }

  double time_at(std::int64_t step) const override { return static_cast<double>(step) * p_.dt; }

  // Pairs, lambda_i and the per-block buffers are rebuilt from the parameters and the seed.
  void save(sim::State& state) const override {
    state.put("agents.wealth", wealth_);
    state.put("pool.wealth", pool_);
    state.put("counters.clipped_since_measure", clipped_since_measure_);
    state.put("counters.exchanges_since_measure", exchanges_since_measure_);
  }
  void restore(const sim::State& state) override {
    money_known_ = false;
    state.get("agents.wealth", wealth_);
    pool_ = state.get<double>("pool.wealth");
    clipped_since_measure_ = state.get<std::uint64_t>("counters.clipped_since_measure");
    exchanges_since_measure_ = state.get<std::uint64_t>("counters.exchanges_since_measure");
  }

  // After a step, the sum that the step's last pass over the agents made as it went (each agent
  // is in one pair or is the one left out, so each is counted once); otherwise a fresh sum.
  double money_in_accounts() const override {
    if (money_known_) return money_;
    return sim::sum(wealth_.size(), [&](std::size_t i) { return wealth_[i]; }) + pool_;
  }

 private:
  std::size_t pairs() const { return p_.agents / 2; }

  // With many buckets, the permutation's shuffles wait for the exchange phase, which uses each
  // bucket while it is still in cache (for_pairs). With few, the shuffles would be handed out
  // too coarsely for the exchanges to share the threads well: the permutation is done here and
  // the exchanges go by blocks of pairs. Either way the wealth comes out the same.
  static constexpr std::size_t fused_min_buckets = 16;

  void match_pairs(const sim::StepContext& c) {
    money_known_ = false;
    if (fused_)
      permuter_.sort_into_buckets(c.seed, Stream::Matching, static_cast<std::uint64_t>(c.step),
                                  perm_);
    else
      permuter_.permute(c.seed, Stream::Matching, static_cast<std::uint64_t>(c.step), perm_);
  }

  // What the exchanges of some pairs moved, clipped, and left in their accounts.
  struct PairPartial {
    sim::TransferTally tally;
    std::uint64_t clipped = 0;
    double money = 0.0;
  };

  // Pairs [begin, end), in groups of four that share one Philox block of draws, pair k taking
  // word k % 4 of group k / 4 wherever the range starts. Pair k is the agents at positions 2k
  // and 2k + 1 of the permutation, whose positions first .. are in `perm`.
  template <class Exchange>
  void exchange_pairs(std::uint64_t step, std::size_t begin, std::size_t end,
                      const std::uint32_t* perm, std::size_t first, Exchange& exchange_pair,
                      PairPartial& partial) {
    sim::TransferTally tally = partial.tally;
    std::uint64_t clipped = partial.clipped;
    double money = partial.money;
    const std::uint32_t* const pair = perm + (2 * begin - first);  // pair k at pair[2 (k - begin)]
    for (std::size_t k = begin; k < end;) {
      sim::Rng rng{seed_, Stream::Exchange, step, k / 4};
      for (std::size_t skip = k % 4; skip > 0; --skip) rng.bits();
      const std::size_t group_end = std::min(end, (k / 4 + 1) * 4);
      for (; k < group_end; ++k) {
        const std::size_t at = 2 * (k - begin);
        if (k + 32 < end) {
          __builtin_prefetch(&wealth_[pair[at + 64]], 1);
          __builtin_prefetch(&wealth_[pair[at + 65]], 1);
        }
        const std::uint32_t i = pair[at], j = pair[at + 1];
        clipped += exchange_pair(wealth_[i], wealth_[j], i, j, rng, tally);
        money += wealth_[i] + wealth_[j];
      }
    }
    partial = {tally, clipped, money};
  }

  // Every pair exchanges once; the partials are combined in a fixed order, so the run is the
  // same on any thread count.
  template <class Exchange>
  void for_pairs(sim::StepContext& c, Exchange&& exchange_pair) {
    const auto step = static_cast<std::uint64_t>(c.step);
    for (PairPartial& partial : pair_partials_)
      partial = PairPartial{{exchange_flow_, households_, households_}};
    if (fused_) {
      // Each bucket's pairs right after its shuffle, while it is in cache: pair k is at positions
      // 2k and 2k + 1, so the bucket at positions [first, end) holds pairs (first + 1) / 2 ..
      // end / 2 - 1.
      permuter_.shuffle_buckets(
          c.seed, Stream::Matching, step, perm_,
          [&](std::size_t bucket, std::uint32_t first, std::span<const std::uint32_t> items) {
            const std::size_t end = first + items.size();
            exchange_pairs(step, (first + 1) / 2, end / 2, items.data(), first, exchange_pair,
                           pair_partials_[bucket]);
          });
      // Then the pairs that straddle a bucket boundary (one at each odd boundary), in order: the
      // shuffle leaves each bucket's first and last agent in perm_.
      const auto begin = permuter_.bucket_begin();
      for (std::size_t b = 1; b + 1 < begin.size(); ++b) {
        const std::size_t at = begin[b];
        if (at % 2 == 1 && at != begin[b - 1] && at < wealth_.size())
          exchange_pairs(step, at / 2, at / 2 + 1, perm_.data(), 0, exchange_pair,
                         pair_partials_.back());
      }
    } else {
      // Blocks of pairs are a multiple of four, so a group of four never straddles two threads.
      sim::for_blocks(pairs(), [&](std::size_t begin, std::size_t end, std::size_t block) {
        exchange_pairs(step, begin, end, perm_.data(), 0, exchange_pair, pair_partials_[block]);
      });
    }
    // The money after the exchanges; with an odd number of agents, the last one in the
    // permutation sat this step out.
    money_ = pool_;
    for (const PairPartial& partial : pair_partials_) {
      partial.tally.add_to(c.ledger->flows());
      clipped_since_measure_ += partial.clipped;
      money_ += partial.money;
    }
    if (wealth_.size() % 2 == 1) money_ += wealth_[perm_.back()];
    money_known_ = true;
    exchanges_since_measure_ += pairs();
  }

  void exchange(sim::StepContext& c) {
    const auto step = c.step;
    switch (p_.rule) {
      case Rule::Random:
        for_pairs(c, [&](double& wi, double& wj, std::uint32_t, std::uint32_t, sim::Rng& rng,
                         sim::TransferTally& tally) {
          const double share_i = rng.u01() * (wi + wj);
          sim::transfer(wi, wj, wi - share_i, tally);
          return 0;
        });
        break;
      case Rule::Saving: {
        const double lambda = p_.saving.at(step);
        const double scale = p_.saving.at(0) > 0.0 ? lambda / p_.saving.at(0) : 0.0;
        for_pairs(c, [&](double& wi, double& wj, std::uint32_t i, std::uint32_t j, sim::Rng& rng,
                         sim::TransferTally& tally) {
          const double li = base_saving_.empty() ? lambda : base_saving_[i] * scale;
          const double lj = base_saving_.empty() ? lambda : base_saving_[j] * scale;
          const double pot = (1.0 - li) * wi + (1.0 - lj) * wj;
          const double new_i = li * wi + rng.u01() * pot;
          sim::transfer(wi, wj, wi - new_i, tally);
          return 0;
        });
        break;
      }
      case Rule::YardSale: {
        const double mean = p_.initial_wealth;  // conserved, so the mean never changes
        const double shift = p_.kappa * mean;
        const double stake_factor = std::sqrt(p_.gamma * p_.dt);
        const double bias = p_.zeta.at(step) * std::sqrt(p_.dt / p_.gamma) / mean;
        for_pairs(c, [&](double& wi, double& wj, std::uint32_t, std::uint32_t, sim::Rng& rng,
                         sim::TransferTally& tally) {
          const double stake = stake_factor * std::min(wi + shift, wj + shift);
          const double raw = 0.5 * (1.0 + bias * (wi - wj));
          const double p_i = std::clamp(raw, 0.0, 1.0);
          const double to_j = rng.u01() <= p_i ? -stake : stake;
          sim::transfer(wi, wj, to_j, tally);
          return raw == p_i ? 0 : 1;
        });
        break;
      }
    }
  }

  // The redistribution is a transfer between each agent and a common pool that pays out what
  // it takes in; the pool keeps only rounding residue.
  void redistribute(sim::StepContext& c) {
    const double rate = p_.chi.at(c.step) * p_.dt;
    if (rate == 0.0) return;
    const double mean = p_.initial_wealth;
    sim::for_blocks(wealth_.size(), [&](std::size_t begin, std::size_t end, std::size_t block) {
      sim::TransferTally tally{redistribution_flow_, households_, households_};
      double pool = 0.0, money = 0.0;
      for (std::size_t i = begin; i < end; ++i) {
        sim::transfer(pool, wealth_[i], rate * (mean - wealth_[i]), tally);
        money += wealth_[i];
      }
      pool_partials_[block] = pool;
      redistribution_tallies_[block] = tally;
      redistribution_money_[block] = money;
    });
    for (std::size_t b = 0; b < pool_partials_.size(); ++b) {
      pool_ += pool_partials_[b];
      redistribution_tallies_[b].add_to(c.ledger->flows());
    }
    money_ = pool_;
    for (double m : redistribution_money_) money_ += m;
    money_known_ = true;
  }

  Params p_;
  std::uint64_t seed_;
  std::vector<double> wealth_;
  std::vector<double> base_saving_;  // lambda_i at step 0, when drawn per agent
  std::vector<std::uint32_t> perm_;
  bool fused_ = sim::Permuter::bucket_count(p_.agents) >= fused_min_buckets;  // see match_pairs
  sim::Permuter permuter_;
  double pool_ = 0.0;  // the redistribution pool's balance
  sim::SectorId households_;
  sim::FlowId exchange_flow_;
  sim::FlowId redistribution_flow_;
  std::vector<PairPartial> pair_partials_;  // see the constructor
  std::vector<double> pool_partials_;     // per block of agents
  std::vector<sim::TransferTally> redistribution_tallies_;  // per block of agents
  // The money in all accounts as the step's last pass over the agents summed it: per part (of
  // pairs after exchanging, in pair_partials_; per block of agents after redistributing), then in
  // all, valid from the end of that pass until the wealth next changes.
  std::vector<double> redistribution_money_;
  double money_ = 0.0;
  bool money_known_ = false;
  std::uint64_t clipped_since_measure_ = 0;  // exchanges whose win probability was clipped
  std::uint64_t exchanges_since_measure_ = 0;
};

}  // namespace

sim::ModelSpec spec() {
  sim::ModelSpec s;
  s.name = "exchange";
  s.summary = "Kinetic wealth exchange: random, saving-propensity and yard-sale rules";
  s.params = parameters();
  s.series = series();
  s.phase_names = {"match_pairs", "exchange", "redistribute"};
  s.streams = {{"exchange.Matching", static_cast<std::uint64_t>(Stream::Matching)},
               {"exchange.Exchange", static_cast<std::uint64_t>(Stream::Exchange)},
               {"exchange.SavingPropensity", static_cast<std::uint64_t>(Stream::SavingPropensity)}};
  s.sectors = {"households"};
  s.flow_types = {"exchange", "redistribution"};
  s.time_name = "time";
  s.time_units = "time";
  s.check_params = [](const sim::ParamValues& p) {
    if (p.choice("exchange.saving_distribution") == "uniform" &&
        p.real("exchange.saving_min") > p.schedule("exchange.saving").at(0))
      throw sim::InputError("exchange.saving_min = " + p.text("exchange.saving_min") +
                            " is above exchange.saving = " + p.text("exchange.saving") +
                            " (saving_distribution = uniform draws from [saving_min, saving))");
  };
  s.make = [](const sim::ModelInit& init) { return std::make_unique<Exchange>(init); };
  return s;
}

}  // namespace models::exchange
