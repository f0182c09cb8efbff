#include "sim/serve.hpp"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "sim/design.hpp"
#include "sim/error.hpp"
#include "sim/parallel.hpp"
#include "sim/run_file.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"
#include "sim/version.hpp"

namespace sim {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// A request the server refuses: an HTTP status and a message for the person.
struct ApiError : std::runtime_error {
  int status;
  ApiError(int s, const std::string& message) : std::runtime_error(message), status(s) {}
};

std::string random_hex(std::size_t bytes) {
  static std::mutex m;
  static std::random_device device;
  std::lock_guard lock(m);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    const unsigned v = device() & 0xffu;
    out += digits[v >> 4];
    out += digits[v & 15];
  }
  return out;
}

// Room codes: 5 letters and digits that cannot be misread (no 0/O, 1/I/L).
std::string random_code() {
  static const std::string alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
  std::string hex = random_hex(5), code;
  for (std::size_t i = 0; i < 5; ++i)
    code += alphabet[std::stoul(hex.substr(2 * i, 2), nullptr, 16) % alphabet.size()];
  return code;
}

// Cuts UTF-8 text to at most `bytes` bytes without splitting a character.
void truncate_utf8(std::string& text, std::size_t bytes) {
  if (text.size() <= bytes) return;
  std::size_t end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
}

// Invalid UTF-8 (which the parser lets through nowhere, but be safe) is replaced, never thrown.
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json range_json(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json param_json(const ParamSpec& p) {
  return {{"name", p.name},
          {"section", p.section()},
          {"key", p.key()},
          {"kind", std::string(kind_name(p.kind))},
          {"default", p.default_text},
          {"unit", p.unit},
          {"min", range_json(p.min)},
          {"max", range_json(p.max)},
          {"choices", p.choices},
          {"description", p.description},
          {"source", p.source},
          {"schedulable", p.schedulable}};
}

json series_json(const std::vector<SeriesSpec>& series) {
  json out = json::array();
  for (const auto& s : series)
    out.push_back({{"name", s.name}, {"units", s.units}, {"description", s.description}});
  return out;
}

// The browser may set these [sim] keys; the rest of [sim] stays as the scenario has it.
bool browser_sim_key(const std::string& name) {
  return name == "sim.steps" || name == "sim.seed" || name == "sim.record_every";
}

// A value from the browser as scenario text: strings as they are, numbers and booleans written.
std::string value_text(const std::string& key, const json& v) {
  std::string text;
  if (v.is_string())
    text = v.get<std::string>();
  else if (v.is_boolean())
    text = v.get<bool>() ? "true" : "false";
  else if (v.is_number_integer())
    text = std::to_string(v.get<std::int64_t>());
  else if (v.is_number())
    text = format_real(v.get<double>());
  else
    throw ApiError(400,
                   "parameter '" + key + "': the value must be a string, a number or true/false");
  if (text.size() > 2000) throw ApiError(400, "parameter '" + key + "': the value is too long");
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f)
      throw ApiError(400, "parameter '" + key + "': the value holds a control character");
  return text;
}

// One scenario the page offers: a file, its title and description from its leading comments.
struct ScenarioEntry {
  std::string id;
  fs::path file;
  std::string title;
  std::string description;
  std::unique_ptr<Scenario> scenario;  // as the file has it, to fill in the page's form
};

void read_comment_header(const fs::path& file, std::string& title, std::string& description) {
  std::ifstream in(file);
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) != 0) break;
    std::string text = line.substr(1);
    if (!text.empty() && text[0] == ' ') text.erase(0, 1);
    if (first) {
      const auto colon = text.find(": ");
      title = colon != std::string::npos && colon < 40 ? text.substr(colon + 2) : text;
      first = false;
    } else {
      description += text + "\n";
    }
  }
}

// One recorded step of a run.
struct Record {
  std::int64_t step = 0;
  double time = 0.0;
  std::vector<double> values;
  std::vector<double> flows;
  std::vector<double> regions;  // [series][region], empty for a model without regions
};

// A replica of an ensemble under way.
struct ReplicaWork {
  std::unique_ptr<Scenario> scenario;
  std::unique_ptr<Simulation> simulation;
  std::vector<std::vector<double>> rows;  // [record][series]
  std::vector<std::int64_t> steps;
  std::vector<double> times;
  void keep() {
    const auto v = simulation->measure();
    rows.emplace_back(v.begin(), v.end());
    steps.push_back(simulation->steps_done());
    times.push_back(simulation->time());
  }
};

struct LeverChange {
  std::int64_t step;  // takes effect from this step on
  std::string name;
  std::string value;
};

// A run or an ensemble; every field below `m` is guarded by it.
struct Run {
  int id = 0;
  std::string owner;
  bool ensemble = false;
  const ModelSpec* model = nullptr;
  std::string scenario_id;
  fs::path scenario_file;
  std::atomic<bool> cancelled{false};

  std::mutex m;
  std::condition_variable changed;
  std::uint64_t version = 0;
  std::string state = "paused";  // paused, running, complete, failed, stopped
  std::string error;
  std::vector<std::string> overrides;  // key=value as given, lever changes folded in
  std::unique_ptr<Scenario> scenario;
  std::unique_ptr<Simulation> simulation;
  std::vector<Record> records;
  FlowMatrix carried_flows;  // flows of a simulation replaced by a lever change
  std::vector<LeverChange> changes;
  std::int64_t stop_at = -1;  // pause when this step is reached (the Step button)
  double speed = 50;          // records per second; 0: as fast as it goes
  bool queued = false;
  // Ensembles: one row per replica, [record][series]; then the median and 10-90 % band.
  std::int64_t replicas = 0, replicas_done = 0;
  std::vector<std::vector<std::vector<double>>> replica_values;
  std::vector<std::unique_ptr<ReplicaWork>> replica_work;  // each touched by its own task only
  std::vector<std::int64_t> record_steps;
  std::vector<double> record_times;
  json ensemble_result;
};

struct Participant {
  std::string token;
  std::string name;
  std::string room;  // empty: a session on this computer without a room
  bool facilitator = false;
  std::vector<int> runs;  // oldest first
  int streams = 0;
};

struct SavedRun {
  int number;
  std::string participant;
  std::string label;
  json data;
};

struct Room {
  std::string code;
  std::vector<std::string> participants;  // tokens
  std::vector<SavedRun> saved;
  int next_number = 1;
};

