#include "sim/runner.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>

#include "sim/error.hpp"
#include "sim/parallel.hpp"
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

RunResult run_scenario(const Scenario& scenario, const RunOptions& options) {
  set_threads(options.threads);
  const auto wall_start = std::chrono::steady_clock::now();
  auto wall_seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  };

  RunMeta meta{sim::version, sim::git_commit, options.command_line, max_threads(), utc_now()};
  RunFile file(options.out, options.overwrite, scenario, meta);
  StopSignals signals;
  Progress progress(options.progress, scenario.steps, scenario.model->time_name);
  RunResult result;
  std::int64_t last_flushed = 0;
  std::int64_t last_recorded = -1;
  auto record = [&](Simulation& simulation) {
    last_recorded = simulation.steps_done();
    const FlowMatrix flows = simulation.take_flows();
    const auto values = simulation.measure();
    file.append(simulation.steps_done(), simulation.time(), values, flows.cells());
    if (simulation.steps_done() - last_flushed >= scenario.flush_every) {
      file.flush(simulation.steps_done());
      last_flushed = simulation.steps_done();
    }
    result.final_values.clear();
    for (std::size_t i = 0; i < values.size(); ++i)
      result.final_values.emplace_back(scenario.model->series[i].name, values[i]);
  };

  try {
    Simulation simulation(scenario);
    record(simulation);
    while (simulation.steps_done() < scenario.steps && signals.received() == 0) {
      simulation.step();
      const std::int64_t step = simulation.steps_done();
      result.steps_completed = step;
      if (step % scenario.record_every == 0 || step == scenario.steps) record(simulation);
      progress.update(step, simulation.time());
    }
    // An interrupted run keeps the state it stopped at.
    if (last_recorded != simulation.steps_done()) record(simulation);
  } catch (const RunError& e) {
    progress.done();
    result.status = "failed";
    result.exit_code = exit_run_error;
    result.error = e.what();
    result.wall_seconds = wall_seconds();
    file.finish(result.status, result.steps_completed, result.wall_seconds, utc_now());
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
  result.wall_seconds = wall_seconds();
  file.finish(result.status, result.steps_completed, result.wall_seconds, utc_now());
  return result;
}

}  // namespace sim
