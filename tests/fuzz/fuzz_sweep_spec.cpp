// libFuzzer target: the sweep specification (--vary texts, design, samples, levels).
//
// An input is lines: the first "DESIGN SAMPLES LEVELS", the others --vary texts. Every input must
// give a design or an InputError. Designs larger than 10^5 points are skipped after the size
// check, to keep each input fast (the check itself is what refuses the huge ones).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "models/all_models.hpp"
#include "sim/design.hpp"
#include "sim/error.hpp"
#include "sim/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sim::ModelList models = models::all_models();
  static const sim::Scenario base = [] {
    const auto path = std::filesystem::temp_directory_path() / "commons-sim-fuzz-sweep-base.ini";
    std::ofstream(path) << "[sim]\nmodel = exchange\nsteps = 10\n[exchange]\nagents = 10\n";
    return sim::load_scenario(path, {}, models);
  }();
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  std::string header;
  std::getline(in, header);
  std::istringstream head(header);
  std::string design = "grid";
  long long samples = 0, levels = 4;
  head >> design >> samples >> levels;
  std::vector<sim::Factor> factors;
  try {
    for (std::string line; std::getline(in, line);) factors.push_back(sim::parse_factor(line, base.params));
    double points = 1.0;
    for (const auto& f : factors) points *= f.is_list ? static_cast<double>(f.values.size()) : static_cast<double>(std::max<long long>(f.n, 1));
    if (points > 1e5 || samples > 10000 || samples * static_cast<long long>(factors.size() + 2) > 100000) {
      // Only the refusal of what is too large is exercised here.
      if (points > static_cast<double>(sim::max_design_points) || samples > sim::max_design_points) {
        try {
          sim::make_design(sim::design_kind(design), factors, samples, levels, 1);
          __builtin_trap();  // a design over the limit must be refused
        } catch (const sim::InputError&) {
        }
      }
      return 0;
    }
    const sim::Design d = sim::make_design(sim::design_kind(design), factors, samples, levels, 1);
    for (std::size_t p = 0; p < d.points(); ++p)
      if (d.text[p].size() != d.factors.size() || d.value[p].size() != d.factors.size()) __builtin_trap();
  } catch (const sim::InputError&) {
  }
  return 0;
}
