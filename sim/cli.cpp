#include "sim/cli.hpp"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <new>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "sim/checkpoint.hpp"
#include "sim/error.hpp"
#include "sim/params.hpp"
#include "sim/run_file.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"
#include "sim/serve.hpp"
#include "sim/sweep.hpp"
#include "sim/version.hpp"

namespace po = boost::program_options;

namespace sim::cli {
namespace {

constexpr const char* overview = R"(commons-sim: an agent-based simulator of commons-based versus market economies.

Usage:
  commons-sim run SCENARIO [--set key=value]... [--out FILE] [--overwrite] [--seed N]
                  [--steps N] [--threads N] [--record-every N] [--flush-every N]
                  [--checkpoint-every N [--checkpoint FILE]] [--quiet]
  commons-sim sweep SCENARIO --vary key=lo:hi:n|key=a,b,c... [--design grid|lhs|sobol|morris]
                  [--samples N] [--levels L] [--replicas R] [--jobs N] [--out FILE] [--overwrite]
                  [--set key=value]... [--seed N] [--steps N] [--threads N] [--shard i/n] [--quiet]
  commons-sim merge PART... --out FILE [--overwrite]
  commons-sim resume CHECKPOINT [--threads N] [--checkpoint-every N] [--quiet]
  commons-sim check SCENARIO [--set key=value]...
  commons-sim params [--model M] [--format text|md]
  commons-sim outputs [--format text|md]
  commons-sim serve [--port 8080] [--host 127.0.0.1] [--scenario FILE]... [--room CODE]
                  [--workers N] [--max-agents N] [--max-steps N] [--max-runs N] [--max-replicas N]
  commons-sim --help | --version
  commons-sim COMMAND --help

Exit codes: 0 done, 2 bad input, 3 the run failed (e.g. money not conserved),
130/143 interrupted by SIGINT/SIGTERM (the output file is kept, status "interrupted").
Docs: docs/scenarios.md (scenario files), docs/parameters.md, docs/output.md, docs/sweeps.md,
docs/workshop.md (the workshop page of commons-sim serve).
)";

// Boost.Program_options without abbreviations: a misspelt option is an error, not a guess.
constexpr int cli_style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

std::string shell_quote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == std::string::npos)
    return word;
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string joined_command_line(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) line += ' ';
    line += shell_quote(argv[i]);
  }
  return line;
}

struct Parsed {
  po::variables_map vm;
  bool help = false;
};

Parsed parse(const std::string& command, const std::vector<std::string>& args, po::options_description& options,
             const char* positional_name) {
  options.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(options);
  po::positional_options_description positional;
  if (positional_name) {
    all.add_options()(positional_name, po::value<std::string>(), "");
    positional.add(positional_name, 1);
  }
  Parsed parsed;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).style(cli_style).run(), parsed.vm);
    po::notify(parsed.vm);
  } catch (const po::error& e) {
    throw InputError("commons-sim " + command + ": " + e.what() + " (see commons-sim " + command + " --help)");
  }
  parsed.help = parsed.vm.count("help") > 0;
  if (!parsed.help && positional_name && !parsed.vm.count(positional_name))
    throw InputError("commons-sim " + command + ": missing " + positional_name + " (see commons-sim " + command +
                     " --help)");
  return parsed;
}

std::vector<std::string> overrides_from(const po::variables_map& vm) {
  std::vector<std::string> overrides;
  if (vm.count("set")) overrides = vm["set"].as<std::vector<std::string>>();
  // Dedicated flags win over --set.
  const std::pair<const char*, const char*> flags[] = {
      {"seed", "sim.seed"}, {"steps", "sim.steps"}, {"record-every", "sim.record_every"}, {"flush-every", "sim.flush_every"}};
  for (const auto& [flag, key] : flags)
    if (vm.count(flag)) overrides.push_back(std::string(key) + "=" + vm[flag].as<std::string>());
  return overrides;
}

void add_set_option(po::options_description& options) {
  options.add_options()("set", po::value<std::vector<std::string>>()->composing(),
                        "override a parameter: --set section.key=value (repeatable; wins over the file)");
}