class Server {
 public:
  Server(const ServeOptions& options, const ModelList& models)
      : options_(options), models_(models) {
    temp_dir_ = fs::temp_directory_path() /
                ("commons-sim-serve-" + std::to_string(getpid()) + "-" + random_hex(4));
    fs::create_directories(temp_dir_);
    load_scenarios();
    if (!options_.room.empty()) open_room(options_.room);
  }
  ~Server() {
    std::error_code ec;
    fs::remove_all(temp_dir_, ec);
  }

  int run();

 private:
  // --- setup
  void load_scenarios();
  Room& open_room(const std::string& code);

  // --- requests
  void routes(httplib::Server& http);
  Participant& participant(const httplib::Request& req);
  std::shared_ptr<Run> owned_run(const httplib::Request& req);
  json info_json();
  json scenario_json(const ScenarioEntry& s);
  const ScenarioEntry& scenario_entry(const std::string& id);
  std::unique_ptr<Scenario> checked_scenario(const ScenarioEntry& entry,
                                             const std::vector<std::string>& overrides);
  std::vector<std::string> overrides_from(const ScenarioEntry& entry, const json& set);
  json create_run(Participant& who, const json& body, bool ensemble);
  void control(Run& run, const json& body);
  void change_lever(Run& run, const json& body);
  json run_json(Run& run, std::size_t from_record, bool full);
  std::string download(Run& run);
  json save_to_room(Participant& who, Run& run, const json& body);
  void stream(const httplib::Request& req, httplib::Response& res);
  void forget_old_runs(Participant& who);
  std::int64_t active_runs(const Participant& who);

  // --- workers
  void enqueue(const std::shared_ptr<Run>& run, int replica, Clock::time_point not_before);
  void worker();
  void advance(const std::shared_ptr<Run>& run);
  void run_replica(const std::shared_ptr<Run>& run, int replica);
  void record(Run& run);
  void finish_ensemble(Run& run);

  const ServeOptions& options_;
  const ModelList& models_;
  fs::path temp_dir_;
  std::vector<ScenarioEntry> scenarios_;

  std::mutex m_;  // participants, rooms, runs
  std::map<std::string, Participant> participants_;
  std::map<std::string, Room> rooms_;
  std::map<int, std::shared_ptr<Run>> runs_;
  int next_run_ = 1;

  struct Task {
    std::shared_ptr<Run> run;
    int replica;
    Clock::time_point not_before;
  };
  std::mutex queue_m_;
  std::condition_variable queue_cv_;
  std::deque<Task> queue_;
  std::atomic<bool> stopping_{false};
};

// ---------------------------------------------------------------------------------------------
// Setup

fs::path executable_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

void Server::load_scenarios() {
  std::vector<fs::path> files = options_.scenarios;
  const bool chosen = !files.empty();
  if (!chosen) {
    // The project's scenarios: beside the current folder, else beside the binary (build/..).
    fs::path dir = "scenarios";
    if (!fs::is_directory(dir)) dir = executable_dir() / ".." / "scenarios";
    if (fs::is_directory(dir)) {
      for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".ini") files.push_back(e.path());
      // The workshop's own scenarios first, then the rest by name.
      const std::vector<std::string> first = {"cpr_fishing_game", "exchange_demo", "workshop"};
      auto rank = [&](const fs::path& p) {
        const auto it = std::find(first.begin(), first.end(), p.stem().string());
        return it == first.end() ? first.size() : static_cast<std::size_t>(it - first.begin());
      };
      std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
        return std::make_pair(rank(a), a.filename().string()) <
               std::make_pair(rank(b), b.filename().string());
      });
    }
  }
  for (const auto& file : files) {
    ScenarioEntry e;
    e.file = fs::absolute(file);
    e.id = file.stem().string();
    try {
      e.scenario = std::make_unique<Scenario>(load_scenario(e.file, {}, models_));
    } catch (const InputError& err) {
      if (chosen) throw;  // a scenario named with --scenario must load
      continue;
    }
    if (!chosen && !e.scenario->sweep_vary.empty()) continue;  // sweeps are for the command line
    read_comment_header(e.file, e.title, e.description);
    if (e.title.empty()) e.title = e.id;
    for (const auto& other : scenarios_)
      if (other.id == e.id)
        throw InputError("commons-sim serve: two scenarios named '" + e.id + "'");
    scenarios_.push_back(std::move(e));
  }
  // Every model with its defaults, so that each model can be explored from a blank page.
  for (const auto& model : models_) {
    ScenarioEntry e;
    e.id = model.name + "_defaults";
    e.file = temp_dir_ / (e.id + ".ini");
    std::ofstream(e.file) << "[sim]\nmodel = " << model.name << "\n";
    e.title = model.name + " with its default parameters";
    e.description = model.summary + "\n";
    e.scenario = std::make_unique<Scenario>(load_scenario(e.file, {}, models_));
    scenarios_.push_back(std::move(e));
  }
}

Room& Server::open_room(const std::string& code) {
  Room& room = rooms_[code];
  room.code = code;
  return room;
}

// ---------------------------------------------------------------------------------------------
// Scenarios and parameters from the browser

const ScenarioEntry& Server::scenario_entry(const std::string& id) {
  for (const auto& s : scenarios_)
    if (s.id == id) return s;
  std::vector<std::string> ids;
  for (const auto& s : scenarios_) ids.push_back(s.id);
  const std::string near = nearest_name(id, ids);
  throw ApiError(
      404, "no scenario '" + id + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)"));
}

json Server::scenario_json(const ScenarioEntry& s) {
  json values = json::object();
  for (const auto& [name, value] : s.scenario->params.all()) values[name] = value.text;
  return {{"id", s.id},
          {"file", s.file.filename().string()},
          {"title", s.title},
          {"description", s.description},
          {"model", s.scenario->model->name},
          {"values", values}};
}

json Server::info_json() {
  json models = json::array();
  for (const auto& m : models_)
    models.push_back({{"name", m.name},
                      {"summary", m.summary},
                      {"time_name", m.time_name},
                      {"time_units", m.time_units},
                      {"params",
                       [&] {
                         json p = json::array();
                         for (const auto& spec : m.params) p.push_back(param_json(spec));
                         return p;
                       }()},
                      {"series", series_json(m.series)}});
  json sim = json::array();
  for (const auto& spec : sim_params())
    if (browser_sim_key(spec.name)) sim.push_back(param_json(spec));
  json scenarios = json::array();
  for (const auto& s : scenarios_) scenarios.push_back(scenario_json(s));
  const auto& l = options_.limits;
  return {{"version", version},
          {"models", models},
          {"sim_params", sim},
          {"scenarios", scenarios},
          {"network", !is_loopback(options_.host)},
          {"limits",
           {{"max_agents", l.max_agents},
            {"max_steps", l.max_steps},
            {"max_records", l.max_records},
            {"max_runs", l.max_runs},
            {"max_replicas", l.max_replicas}}}};
}

