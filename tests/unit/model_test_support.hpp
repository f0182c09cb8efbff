#pragma once
// What the model unit tests share: the registered models, a shipped scenario with overrides, a
// series by name, and a whole run flattened for bitwise comparisons.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "sim/parallel.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

namespace model_tests {

inline const sim::ModelList& models() {
  static const sim::ModelList list = models::all_models();
  return list;
}

// A scenario from scenarios/ (a path relative to it), with `--set`-style overrides.
inline sim::Scenario scenario(const std::string& file, const std::vector<std::string>& overrides = {}) {
  return sim::load_scenario(std::string(SIM_SOURCE_DIR) + "/scenarios/" + file, overrides, models());
}

inline std::size_t series_index(const sim::Scenario& s, const std::string& name) {
  for (std::size_t i = 0; i < s.model->series.size(); ++i)
    if (s.model->series[i].name == name) return i;
  FAIL("no series " << name);
  return 0;
}

// Every series at every step, and every flow cell, in one vector.
inline std::vector<double> run_everything(const sim::Scenario& s) {
  sim::Simulation simulation(s);
  std::vector<double> out;
  while (simulation.steps_done() < s.steps) {
    simulation.step();
    const auto values = simulation.measure();
    out.insert(out.end(), values.begin(), values.end());
    const auto flows = simulation.take_flows();
    out.insert(out.end(), flows.cells().begin(), flows.cells().end());
  }
  return out;
}

// Runs the scenario on 1, then 2 and 4 threads, and checks every series and flow bit for bit;
// restores the thread count it found.
inline void check_same_on_1_2_4_threads(const sim::Scenario& s) {
  const int before = sim::max_threads();
  sim::set_threads(1);
  const auto one = run_everything(s);
  for (int threads : {2, 4}) {
    sim::set_threads(threads);
    const auto many = run_everything(s);
    INFO(threads << " threads");
    REQUIRE(many.size() == one.size());
    CHECK(std::memcmp(many.data(), one.data(), one.size() * sizeof(double)) == 0);
  }
  sim::set_threads(before);
}

}  // namespace model_tests