// The summary after a run or a resumed run, and its exit code.
int report_run(const char* command, const RunResult& result, const std::string& model, std::uint64_t seed,
               std::int64_t steps, const std::filesystem::path& out, bool quiet) {
  if (result.status == "failed") std::cerr << "commons-sim " << command << ": " << result.error << "\n";
  if (!quiet) {
    std::printf("commons-sim %s: model %s", version, model.c_str());
    if (steps >= 0)
      std::printf(", seed %llu, %lld of %lld steps", static_cast<unsigned long long>(seed),
                  static_cast<long long>(result.steps_completed), static_cast<long long>(steps));
    else
      std::printf(", resumed to step %lld", static_cast<long long>(result.steps_completed));
    std::printf(", %s in %.2f s\n", result.status.c_str(), result.wall_seconds);
    std::printf("final values:\n");
    for (const auto& [name, value] : result.final_values) std::printf("  %-20s %.6g\n", name.c_str(), value);
    std::printf("output: %s\n", out.string().c_str());
  }
  return result.exit_code;
}

// `--timings`: where the run's wall time went, on stderr (so it shows under --quiet too).
void report_timings(const RunResult& result) {
  double accounted = 0.0;
  for (const auto& [part, seconds] : result.timings) accounted += seconds;
  const double total = result.wall_seconds;
  auto line = [&](const std::string& part, double seconds) {
    std::fprintf(stderr, "  %-32s %10.3f s %6.1f %%\n", part.c_str(), seconds,
                 total > 0 ? 100.0 * seconds / total : 0.0);
  };
  std::fprintf(stderr, "time spent (wall seconds, share of the run):\n");
  for (const auto& [part, seconds] : result.timings) line(part, seconds);
  line("start-up and the rest", std::max(0.0, total - accounted));
  line("whole run", total);
}

int command_run(const std::vector<std::string>& args, const ModelList& models, const std::string& command_line) {
  po::options_description options("commons-sim run SCENARIO [options]");
  add_set_option(options);
  options.add_options()
      ("out", po::value<std::string>(), "output file (default: SCENARIO's name with .h5, in the current folder)")
      ("overwrite", "replace an existing output file")
      ("seed", po::value<std::string>(), "random seed (sim.seed)")
      ("steps", po::value<std::string>(), "number of steps (sim.steps)")
      ("threads", po::value<int>(), "threads inside the run (default: all cores; results do not depend on it)")
      ("record-every", po::value<std::string>(), "record outputs every N steps (sim.record_every)")
      ("flush-every", po::value<std::string>(), "flush the output file every N steps (sim.flush_every)")
      ("checkpoint-every", po::value<std::int64_t>(), "write a checkpoint every N steps (see commons-sim resume)")
      ("checkpoint", po::value<std::string>(), "the checkpoint file (default: the output's name + .checkpoint)")
      ("timings", "print where the wall time went (each phase, the check, outputs) on stderr")
      ("quiet", "no progress line and no summary");
  const Parsed parsed = parse("run", args, options, "scenario");
  if (parsed.help) {
    std::cout << options << "\n";
    return exit_ok;
  }
  const auto& vm = parsed.vm;
  const std::filesystem::path scenario_path = vm["scenario"].as<std::string>();
  const Scenario scenario = load_scenario(scenario_path, overrides_from(vm), models);

  RunOptions run;
  run.out = vm.count("out") ? std::filesystem::path(vm["out"].as<std::string>())
                            : std::filesystem::path(scenario_path.stem().string() + ".h5");
  run.overwrite = vm.count("overwrite") > 0;
  if (vm.count("threads")) {
    run.threads = vm["threads"].as<int>();
    if (run.threads < 1 || run.threads > 4096)
      throw InputError("commons-sim run: --threads " + std::to_string(run.threads) + " is out of range [1, 4096]");
  }
  const bool quiet = vm.count("quiet") > 0;
  run.progress = !quiet && isatty(STDERR_FILENO);
  run.command_line = command_line;
  if (vm.count("checkpoint-every")) {
    run.checkpoint_every = vm["checkpoint-every"].as<std::int64_t>();
    if (run.checkpoint_every < 1)
      throw InputError("commons-sim run: --checkpoint-every " + std::to_string(run.checkpoint_every) + " must be at least 1");
  }
  if (vm.count("checkpoint")) run.checkpoint = vm["checkpoint"].as<std::string>();
  if (!run.checkpoint.empty() && run.checkpoint_every == 0)
    throw InputError("commons-sim run: --checkpoint needs --checkpoint-every");

  const RunResult result = run_scenario(scenario, run);
  if (vm.count("timings")) report_timings(result);
  return report_run("run", result, scenario.model->name, scenario.seed, scenario.steps, run.out, quiet);
}