std::vector<std::string> Server::overrides_from(const ScenarioEntry& entry, const json& set) {
  std::vector<std::string> overrides;
  if (set.is_null()) return overrides;
  if (!set.is_object())
    throw ApiError(400, "'set' must be an object of parameter names and values");
  const ModelSpec& model = *entry.scenario->model;
  for (const auto& [key, value] : set.items()) {
    if (key.rfind("sim.", 0) == 0) {
      if (!browser_sim_key(key))
        throw ApiError(
            400, "parameter '" + key +
                     "' cannot be set from the page (only sim.steps, sim.seed, sim.record_every)");
    } else if (key.rfind(model.name + ".", 0) != 0) {
      throw ApiError(400,
                     "parameter '" + key + "' is not a parameter of model '" + model.name + "'");
    }
    overrides.push_back(key + "=" + value_text(key, value));
  }
  return overrides;
}

// The scenario file with the browser's values, through the same checks as the command line,
// then this server's limits.
std::unique_ptr<Scenario> Server::checked_scenario(const ScenarioEntry& entry,
                                                   const std::vector<std::string>& overrides) {
  std::unique_ptr<Scenario> s;
  try {
    // The page's runs write no agent snapshots (their run file is made after the run).
    std::vector<std::string> all = overrides;
    all.push_back("sim.snapshot_every=0");
    s = std::make_unique<Scenario>(load_scenario(entry.file, all, models_));
  } catch (const InputError& e) {
    std::string message = e.what();
    // The file by its name, not where it lies on the server.
    const std::string prefix = entry.file.string();
    if (message.rfind(prefix, 0) == 0)
      message = entry.file.filename().string() + message.substr(prefix.size());
    if (message.rfind("--set: ", 0) == 0) message = message.substr(7);
    throw ApiError(400, message);
  }
  const auto& l = options_.limits;
  if (s->steps > l.max_steps)
    throw ApiError(422, "sim.steps = " + std::to_string(s->steps) +
                            " is over this server's limit of " + std::to_string(l.max_steps) +
                            " steps (commons-sim serve --max-steps)");
  const std::int64_t records = s->steps / s->record_every + 1;
  if (records > l.max_records)
    throw ApiError(422, "sim.steps / sim.record_every gives " + std::to_string(records) +
                            " records, over this server's limit of " +
                            std::to_string(l.max_records) +
                            ": record less often (a larger sim.record_every)");
  for (const auto& spec : s->model->params)
    if (spec.kind == ParamKind::Integer && s->params.integer(spec.name) > l.max_agents)
      throw ApiError(422, spec.name + " = " + std::to_string(s->params.integer(spec.name)) +
                              " is over this server's limit of " + std::to_string(l.max_agents) +
                              " (commons-sim serve --max-agents)");
  return s;
}

// ---------------------------------------------------------------------------------------------
// Participants and runs

bool request_is_local(const httplib::Request& req) { return is_loopback(req.remote_addr); }

Participant& Server::participant(const httplib::Request& req) {
  std::string token = req.get_header_value("X-Token");
  if (token.empty() && req.has_param("token")) token = req.get_param_value("token");
  if (token.empty())
    throw ApiError(401, "no participant token: start a session (POST /api/session) or join a room");
  const auto it = participants_.find(token);
  if (it == participants_.end())
    throw ApiError(401, "unknown participant token (the server was restarted?): reload the page");
  return it->second;
}

std::shared_ptr<Run> Server::owned_run(const httplib::Request& req) {
  Participant& who = participant(req);
  int id = 0;
  try {
    id = std::stoi(req.matches[1]);
  } catch (const std::exception&) {
    throw ApiError(400, "bad run id '" + std::string(req.matches[1]) + "'");
  }
  const auto it = runs_.find(id);
  if (it == runs_.end()) throw ApiError(404, "no run " + std::to_string(id));
  if (it->second->owner != who.token)
    throw ApiError(403, "run " + std::to_string(id) + " belongs to another participant");
  return it->second;
}

std::int64_t Server::active_runs(const Participant& who) {
  std::int64_t n = 0;
  for (int id : who.runs) {
    const auto it = runs_.find(id);
    if (it == runs_.end()) continue;
    std::lock_guard lock(it->second->m);
    if (it->second->state == "running" || it->second->state == "paused") ++n;
  }
  return n;
}

void Server::forget_old_runs(Participant& who) {
  while (static_cast<std::int64_t>(who.runs.size()) > options_.limits.max_kept) {
    const int id = who.runs.front();
    who.runs.erase(who.runs.begin());
    const auto it = runs_.find(id);
    if (it != runs_.end()) {
      it->second->cancelled = true;
      {
        std::lock_guard lock(it->second->m);
        if (it->second->state == "running" || it->second->state == "paused")
          it->second->state = "stopped";
        ++it->second->version;
      }
      it->second->changed.notify_all();
      runs_.erase(it);
    }
  }
}

