#include "sim/runner.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>

#include <unistd.h>

#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/checkpoint.hpp"
#include "sim/run_file.hpp"
#include "sim/simulation.hpp"
#include "sim/version.hpp"

namespace sim {
namespace {

volatile std::sig_atomic_t stop_signal = 0;

extern "C" void on_stop_signal(int signal) { stop_signal = signal; }

// Installs the handlers for the life of a run and restores the previous ones after.
class StopSignals {
 public:
  StopSignals() {
    stop_signal = 0;
    previous_int_ = std::signal(SIGINT, on_stop_signal);
    previous_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~StopSignals() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  int received() const { return stop_signal; }

 private:
  void (*previous_int_)(int);
  void (*previous_term_)(int);
};

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  return text;
}

class Progress {
  using Clock = std::chrono::steady_clock;

 public:
  Progress(bool enabled, std::int64_t total, std::string time_name)
      : enabled_(enabled), total_(total), time_name_(std::move(time_name)), start_(Clock::now()), last_(start_) {}

  void update(std::int64_t step, double time) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(250) && step != total_) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(step) / elapsed : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total_ - step) / rate : 0.0;
    std::fprintf(stderr, "\rstep %lld/%lld  %s %.6g  %.1f steps/s  ETA %s   ", static_cast<long long>(step),
                 static_cast<long long>(total_), time_name_.c_str(), time, rate, clock_text(eta).c_str());
    std::fflush(stderr);
  }
  void done() {
    if (enabled_) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  std::int64_t total_;
  std::string time_name_;
  Clock::time_point start_;
  Clock::time_point last_;
};

}  // namespace

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

namespace {

// Where a run stands in its output: what it last recorded and flushed.
struct Position {
  std::int64_t last_recorded = -1;
  std::int64_t last_flushed = 0;
};

// The step loop from wherever `simulation` stands to the end (or a signal): records, flushes,
// checkpoints, progress, and the file's final status.
RunResult drive(const Scenario& scenario, Simulation& simulation, RunFile& file, const RunOptions& options,
                Position position, std::chrono::steady_clock::time_point wall_start) {
  auto wall_seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  };
  StopSignals signals;
  Progress progress(options.progress, scenario.steps, scenario.model->time_name);
  RunResult result;
  result.steps_completed = simulation.steps_done();
  const std::vector<std::int64_t> snapshots = snapshot_steps(scenario);
  double writing = 0.0, snapshotting = 0.0, checkpointing = 0.0;
  auto timed = [](double& seconds, auto&& work) {
    const auto start = std::chrono::steady_clock::now();
    work();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto record = [&] {
    position.last_recorded = simulation.steps_done();
    const FlowMatrix flows = simulation.take_flows();
    const auto values = simulation.measure();
    const auto regions = simulation.measure_regions();
    timed(writing, [&] {
      file.append(simulation.steps_done(), simulation.time(), values, flows.cells(), regions);
      if (simulation.steps_done() - position.last_flushed >= scenario.flush_every) {
        file.flush(simulation.steps_done());
        position.last_flushed = simulation.steps_done();
      }
    });
    result.final_values.clear();
    for (std::size_t i = 0; i < values.size(); ++i)
      result.final_values.emplace_back(scenario.model->series[i].name, values[i]);
  };
  // After the record of its step and before a checkpoint of it, so a checkpoint's output file
  // holds every snapshot up to the checkpoint.
  auto snapshot = [&] {
    if (!std::binary_search(snapshots.begin(), snapshots.end(), simulation.steps_done())) return;
    timed(snapshotting, [&] {
      State state;
      simulation.model().snapshot(state);
      file.write_snapshot(simulation.steps_done(), state);
    });
  };
  auto account_times = [&] {
    const auto& times = simulation.times();
    result.timings.clear();
    for (std::size_t i = 0; i < times.phases.size(); ++i)
      result.timings.emplace_back("phase " + simulation.phases()[i].name, times.phases[i]);
    result.timings.emplace_back("conservation check", times.check);
    result.timings.emplace_back("measuring outputs", times.measure);
    result.timings.emplace_back("writing the output file", writing);
    result.timings.emplace_back("snapshots", snapshotting);
    result.timings.emplace_back("checkpoints", checkpointing);
  };
  auto checkpoint = [&] {
    timed(checkpointing, [&] {
      // The output must hold every record up to the checkpoint before the checkpoint exists.
      file.flush(simulation.steps_done());
      position.last_flushed = simulation.steps_done();
      Checkpoint c;
      c.version = sim::version;
      c.model = scenario.model->name;
      c.scenario_text = scenario.resolved_text;
      c.scenario_file = scenario.file;
      c.out = std::filesystem::absolute(file.path());
      c.step = simulation.steps_done();
      c.last_recorded = position.last_recorded;
      c.last_flushed = position.last_flushed;
      c.checkpoint_every = options.checkpoint_every;
      simulation.save(c.state);
      write_checkpoint(options.checkpoint, c);
    });
  };

  try {
    if (position.last_recorded < 0) {
      record();
      snapshot();
    }
    while (simulation.steps_done() < scenario.steps && signals.received() == 0) {
      simulation.step();
      const std::int64_t step = simulation.steps_done();
      result.steps_completed = step;
      if (step % scenario.record_every == 0 || step == scenario.steps) record();
      snapshot();
      if (options.checkpoint_every > 0 && step % options.checkpoint_every == 0 && step < scenario.steps) checkpoint();
      progress.update(step, simulation.time());
    }
    // An interrupted run keeps the state it stopped at.
    if (position.last_recorded != simulation.steps_done()) record();
  } catch (const RunError& e) {
    progress.done();
    result.status = "failed";
    result.exit_code = exit_run_error;
    result.error = e.what();
    timed(writing,
          [&] { file.finish(result.status, result.steps_completed, wall_seconds(), utc_now()); });
    result.wall_seconds = wall_seconds();
    account_times();
    return result;
  }
  progress.done();
  if (signals.received() != 0) {
    result.status = "interrupted";
    result.exit_code = signals.received() == SIGINT ? exit_sigint : exit_sigterm;
  } else {
    result.status = "complete";
    result.exit_code = exit_ok;
  }
  timed(writing,
        [&] { file.finish(result.status, result.steps_completed, wall_seconds(), utc_now()); });
  result.wall_seconds = wall_seconds();
  account_times();
  return result;
}

}  // namespace