int command_resume(const std::vector<std::string>& args, const ModelList& models, const std::string& command_line) {
  po::options_description options("commons-sim resume CHECKPOINT [options]");
  options.add_options()
      ("threads", po::value<int>(), "threads inside the run (results do not depend on it)")
      ("checkpoint-every", po::value<std::int64_t>(), "steps between checkpoints (default: as before)")
      ("timings", "print where the wall time went (each phase, the check, outputs) on stderr")
      ("quiet", "no progress line and no summary");
  const Parsed parsed = parse("resume", args, options, "checkpoint");
  if (parsed.help) {
    std::cout << options << "\n";
    return exit_ok;
  }
  const auto& vm = parsed.vm;
  RunOptions run;
  if (vm.count("threads")) {
    run.threads = vm["threads"].as<int>();
    if (run.threads < 1 || run.threads > 4096)
      throw InputError("commons-sim resume: --threads " + std::to_string(run.threads) + " is out of range [1, 4096]");
  }
  if (vm.count("checkpoint-every")) run.checkpoint_every = std::max<std::int64_t>(1, vm["checkpoint-every"].as<std::int64_t>());
  const bool quiet = vm.count("quiet") > 0;
  run.progress = !quiet && isatty(STDERR_FILENO);
  run.command_line = command_line;
  const std::filesystem::path checkpoint = vm["checkpoint"].as<std::string>();
  const Checkpoint c = read_checkpoint(checkpoint);
  const RunResult result = resume_run(checkpoint, run, models);
  if (vm.count("timings")) report_timings(result);
  return report_run("resume", result, c.model, 0, -1, c.out, quiet);
}

int command_sweep(const std::vector<std::string>& args, const ModelList& models, const std::string& command_line) {
  po::options_description options("commons-sim sweep SCENARIO [options]");
  add_set_option(options);
  options.add_options()
      ("vary", po::value<std::vector<std::string>>()->composing(),
       "a varied parameter: key=lo:hi:n (n values; lo:hi for lhs, sobol, morris) or key=a,b,c (repeatable)")
      ("design", po::value<std::string>(), "grid, lhs, sobol or morris (default: [sweep] design, else grid)")
      ("samples", po::value<std::int64_t>(),
       "lhs: points; sobol: base samples N (N (k + 2) points); morris: trajectories (r (k + 1) points)")
      ("levels", po::value<std::int64_t>(), "morris: grid levels (even; default 4)")
      ("replicas", po::value<std::int64_t>(), "runs per design point, each with its own seed (default 1)")
      ("jobs", po::value<int>()->default_value(1), "runs at once (threads across runs)")
      ("threads", po::value<int>(), "threads inside each run (default: all cores shared among the jobs)")
      ("out", po::value<std::string>(), "output file (default: SCENARIO's name with -sweep.h5)")
      ("overwrite", "replace an existing output file")
      ("resume", "continue the sweep in --out: run only the runs it does not hold yet")
      ("seed", po::value<std::string>(), "base seed: run r gets a seed derived from it (sim.seed)")
      ("steps", po::value<std::string>(), "number of steps of every run (sim.steps)")
      ("record-every", po::value<std::string>(), "record outputs every N steps (sim.record_every)")
      ("shard", po::value<std::string>(), "i/n: run only part i of n (runs r with r % n == i); join with merge")
      ("quiet", "no progress line and no summary");
  const Parsed parsed = parse("sweep", args, options, "scenario");
  if (parsed.help) {
    std::cout << options << "\n";
    return exit_ok;
  }
  const auto& vm = parsed.vm;
  SweepOptions sweep;
  sweep.scenario = vm["scenario"].as<std::string>();
  sweep.overrides = overrides_from(vm);
  const Scenario base = load_scenario(sweep.scenario, sweep.overrides, models);
  // The command line wins over the scenario's [sweep] section; --vary replaces its list.
  const std::vector<std::string> varied =
      vm.count("vary") ? vm["vary"].as<std::vector<std::string>>() : base.sweep_vary;
  std::vector<Factor> factors;
  for (const auto& text : varied) factors.push_back(parse_factor(text, base.params));
  auto setting = [&](const char* option, const char* key) {
    return vm.count(option) ? vm[option].as<std::int64_t>() : base.sweep.integer(key);
  };
  const std::string design = vm.count("design") ? vm["design"].as<std::string>() : base.sweep.choice("sweep.design");
  sweep.design = make_design(design_kind(design), std::move(factors), setting("samples", "sweep.samples"),
                             setting("levels", "sweep.levels"), base.seed);
  sweep.replicas = setting("replicas", "sweep.replicas");
  sweep.jobs = vm["jobs"].as<int>();
  if (vm.count("threads")) {
    sweep.threads = vm["threads"].as<int>();
    if (sweep.threads < 1 || sweep.threads > 4096)
      throw InputError("commons-sim sweep: --threads " + std::to_string(sweep.threads) + " is out of range [1, 4096]");
  }
  sweep.out = vm.count("out") ? std::filesystem::path(vm["out"].as<std::string>())
                              : std::filesystem::path(sweep.scenario.stem().string() + "-sweep.h5");
  sweep.overwrite = vm.count("overwrite") > 0;
  sweep.resume = vm.count("resume") > 0;
  if (sweep.resume && sweep.overwrite) throw InputError("commons-sim sweep: --resume and --overwrite exclude each other");
  if (vm.count("shard")) std::tie(sweep.shard_index, sweep.shard_count) = parse_shard(vm["shard"].as<std::string>());
  const bool quiet = vm.count("quiet") > 0;
  sweep.progress = !quiet && isatty(STDERR_FILENO);
  sweep.command_line = command_line;
  const SweepResult result = run_sweep(sweep, models);
  if (result.status == "worker") return exit_ok;  // an MPI rank that ran runs for rank 0
  if (!quiet) {
    std::printf("commons-sim %s: sweep of %s (%s design, %zu points x %lld replicas): %lld runs, %lld complete, "
                "%lld failed, %s in %.2f s\n",
                version, base.model->name.c_str(), design_name(sweep.design.kind).c_str(), sweep.design.points(),
                static_cast<long long>(sweep.replicas), static_cast<long long>(result.runs),
                static_cast<long long>(result.complete), static_cast<long long>(result.failed), result.status.c_str(),
                result.wall_seconds);
    std::printf("output: %s\n", sweep.out.string().c_str());
  }
  if (result.failed > 0) std::cerr << "commons-sim sweep: " << result.failed << " runs failed (see /runs/error)\n";
  return result.exit_code;
}