json Server::create_run(Participant& who, const json& body, bool ensemble) {
  if (!body.contains("scenario") || !body["scenario"].is_string())
    throw ApiError(400, "'scenario' (a scenario id) is required");
  const ScenarioEntry& entry = scenario_entry(body["scenario"].get<std::string>());
  const std::vector<std::string> overrides = overrides_from(entry, body.value("set", json()));
  std::unique_ptr<Scenario> scenario = checked_scenario(entry, overrides);
  std::int64_t replicas = 0;
  if (ensemble) {
    if (!body.contains("replicas") || !body["replicas"].is_number_integer())
      throw ApiError(400, "'replicas' (a whole number) is required");
    replicas = body["replicas"].get<std::int64_t>();
    if (replicas < 2 || replicas > options_.limits.max_replicas)
      throw ApiError(422, "replicas = " + std::to_string(replicas) +
                              " is out of this server's range [2, " +
                              std::to_string(options_.limits.max_replicas) +
                              "] (commons-sim serve --max-replicas)");
  }
  if (active_runs(who) >= options_.limits.max_runs)
    throw ApiError(
        429, "you have " + std::to_string(options_.limits.max_runs) +
                 " runs going already (this server's limit): let one finish, or stop or reset one");

  auto run = std::make_shared<Run>();
  run->id = next_run_++;
  run->owner = who.token;
  run->ensemble = ensemble;
  run->model = scenario->model;
  run->scenario_id = entry.id;
  run->scenario_file = entry.file;
  run->overrides = overrides;
  if (body.contains("speed")) {
    if (!body["speed"].is_number() || body["speed"].get<double>() < 0 ||
        body["speed"].get<double>() > 1e6)
      throw ApiError(400,
                     "'speed' must be a number of records per second, 0 for as fast as possible");
    run->speed = body["speed"].get<double>();
  }
  const bool start = body.value("start", true);
  if (ensemble) {
    run->replicas = replicas;
    run->replica_values.resize(static_cast<std::size_t>(replicas));
    run->replica_work.resize(static_cast<std::size_t>(replicas));
    run->state = "running";
    run->scenario = std::move(scenario);
  } else {
    try {
      run->simulation = std::make_unique<Simulation>(*scenario);
    } catch (const RunError& e) {
      throw ApiError(422, std::string("the run cannot start: ") + e.what());
    }
    run->scenario = std::move(scenario);
    run->carried_flows = FlowMatrix();
    record(*run);  // the state at step 0
    run->state = start ? "running" : "paused";
  }
  runs_[run->id] = run;
  who.runs.push_back(run->id);
  forget_old_runs(who);
  if (ensemble) {
    for (int r = 0; r < replicas; ++r) enqueue(run, r, Clock::now());
  } else if (start) {
    run->queued = true;
    enqueue(run, -1, Clock::now());
  }
  std::lock_guard lock(run->m);
  return run_json(*run, 0, false);
}

void Server::control(Run& run, const json& body) {
  const std::string action = body.value("action", "");
  std::unique_lock lock(run.m);
  const bool over = run.state == "complete" || run.state == "failed" || run.state == "stopped";
  if (body.contains("speed")) {
    if (!body["speed"].is_number() || body["speed"].get<double>() < 0 ||
        body["speed"].get<double>() > 1e6)
      throw ApiError(400,
                     "'speed' must be a number of records per second, 0 for as fast as possible");
    run.speed = body["speed"].get<double>();
  }
  if (action == "pause") {
    if (run.state == "running" && !run.ensemble) run.state = "paused";
  } else if (action == "run" || action == "step") {
    if (run.ensemble)
      throw ApiError(409, "an ensemble runs by itself; it cannot be paused or stepped");
    if (over)
      throw ApiError(409,
                     "run " + std::to_string(run.id) + " is " + run.state + ": start a new run");
    if (action == "step") {
      const std::int64_t done = run.simulation->steps_done();
      const std::int64_t every = run.scenario->record_every;
      run.stop_at = std::min(run.scenario->steps, (done / every + 1) * every);
    } else {
      run.stop_at = -1;
    }
    run.state = "running";
    if (!run.queued) {
      run.queued = true;
      lock.unlock();
      enqueue(runs_.at(run.id), -1, Clock::now());
      lock.lock();
    }
  } else if (action == "stop") {
    if (!over) run.state = "stopped";
    run.cancelled = true;
  } else if (action.empty() && body.contains("speed")) {
    // only the speed changed
  } else {
    throw ApiError(400, "'action' must be one of run, pause, step, stop");
  }
  ++run.version;
  run.changed.notify_all();
}

std::string point_value_text(const ParamSpec& spec, double value) {
  switch (spec.kind) {
    case ParamKind::Choice:
      return spec.choices.at(static_cast<std::size_t>(value));
    case ParamKind::Boolean:
      return value != 0 ? "true" : "false";
    case ParamKind::Integer:
      return std::to_string(static_cast<std::int64_t>(value));
    default:
      return format_real(value);
  }
}

// A policy lever changed during a run: the model's state is saved, the model rebuilt from the
// scenario whose lever now follows its old schedule up to the current step and the new value
// after it, and the state restored. The run goes on as if the scenario had said so from the
// start, so rerunning the run's final scenario reproduces it.
void Server::change_lever(Run& run, const json& body) {
  if (!body.contains("name") || !body["name"].is_string())
    throw ApiError(400, "'name' (a parameter) is required");
  if (!body.contains("value")) throw ApiError(400, "'value' is required");
  const std::string name = body["name"].get<std::string>();
  const std::string value = value_text(name, body["value"]);
  std::unique_lock lock(run.m);
  if (run.ensemble) throw ApiError(409, "levers cannot change during an ensemble");
  if (run.state != "running" && run.state != "paused")
    throw ApiError(409, "run " + std::to_string(run.id) + " is " + run.state +
                            ": levers change only while it goes");
  const ParamSpec* spec = nullptr;
  for (const auto& p : run.model->params)
    if (p.name == name) spec = &p;
  if (!spec)
    throw ApiError(400, "'" + name + "' is not a parameter of model '" + run.model->name + "'");
  if (!spec->schedulable)
    throw ApiError(
        409,
        "'" + name + "' is not a policy lever (not schedulable): it applies to the next run only");
  if (looks_like_schedule(value))
    throw ApiError(400, "'" + name + "': give one value, not a schedule, to change a lever live");

  const std::int64_t done = run.simulation->steps_done();
  const std::int64_t from = done + 1;
  const ParamValue& old = run.scenario->params.at(name);
  std::string text;
  const auto& points = old.schedule.points();
  for (std::size_t i = 0; i < points.size(); ++i) {
    const auto& p = points[i];
    if (p.step > done) {
      // A ramp under way ends where the run stands, at the value it has reached.
      if (p.ramp && done > points[i - 1].step)
        text += ", " + std::to_string(done) + "~" + point_value_text(*spec, old.schedule.at(done));
      break;
    }
    text += (text.empty() ? "" : ", ") + std::to_string(p.step) + (p.ramp ? "~" : ":") +
            point_value_text(*spec, p.value);
  }
  text += ", " + std::to_string(from) + ":" + value;

  std::vector<std::string> overrides;
  for (const auto& o : run.overrides)
    if (o.rfind(name + "=", 0) != 0) overrides.push_back(o);
  overrides.push_back(name + "=" + text);
  const ScenarioEntry& entry = scenario_entry(run.scenario_id);
  std::unique_ptr<Scenario> scenario = checked_scenario(entry, overrides);
  State state;
  run.simulation->save(state);
  auto simulation = std::make_unique<Simulation>(*scenario);
  simulation->restore(state, done);
  FlowMatrix pending = run.simulation->take_flows();
  if (run.carried_flows.cells().empty())
    run.carried_flows = std::move(pending);
  else
    run.carried_flows.merge(pending);
  run.simulation = std::move(simulation);
  run.scenario = std::move(scenario);
  run.overrides = std::move(overrides);
  run.changes.push_back({from, name, value});
  ++run.version;
  run.changed.notify_all();
}

