// libFuzzer target: the sweep specification (--vary texts, design, samples, levels).
//
// An input is lines: the first "DESIGN SAMPLES LEVELS", the others --vary texts. Every input must
// give a design of the expected size or an InputError; a design over the limit must be refused.
// Legal designs over 10^5 points are skipped, to keep each input fast.
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
    const sim::DesignKind kind = sim::design_kind(design);
    // The size each design would have (what make_design must check before building anything).
    const auto k = static_cast<double>(factors.size());
    const auto n = static_cast<double>(samples);
    double points = 1.0;
    for (const auto& f : factors) points *= f.is_list ? static_cast<double>(f.values.size()) : static_cast<double>(std::max<long long>(f.n, 1));
    const double size = kind == sim::DesignKind::Grid    ? points
                        : kind == sim::DesignKind::Lhs   ? n
                        : kind == sim::DesignKind::Sobol ? n * (k + 2.0)
                                                         : n * (k + 1.0);
    if (size > static_cast<double>(sim::max_design_points)) {
      try {
        sim::make_design(kind, factors, samples, levels, 1);
        __builtin_trap();  // a design over the limit must be refused
      } catch (const sim::InputError&) {
      }
      return 0;
    }
    if (size > 1e5) return 0;  // legal but slow: keep each input fast
    const sim::Design d = sim::make_design(kind, factors, samples, levels, 1);
    if (static_cast<double>(d.points()) != size && !(kind == sim::DesignKind::Grid && factors.empty())) __builtin_trap();
    for (std::size_t p = 0; p < d.points(); ++p)
      if (d.text[p].size() != d.factors.size() || d.value[p].size() != d.factors.size()) __builtin_trap();
  } catch (const sim::InputError&) {
  }
  return 0;
}