int command_merge(const std::vector<std::string>& args) {
  po::options_description options("commons-sim merge PART... --out FILE [options]");
  options.add_options()("out", po::value<std::string>(), "the merged sweep file (required)")(
      "overwrite", "replace an existing output file")("quiet", "no summary");
  options.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(options);
  all.add_options()("part", po::value<std::vector<std::string>>(), "");
  po::positional_options_description positional;
  positional.add("part", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).style(cli_style).run(), vm);
  } catch (const po::error& e) {
    throw InputError(std::string("commons-sim merge: ") + e.what() + " (see commons-sim merge --help)");
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return exit_ok;
  }
  if (!vm.count("part")) throw InputError("commons-sim merge: no part files given");
  if (!vm.count("out")) throw InputError("commons-sim merge: --out FILE is required");
  std::vector<std::filesystem::path> parts;
  for (const auto& p : vm["part"].as<std::vector<std::string>>()) parts.emplace_back(p);
  const std::string out = vm["out"].as<std::string>();
  const std::int64_t missing = merge_sweeps_guarded(parts, out, vm.count("overwrite") > 0);
  if (!vm.count("quiet")) std::printf("merged %zu parts into %s\n", parts.size(), out.c_str());
  if (missing > 0) {
    std::cerr << "commons-sim merge: " << missing << " runs are in no part; the merged file is incomplete\n";
    return exit_run_error;
  }
  return exit_ok;
}

int command_check(const std::vector<std::string>& args, const ModelList& models) {
  po::options_description options("commons-sim check SCENARIO [options]");
  add_set_option(options);
  const Parsed parsed = parse("check", args, options, "scenario");
  if (parsed.help) {
    std::cout << options << "\n";
    return exit_ok;
  }
  const Scenario scenario = load_scenario(parsed.vm["scenario"].as<std::string>(), overrides_from(parsed.vm), models);
  std::printf("ok: %s (model %s, %lld steps, seed %llu)\n", scenario.file.string().c_str(),
              scenario.model->name.c_str(), static_cast<long long>(scenario.steps),
              static_cast<unsigned long long>(scenario.seed));
  return exit_ok;
}

std::string format_option(const po::variables_map& vm, const std::string& command) {
  const std::string format = vm.count("format") ? vm["format"].as<std::string>() : "text";
  if (format != "text" && format != "md")
    throw InputError("commons-sim " + command + ": --format '" + format + "' is not one of text, md");
  return format;
}