void Server::record(Run& run) {
  Simulation& s = *run.simulation;
  Record r;
  r.step = s.steps_done();
  r.time = s.time();
  FlowMatrix flows = s.take_flows();
  if (!run.carried_flows.cells().empty()) {
    flows.merge(run.carried_flows);
    run.carried_flows = FlowMatrix();
  }
  r.flows.assign(flows.cells().begin(), flows.cells().end());
  const auto values = s.measure();
  r.values.assign(values.begin(), values.end());
  const auto regions = s.measure_regions();
  r.regions.assign(regions.begin(), regions.end());
  run.records.push_back(std::move(r));
}

json Server::run_json(Run& run, std::size_t from_record, bool full) {
  json j = {{"id", run.id},
            {"kind", run.ensemble ? "ensemble" : "run"},
            {"state", run.state},
            {"version", run.version},
            {"error", run.error},
            {"model", run.model->name},
            {"scenario", run.scenario_id},
            {"steps", run.scenario->steps},
            {"seed", run.scenario->seed},
            {"record_every", run.scenario->record_every},
            {"speed", run.speed}};
  if (run.ensemble) {
    j["replicas"] = run.replicas;
    j["replicas_done"] = run.replicas_done;
    if (!run.ensemble_result.is_null()) j["ensemble"] = run.ensemble_result;
  } else {
    j["step"] = run.simulation->steps_done();
    json records = json::array();
    for (std::size_t i = from_record; i < run.records.size(); ++i) {
      const Record& r = run.records[i];
      json row = json::array({r.step, finite_or_null(r.time)});
      for (double v : r.values) row.push_back(finite_or_null(v));
      records.push_back(std::move(row));
    }
    j["from"] = from_record;
    j["records"] = std::move(records);
  }
  json changes = json::array();
  for (const auto& c : run.changes)
    changes.push_back({{"step", c.step}, {"name", c.name}, {"value", c.value}});
  j["changes"] = changes;
  if (full) {
    j["overrides"] = run.overrides;
    j["scenario_text"] = run.scenario->resolved_text;
  }
  return j;
}

std::string Server::download(Run& run) {
  if (run.ensemble) throw ApiError(409, "an ensemble has no single run file: download one run");
  const fs::path path = temp_dir_ / ("run-" + std::to_string(run.id) + "-" + random_hex(4) + ".h5");
  {
    RunMeta meta{version, git_commit, "commons-sim serve (run " + std::to_string(run.id) + ")", 1,
                 utc_now()};
    RunFile file(path, false, *run.scenario, meta);
    for (const auto& r : run.records) file.append(r.step, r.time, r.values, r.flows, r.regions);
    const std::string status = run.state == "complete" ? "complete"
                               : run.state == "failed" ? "failed"
                                                       : "interrupted";
    file.finish(status, run.records.empty() ? 0 : run.records.back().step, 0.0, utc_now());
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::error_code ec;
  fs::remove(path, ec);
  return bytes;
}

json Server::save_to_room(Participant& who, Run& run, const json& body) {
  if (who.room.empty())
    throw ApiError(409, "join a room first: saved runs are shown to the room's facilitator");
  if (run.ensemble) throw ApiError(409, "save a run, not an ensemble");
  std::string label = body.value("label", "");
  truncate_utf8(label, 200);
  json data;
  {
    std::lock_guard lock(run.m);
    data = run_json(run, 0, false);
  }
  // Thin long runs to at most about 500 points for the debrief chart.
  if (data.contains("records") && data["records"].size() > 500) {
    json thin = json::array();
    const std::size_t n = data["records"].size(), stride = (n + 499) / 500;
    for (std::size_t i = 0; i < n; i += stride) thin.push_back(data["records"][i]);
    if ((n - 1) % stride != 0) thin.push_back(data["records"][n - 1]);
    data["records"] = thin;
  }
  data["set"] = body.value("set", json::object());
  Room& room = rooms_.at(who.room);
  if (room.saved.size() >= 500) throw ApiError(429, "this room holds 500 saved runs already");
  SavedRun saved{room.next_number++, who.name, label, data};
  room.saved.push_back(saved);
  return {{"number", saved.number}};
}

// ---------------------------------------------------------------------------------------------
// Workers: a fixed number of threads take slices of runs from one queue, so many runs share
// the machine fairly and the HTTP threads never simulate.

void Server::enqueue(const std::shared_ptr<Run>& run, int replica, Clock::time_point not_before) {
  {
    std::lock_guard lock(queue_m_);
    queue_.push_back({run, replica, not_before});
  }
  queue_cv_.notify_one();
}

void Server::worker() {
  set_threads(1);  // one core per worker: the workers bound what the server takes
  for (;;) {
    Task task;
    {
      std::unique_lock lock(queue_m_);
      for (;;) {
        if (stopping_) return;
        auto ready = std::find_if(queue_.begin(), queue_.end(),
                                  [](const Task& t) { return t.not_before <= Clock::now(); });
        if (ready != queue_.end()) {
          task = std::move(*ready);
          queue_.erase(ready);
          break;
        }
        if (queue_.empty())
          queue_cv_.wait(lock);
        else {
          auto next = std::min_element(
              queue_.begin(), queue_.end(),
              [](const Task& a, const Task& b) { return a.not_before < b.not_before; });
          queue_cv_.wait_until(lock, next->not_before);
        }
      }
    }
    if (task.replica >= 0)
      run_replica(task.run, task.replica);
    else
      advance(task.run);
  }
}

void Server::advance(const std::shared_ptr<Run>& run) {
  std::unique_lock lock(run->m);
  if (run->state != "running") {
    run->queued = false;
    return;
  }
  const auto start = Clock::now();
  const bool paced = run->speed > 0;
  Simulation& s = *run->simulation;
  const Scenario& scenario = *run->scenario;
  try {
    while (s.steps_done() < scenario.steps) {
      s.step();
      const std::int64_t step = s.steps_done();
      const bool recorded = step % scenario.record_every == 0 || step == scenario.steps;
      if (recorded) record(*run);
      if (run->stop_at >= 0 && step >= run->stop_at) {
        run->state = "paused";
        run->stop_at = -1;
        break;
      }
      if (recorded && paced) break;
      if (Clock::now() - start > std::chrono::milliseconds(40)) break;
    }
    if (s.steps_done() >= scenario.steps) {
      if (run->records.empty() || run->records.back().step != s.steps_done()) record(*run);
      run->state = "complete";
    }
  } catch (const RunError& e) {
    run->state = "failed";
    run->error = e.what();
  } catch (const std::exception& e) {
    run->state = "failed";
    run->error = std::string("internal error: ") + e.what();
  }
  ++run->version;
  run->changed.notify_all();
  if (run->state == "running") {
    const auto next = paced ? start + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double>(1.0 / run->speed))
                            : Clock::now();
    lock.unlock();
    enqueue(run, -1, next);
  } else {
    run->queued = false;
  }
}

