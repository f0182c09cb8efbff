#pragma once
// Sweeps: many runs of one scenario over a design of parameter values, into one HDF5 file
// (layout in docs/sweeps.md). Runs go in parallel over `jobs` threads; each finished run is
// written as it finishes, so memory does not grow with the number of runs; a run that fails
// is recorded with its error and the sweep goes on.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/design.hpp"
#include "sim/model.hpp"

namespace sim {

struct SweepOptions {
  std::filesystem::path scenario;        // the base scenario
  std::vector<std::string> overrides;    // --set and friends, for every run
  Design design;
  std::int64_t replicas = 1;             // runs per design point, each with its own seed
  std::filesystem::path out;
  bool overwrite = false;
  int jobs = 1;                          // runs at once
  int threads = 0;                       // threads inside each run (0: all cores / jobs)
  bool progress = false;
  std::string command_line;
};

struct SweepResult {
  std::string status;  // "complete" or "interrupted"
  std::int64_t runs = 0;
  std::int64_t complete = 0;
  std::int64_t failed = 0;
  double wall_seconds = 0.0;
  int exit_code = 0;   // 0; 3 when some runs failed; 130/143 interrupted
};

SweepResult run_sweep(const SweepOptions& options, const ModelList& models);

}  // namespace sim
