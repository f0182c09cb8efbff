#pragma once
// Sweeps: many runs of one scenario over a design of parameter values, into one HDF5 file
// (layout in docs/sweeps.md). Runs go in parallel over `jobs` threads; each finished run is
// written as it finishes, so memory does not grow with the number of runs; a run that fails
// is recorded with its error and the sweep goes on.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
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
  bool resume = false;                   // fill in the runs an earlier attempt left undone
  int jobs = 1;                          // runs at once
  int threads = 0;                       // threads inside each run (0: all cores / jobs)
  bool progress = false;
  std::string command_line;
  // Part `shard_index` of `shard_count`: only runs r with r % shard_count == shard_index are run;
  // the others stay empty in the file. `commons-sim merge` joins the parts.
  std::int64_t shard_index = 0;
  std::int64_t shard_count = 1;
};

struct SweepResult {
  std::string status;  // "complete" or "interrupted"
  std::int64_t runs = 0;
  std::int64_t complete = 0;
  std::int64_t failed = 0;
  double wall_seconds = 0.0;
  int exit_code = 0;   // 0; 3 when some runs failed; 130/143 interrupted
};

// Under mpirun (when built with MPI), rank 0 writes the file and hands runs one at a time to the
// other ranks; the file is the same as without MPI. A worker rank returns status "worker".
SweepResult run_sweep(const SweepOptions& options, const ModelList& models);

// Whether this build can spread sweeps over MPI ranks.
bool built_with_mpi();

// True in every MPI rank but rank 0 (which alone prints summaries and errors).
bool is_secondary_rank();

// Parses `i/n` (0 <= i < n) for --shard; InputError otherwise.
std::pair<std::int64_t, std::int64_t> parse_shard(const std::string& text);

// Joins the part files of a sharded sweep into `out`, which then holds the same /series and
// /runs datasets as the sweep run in one go. Refuses (InputError, `out` untouched) parts that
// are not sweep files, that come from different sweeps, or that hold the same run twice.
// Returns the number of runs no part holds (the merged file says status "incomplete").
std::int64_t merge_sweeps(const std::vector<std::filesystem::path>& parts, const std::filesystem::path& out,
                          bool overwrite);
// merge_sweeps in a child process (sim/guarded_read.hpp), as `commons-sim merge` runs it: a part
// on which the HDF5 library crashes or hangs is refused (InputError naming it), and neither `out`
// nor a temporary file is left behind.
std::int64_t merge_sweeps_guarded(const std::vector<std::filesystem::path>& parts,
                                  const std::filesystem::path& out, bool overwrite);

}  // namespace sim
