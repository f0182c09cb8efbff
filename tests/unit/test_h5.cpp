// The HDF5 layer and the run file, read back through the C API.
#include <hdf5.h>
#include <hdf5_hl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sim/error.hpp"
#include "sim/h5.hpp"
#include "sim/run_file.hpp"

namespace fs = std::filesystem;

namespace {

// A directory of its own per test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("commons-sim-h5-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter()++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

sim::ModelSpec fake_model() {
  sim::ModelSpec m;
  m.name = "fake";
  m.summary = "A model that exists for tests.";
  m.series = {{"n_agents", "1", "agents alive"}, {"mean_wealth", "money", "mean | wealth"}};
  m.phase_names = {"trade", "tax"};
  m.sectors = {"households", "state"};
  m.flow_types = {"trade", "tax"};
  m.time_name = "year";
  m.time_units = "year";
  return m;
}

struct FakeRun {
  sim::ParamSpec seed_spec = sim::ParamSpec::integer("sim.seed", 0);
  sim::ParamSpec chi_spec = sim::ParamSpec::real("fake.chi", 0.5);
  sim::ModelSpec model = fake_model();
  sim::Scenario scenario;
  sim::RunMeta meta{"0.1.0", "abc123", "commons-sim run fake.ini", 2, "2026-01-01T00:00:00Z"};

