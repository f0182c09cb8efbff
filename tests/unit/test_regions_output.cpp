// Per-region series (/regions) and agent snapshots (/snapshots) in run files and sweep files,
// with a toy model declared here: agents spread over regions, each with a random walk.
#include <hdf5.h>
#include <hdf5_hl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/design.hpp"
#include "sim/error.hpp"
#include "sim/h5.hpp"
#include "sim/rng.hpp"
#include "sim/run_file.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"
#include "sim/sweep.hpp"

namespace fs = std::filesystem;

namespace {

// A test sets this to make the toy model raise SIGINT at the end of that step (0: never), as a
// user pressing Ctrl-C would; it is not a parameter, so a resumed run does not stop again.
std::int64_t interrupt_at = 0;
// And this makes it throw something the runner does not handle at the end of that step, so the
// run file is left as a killed run leaves it: never finished, status "running".
std::int64_t crash_at = 0;
struct Crash {};

enum class AtlasStream : std::uint64_t { wealth = 1, level = 2 };

// `atlas.agents` agents; agent i lives in region i % regions. Each step every agent's wealth and
// every region's level take a uniform random step, addressed by (seed, stream, step, index).
class Atlas final : public sim::Model {
 public:
  Atlas(const sim::ModelInit& init, const std::string& name)
      : seed_(init.seed),
        regions_(static_cast<std::size_t>(init.params.integer(name + ".regions"))),
        wealth_(static_cast<std::size_t>(init.params.integer(name + ".agents")), 1.0),
        level_(regions_, 0.0) {
    init.ledger.open(0.0);
  }
  std::vector<sim::Phase> phases() override {
    return {{"walk", "every agent and region takes a random step", [this](sim::StepContext& c) {
               const auto step = static_cast<std::uint64_t>(c.step);
               for (std::size_t i = 0; i < wealth_.size(); ++i)
                 wealth_[i] += sim::Rng(seed_, AtlasStream::wealth, step, i).u01();
               for (std::size_t r = 0; r < level_.size(); ++r)
                 level_[r] += sim::Rng(seed_, AtlasStream::level, step, r).u01() - 0.5;
               if (c.step == interrupt_at) std::raise(SIGINT);
               if (c.step == crash_at) throw Crash{};
             }}};
  }
  void measure(std::span<double> values) override {
    double total = 0.0;
    for (double w : wealth_) total += w;
    values[0] = total;
  }
  void measure_regions(std::span<double> values) override {
    for (std::size_t r = 0; r < regions_; ++r) {
      values[r] = 0.0;                     // wealth
      values[regions_ + r] = level_[r];    // level
    }
    for (std::size_t i = 0; i < wealth_.size(); ++i) values[i % regions_] += wealth_[i];
  }
  void snapshot(sim::State& out) const override {
    out.put("agents/wealth", wealth_);
    std::vector<std::int32_t> region(wealth_.size());
    for (std::size_t i = 0; i < region.size(); ++i) region[i] = static_cast<std::int32_t>(i % regions_);
    out.put("agents/region", region);
    out.put("regions/level", level_);
  }
  double time_at(std::int64_t step) const override { return 0.5 * static_cast<double>(step); }
  double money_in_accounts() const override { return 0.0; }
  void save(sim::State& state) const override {
    state.put("wealth", wealth_);
    state.put("level", level_);
  }
  void restore(const sim::State& state) override {
    state.get("wealth", wealth_);
    state.get("level", level_);
  }