std::vector<const ModelSpec*> selected_models(const po::variables_map& vm, const ModelList& models,
                                              const std::string& command) {
  std::vector<const ModelSpec*> selected;
  if (!vm.count("model")) {
    for (const auto& m : models) selected.push_back(&m);
    return selected;
  }
  const std::string name = vm["model"].as<std::string>();
  const ModelSpec* model = find_model(models, name);
  if (!model) {
    std::vector<std::string> names;
    for (const auto& m : models) names.push_back(m.name);
    const std::string near = nearest_name(name, names);
    throw InputError("commons-sim " + command + ": unknown model '" + name + "'" +
                     (near.empty() ? "" : " (did you mean '" + near + "'?)"));
  }
  selected.push_back(model);
  return selected;
}

std::string phases_line(const ModelSpec& model) {
  std::string line;
  for (std::size_t i = 0; i < model.phase_names.size(); ++i)
    line += (i ? " -> " : "") + model.phase_names[i];
  return line;
}

// The options `params` and `outputs` share: which models, in which format.
struct Listing {
  bool help = false;
  std::string format;
  std::vector<const ModelSpec*> models;
};

Listing listing_options(const std::string& command, const std::string& what, const std::string& doc,
                        const std::vector<std::string>& args, const ModelList& models) {
  po::options_description options("commons-sim " + command + " [options]");
  options.add_options()("model", po::value<std::string>(), ("only this model's " + what).c_str())(
      "format", po::value<std::string>(), ("text (default) or md (the text of " + doc + ")").c_str());
  const Parsed parsed = parse(command, args, options, nullptr);
  Listing listing;
  if (parsed.help) {
    std::cout << options << "\n";
    listing.help = true;
    return listing;
  }
  listing.format = format_option(parsed.vm, command);
  listing.models = selected_models(parsed.vm, models, command);
  return listing;
}

int command_params(const std::vector<std::string>& args, const ModelList& models) {
  const Listing listing = listing_options("params", "parameters", "docs/parameters.md", args, models);
  if (listing.help) return exit_ok;
  const auto& selected = listing.models;
  if (listing.format == "md") {
    std::cout << "# Parameters\n\nGenerated by `commons-sim params --format md` from the parameter tables in the "
                 "code; do not edit by hand. Scenario syntax: [scenarios.md](scenarios.md).\n\n";
    std::cout << params_as_markdown("sim", sim_params()) << "\n";
    std::cout << params_as_markdown("sweep", sweep_params())
              << "\nVaried parameters: `vary.<parameter> = lo:hi:n` or `= a,b,c` under [sweep] "
                 "([sweeps.md](sweeps.md)).\n\n";
    for (const auto* model : selected) {
      std::cout << params_as_markdown(model->name, model->params);
      std::cout << "\nThe step's phases, in order: " << phases_line(*model) << ".\n\n";
    }
  } else {
    std::cout << params_as_text("sim", sim_params()) << "\n";
    std::cout << params_as_text("sweep (commons-sim sweep; vary.<parameter> = lo:hi:n or a,b,c)", sweep_params()) << "\n";
    for (const auto* model : selected) {
      std::cout << params_as_text(model->name + ": " + model->summary, model->params);
      std::cout << "phases: " << phases_line(*model) << "\n\n";
    }
  }
  return exit_ok;
}

int command_outputs(const std::vector<std::string>& args, const ModelList& models) {
  const Listing listing = listing_options("outputs", "series", "docs/output.md", args, models);
  if (listing.help) return exit_ok;
  const auto& selected = listing.models;
  if (listing.format == "md") {
    ModelList chosen;
    for (const auto* m : selected) chosen.push_back(*m);
    std::cout << output_doc_markdown(chosen);
    return exit_ok;
  }
  for (const auto* model : selected) {
    std::cout << model->name << " (" << model->time_name << " in " << model->time_units << ")\n";
    for (const auto& s : model->series)
      std::printf("  %-20s %-10s %s\n", s.name.c_str(), s.units.c_str(), s.description.c_str());
    std::cout << "\n";
  }
  return exit_ok;
}

