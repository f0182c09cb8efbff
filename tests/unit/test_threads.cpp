// The exchange model's parallel phases on several blocks of agents (more than one block, so the
// OpenMP loops really split): bitwise the same on 1, 2 and 4 threads. scripts/test also runs
// these under ThreadSanitizer (tag [threads]), where a race in a phase is reported.
#include <catch2/catch.hpp>

#include <string>

#include "model_test_support.hpp"

using model_tests::check_same_on_1_2_4_threads;
using model_tests::scenario;

TEST_CASE("exchange gives bitwise-identical series and flows on 1, 2 and 4 threads, every rule", "[threads]") {
  // 3 blocks of 4096 agents and a ragged end, an odd count (one agent sits out each step)
  const std::string agents = "exchange.agents=" + std::to_string(3 * 4096 + 17);
  for (const std::string rule : {"random", "saving", "yard_sale"}) {
    INFO(rule);
    check_same_on_1_2_4_threads(scenario("exchange_demo.ini", {agents, "exchange.rule=" + rule, "sim.steps=6",
                                                               "exchange.saving=0.5", "exchange.chi=0.1",
                                                               "sim.record_every=1"}));
  }
}

TEST_CASE("exchange with its exchanges inside the permutation's shuffles is the same on 1, 2 and 4 threads",
          "[threads]") {
  // 16 buckets of the permutation (from 294912 agents on), handed to threads as they come; pairs
  // across bucket boundaries; an odd count. Per-agent saving propensities, so that lambda_i is
  // looked up by agent.
  const std::string agents = "exchange.agents=" + std::to_string(9 * 32768 + 1);
  for (const std::string rule : {"random", "saving", "yard_sale"}) {
    INFO(rule);
    check_same_on_1_2_4_threads(scenario("exchange_demo.ini", {agents, "exchange.rule=" + rule, "sim.steps=3",
                                                               "exchange.saving=0.5", "exchange.chi=0.1",
                                                               "exchange.saving_distribution=uniform",
                                                               "exchange.zeta=0.5", "sim.record_every=1"}));
  }
}