  FakeRun() {
    scenario.file = "fake.ini";
    scenario.model = &model;
    scenario.steps = 10;
    scenario.seed = 42;
    scenario.resolved_text = "[sim]\nmodel = fake\nseed = 42\n[fake]\nchi = 0.25\n";
    sim::ParamValue seed;
    seed.spec = &seed_spec;
    seed.text = "42";
    seed.origin = "fake.ini:3";
    scenario.params.set("sim.seed", seed);
    sim::ParamValue chi;
    chi.spec = &chi_spec;
    chi.text = "0.25";
    chi.origin = "--set";
    scenario.params.set("fake.chi", chi);
  }
};

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("run file round trip: records, scales and final attributes", "[h5]") {
  TempDir dir;
  const fs::path path = dir.path / "run.h5";
  FakeRun run;
  {
    sim::RunFile file(path, false, run.scenario, run.meta);
    CHECK(file.path() == path);
    for (std::int64_t step = 0; step <= 4; ++step) {
      const std::vector<double> values{100.0 - step, 1.5 * step};
      std::vector<double> flows(3 * 2);
      for (std::size_t i = 0; i < flows.size(); ++i) flows[i] = 10.0 * step + i;
      file.append(step * 2, 1990.0 + step / 12.0, values, flows);
      if (step == 2) file.flush(step * 2);
    }
    file.finish("complete", 8, 1.25, "2026-01-01T00:00:01Z");
  }

  auto f = sim::h5::open_file(path, H5F_ACC_RDONLY);
  auto step = sim::h5::open_dataset(f.id(), "/series/step");
  CHECK(sim::h5::read_ints(step.id()) == std::vector<std::int64_t>{0, 2, 4, 6, 8});
  CHECK(H5DSis_scale(step.id()) > 0);

  auto year = sim::h5::open_dataset(f.id(), "/series/year");
  CHECK(sim::h5::read_doubles(year.id()).at(3) == Approx(1990.25));
  CHECK(sim::h5::read_string_attribute(year.id(), "units") == "year");
  CHECK(H5DSis_attached(year.id(), step.id(), 0) > 0);

  auto n_agents = sim::h5::open_dataset(f.id(), "/series/n_agents");
  auto mean_wealth = sim::h5::open_dataset(f.id(), "/series/mean_wealth");
  CHECK(sim::h5::read_doubles(n_agents.id()) == std::vector<double>{100, 99, 98, 97, 96});
  CHECK(sim::h5::read_doubles(mean_wealth.id()) == std::vector<double>{0, 1.5, 3, 4.5, 6});
  for (const auto* d : {&n_agents, &mean_wealth}) {
    CHECK(H5DSis_attached(d->id(), step.id(), 0) > 0);
    CHECK(sim::h5::read_string_attribute(d->id(), "coordinates") == "year");
  }
  CHECK(sim::h5::read_string_attribute(mean_wealth.id(), "units") == "money");
  CHECK(sim::h5::read_string_attribute(mean_wealth.id(), "description") == "mean | wealth");

  auto matrix = sim::h5::open_dataset(f.id(), "/flows/matrix");
  CHECK(sim::h5::shape(matrix.id()) == std::vector<hsize_t>{5, 3, 2});
  const auto cells = sim::h5::read_doubles(matrix.id());
  CHECK(cells.at(4 * 6 + 5) == 45.0);
  auto flow_type = sim::h5::open_dataset(f.id(), "/flows/flow_type");
  auto sector = sim::h5::open_dataset(f.id(), "/flows/sector");
  auto flow_step = sim::h5::open_dataset(f.id(), "/flows/step");
  CHECK(sim::h5::read_strings(flow_type.id()) ==
        std::vector<std::string>{"trade", "tax", "change_in_money"});
  CHECK(sim::h5::read_strings(sector.id()) == std::vector<std::string>{"households", "state"});
  CHECK(H5DSis_attached(matrix.id(), flow_step.id(), 0) > 0);
  CHECK(H5DSis_attached(matrix.id(), flow_type.id(), 1) > 0);
  CHECK(H5DSis_attached(matrix.id(), sector.id(), 2) > 0);

  auto meta = sim::h5::open_group(f.id(), "meta");
  CHECK(sim::h5::read_string_attribute(meta.id(), "format") == "commons-sim/1");
  CHECK(sim::h5::read_string_attribute(meta.id(), "status") == "complete");
  CHECK(sim::h5::read_int_attribute(meta.id(), "steps_completed") == 8);
  CHECK(sim::h5::read_double_attribute(meta.id(), "wall_seconds") == 1.25);
  CHECK(sim::h5::read_string_attribute(meta.id(), "end_time") == "2026-01-01T00:00:01Z");
  CHECK(sim::h5::read_string_attribute(meta.id(), "start_time") == "2026-01-01T00:00:00Z");
  CHECK(sim::h5::read_string_attribute(meta.id(), "model") == "fake");
  CHECK(sim::h5::read_string_attribute(meta.id(), "git_commit") == "abc123");
  CHECK(sim::h5::read_uint_attribute(meta.id(), "seed") == 42);
  CHECK(sim::h5::read_int_attribute(meta.id(), "threads") == 2);
  CHECK(sim::h5::read_strings_attribute(meta.id(), "phases") == std::vector<std::string>{"trade", "tax"});
  auto progress = sim::h5::open_dataset(meta.id(), "progress");
  CHECK(sim::h5::read_ints(progress.id()) == std::vector<std::int64_t>{8});

  auto scenario = sim::h5::open_group(f.id(), "scenario");
  CHECK(sim::h5::read_string_attribute(scenario.id(), "text") == run.scenario.resolved_text);
  CHECK(sim::h5::read_string_attribute(scenario.id(), "file") == "fake.ini");
  CHECK(sim::h5::read_string_attribute(scenario.id(), "fake.chi") == "0.25");
  CHECK(sim::h5::read_string_attribute(scenario.id(), "sim.seed") == "42");
}

TEST_CASE("run file left unfinished keeps status running and its records", "[h5]") {
  TempDir dir;
  const fs::path path = dir.path / "run.h5";
  FakeRun run;
  {
    sim::RunFile file(path, false, run.scenario, run.meta);
    const std::vector<double> values{1.0, 2.0};
    const std::vector<double> flows(6, 0.0);
    file.append(0, 1990.0, values, flows);
    file.append(1, 1990.1, values, flows);
    file.flush(1);
    file.append(2, 1990.2, values, flows);  // not flushed: still written when the file closes
  }
  auto f = sim::h5::open_file(path, H5F_ACC_RDONLY);
  auto meta = sim::h5::open_group(f.id(), "meta");
  CHECK(sim::h5::read_string_attribute(meta.id(), "status") == "running");
  CHECK(sim::h5::read_string_attribute(meta.id(), "end_time").empty());
  auto progress = sim::h5::open_dataset(meta.id(), "progress");
  CHECK(sim::h5::read_ints(progress.id()) == std::vector<std::int64_t>{1});
  auto series = sim::h5::open_dataset(f.id(), "/series/n_agents");
  CHECK(sim::h5::shape(series.id()) == std::vector<hsize_t>{3});
}

TEST_CASE("run file keeps every record across many chunks and flushes", "[h5]") {
  TempDir dir;
  FakeRun run;
  const std::int64_t records = 2500;  // more than two blocks of buffered records
  {
    sim::RunFile file(dir.path / "run.h5", false, run.scenario, run.meta);
    const std::vector<double> flows(6, 1.0);
    for (std::int64_t i = 0; i < records; ++i) {
      const std::vector<double> values{static_cast<double>(i), -static_cast<double>(i)};
      file.append(i, static_cast<double>(i), values, flows);
      if (i % 700 == 699) file.flush(i);
    }
    file.finish("complete", records - 1, 0.0, "");
  }
  auto f = sim::h5::open_file(dir.path / "run.h5", H5F_ACC_RDONLY);
  auto step = sim::h5::open_dataset(f.id(), "/series/step");
  auto wealth = sim::h5::open_dataset(f.id(), "/series/mean_wealth");
  auto matrix = sim::h5::open_dataset(f.id(), "/flows/matrix");
  const auto steps = sim::h5::read_ints(step.id());
  const auto values = sim::h5::read_doubles(wealth.id());
  REQUIRE(steps.size() == static_cast<std::size_t>(records));
  REQUIRE(values.size() == static_cast<std::size_t>(records));
  bool in_order = true;
  for (std::int64_t i = 0; i < records; ++i)
    in_order = in_order && steps[i] == i && values[i] == -static_cast<double>(i);
  CHECK(in_order);
  CHECK(sim::h5::shape(matrix.id()) == std::vector<hsize_t>{static_cast<hsize_t>(records), 3, 2});
}

namespace {

// Writes one value of a 1-D dataset of a closed run file in place (as damage would).
void overwrite_value(const fs::path& path, const std::string& name, hsize_t index, double value) {
  auto f = sim::h5::open_file(path, H5F_ACC_RDWR);
  auto dataset = sim::h5::open_dataset(f.id(), name);
  sim::h5::Handle space(H5Dget_space(dataset.id()), sim::h5::Kind::Dataspace);
  const hsize_t one = 1;
  REQUIRE(H5Sselect_hyperslab(space.id(), H5S_SELECT_SET, &index, nullptr, &one, nullptr) >= 0);
  sim::h5::Handle memory(H5Screate_simple(1, &one, nullptr), sim::h5::Kind::Dataspace);
  REQUIRE(H5Dwrite(dataset.id(), H5T_NATIVE_DOUBLE, memory.id(), space.id(), H5P_DEFAULT, &value) >= 0);
}

std::vector<std::uint64_t> record_hashes(const fs::path& path) {
  auto f = sim::h5::open_file(path, H5F_ACC_RDONLY);
  auto table = sim::h5::open_dataset(f.id(), "meta/record_hashes");
  std::vector<std::uint64_t> words(2 * 2 * (1 + sim::h5::read_strings_attribute(table.id(), "datasets").size()));
  REQUIRE(sim::h5::shape(table.id()).at(0) * sim::h5::shape(table.id()).at(1) * 2 == words.size());
  REQUIRE(H5Dread(table.id(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, words.data()) >= 0);
  return words;
}

// The check word of a slot of /meta/record_hashes (docs/output.md), for damage that passes it.
std::uint64_t slot_check(const std::uint64_t* slot, std::size_t words) {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < words; ++i) {
    if (i == 1) continue;
    for (int b = 0; b < 8; ++b) hash = (hash ^ ((slot[i] >> (8 * b)) & 0xffu)) * 0x100000001b3ull;
  }
  return hash;
}

void write_record_hashes(const fs::path& path, const std::vector<std::uint64_t>& words) {
  auto f = sim::h5::open_file(path, H5F_ACC_RDWR);
  auto table = sim::h5::open_dataset(f.id(), "meta/record_hashes");
  REQUIRE(H5Dwrite(table.id(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, words.data()) >= 0);
}

}  // namespace

TEST_CASE("run file checksums cover every record and catch a changed stored value", "[h5]") {
  TempDir dir;
  const fs::path path = dir.path / "run.h5";
  FakeRun run;
  const std::int64_t records = 2500;  // across chunks, blocks and flushes
  {
    sim::RunFile file(path, false, run.scenario, run.meta);
    std::vector<double> flows(6);
    for (std::int64_t i = 0; i < records; ++i) {
      const std::vector<double> values{static_cast<double>(i), 0.1 * static_cast<double>(i)};
      for (std::size_t c = 0; c < flows.size(); ++c) flows[c] = static_cast<double>(i) - static_cast<double>(c);
      file.append(i, 1990.0 + static_cast<double>(i) / 12.0, values, flows);
      if (i % 700 == 699) file.flush(i);
    }
    file.finish("complete", records - 1, 0.0, "");
  }
  {
    auto f = sim::h5::open_file(path, H5F_ACC_RDONLY);
    auto table = sim::h5::open_dataset(f.id(), "meta/record_hashes");
    CHECK(sim::h5::read_strings_attribute(table.id(), "datasets") ==
          std::vector<std::string>{"series/step", "series/year", "series/n_agents", "series/mean_wealth",
                                   "flows/step", "flows/year", "flows/matrix"});
  }
  // Both slots of a finished file cover every record: 3 flushes, then 2 at the end.
  const auto words = record_hashes(path);
  REQUIRE(words.size() == 2 * 16);
  CHECK(words[0] == 4);
  CHECK(words[16] == 5);
  for (std::size_t slot = 0; slot < 2; ++slot) {
    CHECK(words[slot * 16 + 1] == slot_check(&words[slot * 16], 16));
    for (std::size_t k = 0; k < 7; ++k) CHECK(words[slot * 16 + 2 + 2 * k] == static_cast<std::uint64_t>(records));
  }
  const auto read = sim::read_records(path, run.model, run.scenario.resolved_text, records);
  CHECK(read.steps.size() == static_cast<std::size_t>(records));

  SECTION("a value changed in one bit is refused, naming the file and the dataset") {
    overwrite_value(path, "series/mean_wealth", 1234, std::nextafter(123.4, 200.0));
    CHECK_THROWS_MATCHES(sim::read_records(path, run.model, run.scenario.resolved_text, 10), sim::InputError,
                         Catch::Message("output file '" + path.string() +
                                        "': stored values of /series/mean_wealth do not match their checksum "
                                        "(damaged file)"));
  }
  SECTION("one damaged slot leaves the other; two are refused") {
    auto damaged = words;
    damaged[16 + 5] ^= 1u << 2;  // the newer slot's second checksum
    write_record_hashes(path, damaged);
    CHECK(sim::read_records(path, run.model, run.scenario.resolved_text, records).steps.size() ==
          static_cast<std::size_t>(records));
    damaged[3] ^= 1u << 7;  // the older slot's first checksum
    write_record_hashes(path, damaged);
    CHECK_THROWS_WITH(sim::read_records(path, run.model, run.scenario.resolved_text, records),
                      Catch::Contains("both slots of /meta/record_hashes fail their own check"));
  }
  SECTION("a count beyond the stored records is refused") {
    auto damaged = words;
    for (std::size_t slot = 0; slot < 2; ++slot) {
      damaged[slot * 16 + 2 + 2 * 3] = records + 1;  // series/mean_wealth
      damaged[slot * 16 + 1] = slot_check(&damaged[slot * 16], 16);
    }
    write_record_hashes(path, damaged);
    CHECK_THROWS_WITH(sim::read_records(path, run.model, run.scenario.resolved_text, records),
                      Catch::Contains("/series/mean_wealth cannot hold the 2501 records its checksum covers"));
  }
  SECTION("a file without checksums (an older commons-sim) is read unchecked") {
    {
      auto f = sim::h5::open_file(path, H5F_ACC_RDWR);
      auto meta = sim::h5::open_group(f.id(), "meta");
      sim::h5::remove(meta.id(), "record_hashes");
    }
    overwrite_value(path, "series/mean_wealth", 3, 99.0);
    CHECK(sim::read_records(path, run.model, run.scenario.resolved_text, 10).values.at(3).at(1) == 99.0);
  }
}

TEST_CASE("run file checksums follow the records a run left unfinished wrote", "[h5]") {
  TempDir dir;
  const fs::path path = dir.path / "run.h5";
  FakeRun run;
  {
    sim::RunFile file(path, false, run.scenario, run.meta);
    const std::vector<double> values{1.0, 2.0};
    const std::vector<double> flows(6, 0.5);
    file.append(0, 1990.0, values, flows);
    file.append(1, 1990.1, values, flows);
    file.flush(1);
    file.append(2, 1990.2, values, flows);
  }
  const auto words = record_hashes(path);
  // Flushed once (slot 1), then once more as the file closed (slot 0), with every record.
  CHECK(words[0] == 2);
  CHECK(words[2] == 3);
  CHECK(words[16] == 1);
  CHECK(words[16 + 2] == 2);
  CHECK(sim::read_records(path, run.model, run.scenario.resolved_text, 2).steps.size() == 3);
}

TEST_CASE("run file without sectors has no flows group", "[h5]") {
  TempDir dir;
  FakeRun run;
  run.model.sectors.clear();
  {
    sim::RunFile file(dir.path / "run.h5", false, run.scenario, run.meta);
    const std::vector<double> values{1.0, 2.0};
    file.append(0, 0.0, values, {});
    file.finish("interrupted", 0, 0.5, "2026-01-01T00:00:01Z");
  }
  auto f = sim::h5::open_file(dir.path / "run.h5", H5F_ACC_RDONLY);
  CHECK_FALSE(sim::h5::exists(f.id(), "flows"));
  CHECK(sim::h5::exists(f.id(), "series"));
}

TEST_CASE("run file append rejects a record of the wrong size", "[h5]") {
  TempDir dir;
  FakeRun run;
  sim::RunFile file(dir.path / "run.h5", false, run.scenario, run.meta);
  const std::vector<double> three{1.0, 2.0, 3.0};
  const std::vector<double> two{1.0, 2.0};
  const std::vector<double> flows(6, 0.0);
  CHECK_THROWS_AS(file.append(0, 0.0, three, flows), std::logic_error);
  CHECK_THROWS_AS(file.append(0, 0.0, two, two), std::logic_error);
  file.append(0, 0.0, two, flows);
}

TEST_CASE("run file refuses an existing file without overwrite and leaves it untouched", "[h5]") {
  TempDir dir;
  const fs::path path = dir.path / "x.h5";
  {
    std::ofstream out(path, std::ios::binary);
    out << "not an hdf5 file, and it must stay that way";
  }
  const std::string before = file_bytes(path);
  const auto mtime = fs::last_write_time(path);
  FakeRun run;
  try {
    sim::RunFile file(path, false, run.scenario, run.meta);
    FAIL("no InputError");
  } catch (const sim::InputError& e) {
    const std::string message = e.what();
    CHECK(message.find("x.h5") != std::string::npos);
    CHECK(message.find("exists; use --overwrite") != std::string::npos);
  }
  CHECK(file_bytes(path) == before);
  CHECK(fs::last_write_time(path) == mtime);

  SECTION("and replaces it with overwrite") {
    { sim::RunFile file(path, true, run.scenario, run.meta); }
    auto f = sim::h5::open_file(path, H5F_ACC_RDONLY);
    CHECK(sim::h5::exists(f.id(), "series"));
  }
}

TEST_CASE("run file in a missing directory is an input error naming the path", "[h5]") {
  TempDir dir;
  const fs::path path = dir.path / "x" / "y.h5";
  FakeRun run;
  try {
    sim::RunFile file(path, false, run.scenario, run.meta);
    FAIL("no InputError");
  } catch (const sim::InputError& e) {
    CHECK(std::string(e.what()) ==
          "cannot create output file '" + path.string() + "': No such file or directory");
  }
  CHECK_FALSE(fs::exists(dir.path / "x"));
}

TEST_CASE("run file under a regular file is an input error", "[h5]") {
  TempDir dir;
  { std::ofstream out(dir.path / "plain"); }
  FakeRun run;
  CHECK_THROWS_WITH(sim::RunFile(dir.path / "plain" / "y.h5", false, run.scenario, run.meta),
                    Catch::Contains("Not a directory") && Catch::Contains("plain/y.h5"));
}

TEST_CASE("h5 check names the file and the object on failure", "[h5]") {
  TempDir dir;
  const fs::path path = dir.path / "t.h5";
  auto fapl = sim::h5::file_access_latest();
  auto f = sim::h5::create_file(path, fapl.id());
  auto g = sim::h5::create_group(f.id(), "series");
  try {
    sim::h5::open_dataset(g.id(), "missing");
    FAIL("no h5::Error");
  } catch (const sim::h5::Error& e) {
    const std::string message = e.what();
    CHECK(message.find(path.string()) != std::string::npos);
    CHECK(message.find("/series/missing") != std::string::npos);
    CHECK(message.find("open dataset") != std::string::npos);
  }
  CHECK_THROWS_WITH(sim::h5::open_file(dir.path / "nothing.h5", H5F_ACC_RDONLY),
                    Catch::Contains("nothing.h5"));
}

TEST_CASE("h5 extendible datasets append typed rows", "[h5]") {
  TempDir dir;
  auto fapl = sim::h5::file_access_latest();
  auto f = sim::h5::create_file(dir.path / "t.h5", fapl.id());
  auto ints = sim::h5::Extendible::create(f.id(), "ints", H5T_STD_I64LE, {}, 4);
  auto rows = sim::h5::Extendible::create(f.id(), "rows", H5T_IEEE_F64LE, {2, 3}, 4);
  const std::vector<std::int64_t> some{1, 2, 3, 4, 5, 6, 7};
  ints.append(std::span<const std::int64_t>(some));
  ints.append(std::span<const std::int64_t>(some).first(2));
  CHECK(ints.rows() == 9);
  CHECK(sim::h5::read_ints(ints.id()).back() == 2);
  std::vector<double> two_rows(12);
  for (std::size_t i = 0; i < two_rows.size(); ++i) two_rows[i] = static_cast<double>(i);
  rows.append(two_rows);
  CHECK(sim::h5::shape(rows.id()) == std::vector<hsize_t>{2, 2, 3});
  CHECK(sim::h5::read_doubles(rows.id()) == two_rows);
  CHECK_THROWS_AS(rows.append(std::span<const double>(two_rows).first(5)), std::logic_error);

  sim::h5::write_attribute(f.id(), "label", "first");
  sim::h5::write_attribute(f.id(), "label", std::string("second"));  // replaces
  CHECK(sim::h5::read_string_attribute(f.id(), "label") == "second");
}

TEST_CASE("output doc lists every model's series, flow types and sectors", "[h5]") {
  sim::ModelList models{fake_model()};
  const std::string md = sim::output_doc_markdown(models);
  CHECK_THAT(md, Catch::Contains("commons-sim/1"));
  CHECK_THAT(md, Catch::Contains("engine=\"h5netcdf\", group=\"series\""));
  CHECK_THAT(md, Catch::Contains("| `n_agents` | 1 | agents alive |"));
  CHECK_THAT(md, Catch::Contains("mean \\| wealth"));
  CHECK_THAT(md, Catch::Contains("`trade`, `tax`, `change_in_money`"));
  CHECK_THAT(md, Catch::Contains("`households`, `state`"));
  CHECK_THAT(md, Catch::Contains("SWMR"));
}
