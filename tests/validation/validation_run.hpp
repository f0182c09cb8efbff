#pragma once
// What every validation test needs: a scenario from scenarios/validation/ with overrides, run in
// memory, and the time averages of its series after a burn-in.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"

namespace validation {

inline const sim::ModelList& models() {
  static const sim::ModelList list = models::all_models();
  return list;
}

inline sim::Scenario scenario(const std::string& file, const std::vector<std::string>& overrides) {
  return sim::load_scenario(std::string(SIM_SOURCE_DIR) + "/scenarios/validation/" + file, overrides, models());
}

// Time averages of every series over the steps after a burn-in, one sample per record_every,
// with the first and last samples kept.
struct Averages {
  std::vector<std::string> names;
  std::vector<double> sums;
  std::vector<double> first;
  std::vector<double> last;
  int samples = 0;

  std::size_t index(const std::string& name) const {
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return i;
    FAIL("no series " << name);
    return 0;
  }
  double operator[](const std::string& name) const { return sums[index(name)] / samples; }
  double first_value(const std::string& name) const { return first[index(name)]; }
  double final_value(const std::string& name) const { return last[index(name)]; }
};

inline Averages run_and_average(const sim::Scenario& scenario, std::int64_t burn_in) {
  sim::Simulation simulation(scenario);
  Averages a;
  for (const auto& s : scenario.model->series) a.names.push_back(s.name);
  a.sums.assign(a.names.size(), 0.0);
  while (simulation.steps_done() < scenario.steps) {
    simulation.step();
    const auto step = simulation.steps_done();
    if (step <= burn_in || step % scenario.record_every != 0) continue;
    const auto values = simulation.measure();
    if (a.samples == 0) a.first.assign(values.begin(), values.end());
    a.last.assign(values.begin(), values.end());
    for (std::size_t i = 0; i < values.size(); ++i) a.sums[i] += values[i];
    ++a.samples;
  }
  return a;
}

}  // namespace validation
