#pragma once
// Checkpoints: the full state of a run at a step, in an HDF5 file, so that `commons-sim resume`
// continues the run and its output is bitwise identical to a run that was never interrupted.
// The random streams need no saving: every draw is addressed by (seed, stream, step, index).
#include <cstdint>
#include <filesystem>
#include <string>

#include "sim/state.hpp"

namespace sim {

// 2: the file starts with a 512-byte user block holding the format, version, size and a checksum
// of the bytes after it, checked before HDF5 opens the file.
inline constexpr const char* checkpoint_format = "commons-sim-checkpoint/2";

struct Checkpoint {
  std::string version;        // of the commons-sim that wrote it; resume needs the same
  std::string model;
  std::string scenario_text;  // the resolved scenario the run was started from
  std::filesystem::path scenario_file;
  std::filesystem::path out;  // the run's output file
  std::int64_t step = 0;      // the state is the state at the end of this step
  std::int64_t last_recorded = 0;
  std::int64_t last_flushed = 0;
  std::int64_t checkpoint_every = 0;
  State state;                // "ledger.*" and "model.*" entries
};

// Writes `path` atomically (a temporary file renamed over it), so a run killed while writing a
// checkpoint keeps the previous one. Throws InputError when the path cannot be written.
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);

// Reads and checks a checkpoint: format, version, and a checksum over everything it holds.
// InputError, naming the file and what is wrong, for a missing, truncated, corrupt or
// other-version file.
Checkpoint read_checkpoint(const std::filesystem::path& path);

// Fills in the user block of the checkpoint `path` (size and checksum of its HDF5 part) and
// syncs it; `shown` is the name in error messages. write_checkpoint calls it; the fuzz target
// and tests call it to hand damaged HDF5 content past the checksum to the reader.
void seal_checkpoint(const std::filesystem::path& path, const std::filesystem::path& shown);

}  // namespace sim
