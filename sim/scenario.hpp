#pragma once
// Scenario files: INI sections read with Boost.Program_options, composed by `include =`,
// overridden by `--set key=value`, validated against the parameter tables.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "sim/model.hpp"
#include "sim/params.hpp"

namespace sim {

struct Scenario {
  std::filesystem::path file;        // the scenario named on the command line
  std::vector<std::filesystem::path> files_read;  // it and its includes, in reading order
  const ModelSpec* model = nullptr;  // from [sim] model
  std::int64_t steps = 0;            // [sim] steps
  std::uint64_t seed = 0;            // [sim] seed
  std::int64_t record_every = 1;     // [sim] record_every
  std::int64_t snapshot_every = 0;   // [sim] snapshot_every (0: no snapshots)
  std::int64_t flush_every = 100;    // [sim] flush_every
  ParamValues params;                // every [sim] and model parameter, defaults filled in
  // Section [sweep] (used by `commons-sim sweep` only, and not part of resolved_text): the
  // design settings and the `vary.<parameter>` entries as "parameter=spec", ordered by name.
  ParamValues sweep;
  std::vector<std::string> sweep_vary;
  // The fully resolved scenario as INI text: [sim] and every model parameter with its value,
  // one per line, so that running this text reproduces the run.
  std::string resolved_text;
};

// Reads `file` and its includes, applies `overrides` ("key=value", command line wins) and
// checks every value. Throws InputError with a one-line message naming the file, line, key
// or value: unknown key (with the nearest valid name), bad number, out of range (with the
// allowed range), unknown choice, bad schedule, missing include, include cycle, unreadable file.
Scenario load_scenario(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                       const ModelList& models);

// The nearest name to `name` among `candidates` by edit distance (empty if none is close).
std::string nearest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace sim