int command_serve(const std::vector<std::string>& args, const ModelList& models) {
  po::options_description options(
      "commons-sim serve [options]: the workshop page, to run, steer and compare scenarios in a browser "
      "(docs/workshop.md)");
  ServeOptions serve_options;
  const ServeLimits defaults;
  options.add_options()
      ("port", po::value<int>()->default_value(8080), "TCP port (0: any free port, printed at start)")
      ("host", po::value<std::string>()->default_value("127.0.0.1"),
       "address to listen on; another than 127.0.0.1 shares the page on the network and needs --room")
      ("scenario", po::value<std::vector<std::string>>()->composing(),
       "a scenario the page offers (repeatable; default: every scenario in scenarios/)")
      ("room", po::value<std::string>(), "open a workshop room with this code (4 to 12 letters or digits)")
      ("workers", po::value<int>()->default_value(0), "threads that run simulations (default: cores - 1)")
      ("max-agents", po::value<std::int64_t>()->default_value(defaults.max_agents),
       "per run: the largest value of any integer model parameter (agents, regions, ...)")
      ("max-steps", po::value<std::int64_t>()->default_value(defaults.max_steps), "per run: the most steps")
      ("max-runs", po::value<std::int64_t>()->default_value(defaults.max_runs),
       "per participant: runs and ensembles going at once")
      ("max-replicas", po::value<std::int64_t>()->default_value(defaults.max_replicas),
       "per participant: replicas of one ensemble");
  const Parsed parsed = parse("serve", args, options, nullptr);
  if (parsed.help) {
    std::cout << options << "\n";
    return exit_ok;
  }
  const auto& vm = parsed.vm;
  serve_options.port = vm["port"].as<int>();
  serve_options.host = vm["host"].as<std::string>();
  if (vm.count("scenario"))
    for (const auto& s : vm["scenario"].as<std::vector<std::string>>()) serve_options.scenarios.emplace_back(s);
  if (vm.count("room")) serve_options.room = vm["room"].as<std::string>();
  serve_options.workers = vm["workers"].as<int>();
  if (serve_options.workers < 0 || serve_options.workers > 1024)
    throw InputError("commons-sim serve: --workers " + std::to_string(serve_options.workers) + " is out of range [0, 1024]");
  auto limit = [&](const char* option, std::int64_t& out) {
    out = vm[option].as<std::int64_t>();
    if (out < 1) throw InputError(std::string("commons-sim serve: --") + option + " must be at least 1");
  };
  limit("max-agents", serve_options.limits.max_agents);
  limit("max-steps", serve_options.limits.max_steps);
  limit("max-runs", serve_options.limits.max_runs);
  limit("max-replicas", serve_options.limits.max_replicas);
  return serve(serve_options, models);
}

}  // namespace

int run(int argc, char** argv, const ModelList& models) {
  const std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
  const std::string command = argc >= 2 ? argv[1] : "";
  try {
    if (command == "run") return command_run(args, models, joined_command_line(argc, argv));
    if (command == "resume") return command_resume(args, models, joined_command_line(argc, argv));
    if (command == "sweep") return command_sweep(args, models, joined_command_line(argc, argv));
    if (command == "merge") return command_merge(args);
    if (command == "check") return command_check(args, models);
    if (command == "params") return command_params(args, models);
    if (command == "outputs") return command_outputs(args, models);
    if (command == "serve") return command_serve(args, models);
    if (command == "--version" || command == "version") {
      std::printf("commons-sim %s (git %s%s)\n", version, git_commit, built_with_mpi() ? ", MPI" : "");
      return exit_ok;
    }
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << overview;
      return exit_ok;
    }
    std::cerr << (command.empty() ? "commons-sim: no command given" : "commons-sim: unknown command '" + command + "'")
              << " (see commons-sim --help)\n";
    return exit_input_error;
  } catch (const InputError& e) {
    // Under mpirun, once; an empty message was reported already (sweep.cpp, rank 0).
    if (!is_secondary_rank() && *e.what() != '\0') std::cerr << e.what() << "\n";
    return exit_input_error;
  } catch (const RunError& e) {
    if (!is_secondary_rank()) std::cerr << "commons-sim: " << e.what() << "\n";
    // A file whose writing failed (a full disk) stays open inside HDF5, and HDF5 1.10.8 crashes
    // closing it again at exit: leave without the library's exit handler (every file the
    // engine could close is closed; the message is out).
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(exit_run_error);
  } catch (const std::bad_alloc&) {
    if (!is_secondary_rank())
      std::cerr << "commons-sim: not enough memory for this scenario (fewer agents, or a machine with more memory)\n";
    return exit_run_error;
  } catch (const std::exception& e) {
    std::cerr << "commons-sim: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace sim::cli