// One replica of an ensemble, in slices like a live run, so that a large ensemble does not hold a
// worker for long while other participants' runs wait.
void Server::run_replica(const std::shared_ptr<Run>& run, int replica) {
  if (run->cancelled) return;
  // Only the one task of this replica touches its work.
  std::unique_ptr<ReplicaWork>& work = run->replica_work[static_cast<std::size_t>(replica)];
  std::string error;
  try {
    if (!work) {
      std::vector<std::string> overrides;
      std::uint64_t base_seed = 0;
      {
        std::lock_guard lock(run->m);
        base_seed = run->scenario->seed;
        overrides = run->overrides;
      }
      overrides.push_back("sim.seed=" +
                          std::to_string(run_seed(base_seed, static_cast<std::uint64_t>(replica))));
      work = std::make_unique<ReplicaWork>();
      work->scenario =
          std::make_unique<Scenario>(load_scenario(run->scenario_file, overrides, models_));
      work->simulation = std::make_unique<Simulation>(*work->scenario);
      work->keep();
    }
    Simulation& s = *work->simulation;
    const Scenario& scenario = *work->scenario;
    const auto start = Clock::now();
    while (s.steps_done() < scenario.steps) {
      if (run->cancelled) {
        work.reset();
        return;
      }
      s.step();
      if (s.steps_done() % scenario.record_every == 0 || s.steps_done() == scenario.steps)
        work->keep();
      if (s.steps_done() < scenario.steps && Clock::now() - start > std::chrono::milliseconds(40)) {
        enqueue(run, replica, Clock::now());
        return;
      }
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::unique_ptr<ReplicaWork> done = std::move(work);
  std::lock_guard lock(run->m);
  if (run->state != "running") return;
  if (!error.empty()) {
    run->state = "failed";
    run->error = "replica " + std::to_string(replica) + ": " + error;
    run->cancelled = true;
  } else {
    run->replica_values[static_cast<std::size_t>(replica)] = std::move(done->rows);
    if (run->record_steps.empty()) {
      run->record_steps = done->steps;
      run->record_times = done->times;
    }
    if (++run->replicas_done == run->replicas) finish_ensemble(*run);
  }
  ++run->version;
  run->changed.notify_all();
}

// The median and the 10 % and 90 % quantiles (linear interpolation) over the replicas.
void Server::finish_ensemble(Run& run) {
  const std::size_t records = run.record_steps.size(), series = run.model->series.size();
  json median = json::array(), lo = json::array(), hi = json::array();
  std::vector<double> column(run.replica_values.size());
  auto quantile = [&](double q) {
    const double pos = q * static_cast<double>(column.size() - 1);
    const std::size_t i = static_cast<std::size_t>(pos);
    const double frac = pos - static_cast<double>(i);
    return i + 1 < column.size() ? column[i] + frac * (column[i + 1] - column[i]) : column[i];
  };
  for (std::size_t r = 0; r < records; ++r) {
    json m = json::array(), l = json::array(), h = json::array();
    for (std::size_t k = 0; k < series; ++k) {
      for (std::size_t rep = 0; rep < column.size(); ++rep)
        column[rep] = run.replica_values[rep][r][k];
      std::sort(column.begin(), column.end());
      m.push_back(finite_or_null(quantile(0.5)));
      l.push_back(finite_or_null(quantile(0.1)));
      h.push_back(finite_or_null(quantile(0.9)));
    }
    median.push_back(std::move(m));
    lo.push_back(std::move(l));
    hi.push_back(std::move(h));
  }
  json times = json::array();
  for (double t : run.record_times) times.push_back(finite_or_null(t));
  run.ensemble_result = {
      {"steps", run.record_steps}, {"times", times}, {"median", median}, {"lo", lo}, {"hi", hi}};
  run.replica_values.clear();
  run.state = "complete";
}

// ---------------------------------------------------------------------------------------------
// Server-sent events: one stream per run, each event the records since the last one.

void Server::stream(const httplib::Request& req, httplib::Response& res) {
  std::shared_ptr<Run> run;
  std::string token;
  std::size_t from = 0;
  {
    std::lock_guard lock(m_);
    run = owned_run(req);
    Participant& who = participant(req);
    if (who.streams >= options_.limits.max_streams)
      throw ApiError(429, "too many open event streams (" +
                              std::to_string(options_.limits.max_streams) + "): close a tab");
    ++who.streams;
    token = who.token;
  }
  if (req.has_param("from")) {
    try {
      from = std::stoul(req.get_param_value("from"));
    } catch (const std::exception&) {
      std::lock_guard lock(m_);
      --participants_.at(token).streams;
      throw ApiError(400, "'from' must be a record number");
    }
  }
  auto release = std::make_shared<std::function<void()>>([this, token] {
    std::lock_guard lock(m_);
    const auto it = participants_.find(token);
    if (it != participants_.end()) --it->second.streams;
  });
  struct Cursor {
    std::size_t sent;
    std::uint64_t version = ~std::uint64_t{0};
  };
  auto cursor = std::make_shared<Cursor>(Cursor{from});
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, run, cursor](std::size_t, httplib::DataSink& sink) {
        std::string event;
        bool finished = false;
        {
          std::unique_lock lock(run->m);
          run->changed.wait_for(lock, std::chrono::seconds(1),
                                [&] { return run->version != cursor->version || stopping_; });
          if (run->version != cursor->version) {
            cursor->version = run->version;
            const std::size_t from_record = std::min(cursor->sent, run->records.size());
            json j = run_json(*run, from_record, false);
            cursor->sent = run->records.size();
            event = "event: update\ndata: " + dump(j) + "\n\n";
            finished = run->state != "running" && run->state != "paused";
          }
        }
        if (event.empty()) event = ": waiting\n\n";  // finds a closed connection
        if (!sink.write(event.data(), event.size())) return false;
        if (finished || stopping_) sink.done();
        return true;
      },
      [release](bool) { (*release)(); });
}

