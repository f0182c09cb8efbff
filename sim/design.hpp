#pragma once
// Designs of parameter sweeps: which parameter values each run of a sweep gets.
//
//   grid    every combination of the factors' values (last factor varies fastest)
//   lhs     Latin hypercube of `samples` points over the factors' ranges
//   sobol   Saltelli's scheme for Sobol indices: base matrices A and B of `samples` rows, then
//           AB_1..AB_k (A with column i taken from B): samples * (k + 2) points, in that order
//   morris  `samples` Morris trajectories of k + 1 points on a grid of `levels` levels, step
//           delta = levels / (2 (levels - 1)) (Morris 1991; Campolongo et al. 2007)
// Random designs draw from the sweep's base seed, so a design is reproducible.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/params.hpp"

namespace sim {

enum class DesignKind { Grid, Lhs, Sobol, Morris };

// The most points a design may have (and runs a sweep): beyond it a sweep specification is
// almost surely a mistake, and its table alone would not fit in memory.
inline constexpr std::int64_t max_design_points = 10'000'000;

std::string design_name(DesignKind kind);
DesignKind design_kind(const std::string& name);  // InputError for an unknown name

// One varied parameter: `key=lo:hi:n` (n evenly spaced values; lo:hi for the random designs) or
// `key=a,b,c` (a list, grid only).
struct Factor {
  std::string name;
  const ParamSpec* spec = nullptr;
  bool is_list = false;
  double lo = 0.0;
  double hi = 0.0;
  std::int64_t n = 0;               // grid points of a range (0: not given)
  std::vector<std::string> values;  // a list's values, as written
  bool numeric() const;             // Integer or Real
};

// Parses `key=lo:hi[:n]` or `key=a,b,c` against the resolved parameters; InputError names the
// text and the problem (unknown key, bad number, range outside the parameter's range).
Factor parse_factor(const std::string& text, const ParamValues& params);

struct Design {
  DesignKind kind = DesignKind::Grid;
  std::vector<Factor> factors;
  std::int64_t samples = 0;  // lhs, sobol: base samples; morris: trajectories
  std::int64_t levels = 0;   // morris
  // points[p][f]: the value of factor f at design point p, as scenario text, and as a number
  // (NaN for a non-numeric value).
  std::vector<std::vector<std::string>> text;
  std::vector<std::vector<double>> value;
  std::size_t points() const { return text.size(); }
};

// Builds the design; InputError when the factors do not suit it (a list in a random design, a
// missing n in a grid, samples < 1, levels not even and >= 2 for morris).
Design make_design(DesignKind kind, std::vector<Factor> factors, std::int64_t samples, std::int64_t levels,
                   std::uint64_t seed);

// The seed of run `run` of a sweep with base seed `base`: SplitMix64 of base + (run + 1) times
// the golden-ratio increment, cut to 53 bits (the range of sim.seed). Documented in
// docs/sweeps.md; never from the clock.
std::uint64_t run_seed(std::uint64_t base, std::uint64_t run);

}  // namespace sim