std::filesystem::path default_checkpoint(const std::filesystem::path& out) { return out.string() + ".checkpoint"; }

RunResult run_scenario(const Scenario& scenario, const RunOptions& options) {
  set_threads(options.threads);
  const auto wall_start = std::chrono::steady_clock::now();
  RunOptions o = options;
  if (o.checkpoint_every > 0 && o.checkpoint.empty()) o.checkpoint = default_checkpoint(o.out);
  RunMeta meta{sim::version, sim::git_commit, o.command_line, max_threads(), utc_now()};
  // The model is built before the file is created, so a model that cannot be built (not enough
  // memory, opening balances that do not add up) leaves no half-made file; the path is checked
  // first, as building may take a while.
  check_output_path(o.out, o.overwrite);
  const bool snapshots = !snapshot_steps(scenario).empty();
  region_count(scenario);
  Simulation simulation(scenario);
  // The datasets of every snapshot are made with the file, in the types the model's fields have.
  State snapshot_types;
  if (snapshots) simulation.model().snapshot(snapshot_types);
  RunFile file(o.out, o.overwrite, scenario, meta, snapshot_types);
  return drive(scenario, simulation, file, o, Position{}, wall_start);
}

RunResult resume_run(const std::filesystem::path& checkpoint_path, const RunOptions& options, const ModelList& models) {
  set_threads(options.threads);
  const auto wall_start = std::chrono::steady_clock::now();
  const Checkpoint c = read_checkpoint(checkpoint_path);
  const std::string shown = checkpoint_path.string();

  // The scenario, exactly as the run resolved it.
  const auto text_file = std::filesystem::temp_directory_path() /
                         ("commons-sim-resume-" + std::to_string(::getpid()) + ".ini");
  { std::ofstream(text_file) << c.scenario_text; }
  Scenario scenario;
  try {
    scenario = load_scenario(text_file, {}, models);
  } catch (const InputError& e) {
    std::filesystem::remove(text_file);
    throw InputError("checkpoint '" + shown + "' holds a scenario this commons-sim cannot load: " + e.what());
  }
  std::filesystem::remove(text_file);
  scenario.file = c.scenario_file;
  if (scenario.model->name != c.model || scenario.resolved_text != c.scenario_text)
    throw InputError("checkpoint '" + shown + "' does not match its own scenario (model " + c.model + ")");
  if (c.step < 0 || c.step > scenario.steps || c.last_recorded > c.step || c.last_recorded < 0)
    throw InputError("checkpoint '" + shown + "' is inconsistent (step " + std::to_string(c.step) + ")");

  // The output file is read in a child process first, before this process starts OpenMP threads:
  // the HDF5 library can crash or hang on a damaged file (sim/guarded_read.hpp).
  check_resumable_output(c.out, *scenario.model, c.scenario_text, c.step);

  Simulation simulation(scenario);
  try {
    simulation.restore(c.state, c.step);
  } catch (const std::runtime_error& e) {
    throw InputError("checkpoint '" + shown + "' does not fit model '" + c.model + "': " + e.what());
  }

  // The new output file: the old one's records up to the checkpoint, built under a temporary
  // name and renamed over the old file only once it holds them all.
  const StoredRecords records = read_records(c.out, *scenario.model, c.scenario_text, c.step);
  if (records.steps.empty() || records.steps.back() != c.last_recorded)
    throw InputError("output file '" + c.out.string() + "' lacks the records up to the checkpoint's step " +
                     std::to_string(c.step));
  RunOptions o = options;
  o.out = c.out;
  if (o.checkpoint_every == 0) o.checkpoint_every = c.checkpoint_every;
  if (o.checkpoint.empty()) o.checkpoint = checkpoint_path;
  const std::filesystem::path building = c.out.string() + ".resuming";
  RunMeta meta{sim::version, sim::git_commit, o.command_line, max_threads(), utc_now()};
  State snapshot_types;
  if (!snapshot_steps(scenario).empty()) simulation.model().snapshot(snapshot_types);
  std::optional<RunFile> file;
  file.emplace(building, true, scenario, meta, snapshot_types);
  try {
    for (std::size_t r = 0; r < records.steps.size(); ++r)
      file->append(records.steps[r], records.times[r], records.values[r], records.flows[r], records.regions[r]);
    file->carry_snapshots(c.out, c.step);
    file->flush(c.step);
  } catch (...) {
    // The output file is untouched; the half-built one goes.
    file.reset();
    std::error_code ignored;
    std::filesystem::remove(building, ignored);
    throw;
  }
  std::filesystem::rename(building, c.out);
  file->moved_to(c.out);
  return drive(scenario, simulation, *file, o, Position{c.last_recorded, c.step}, wall_start);
}

}  // namespace sim
