#pragma once
// The HDF5 output file of one run (layout: docs/output.md, format "commons-sim/1").
//
//   /series/<name>   float64 [step], attributes units, description; scales step and year|time
//   /series/step     int64 [step], the actual step numbers (a dimension scale)
//   /series/<time>   float64 [step], simulated time (a coordinate along step)
//   /flows/matrix    float64 [step, flow_type, sector], money moved since the previous record,
//                    with scales /flows/step, /flows/flow_type, /flows/sector
//   /regions/<name>  float64 [step, region] for models that declare region series, with their own
//                    scales /regions/step and /regions/region and coordinate /regions/<time>
//   /snapshots/<step>/<kind>/<field>  agent arrays every `sim.snapshot_every` steps (models that
//                    declare snapshot fields); /snapshots/steps lists the snapshots written whole
//   /scenario        group: attribute `text` (the resolved scenario) and one attribute per parameter
//   /meta            group: format, version, git_commit, command_line, model, seed, threads,
//                    phases, start_time, end_time, wall_seconds, steps_completed, status;
//                    /meta/progress: steps completed at the last flush (updated while running);
//                    /meta/record_hashes: checksums of the stored values of every record dataset,
//                    written at each flush after the records and before the progress
//
// Chunked and extendible along steps; written with SWMR so another process can read it while
// it runs; flushed every `flush_every` records so a killed run leaves every flushed step.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sim/model.hpp"
#include "sim/scenario.hpp"
#include "sim/state.hpp"

namespace sim {

struct RunMeta {
  std::string version;       // of commons-sim
  std::string git_commit;    // of the source it was built from ("unknown" outside git)
  std::string command_line;  // as typed
  int threads = 1;
  std::string start_time;    // ISO 8601, UTC
};

// The most snapshots one run may write (each is a group created when the file is created).
inline constexpr std::int64_t max_snapshots = 10'000;

// The steps at which a run of `scenario` writes agent snapshots: 0, every `sim.snapshot_every`
// steps and the last step; none when snapshot_every is 0 or the model declares no snapshot
// fields. InputError naming sim.snapshot_every when there would be more than max_snapshots.
std::vector<std::int64_t> snapshot_steps(const Scenario& scenario);

// The number of regions of a run of `scenario` (0 for a model without region series).
// InputError when a model with region series has none with these parameters.
std::size_t region_count(const Scenario& scenario);

class RunFile {
 public:
  // Creates `path`. Throws InputError naming the path when it exists and `overwrite` is false
  // (the existing file is left untouched), or when it cannot be created. When the run writes
  // snapshots (snapshot_steps is not empty), `snapshot_types` is a snapshot of the model as
  // built (Model::snapshot): it fixes each field's element type, since every snapshot's datasets
  // are created with the file (SWMR writers cannot create objects).
  RunFile(const std::filesystem::path& path, bool overwrite, const Scenario& scenario,
          const RunMeta& meta, const State& snapshot_types = State());
  ~RunFile();  // closes; a file not finished keeps status "running"
  RunFile(const RunFile&) = delete;
  RunFile& operator=(const RunFile&) = delete;

  // One record: the step, its simulated time, one value per declared series (declaration
  // order) and the flow matrix (row-major [flow_type, sector]; empty when the model has none).
  // `regions` holds every declared region series for every region, laid out [series][region]
  // (Model::measure_regions); empty when the model has no region series.
  void append(std::int64_t step, double time, std::span<const double> values,
              std::span<const double> flows, std::span<const double> regions = {});
  // Writes the agent snapshot of `step` (one of snapshot_steps): every declared field, then
  // flushes, then lists the step in /snapshots/steps and flushes again, so a snapshot listed
  // there is whole. RunError when the model's snapshot lacks a declared field or changed a
  // field's type.
  void write_snapshot(std::int64_t step, const State& snapshot);
  // Copies the snapshots `from` (an earlier file of the same run) lists as whole, up to and
  // including `up_to_step`, for a resumed run. InputError naming `from` when it cannot be read.
  void carry_snapshots(const std::filesystem::path& from, std::int64_t up_to_step);
  // Makes everything appended so far durable and visible to readers.
  void flush(std::int64_t steps_completed);
  // Sets status ("complete" or "interrupted"), steps_completed, end_time and wall_seconds, closes.
  void finish(const std::string& status, std::int64_t steps_completed, double wall_seconds,
              const std::string& end_time);

  const std::filesystem::path& path() const;
  // The file was renamed while open (a resumed run builds its file under another name first).
  void moved_to(const std::filesystem::path& path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The records of an output file up to a step, to carry them into the file of a resumed run.
struct StoredRecords {
  std::vector<std::int64_t> steps;
  std::vector<double> times;
  std::vector<std::vector<double>> values;  // [record][series]
  std::vector<std::vector<double>> flows;   // [record][flow cells]; empty rows without /flows
  std::vector<std::vector<double>> regions; // [record][series * region]; empty rows without /regions
};
// Reads every record of `path` with step <= `up_to_step`; InputError naming the file when it
// cannot be read, does not hold the scenario `scenario_text` with the model's series, or a stored
// value /meta/record_hashes covers does not match its checksum (named with its dataset).
StoredRecords read_records(const std::filesystem::path& path, const ModelSpec& model,
                           const std::string& scenario_text, std::int64_t up_to_step);
// Reads what a resumed run takes from `path` (read_records, and every field of the snapshots it
// lists whole up to `up_to_step`) in a child process (run_guarded), so that a file on which the
// HDF5 library crashes or hangs is refused: InputError naming the file. Call it before this
// process starts OpenMP threads.
void check_resumable_output(const std::filesystem::path& path, const ModelSpec& model,
                            const std::string& scenario_text, std::int64_t up_to_step);

// Refuses (InputError naming the path) an output path that exists while `overwrite` is false, or
// that cannot be created; checked before HDF5 touches anything, so an existing file is kept.
void check_output_path(const std::filesystem::path& path, bool overwrite);

// docs/output.md: the file layout above and every model's declared series, region series and
// snapshot fields.
std::string output_doc_markdown(const ModelList& models);

}  // namespace sim
