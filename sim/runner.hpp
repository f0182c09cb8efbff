#pragma once
// One run from a scenario to its output file, with progress, flushing and signal handling.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/scenario.hpp"

namespace sim {

struct RunOptions {
  std::filesystem::path out;
  bool overwrite = false;
  int threads = 0;            // 0: OpenMP's default
  bool progress = false;      // a progress line on stderr
  std::string command_line;
  std::int64_t checkpoint_every = 0;  // steps between checkpoints (0: none)
  std::filesystem::path checkpoint;   // where (default: the output's name + .checkpoint)
};

struct RunResult {
  std::string status;         // "complete", "interrupted" or "failed"
  int exit_code = 0;          // 0, 130 (SIGINT), 143 (SIGTERM) or 3 (failed)
  std::string error;          // why it failed
  std::int64_t steps_completed = 0;
  double wall_seconds = 0.0;
  std::vector<std::pair<std::string, double>> final_values;  // each series at the last record
  // Where the wall time went, in seconds: "phase <name>" for each phase, then "conservation
  // check", "measuring outputs", "writing the output file", "snapshots", "checkpoints"; the rest
  // of wall_seconds is start-up (building the model, creating or carrying over the file).
  std::vector<std::pair<std::string, double>> timings;
};

// Runs the scenario, writing `options.out`. SIGINT and SIGTERM stop the run after the current
// step: the file is flushed and marked "interrupted". A RunError (money not conserved, a
// non-finite value) marks the file "failed". Throws InputError before anything is written
// when the output cannot be created.
RunResult run_scenario(const Scenario& scenario, const RunOptions& options);

// Continues the run a checkpoint was taken from: its output file keeps the records up to the
// checkpoint and grows from there, so it ends bitwise identical to a run that never stopped.
// `options.out` and `options.overwrite` are ignored (the checkpoint names the output file);
// threads, progress, command line and checkpoint_every (0: the checkpoint's) apply.
// InputError, before anything is written, for a checkpoint or output file that does not fit.
RunResult resume_run(const std::filesystem::path& checkpoint, const RunOptions& options, const ModelList& models);

// The default checkpoint file of an output file.
std::filesystem::path default_checkpoint(const std::filesystem::path& out);

// The current time in ISO 8601, UTC.
std::string utc_now();

}  // namespace sim