// ---------------------------------------------------------------------------------------------
// Routes

json body_json(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  try {
    json j = json::parse(req.body);
    if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what());
  }
}

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

// Wraps a handler: every failure becomes a 4xx or 5xx with a message, never a crash.
template <class F>
httplib::Server::Handler guarded(F f) {
  return [f](const httplib::Request& req, httplib::Response& res) {
    try {
      f(req, res);
    } catch (const ApiError& e) {
      send_json(res, {{"error", e.what()}}, e.status);
    } catch (const InputError& e) {
      send_json(res, {{"error", e.what()}}, 400);
    } catch (const RunError& e) {
      send_json(res, {{"error", e.what()}}, 422);
    } catch (const std::bad_alloc&) {
      send_json(res, {{"error", "not enough memory for this request"}}, 503);
    } catch (const std::exception& e) {
      send_json(res, {{"error", std::string("internal error: ") + e.what()}}, 500);
    }
  };
}

std::string clean_name(const json& body) {
  std::string name = body.value("name", "");
  std::string out;
  for (unsigned char c : name)
    if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);
  truncate_utf8(out, 40);
  return out;
}

// The Host header names this server: an address, localhost, --host or this machine's name. A
// web page elsewhere that makes its own name resolve to 127.0.0.1 (DNS rebinding) is refused.
bool host_header_allowed(const std::string& header, const std::string& bound) {
  std::string host = header;
  if (!host.empty() && host[0] == '[') return true;  // an IPv6 address
  if (const auto colon = host.rfind(':'); colon != std::string::npos) host.resize(colon);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (host.empty() || host == "localhost" || host == bound) return true;
  if (std::all_of(host.begin(), host.end(),
                  [](unsigned char c) { return std::isdigit(c) || c == '.'; }))
    return true;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0) {
    std::string own = name;
    std::transform(own.begin(), own.end(), own.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (host == own || host == own + ".local" || host.rfind(own + ".", 0) == 0) return true;
  }
  return false;
}

void Server::routes(httplib::Server& http) {
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (host_header_allowed(req.get_header_value("Host"), options_.host))
      return httplib::Server::HandlerResponse::Unhandled;
    send_json(res,
              {{"error", "this server answers to its address, not to '" +
                             req.get_header_value("Host") + "'"}},
              403);
    return httplib::Server::HandlerResponse::Handled;
  });
  for (const auto& asset : web_assets()) {
    const WebAsset* a = &asset;
    auto handler = [a](const httplib::Request&, httplib::Response& res) {
      res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->content_type);
      res.set_header("Cache-Control", "no-cache");
    };
    http.Get(a->path, handler);
    if (std::string(a->path) == "/index.html") http.Get("/", handler);
  }
  http.Get("/api/info", guarded([this](const httplib::Request&, httplib::Response& res) {
             std::lock_guard lock(m_);
             send_json(res, info_json());
           }));
  // A session on this computer, without a room. From the network, only rooms.
  http.Post("/api/session", guarded([this](const httplib::Request& req, httplib::Response& res) {
              if (!request_is_local(req))
                throw ApiError(403,
                               "this server is shared on a network: join a room with the code the "
                               "facilitator gives you");
              std::lock_guard lock(m_);
              Participant p;
              p.token = random_hex(16);
              p.name = "this computer";
              participants_[p.token] = p;
              send_json(res, {{"token", p.token}, {"name", p.name}});
            }));
  // Opens a room (or takes over one opened with --room): only on the facilitator's computer.
  http.Post(
      "/api/rooms", guarded([this](const httplib::Request& req, httplib::Response& res) {
        if (!request_is_local(req))
          throw ApiError(403, "rooms are opened on the computer that runs the server");
        const json body = body_json(req);
        std::lock_guard lock(m_);
        std::string code = body.value("code", "");
        std::transform(code.begin(), code.end(), code.begin(),
                       [](unsigned char c) { return std::toupper(c); });
        if (code.empty()) {
          do code = random_code();
          while (rooms_.count(code));
        }
        if (code.size() < 4 || code.size() > 12 ||
            !std::all_of(code.begin(), code.end(), [](unsigned char c) { return std::isalnum(c); }))
          throw ApiError(400, "a room code is 4 to 12 letters or digits");
        Room& room = open_room(code);
        Participant p;
        p.token = random_hex(16);
        p.name = "facilitator";
        p.room = code;
        p.facilitator = true;
        participants_[p.token] = p;
        room.participants.push_back(p.token);
        send_json(res,
                  {{"token", p.token}, {"code", code}, {"name", p.name}, {"facilitator", true}});
      }));
  http.Post(
      "/api/rooms/join", guarded([this](const httplib::Request& req, httplib::Response& res) {
        const json body = body_json(req);
        std::string code = body.value("code", "");
        std::transform(code.begin(), code.end(), code.begin(),
                       [](unsigned char c) { return std::toupper(c); });
        const std::string name = clean_name(body);
        if (name.empty()) throw ApiError(400, "give a name for your group");
        std::lock_guard lock(m_);
        const auto it = rooms_.find(code);
        if (it == rooms_.end())
          throw ApiError(
              404, "no room with code '" + code + "': check the code on the facilitator's screen");
        if (it->second.participants.size() >= 200)
          throw ApiError(429, "this room is full (200 participants)");
        Participant p;
        p.token = random_hex(16);
        p.name = name;
        p.room = code;
        participants_[p.token] = p;
        it->second.participants.push_back(p.token);
        send_json(res,
                  {{"token", p.token}, {"code", code}, {"name", name}, {"facilitator", false}});
      }));
  // The facilitator's view: everyone in the room and every saved run.
  http.Get(R"(/api/rooms/([A-Za-z0-9]+))",
           guarded([this](const httplib::Request& req, httplib::Response& res) {
             std::lock_guard lock(m_);
             Participant& who = participant(req);
             const std::string code = req.matches[1];
             const auto it = rooms_.find(code);
             if (it == rooms_.end()) throw ApiError(404, "no room '" + code + "'");
             if (!who.facilitator || who.room != code)
               throw ApiError(403, "only the room's facilitator sees everyone's runs");
             json people = json::array();
             for (const auto& t : it->second.participants)
               people.push_back(participants_.at(t).name);
             json saved = json::array();
             for (const auto& s : it->second.saved)
               saved.push_back({{"number", s.number},
                                {"participant", s.participant},
                                {"label", s.label},
                                {"run", s.data}});
             send_json(res, {{"code", code}, {"participants", people}, {"saved", saved}});
           }));
  http.Post("/api/runs", guarded([this](const httplib::Request& req, httplib::Response& res) {
              const json body = body_json(req);
              std::lock_guard lock(m_);
              send_json(res, create_run(participant(req), body, false), 201);
            }));
  http.Post("/api/ensembles", guarded([this](const httplib::Request& req, httplib::Response& res) {
              const json body = body_json(req);
              std::lock_guard lock(m_);
              send_json(res, create_run(participant(req), body, true), 201);
            }));
  http.Get(R"(/api/runs/(\d+))",
           guarded([this](const httplib::Request& req, httplib::Response& res) {
             std::shared_ptr<Run> run;
             {
               std::lock_guard lock(m_);
               run = owned_run(req);
             }
             std::lock_guard lock(run->m);
             send_json(res, run_json(*run, 0, true));
           }));
  http.Post(R"(/api/runs/(\d+)/control)",
            guarded([this](const httplib::Request& req, httplib::Response& res) {
              const json body = body_json(req);
              std::lock_guard lock(m_);
              auto run = owned_run(req);
              control(*run, body);
              std::lock_guard run_lock(run->m);
              send_json(res, run_json(*run, run->records.size(), false));
            }));
  http.Post(R"(/api/runs/(\d+)/lever)",
            guarded([this](const httplib::Request& req, httplib::Response& res) {
              const json body = body_json(req);
              std::shared_ptr<Run> run;
              {
                std::lock_guard lock(m_);
                run = owned_run(req);
              }
              change_lever(*run, body);
              std::lock_guard run_lock(run->m);
              send_json(res, run_json(*run, run->records.size(), false));
            }));
  http.Post(R"(/api/runs/(\d+)/save)",
            guarded([this](const httplib::Request& req, httplib::Response& res) {
              const json body = body_json(req);
              std::lock_guard lock(m_);
              auto run = owned_run(req);
              send_json(res, save_to_room(participant(req), *run, body), 201);
            }));
  http.Get(
      R"(/api/runs/(\d+)/events)",
      guarded([this](const httplib::Request& req, httplib::Response& res) { stream(req, res); }));
  http.Get(R"(/api/runs/(\d+)/download)",
           guarded([this](const httplib::Request& req, httplib::Response& res) {
             std::shared_ptr<Run> run;
             {
               std::lock_guard lock(m_);
               run = owned_run(req);
             }
             std::string bytes;
             std::string name;
             {
               std::lock_guard run_lock(run->m);
               bytes = download(*run);
               name = run->scenario_id + "-run" + std::to_string(run->id) + ".h5";
             }
             res.set_header("Content-Disposition", "attachment; filename=\"" + name + "\"");
             res.set_content(bytes, "application/x-hdf5");
           }));
  http.Delete(
      R"(/api/runs/(\d+))", guarded([this](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(m_);
        auto run = owned_run(req);
        Participant& who = participant(req);
        run->cancelled = true;
        {
          std::lock_guard run_lock(run->m);
          if (run->state == "running" || run->state == "paused") run->state = "stopped";
          ++run->version;
        }
        run->changed.notify_all();
        who.runs.erase(std::remove(who.runs.begin(), who.runs.end(), run->id), who.runs.end());
        runs_.erase(run->id);
        send_json(res, {{"deleted", run->id}});
      }));
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      const std::string message = res.status == 404 ? "no such page or API path" : "bad request";
      res.set_content(dump(json{{"error", message}}), "application/json");
    }
  });
}