 private:
  std::uint64_t seed_;
  std::size_t regions_;
  std::vector<double> wealth_;
  std::vector<double> level_;
};

sim::ModelSpec atlas_spec() {
  sim::ModelSpec spec;
  spec.name = "atlas";
  spec.summary = "agents in regions taking random steps";
  spec.params = {sim::ParamSpec::integer("atlas.regions", 3).range(0, 50).describe("regions"),
                 sim::ParamSpec::integer("atlas.agents", 7).range(0, 1000).describe("agents"),
                 sim::ParamSpec::real("atlas.scale", 1.0).range(0, 10).describe("a parameter that changes nothing")};
  spec.series = {{"total", "credits", "wealth of all agents"}};
  spec.region_series = {{"wealth", "credits", "wealth of the agents in the region"},
                        {"level", "1", "the region's random walk"}};
  spec.region_count = [](const sim::ParamValues& p) { return static_cast<std::size_t>(p.integer("atlas.regions")); };
  spec.snapshot_fields = {{"agents/wealth", "credits", "each agent's wealth"},
                          {"agents/region", "1", "each agent's region"},
                          {"regions/level", "1", "each region's level"}};
  spec.phase_names = {"walk"};
  spec.make = [](const sim::ModelInit& init) { return std::make_unique<Atlas>(init, "atlas"); };
  return spec;
}

// The same model without regions or snapshots: its files must look as they always did.
sim::ModelSpec plain_spec() {
  sim::ModelSpec spec = atlas_spec();
  spec.name = "plain";
  for (auto& p : spec.params) p.name = "plain." + p.key();
  spec.region_series.clear();
  spec.region_count = nullptr;
  spec.snapshot_fields.clear();
  spec.make = [](const sim::ModelInit& init) { return std::make_unique<Atlas>(init, "plain"); };
  return spec;
}

const sim::ModelList& models() {
  static const sim::ModelList list{atlas_spec(), plain_spec()};
  return list;
}

struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() / ("commons-sim-regions-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

const std::string atlas_ini = "[sim]\nmodel = atlas\nsteps = 7\nseed = 11\nrecord_every = 2\n";

sim::Scenario load(const fs::path& file, const std::vector<std::string>& overrides = {}) {
  return sim::load_scenario(file, overrides, models());
}

sim::RunResult run(const sim::Scenario& scenario, const fs::path& out, std::int64_t checkpoint_every = 0) {
  sim::RunOptions options;
  options.out = out;
  options.threads = 1;
  options.checkpoint_every = checkpoint_every;
  return sim::run_scenario(scenario, options);
}

// Reading back.
sim::h5::Handle open(const fs::path& file) { return sim::h5::open_file(file, H5F_ACC_RDONLY); }

bool has(const fs::path& file, const std::string& path) {
  auto f = open(file);
  std::string prefix;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    prefix += (prefix.empty() ? "" : "/") + path.substr(start, slash - start);
    if (H5Lexists(f.id(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

std::vector<double> doubles(const fs::path& file, const std::string& path) {
  auto f = open(file);
  auto d = sim::h5::open_dataset(f.id(), path);
  return sim::h5::read_doubles(d.id());
}

std::vector<std::int64_t> ints(const fs::path& file, const std::string& path) {
  auto f = open(file);
  auto d = sim::h5::open_dataset(f.id(), path);
  return sim::h5::read_ints(d.id());
}

std::vector<hsize_t> shape(const fs::path& file, const std::string& path) {
  auto f = open(file);
  auto d = sim::h5::open_dataset(f.id(), path);
  return sim::h5::shape(d.id());
}

std::string attribute(const fs::path& file, const std::string& path, const std::string& name) {
  auto f = open(file);
  const hid_t object = H5Oopen(f.id(), path.c_str(), H5P_DEFAULT);
  REQUIRE(object >= 0);
  std::string value;
  try {
    value = sim::h5::read_string_attribute(object, name);
  } catch (...) {
    H5Oclose(object);
    throw;
  }
  H5Oclose(object);
  return value;
}

// Bit for bit, NaN included.
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// Whether `scale` is a dimension scale attached to dimension `dim` of `dataset` (both paths).
bool attached(const fs::path& file, const std::string& dataset, const std::string& scale, unsigned dim) {
  auto f = open(file);
  auto d = sim::h5::open_dataset(f.id(), dataset);
  auto s = sim::h5::open_dataset(f.id(), scale);
  return H5DSis_scale(s.id()) > 0 && H5DSis_attached(d.id(), s.id(), dim) > 0;
}

}  // namespace

TEST_CASE("a run file holds /regions [step, region] with its own scales", "[regions]") {
  TempDir dir;
  const auto scenario = load(dir.write("atlas.ini", atlas_ini));
  const auto out = dir.path / "run.h5";
  REQUIRE(run(scenario, out).status == "complete");

  const std::vector<std::int64_t> steps{0, 2, 4, 6, 7};
  CHECK(ints(out, "series/step") == steps);
  CHECK(ints(out, "regions/step") == steps);
  CHECK(ints(out, "regions/region") == std::vector<std::int64_t>{0, 1, 2});
  CHECK(doubles(out, "regions/time") == std::vector<double>{0, 1, 2, 3, 3.5});
  for (const std::string name : {"wealth", "level"}) {
    const std::string path = "regions/" + name;
    CHECK(shape(out, path) == std::vector<hsize_t>{5, 3});
    CHECK(attached(out, path, "regions/step", 0));
    CHECK(attached(out, path, "regions/region", 1));
    CHECK_FALSE(attached(out, path, "regions/region", 0));
    CHECK(attribute(out, path, "coordinates") == "time");
    // Chunked and extendible along step.
    auto f = open(out);
    auto d = sim::h5::open_dataset(f.id(), path);
    sim::h5::Handle plist(H5Dget_create_plist(d.id()), sim::h5::Kind::PropertyList);
    CHECK(H5Pget_layout(plist.id()) == H5D_CHUNKED);
    sim::h5::Handle space(H5Dget_space(d.id()), sim::h5::Kind::Dataspace);
    hsize_t dims[2], max[2];
    H5Sget_simple_extent_dims(space.id(), dims, max);
    CHECK(max[0] == H5S_UNLIMITED);
    CHECK(max[1] == 3);
  }
  CHECK(attribute(out, "regions/wealth", "units") == "credits");
  CHECK(attribute(out, "regions/level", "description") == "the region's random walk");
  CHECK(attached(out, "regions/time", "regions/step", 0));
  CHECK(attribute(out, "meta", "status") == "complete");
}

TEST_CASE("/regions holds what the model measures at every record", "[regions]") {
  TempDir dir;
  const auto scenario = load(dir.write("atlas.ini", atlas_ini), {"atlas.regions=4", "atlas.agents=10"});
  const auto out = dir.path / "run.h5";
  REQUIRE(run(scenario, out).status == "complete");

  // An independent simulation, stepped by hand, and the region sums computed from its agents.
  sim::Simulation simulation(scenario);
  const auto wealth = doubles(out, "regions/wealth");
  const auto level = doubles(out, "regions/level");
  REQUIRE(wealth.size() == 5 * 4);
  std::size_t k = 0;
  for (std::int64_t step : {0, 2, 4, 6, 7}) {
    while (simulation.steps_done() < step) simulation.step();
    sim::State state;
    simulation.model().snapshot(state);
    std::vector<double> agents(10), levels(4);
    state.get("agents/wealth", agents);
    state.get("regions/level", levels);
    for (std::size_t r = 0; r < 4; ++r) {
      double sum = 0.0;
      for (std::size_t i = r; i < 10; i += 4) sum += agents[i];
      CHECK(wealth[k * 4 + r] == sum);
      CHECK(level[k * 4 + r] == levels[r]);
    }
    ++k;
  }
  // The regions differ from each other and move over time: the test would see a mix-up.
  CHECK(level[4 + 0] != level[4 + 1]);
  CHECK(wealth[4 * 4 + 0] > wealth[0]);
}

TEST_CASE("a model without regions or snapshots writes neither group", "[regions]") {
  TempDir dir;
  const auto scenario =
      load(dir.write("plain.ini", "[sim]\nmodel = plain\nsteps = 7\nseed = 11\nsnapshot_every = 2\n"));
  const auto out = dir.path / "run.h5";
  REQUIRE(run(scenario, out).status == "complete");
  CHECK(has(out, "series/total"));
  CHECK_FALSE(has(out, "regions"));
  CHECK_FALSE(has(out, "snapshots"));
  CHECK_FALSE(has(out, "flows"));
}

TEST_CASE("a model with regions but none in this run is refused before any file is written", "[regions]") {
  TempDir dir;
  const auto scenario = load(dir.write("atlas.ini", atlas_ini), {"atlas.regions=0"});
  const auto out = dir.path / "run.h5";
  CHECK_THROWS_WITH(run(scenario, out), Catch::Contains("no regions"));
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("snapshots are written every snapshot_every steps and at the last step", "[regions][snapshots]") {
  TempDir dir;
  const auto scenario = load(dir.write("atlas.ini", atlas_ini), {"sim.snapshot_every=3", "atlas.agents=5"});
  const auto out = dir.path / "run.h5";
  REQUIRE(run(scenario, out).status == "complete");

  CHECK(ints(out, "snapshots/steps") == std::vector<std::int64_t>{0, 3, 6, 7});
  CHECK_FALSE(has(out, "snapshots/2"));
  sim::Simulation simulation(scenario);
  for (std::int64_t step : {0, 3, 6, 7}) {
    while (simulation.steps_done() < step) simulation.step();
    sim::State state;
    simulation.model().snapshot(state);
    const std::string at = "snapshots/" + std::to_string(step);
    REQUIRE(has(out, at + "/agents/wealth"));
    CHECK(shape(out, at + "/agents/wealth") == std::vector<hsize_t>{5});
    CHECK(shape(out, at + "/agents/region") == std::vector<hsize_t>{5});
    CHECK(shape(out, at + "/regions/level") == std::vector<hsize_t>{3});
    std::vector<double> wealth(5), level(3);
    state.get("agents/wealth", wealth);
    state.get("regions/level", level);
    CHECK(same_bits(doubles(out, at + "/agents/wealth"), wealth));
    CHECK(same_bits(doubles(out, at + "/regions/level"), level));
    CHECK(ints(out, at + "/agents/region") == std::vector<std::int64_t>{0, 1, 2, 0, 1});
  }
  CHECK(attribute(out, "snapshots/3/agents/wealth", "units") == "credits");
  CHECK(attribute(out, "snapshots/3/regions/level", "description") == "each region's level");
  {  // the element type is the model's: int32 for the regions
    auto f = open(out);
    auto d = sim::h5::open_dataset(f.id(), "snapshots/0/agents/region");
    sim::h5::Handle type(H5Dget_type(d.id()), sim::h5::Kind::Datatype);
    CHECK(H5Tequal(type.id(), H5T_STD_I32LE) > 0);
  }

  SECTION("snapshot_every 0 writes none") {
    const auto none = load(dir.write("none.ini", atlas_ini));
    REQUIRE(run(none, dir.path / "none.h5").status == "complete");
    CHECK_FALSE(has(dir.path / "none.h5", "snapshots"));
    CHECK(has(dir.path / "none.h5", "regions/wealth"));
  }
}

TEST_CASE("too many snapshots are refused naming sim.snapshot_every", "[regions][snapshots]") {
  TempDir dir;
  const auto scenario = load(dir.write("atlas.ini", atlas_ini), {"sim.steps=100000", "sim.snapshot_every=5"});
  const auto out = dir.path / "run.h5";
  CHECK_THROWS_WITH(run(scenario, out), Catch::Contains("sim.snapshot_every = 5") && Catch::Contains("at most 10000"));
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("an interrupted run keeps only whole snapshots and resumes to the uninterrupted file", "[regions][snapshots]") {
  TempDir dir;
  const auto file = dir.write("atlas.ini", atlas_ini + "snapshot_every = 3\n");
  const auto scenario = load(file);
  const auto whole = dir.path / "whole.h5";
  REQUIRE(run(scenario, whole).status == "complete");

  const auto cut = dir.path / "cut.h5";
  interrupt_at = 5;
  const auto stopped = run(scenario, cut, 3);
  interrupt_at = 0;
  REQUIRE(stopped.status == "interrupted");
  CHECK(ints(cut, "series/step") == std::vector<std::int64_t>{0, 2, 4, 5});
  CHECK(ints(cut, "regions/step") == std::vector<std::int64_t>{0, 2, 4, 5});
  CHECK(shape(cut, "regions/level") == std::vector<hsize_t>{4, 3});
  // Snapshots 0 and 3 were taken; 6 and 7 never were, and their groups are gone.
  CHECK(ints(cut, "snapshots/steps") == std::vector<std::int64_t>{0, 3});
  CHECK(has(cut, "snapshots/3/agents/wealth"));
  CHECK_FALSE(has(cut, "snapshots/6"));
  CHECK_FALSE(has(cut, "snapshots/7"));

  sim::RunOptions options;
  options.threads = 2;
  const auto resumed = sim::resume_run(sim::default_checkpoint(cut), options, models());
  REQUIRE(resumed.status == "complete");
  for (const std::string path : {"series/step", "regions/step", "regions/region", "snapshots/steps"})
    CHECK(ints(cut, path) == ints(whole, path));
  for (const std::string path : {"series/total", "regions/time", "regions/wealth", "regions/level"})
    CHECK(same_bits(doubles(cut, path), doubles(whole, path)));
  for (std::int64_t step : {0, 3, 6, 7}) {
    const std::string at = "snapshots/" + std::to_string(step);
    CHECK(same_bits(doubles(cut, at + "/agents/wealth"), doubles(whole, at + "/agents/wealth")));
    CHECK(same_bits(doubles(cut, at + "/regions/level"), doubles(whole, at + "/regions/level")));
    CHECK(ints(cut, at + "/agents/region") == ints(whole, at + "/agents/region"));
  }
}

TEST_CASE("a run that dies leaves its unreached snapshots empty and unlisted; resume completes them",
          "[regions][snapshots]") {
  TempDir dir;
  const auto file = dir.write("atlas.ini", atlas_ini + "snapshot_every = 3\nflush_every = 1\n");
  const auto scenario = load(file);
  const auto whole = dir.path / "whole.h5";
  REQUIRE(run(scenario, whole).status == "complete");

  const auto cut = dir.path / "cut.h5";
  crash_at = 5;
  CHECK_THROWS_AS(run(scenario, cut, 2), Crash);
  crash_at = 0;
  CHECK(attribute(cut, "meta", "status") == "running");
  CHECK(ints(cut, "snapshots/steps") == std::vector<std::int64_t>{0, 3});
  REQUIRE(has(cut, "snapshots/6/agents/wealth"));  // created with the file, never filled
  CHECK(shape(cut, "snapshots/6/agents/wealth") == std::vector<hsize_t>{0});

  sim::RunOptions options;
  const auto resumed = sim::resume_run(sim::default_checkpoint(cut), options, models());  // from step 4
  REQUIRE(resumed.status == "complete");
  CHECK(ints(cut, "snapshots/steps") == ints(whole, "snapshots/steps"));
  CHECK(same_bits(doubles(cut, "regions/level"), doubles(whole, "regions/level")));
  CHECK(same_bits(doubles(cut, "regions/wealth"), doubles(whole, "regions/wealth")));
  for (std::int64_t step : {0, 3, 6, 7}) {
    const std::string at = "snapshots/" + std::to_string(step);
    CHECK(same_bits(doubles(cut, at + "/agents/wealth"), doubles(whole, at + "/agents/wealth")));
    CHECK(same_bits(doubles(cut, at + "/regions/level"), doubles(whole, at + "/regions/level")));
  }
}

TEST_CASE("read_records carries /regions records up to a step", "[regions]") {
  TempDir dir;
  const auto scenario = load(dir.write("atlas.ini", atlas_ini));
  const auto out = dir.path / "run.h5";
  REQUIRE(run(scenario, out).status == "complete");
  const auto records = sim::read_records(out, *scenario.model, scenario.resolved_text, 4);
  REQUIRE(records.steps == std::vector<std::int64_t>{0, 2, 4});
  REQUIRE(records.regions.size() == 3);
  const auto wealth = doubles(out, "regions/wealth");
  const auto level = doubles(out, "regions/level");
  for (std::size_t k = 0; k < 3; ++k) {
    REQUIRE(records.regions[k].size() == 2 * 3);
    for (std::size_t r = 0; r < 3; ++r) {
      CHECK(records.regions[k][r] == wealth[k * 3 + r]);
      CHECK(records.regions[k][3 + r] == level[k * 3 + r]);
    }
  }
}

namespace {

sim::SweepOptions sweep_options(const fs::path& scenario_file, const fs::path& out,
                                const std::vector<std::string>& vary = {"atlas.agents=4,6,9", "atlas.scale=0:1:2"}) {
  sim::SweepOptions o;
  o.scenario = scenario_file;
  o.out = out;
  o.replicas = 2;
  o.threads = 1;
  const auto base = load(scenario_file);
  std::vector<sim::Factor> factors;
  for (const auto& v : vary) factors.push_back(sim::parse_factor(v, base.params));
  o.design = sim::make_design(sim::DesignKind::Grid, factors, 0, 0, base.seed);
  return o;
}

// Every dataset a sweep's /regions and /series hold, read back.
struct SweepData {
  std::vector<std::vector<double>> reals;
  std::vector<std::vector<std::int64_t>> integers;
  std::vector<std::string> status;
  bool operator==(const SweepData& other) const {
    if (integers != other.integers || status != other.status || reals.size() != other.reals.size()) return false;
    for (std::size_t i = 0; i < reals.size(); ++i)
      if (!same_bits(reals[i], other.reals[i])) return false;
    return true;
  }
};

SweepData sweep_data(const fs::path& file) {
  SweepData d;
  for (const std::string path : {"regions/wealth", "regions/level", "regions/time", "series/total"})
    d.reals.push_back(doubles(file, path));
  for (const std::string path : {"regions/run", "regions/step", "regions/region", "runs/seed"})
    d.integers.push_back(ints(file, path));
  auto f = open(file);
  auto status = sim::h5::open_dataset(f.id(), "runs/status");
  d.status = sim::h5::read_strings(status.id());
  return d;
}

}  // namespace

TEST_CASE("a sweep writes /regions [run, step, region], the same serial, in threads, in shards and resumed",
          "[regions][sweep]") {
  TempDir dir;
  const auto file = dir.write("atlas.ini", atlas_ini);
  const auto serial = dir.path / "serial.h5";
  REQUIRE(sim::run_sweep(sweep_options(file, serial), models()).exit_code == 0);

  // 3 x 2 points x 2 replicas, 5 records, 3 regions.
  CHECK(shape(serial, "regions/wealth") == std::vector<hsize_t>{12, 5, 3});
  CHECK(shape(serial, "regions/level") == std::vector<hsize_t>{12, 5, 3});
  CHECK(ints(serial, "regions/step") == std::vector<std::int64_t>{0, 2, 4, 6, 7});
  CHECK(ints(serial, "regions/region") == std::vector<std::int64_t>{0, 1, 2});
  CHECK(ints(serial, "regions/run").size() == 12);
  CHECK(attached(serial, "regions/wealth", "regions/run", 0));
  CHECK(attached(serial, "regions/wealth", "regions/step", 1));
  CHECK(attached(serial, "regions/wealth", "regions/region", 2));
  CHECK(attached(serial, "regions/time", "regions/step", 0));
  CHECK(attribute(serial, "regions/wealth", "units") == "credits");
  CHECK_FALSE(has(serial, "snapshots"));

  // Run 7 (point 3: agents 6, scale 1; replicate 1) equals the single run with its seed.
  {
    const auto seed = sim::run_seed(11, 7);
    const auto single = load(file, {"atlas.agents=6", "atlas.scale=1", "sim.seed=" + std::to_string(seed)});
    const auto out = dir.path / "single.h5";
    REQUIRE(run(single, out).status == "complete");
    const auto level = doubles(serial, "regions/level");
    const auto alone = doubles(out, "regions/level");
    REQUIRE(alone.size() == 15);
    CHECK(same_bits(std::vector<double>(level.begin() + 7 * 15, level.begin() + 8 * 15), alone));
    const auto wealth = doubles(serial, "regions/wealth");
    CHECK(same_bits(std::vector<double>(wealth.begin() + 7 * 15, wealth.begin() + 8 * 15), doubles(out, "regions/wealth")));
  }
  const SweepData expected = sweep_data(serial);

  SECTION("--jobs 2") {
    auto o = sweep_options(file, dir.path / "jobs.h5");
    o.jobs = 2;
    REQUIRE(sim::run_sweep(o, models()).exit_code == 0);
    CHECK(sweep_data(o.out) == expected);
  }
  SECTION("shards and merge") {
    std::vector<fs::path> parts;
    for (std::int64_t i = 0; i < 3; ++i) {
      auto o = sweep_options(file, dir.path / ("part" + std::to_string(i) + ".h5"));
      o.shard_index = i;
      o.shard_count = 3;
      REQUIRE(sim::run_sweep(o, models()).exit_code == 0);
      parts.push_back(o.out);
    }
    const auto merged = dir.path / "merged.h5";
    CHECK(sim::merge_sweeps(parts, merged, false) == 0);
    CHECK(sweep_data(merged) == expected);
    // A part alone holds NaN where other parts' runs go.
    CHECK(std::isnan(doubles(parts[1], "regions/level")[0]));
  }
  SECTION("resumed") {
    // A first attempt that did only part of the runs, then --resume fills in the rest.
    auto first = sweep_options(file, dir.path / "resumed.h5");
    first.shard_index = 1;
    first.shard_count = 2;
    REQUIRE(sim::run_sweep(first, models()).exit_code == 0);
    auto again = sweep_options(file, first.out);
    again.resume = true;
    again.jobs = 2;
    const auto result = sim::run_sweep(again, models());
    CHECK(result.runs == 6);
    CHECK(sweep_data(first.out) == expected);
  }
}

TEST_CASE("a sweep that changes the number of regions is refused naming the parameter", "[regions][sweep]") {
  TempDir dir;
  const auto file = dir.write("atlas.ini", atlas_ini);
  const auto out = dir.path / "sweep.h5";
  CHECK_THROWS_WITH(sim::run_sweep(sweep_options(file, out, {"atlas.agents=4,6", "atlas.regions=3,5"}), models()),
                    Catch::Contains("--vary atlas.regions") && Catch::Contains("3 in the base scenario, 5 at atlas.regions = 5"));
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("a sweep refuses snapshots, naming sim.snapshot_every", "[regions][sweep][snapshots]") {
  TempDir dir;
  const auto out = dir.path / "sweep.h5";
  const auto with = dir.write("with.ini", atlas_ini + "snapshot_every = 2\n");
  CHECK_THROWS_WITH(sim::run_sweep(sweep_options(with, out), models()),
                    Catch::Contains("sim.snapshot_every = 2") && Catch::Contains("no agent snapshots"));
  const auto file = dir.write("atlas.ini", atlas_ini);
  CHECK_THROWS_WITH(sim::run_sweep(sweep_options(file, out, {"sim.snapshot_every=0,2"}), models()),
                    Catch::Contains("sim.snapshot_every cannot be varied"));
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("a sweep of a model without regions has no /regions group", "[regions][sweep]") {
  TempDir dir;
  const auto file = dir.write("plain.ini", "[sim]\nmodel = plain\nsteps = 4\nseed = 3\n");
  const auto out = dir.path / "sweep.h5";
  REQUIRE(sim::run_sweep(sweep_options(file, out, {"plain.agents=2,3"}), models()).exit_code == 0);
  CHECK(shape(out, "series/total") == std::vector<hsize_t>{4, 5});
  CHECK_FALSE(has(out, "regions"));
}

// Not run by default: tests/python/test_regions.py runs it with SIM_REGIONS_OUT set to a
// directory and opens the files it leaves there with h5py and xarray.
TEST_CASE("files with regions and snapshots for the Python readers", "[.regions-files]") {
  const char* where = std::getenv("SIM_REGIONS_OUT");
  REQUIRE(where != nullptr);
  const fs::path out_dir = where;
  TempDir dir;
  const auto file = dir.write("atlas.ini", atlas_ini + "snapshot_every = 3\n");
  REQUIRE(run(load(file), out_dir / "run.h5").status == "complete");
  const auto no_snapshots = dir.write("sweep.ini", atlas_ini);
  REQUIRE(sim::run_sweep(sweep_options(no_snapshots, out_dir / "sweep.h5"), models()).exit_code == 0);
}

// Not run by default: tests/python/test_regions.py runs it under mpirun (every rank runs it; rank
// 0 writes SIM_REGIONS_OUT/mpi.h5) and compares the file with the one-process sweep above.
TEST_CASE("a sweep with regions over MPI ranks", "[.regions-mpi]") {
  const char* where = std::getenv("SIM_REGIONS_OUT");
  REQUIRE(where != nullptr);
  TempDir dir;
  const auto file = dir.write("sweep.ini", atlas_ini);
  const auto result = sim::run_sweep(sweep_options(file, fs::path(where) / "mpi.h5"), models());
  if (sim::is_secondary_rank()) {
    CHECK(result.status == "worker");
  } else {
    CHECK(result.exit_code == 0);
  }
}