// SIGINT and SIGTERM stop the server from a thread that waits for them.
int Server::run() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // every thread started below inherits it

  httplib::Server http;
  // Event streams hold a thread each while they are open: plenty of (mostly sleeping) threads.
  http.new_task_queue = [] { return new httplib::ThreadPool(128); };
  http.set_payload_max_length(64 * 1024);
  http.set_keep_alive_max_count(100);
  routes(http);

  int port = options_.port;
  if (port == 0) {
    port = http.bind_to_any_port(options_.host);
    if (port < 0) throw InputError("commons-sim serve: cannot listen on " + options_.host);
  } else if (!http.bind_to_port(options_.host, port)) {
    throw InputError("commons-sim serve: cannot listen on " + options_.host + ":" +
                     std::to_string(port) + " (in use? try another --port)");
  }

  int workers = options_.workers;
  if (workers <= 0)
    workers = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back([this] { worker(); });

  std::atomic<int> received{0};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    received = sig;
    http.stop();
  });

  const std::string shown_host =
      options_.host.find(':') != std::string::npos ? "[" + options_.host + "]" : options_.host;
  std::printf("commons-sim serve: http://%s:%d/ (simulation threads: %d; Ctrl-C stops)\n",
              shown_host.c_str(), port, workers);
  if (!options_.room.empty())
    std::printf("room code: %s (participants open the address above and enter it)\n",
                options_.room.c_str());
  std::fflush(stdout);

  const bool ok = http.listen_after_bind();
  {
    std::lock_guard lock(queue_m_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  {
    std::lock_guard lock(m_);
    for (auto& [id, run] : runs_) {
      run->cancelled = true;
      run->changed.notify_all();
    }
  }
  for (auto& t : threads) t.join();
  if (received == 0) {
    pthread_kill(waiter.native_handle(), SIGTERM);
  }
  waiter.join();
  if (!ok && received == 0) throw InputError("commons-sim serve: the server stopped unexpectedly");
  return received == SIGINT ? exit_sigint : received == SIGTERM ? exit_sigterm : exit_ok;
}

}  // namespace

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0 ||
         host == "::ffff:127.0.0.1";
}

int serve(const ServeOptions& options, const ModelList& models) {
  if (options.port < 0 || options.port > 65535)
    throw InputError("commons-sim serve: --port " + std::to_string(options.port) +
                     " is out of range [0, 65535]");
  if (!is_loopback(options.host) && options.room.empty())
    throw InputError("commons-sim serve: --host " + options.host +
                     " shares the server on the network: give a room code with --room CODE (4 to "
                     "12 letters or digits)");
  if (!options.room.empty() && (options.room.size() < 4 || options.room.size() > 12 ||
                                !std::all_of(options.room.begin(), options.room.end(),
                                             [](unsigned char c) { return std::isalnum(c); })))
    throw InputError("commons-sim serve: --room '" + options.room +
                     "' must be 4 to 12 letters or digits");
  ServeOptions upper = options;
  std::transform(upper.room.begin(), upper.room.end(), upper.room.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  Server server(upper, models);
  return server.run();
}

}  // namespace sim
