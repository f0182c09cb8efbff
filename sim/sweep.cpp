#include "sim/sweep.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <deque>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <cstring>
#include <cstdlib>
#include <memory>

#ifdef SIM_HAVE_MPI
#include <mpi.h>
#endif

#include "sim/error.hpp"
#include "sim/guarded_read.hpp"
#include "sim/h5.hpp"
#include "sim/parallel.hpp"
#include "sim/run_file.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"
#include "sim/simulation.hpp"
#include "sim/version.hpp"

namespace sim {
namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// The steps a run records: 0, every record_every steps, and the last step.
std::vector<std::int64_t> record_steps(const Scenario& s) {
  std::vector<std::int64_t> steps{0};
  for (std::int64_t step = s.record_every; step <= s.steps; step += s.record_every) steps.push_back(step);
  if (steps.back() != s.steps) steps.push_back(s.steps);
  return steps;
}

// How a factor is recorded in /sweep ranges: "lo:hi[:n]", or "list" (its values are in /runs).
std::string range_text(const Factor& factor) {
  if (factor.is_list) return "list";
  return format_real(factor.lo) + ":" + format_real(factor.hi) + (factor.n > 0 ? ":" + std::to_string(factor.n) : "");
}

// One finished run, on its way from a worker to the writer.
struct Finished {
  std::int64_t run = 0;
  std::uint64_t seed = 0;
  std::string status;
  std::string error;
  std::vector<double> values;   // [series][record]
  std::vector<double> regions;  // [region series][record][region]; empty without region series
};

// The transfer properties for writing rows: a small type-conversion buffer. HDF5's default is
// 1 MiB, allocated and zeroed on every write that converts (the variable-length strings of
// /runs/status and /runs/error), which made the writer as busy as a worker; a string row needs a
// few bytes. Made once, left for the library to close at exit.
hid_t row_transfer() {
  static const hid_t list = []() -> hid_t {
    const hid_t l = H5Pcreate(H5P_DATASET_XFER);
    if (l < 0 || H5Pset_buffer(l, 4096, nullptr, nullptr) < 0) return H5P_DEFAULT;
    return l;
  }();
  return list;
}

// A fixed-shape dataset written a row at a time, in any order.
class Rows {
 public:
  Rows() = default;
  Rows(hid_t loc, const std::string& name, hid_t type, std::vector<hsize_t> shape, bool fill_nan) : shape_(shape) {
    h5::Handle space(h5::check(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), loc, name,
                               "create dataspace"),
                     h5::Kind::Dataspace);
    h5::Handle plist(H5Pcreate(H5P_DATASET_CREATE), h5::Kind::PropertyList);
    std::vector<hsize_t> chunk = shape;
    chunk[0] = 1;
    if (shape[0] > 0) {
      h5::check(H5Pset_chunk(plist.id(), static_cast<int>(chunk.size()), chunk.data()), loc, name,
                "set chunks");
      // A checksum on every chunk of numbers (the only filter, so it sums the stored bytes): HDF5
      // checksums no raw data of its own. HDF5 filters no variable-length strings, whose text
      // lives in the file's global heap rather than in the chunks.
      if (h5::check(H5Tis_variable_str(type), loc, name, "inspect the type of") == 0)
        h5::check(H5Pset_fletcher32(plist.id()), loc, name, "set checksums");
    }
    if (fill_nan) h5::check(H5Pset_fill_value(plist.id(), H5T_NATIVE_DOUBLE, &nan), loc, name, "set fill value");
    dataset_ = h5::Handle(h5::check(H5Dcreate2(loc, name.c_str(), type, space.id(), H5P_DEFAULT,
                                               shape[0] > 0 ? plist.id() : H5P_DEFAULT, H5P_DEFAULT),
                                    loc, name, "create dataset"),
                          h5::Kind::Dataset);
    name_ = name;
  }
  static Rows open(hid_t loc, const std::string& name) {
    Rows rows;
    rows.dataset_ = h5::open_dataset(loc, name);
    rows.shape_ = h5::shape(rows.dataset_.id());
    rows.name_ = name;
    return rows;
  }

  hid_t id() const { return dataset_.id(); }

  // Writes row `row` (the values of every other dimension) from memory of `memory_type`.
  void write(hsize_t row, hid_t memory_type, const void* data) {
    std::vector<hsize_t> start(shape_.size(), 0), count = shape_;
    start[0] = row;
    count[0] = 1;
    h5::Handle file_space(H5Dget_space(dataset_.id()), h5::Kind::Dataspace);
    h5::check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
              dataset_.id(), "", "select row of " + name_);
    h5::Handle memory_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), h5::Kind::Dataspace);
    h5::check(H5Dwrite(dataset_.id(), memory_type, memory_space.id(), file_space.id(), row_transfer(), data),
              dataset_.id(), "", "write row of " + name_);
  }

 private:
  h5::Handle dataset_;
  std::string name_;
  std::vector<hsize_t> shape_;
};

// The sweep's output file (docs/sweeps.md).
class SweepFile {
 public:
  SweepFile(const SweepOptions& o, const Scenario& base, const std::vector<std::int64_t>& steps,
            const std::vector<double>& times, std::int64_t runs, std::size_t regions, const RunMeta& meta)
      : series_count_(base.model->series.size()), records_(steps.size()), regions_(regions) {
    check_output_path(o.out, o.overwrite);
    h5::silence_errors();
    // The oldest format on purpose: the newest (which checksums metadata) marks a file open for
    // writing in its superblock, and a sweep killed outright could then not be reopened by
    // --resume. Validation reads every object instead (read_every_object).
    // The layout is built under a temporary name, flushed, and renamed: a sweep killed at any
    // moment leaves a file that opens (and resumes), or none.
    creating_ = o.out.string() + ".creating";
    file_ = h5::create_file(creating_, H5P_DEFAULT);
    const hid_t f = file_.id();
    const auto string_type = h5::string_type();
    const auto n_runs = static_cast<hsize_t>(runs);
    const auto n_steps = static_cast<hsize_t>(steps.size());

    {  // /scenario: the base scenario every run starts from
      h5::Handle g = h5::create_group(f, "scenario");
      h5::write_attribute(g.id(), "text", base.resolved_text);
      h5::write_attribute(g.id(), "file", base.file.string());
      for (const auto& [name, value] : base.params.all()) h5::write_attribute(g.id(), name, value.text);
    }
    {  // /meta
      meta_ = h5::create_group(f, "meta");
      const hid_t g = meta_.id();
      h5::write_attribute(g, "format", "commons-sim/1");
      h5::write_attribute(g, "kind", "sweep");
      h5::write_attribute(g, "version", meta.version);
      h5::write_attribute(g, "git_commit", meta.git_commit);
      h5::write_attribute(g, "command_line", meta.command_line);
      h5::write_attribute(g, "model", base.model->name);
      h5::write_attribute(g, "seed", base.seed);
      h5::write_attribute(g, "jobs", static_cast<std::int64_t>(o.jobs));
      h5::write_attribute(g, "threads", static_cast<std::int64_t>(meta.threads));
      h5::write_attribute(g, "start_time", meta.start_time);
      h5::write_attribute(g, "shard", std::to_string(o.shard_index) + "/" + std::to_string(o.shard_count));
      h5::write_attribute(g, "status", "running");
    }
    {  // /sweep: the design
      h5::Handle g = h5::create_group(f, "sweep");
      const Design& d = o.design;
      h5::write_attribute(g.id(), "design", design_name(d.kind));
      h5::write_attribute(g.id(), "samples", d.samples);
      h5::write_attribute(g.id(), "levels", d.levels);
      h5::write_attribute(g.id(), "replicates", o.replicas);
      h5::write_attribute(g.id(), "points", static_cast<std::int64_t>(d.points()));
      std::vector<std::string> names, specs;
      for (const auto& factor : d.factors) {
        names.push_back(factor.name);
        specs.push_back(range_text(factor));
      }
      h5::write_attribute(g.id(), "factors", names);
      h5::write_attribute(g.id(), "ranges", specs);
      h5::write_attribute(g.id(), "seed_rule",
                          "run r has seed splitmix64(seed + (r + 1) * 0x9E3779B97F4A7C15) & (2^53 - 1)");
      h5::write_attribute(g.id(), "run_order", "run = point * replicates + replicate");
    }
    // The run and step scales of a [run, step, ...] group, and the time coordinate along step.
    auto run_step_scales = [&](hid_t g) {
      Rows run_scale(g, "run", H5T_STD_I64LE, {n_runs}, false);
      write_all_ints(run_scale.id(), runs);
      h5::make_scale(run_scale.id(), "run");
      Rows step_scale(g, "step", H5T_STD_I64LE, {n_steps}, false);
      h5::check(H5Dwrite(step_scale.id(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, steps.data()), g,
                "step", "write");
      h5::make_scale(step_scale.id(), "step");
      Rows time(g, base.model->time_name, H5T_IEEE_F64LE, {n_steps}, false);
      h5::check(H5Dwrite(time.id(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, times.data()), g,
                base.model->time_name, "write");
      h5::write_attribute(time.id(), "units", base.model->time_units);
      h5::write_attribute(time.id(), "description", "simulated time at the end of the step (the base scenario's)");
      h5::attach_scale(time.id(), step_scale.id(), 0);
      return std::pair<Rows, Rows>(std::move(run_scale), std::move(step_scale));
    };
    {  // /series: [run, step]
      h5::Handle g = h5::create_group(f, "series");
      auto [run_scale, step_scale] = run_step_scales(g.id());
      for (const auto& spec : base.model->series) {
        Rows rows(g.id(), spec.name, H5T_IEEE_F64LE, {n_runs, n_steps}, true);
        h5::write_attribute(rows.id(), "units", spec.units);
        h5::write_attribute(rows.id(), "description", spec.description);
        h5::attach_scale(rows.id(), run_scale.id(), 0);
        h5::attach_scale(rows.id(), step_scale.id(), 1);
        series_.push_back(std::move(rows));
      }
    }
    if (regions_ > 0) {  // /regions: [run, step, region], with its own scales so it opens alone
      h5::Handle g = h5::create_group(f, "regions");
      auto [run_scale, step_scale] = run_step_scales(g.id());
      std::vector<std::int64_t> index(regions_);
      for (std::size_t r = 0; r < regions_; ++r) index[r] = static_cast<std::int64_t>(r);
      h5::Handle region_scale = h5::write_ints(g.id(), "region", index);
      h5::write_attribute(region_scale.id(), "units", "1");
      h5::write_attribute(region_scale.id(), "description", "the region's index, 0 to regions - 1");
      h5::make_scale(region_scale.id(), "region");
      const auto n_regions = static_cast<hsize_t>(regions_);
      for (const auto& spec : base.model->region_series) {
        Rows rows(g.id(), spec.name, H5T_IEEE_F64LE, {n_runs, n_steps, n_regions}, true);
        h5::write_attribute(rows.id(), "units", spec.units);
        h5::write_attribute(rows.id(), "description", spec.description);
        h5::attach_scale(rows.id(), run_scale.id(), 0);
        h5::attach_scale(rows.id(), step_scale.id(), 1);
        h5::attach_scale(rows.id(), region_scale.id(), 2);
        regions_series_.push_back(std::move(rows));
      }
    }
    {  // /runs: one row per run
      h5::Handle g = h5::create_group(f, "runs");
      Rows run_scale(g.id(), "run", H5T_STD_I64LE, {n_runs}, false);
      write_all_ints(run_scale.id(), runs);
      h5::make_scale(run_scale.id(), "run");
      auto column = [&](const std::string& name, hid_t type, const std::string& description) {
        Rows rows(g.id(), name, type, {n_runs}, type == H5T_IEEE_F64LE);
        h5::write_attribute(rows.id(), "description", description);
        h5::attach_scale(rows.id(), run_scale.id(), 0);
        return rows;
      };
      seed_ = column("seed", H5T_STD_U64LE, "the run's seed (see /sweep seed_rule)");
      point_ = column("point", H5T_STD_I64LE, "the design point");
      replicate_ = column("replicate", H5T_STD_I64LE, "the replicate at that point");
      status_ = column("status", string_type.id(), "complete, failed, or empty if the run did not finish");
      error_ = column("error", string_type.id(), "why a failed run failed");
      for (const auto& factor : o.design.factors) {
        const bool numeric = factor.numeric();
        factors_.push_back(column(factor.name, numeric ? H5T_IEEE_F64LE : string_type.id(),
                                  "value of " + factor.name + " in this run"));
        h5::write_attribute(factors_.back().id(), "units", factor.spec->unit);
        if (numeric && !factor.is_list) {  // the range the design spans (Morris and Sobol need it)
          h5::write_attribute(factors_.back().id(), "lower", factor.lo);
          h5::write_attribute(factors_.back().id(), "upper", factor.hi);
        }
        factor_numeric_.push_back(numeric);
      }
      // Point, replicate and the varied values are known before any run starts.
      for (std::int64_t r = 0; r < runs; ++r) {
        const std::int64_t point = r / o.replicas, replicate = r % o.replicas;
        point_.write(static_cast<hsize_t>(r), H5T_NATIVE_INT64, &point);
        replicate_.write(static_cast<hsize_t>(r), H5T_NATIVE_INT64, &replicate);
        for (std::size_t fi = 0; fi < factors_.size(); ++fi) {
          const auto p = static_cast<std::size_t>(point);
          if (factor_numeric_[fi]) {
            factors_[fi].write(static_cast<hsize_t>(r), H5T_NATIVE_DOUBLE, &o.design.value[p][fi]);
          } else {
            const char* text = o.design.text[p][fi].c_str();
            factors_[fi].write(static_cast<hsize_t>(r), string_type.id(), &text);
          }
        }
      }
    }
    string_type_ = h5::string_type();
    flush();
    std::filesystem::rename(creating_, o.out);
    creating_.clear();
  }
  ~SweepFile() {
    if (creating_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove(creating_, ignored);
  }

  // Reopens the file of an earlier, unfinished run of the same sweep, to fill in its missing runs.
  SweepFile(const SweepOptions& o, const Scenario& base, std::size_t records, std::size_t regions)
      : series_count_(base.model->series.size()), records_(records), regions_(regions) {
    h5::silence_errors();
    file_ = h5::open_file(o.out, H5F_ACC_RDWR);
    meta_ = h5::open_group(file_.id(), "meta");
    h5::Handle g = h5::open_group(file_.id(), "series");
    for (const auto& spec : base.model->series) series_.push_back(Rows::open(g.id(), spec.name));
    if (regions_ > 0) {
      h5::Handle r = h5::open_group(file_.id(), "regions");
      for (const auto& spec : base.model->region_series) regions_series_.push_back(Rows::open(r.id(), spec.name));
    }
    h5::Handle runs = h5::open_group(file_.id(), "runs");
    seed_ = Rows::open(runs.id(), "seed");
    status_ = Rows::open(runs.id(), "status");
    error_ = Rows::open(runs.id(), "error");
    string_type_ = h5::string_type();
    h5::write_attribute(meta_.id(), "status", "running");
  }

  void write(const Finished& run) {
    const auto row = static_cast<hsize_t>(run.run);
    seed_.write(row, H5T_NATIVE_UINT64, &run.seed);
    const char* status = run.status.c_str();
    status_.write(row, string_type_.id(), &status);
    const char* error = run.error.c_str();
    error_.write(row, string_type_.id(), &error);
    if (run.values.empty()) return;  // a failed run keeps its NaN fill
    for (std::size_t s = 0; s < series_count_; ++s) series_[s].write(row, H5T_NATIVE_DOUBLE, &run.values[s * records_]);
    if (run.regions.size() != regions_series_.size() * records_ * regions_)
      throw std::logic_error("SweepFile::write: run " + std::to_string(run.run) + " has " +
                             std::to_string(run.regions.size()) + " region values");
    for (std::size_t s = 0; s < regions_series_.size(); ++s)
      regions_series_[s].write(row, H5T_NATIVE_DOUBLE, &run.regions[s * records_ * regions_]);
  }

  void flush() { h5::check(H5Fflush(file_.id(), H5F_SCOPE_GLOBAL), file_.id(), "", "flush"); }

  // An MPI sweep: how many ranks, on which hosts (in /meta, so /series and /runs stay comparable).
  void describe_ranks(int ranks, const std::vector<std::string>& hosts) {
    h5::write_attribute(meta_.id(), "ranks", static_cast<std::int64_t>(ranks));
    h5::write_attribute(meta_.id(), "hosts", hosts);
  }

  void finish(const SweepResult& result, const std::string& end_time) {
    const hid_t g = meta_.id();
    h5::write_attribute(g, "status", result.status);
    h5::write_attribute(g, "runs", result.runs);
    h5::write_attribute(g, "runs_complete", result.complete);
    h5::write_attribute(g, "runs_failed", result.failed);
    h5::write_attribute(g, "wall_seconds", result.wall_seconds);
    h5::write_attribute(g, "end_time", end_time);
    series_.clear();
    regions_series_.clear();
    factors_.clear();
    seed_ = Rows();
    point_ = Rows();
    replicate_ = Rows();
    status_ = Rows();
    error_ = Rows();
    meta_.close();
    file_.close();
  }

 private:
  static void write_all_ints(hid_t dataset, std::int64_t n) {
    std::vector<std::int64_t> values(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = i;
    if (n > 0) h5::check(H5Dwrite(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), dataset, "", "write");
  }

  std::size_t series_count_;
  std::size_t records_;
  std::size_t regions_;  // 0: no /regions group
  h5::Handle file_;
  h5::Handle meta_;
  h5::Handle string_type_;
  std::filesystem::path creating_;  // the file's name while its layout is built
  std::vector<Rows> series_;
  std::vector<Rows> regions_series_;
  Rows seed_, point_, replicate_, status_, error_;
  std::vector<Rows> factors_;
  std::vector<bool> factor_numeric_;
};

// Reads the header of every object in `file`, so that damaged metadata (a failed checksum, a
// broken link) is found while validating, before anything is written. h5::Error otherwise.
void read_every_object(hid_t file) {
  // Each object's header, then its attributes (dense attribute storage has its own heap and
  // index, which merge writes into when it sets the merged file's status).
  const auto visit = [](hid_t root, const char* name, const H5O_info_t*, void*) -> herr_t {
    const auto attribute = [](hid_t, const char*, const H5A_info_t*, void*) -> herr_t { return 0; };
    return H5Aiterate_by_name(root, name, H5_INDEX_NAME, H5_ITER_INC, nullptr, attribute, nullptr, H5P_DEFAULT) < 0
               ? -1
               : 0;
  };
  h5::check(H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, visit, nullptr), file, "", "read every object of");
}

// The status of every run in the file an earlier attempt of this sweep left, after checking that
// it is that sweep: same scenario, design, seed and series. InputError otherwise, file untouched.
std::vector<std::string> finished_runs(const SweepOptions& o, const Scenario& base, std::int64_t runs,
                                       std::size_t regions) {
  const std::string shown = o.out.string();
  try {
    h5::silence_errors();
    h5::Handle f = h5::open_file(o.out, H5F_ACC_RDONLY);
    read_every_object(f.id());
    h5::Handle meta = h5::open_group(f.id(), "meta");
    if (!h5::exists(f.id(), "runs") || h5::read_string_attribute(meta.id(), "kind") != "sweep")
      throw InputError("cannot resume '" + shown + "': it is not a sweep file");
    std::string differs;
    h5::Handle scenario = h5::open_group(f.id(), "scenario");
    h5::Handle sweep = h5::open_group(f.id(), "sweep");
    std::vector<std::string> names, ranges;
    for (const auto& factor : o.design.factors) {
      names.push_back(factor.name);
      ranges.push_back(range_text(factor));
    }
    if (h5::read_string_attribute(scenario.id(), "text") != base.resolved_text) differs = "scenario";
    else if (h5::read_uint_attribute(meta.id(), "seed") != base.seed) differs = "seed";
    else if (h5::read_string_attribute(sweep.id(), "design") != design_name(o.design.kind) ||
             h5::read_int_attribute(sweep.id(), "samples") != o.design.samples ||
             h5::read_int_attribute(sweep.id(), "levels") != o.design.levels ||
             h5::read_int_attribute(sweep.id(), "replicates") != o.replicas ||
             h5::read_strings_attribute(sweep.id(), "factors") != names ||
             h5::read_strings_attribute(sweep.id(), "ranges") != ranges)
      differs = "design";
    if (!differs.empty())
      throw InputError("cannot resume '" + shown + "': it holds another sweep (its " + differs + " differs)");
    h5::Handle status = h5::open_dataset(f.id(), "runs/status");
    auto statuses = h5::read_strings(status.id());
    if (static_cast<std::int64_t>(statuses.size()) != runs)
      throw InputError("cannot resume '" + shown + "': it holds another number of runs");
    for (const auto& series : base.model->series) h5::Handle d = h5::open_dataset(f.id(), "series/" + series.name);
    for (const auto& series : base.model->region_series) {
      h5::Handle d = h5::open_dataset(f.id(), "regions/" + series.name);
      const auto shape = h5::shape(d.id());
      if (shape.size() != 3 || shape[0] != static_cast<hsize_t>(runs) || shape[2] != regions)
        throw InputError("cannot resume '" + shown + "': its /regions/" + series.name + " has another shape");
    }
    return statuses;
  } catch (const h5::Error& e) {
    throw InputError("cannot resume '" + shown + "': not a readable sweep file (" + e.what() + ")");
  }
}

// Every run of a sweep has the base scenario's number of regions, since /regions has one region
// axis. Tries each varied parameter's values in turn, the others held at the base scenario's,
// and names the first that changes the count; InputError before anything is written.
void check_region_count(const SweepOptions& o, const ModelList& models, const Scenario& base, std::size_t regions) {
  if (regions == 0) return;
  for (std::size_t f = 0; f < o.design.factors.size(); ++f) {
    const Factor& factor = o.design.factors[f];
    ParamValues params = base.params;
    const ParamValue at_base = params.at(factor.name);
    std::set<std::string> tried;
    for (std::size_t p = 0; p < o.design.points(); ++p) {
      const std::string& text = o.design.text[p][f];
      std::size_t count = 0;
      try {
        if (factor.numeric() && !looks_like_schedule(text)) {
          // A number: set it directly (random designs have as many values as points).
          if (p > 0 && text == o.design.text[p - 1][f]) continue;
          ParamValue value = at_base;
          value.text = text;
          value.schedule = Schedule::constant(o.design.value[p][f]);
          params.set(factor.name, std::move(value));
          count = base.model->region_count(params);
        } else {
          if (!tried.insert(text).second) continue;
          std::vector<std::string> overrides = o.overrides;
          overrides.push_back(factor.name + "=" + text);
          count = region_count(load_scenario(o.scenario, overrides, models));
        }
      } catch (const InputError&) {
        continue;  // a bad value: that run fails and is recorded as such
      }
      if (count != regions)
        throw InputError("--vary " + factor.name + ": the number of regions changes with it (" +
                         std::to_string(regions) + " in the base scenario, " + std::to_string(count) + " at " +
                         factor.name + " = " + text + "); a sweep's /regions has one region axis for all its "
                         "runs, so sweep each number of regions separately");
    }
  }
}

volatile std::sig_atomic_t sweep_signal = 0;
extern "C" void on_sweep_signal(int signal) { sweep_signal = signal; }

// One run of the sweep, start to finish, on the calling thread. Bad parameter combinations
// (InputError) and failed runs (RunError) are recorded, not thrown.
Finished run_one(const SweepOptions& o, const ModelList& models, std::int64_t run, const Scenario& base,
                 const std::vector<std::int64_t>& steps, std::size_t regions) {
  Finished out;
  out.run = run;
  out.seed = run_seed(base.seed, static_cast<std::uint64_t>(run));
  const auto point = static_cast<std::size_t>(run / o.replicas);
  std::vector<std::string> overrides = o.overrides;
  for (std::size_t f = 0; f < o.design.factors.size(); ++f)
    overrides.push_back(o.design.factors[f].name + "=" + o.design.text[point][f]);
  overrides.push_back("sim.seed=" + std::to_string(out.seed));
  try {
    const Scenario scenario = load_scenario(o.scenario, overrides, models);
    // The file has one region axis; check_region_count stops sweeps that vary it before they
    // start, and this catches what it cannot see (a count set by several parameters at once).
    if (region_count(scenario) != regions)
      throw InputError("this run has " + std::to_string(region_count(scenario)) + " regions, the sweep " +
                       std::to_string(regions) + " (the base scenario's); a sweep cannot change the number of regions");
    Simulation simulation(scenario);
    const std::size_t series = scenario.model->series.size();
    const std::size_t region_series = scenario.model->region_series.size();
    const std::size_t records = steps.size();
    out.values.assign(series * records, nan);
    out.regions.assign(region_series * records * regions, nan);
    auto record = [&](std::size_t k) {
      const auto values = simulation.measure();
      for (std::size_t s = 0; s < series; ++s) out.values[s * records + k] = values[s];
      const auto by_region = simulation.measure_regions();
      for (std::size_t s = 0; s < region_series; ++s)
        std::copy(by_region.begin() + static_cast<std::ptrdiff_t>(s * regions),
                  by_region.begin() + static_cast<std::ptrdiff_t>((s + 1) * regions),
                  out.regions.begin() + static_cast<std::ptrdiff_t>((s * records + k) * regions));
    };
    record(0);
    for (std::size_t k = 1; k < steps.size(); ++k) {
      while (simulation.steps_done() < steps[k]) simulation.step();
      record(k);
    }
    out.status = "complete";
  } catch (const InputError& e) {
    out.status = "failed";
    out.error = e.what();
    out.values.clear();
    out.regions.clear();
  } catch (const RunError& e) {
    out.status = "failed";
    out.error = e.what();
    out.values.clear();
    out.regions.clear();
  }
  return out;
}

}  // namespace

namespace {

// Where finished runs come from: this process's worker threads, or the other ranks of an MPI job.
class RunSource {
 public:
  virtual ~RunSource() = default;
  // The next finished run, or nothing once every worker has stopped.
  virtual std::optional<Finished> next() = 0;
  // Hand out no more runs (a signal or a write error); runs in flight still arrive.
  virtual void stop() = 0;
};

// `jobs` threads claim runs in order and queue them for the writer; the queue is bounded, so
// memory stays flat however many runs there are.
class Threads final : public RunSource {
 public:
  Threads(const SweepOptions& o, const ModelList& models, const Scenario& base, const std::vector<std::int64_t>& steps,
          std::size_t regions, const std::vector<std::int64_t>& pending, int threads)
      : max_waiting_(static_cast<std::size_t>(2 * o.jobs)), workers_left_(o.jobs) {
    for (int j = 0; j < o.jobs; ++j) {
      workers_.emplace_back([&, threads, regions] {
        set_threads(threads);
        for (;;) {
          if (stopped_) break;
          const std::int64_t k = next_.fetch_add(1);
          if (k >= static_cast<std::int64_t>(pending.size())) break;
          Finished finished = run_one(o, models, pending[static_cast<std::size_t>(k)], base, steps, regions);
          std::unique_lock lock(mutex_);
          room_.wait(lock, [&] { return done_.size() < max_waiting_; });
          done_.push_back(std::move(finished));
          ready_.notify_one();
        }
        std::lock_guard lock(mutex_);
        --workers_left_;
        ready_.notify_one();
      });
    }
  }
  ~Threads() override {
    stop();
    {
      std::lock_guard lock(mutex_);
      max_waiting_ = std::numeric_limits<std::size_t>::max();
    }
    room_.notify_all();
    for (auto& w : workers_) w.join();
  }

  std::optional<Finished> next() override {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [&] { return !done_.empty() || workers_left_ == 0; });
    if (done_.empty()) return std::nullopt;
    Finished f = std::move(done_.front());
    done_.pop_front();
    room_.notify_all();
    return f;
  }
  void stop() override { stopped_ = true; }

 private:
  std::atomic<std::int64_t> next_{0};
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::condition_variable ready_, room_;
  std::deque<Finished> done_;
  std::size_t max_waiting_;
  int workers_left_;
  std::vector<std::thread> workers_;
};

#ifdef SIM_HAVE_MPI
// Messages between the writer (rank 0) and the workers: a worker asks for work with its last
// finished run (or nothing), rank 0 answers with a run index, or -1 to stop.
constexpr int tag_result = 1;
constexpr int tag_assign = 2;

std::vector<char> pack(const Finished& f) {
  const std::int64_t header[6] = {f.run, static_cast<std::int64_t>(f.seed), static_cast<std::int64_t>(f.status.size()),
                                  static_cast<std::int64_t>(f.error.size()), static_cast<std::int64_t>(f.values.size()),
                                  static_cast<std::int64_t>(f.regions.size())};
  std::vector<char> out(sizeof header + f.status.size() + f.error.size() +
                        (f.values.size() + f.regions.size()) * sizeof(double));
  char* p = out.data();
  std::memcpy(p, header, sizeof header);
  p += sizeof header;
  std::memcpy(p, f.status.data(), f.status.size());
  p += f.status.size();
  std::memcpy(p, f.error.data(), f.error.size());
  p += f.error.size();
  if (!f.values.empty()) std::memcpy(p, f.values.data(), f.values.size() * sizeof(double));
  p += f.values.size() * sizeof(double);
  if (!f.regions.empty()) std::memcpy(p, f.regions.data(), f.regions.size() * sizeof(double));
  return out;
}

Finished unpack(const std::vector<char>& in) {
  std::int64_t header[6];
  std::memcpy(header, in.data(), sizeof header);
  const char* p = in.data() + sizeof header;
  Finished f;
  f.run = header[0];
  f.seed = static_cast<std::uint64_t>(header[1]);
  f.status.assign(p, static_cast<std::size_t>(header[2]));
  p += header[2];
  f.error.assign(p, static_cast<std::size_t>(header[3]));
  p += header[3];
  f.values.resize(static_cast<std::size_t>(header[4]));
  if (!f.values.empty()) std::memcpy(f.values.data(), p, f.values.size() * sizeof(double));
  p += f.values.size() * sizeof(double);
  f.regions.resize(static_cast<std::size_t>(header[5]));
  if (!f.regions.empty()) std::memcpy(f.regions.data(), p, f.regions.size() * sizeof(double));
  return f;
}

// Rank 0: hands out runs one at a time to whichever worker asks (dynamic load balancing).
class Ranks final : public RunSource {
 public:
  Ranks(const std::vector<std::int64_t>& pending, int size) : pending_(pending), active_(size - 1) {}
  std::optional<Finished> next() override {
    while (active_ > 0) {
      MPI_Status status;
      int waiting = 0;
      // Poll rather than block, so the writer's rank does not spin a core while it waits.
      MPI_Iprobe(MPI_ANY_SOURCE, tag_result, MPI_COMM_WORLD, &waiting, &status);
      if (!waiting) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      int bytes = 0;
      MPI_Get_count(&status, MPI_BYTE, &bytes);
      std::vector<char> message(static_cast<std::size_t>(bytes));
      MPI_Recv(message.data(), bytes, MPI_BYTE, status.MPI_SOURCE, tag_result, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      const std::int64_t run = (!stopped_ && next_ < pending_.size()) ? pending_[next_++] : -1;
      MPI_Send(&run, 1, MPI_INT64_T, status.MPI_SOURCE, tag_assign, MPI_COMM_WORLD);
      if (run < 0) --active_;
      if (!message.empty()) return unpack(message);
    }
    return std::nullopt;
  }
  void stop() override { stopped_ = true; }

 private:
  const std::vector<std::int64_t>& pending_;
  std::size_t next_ = 0;
  int active_;
  bool stopped_ = false;
};

// Ranks 1..n-1: run what rank 0 assigns until it says stop.
void work_for_rank_zero(const SweepOptions& o, const ModelList& models, const Scenario& base,
                        const std::vector<std::int64_t>& steps, std::size_t regions, int threads) {
  set_threads(threads);
  std::vector<char> message;  // empty: the first request carries no result
  for (;;) {
    MPI_Send(message.data(), static_cast<int>(message.size()), MPI_BYTE, 0, tag_result, MPI_COMM_WORLD);
    std::int64_t run = -1;
    MPI_Recv(&run, 1, MPI_INT64_T, 0, tag_assign, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (run < 0) return;
    message = pack(run_one(o, models, run, base, steps, regions));
  }
}

// Started by mpirun (OpenMPI, MPICH or a PMI launcher)?
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name)) return true;
  return false;
}

// MPI for the life of one sweep, when the program was started by mpirun.
class MpiSession {
 public:
  MpiSession() {
    if (!launched_by_mpi()) return;
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    active_ = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiSession() {
    if (active_) MPI_Finalize();
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  bool parallel() const { return active_ && size_ > 1; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  // Every rank learns whether rank 0 could open the output, and rank 0's error if not.
  void share_outcome(std::string& error) const {
    if (!parallel()) return;
    std::int64_t length = static_cast<std::int64_t>(error.size());
    MPI_Bcast(&length, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    error.resize(static_cast<std::size_t>(length));
    if (length > 0) MPI_Bcast(error.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD);
  }
  std::vector<std::string> hosts() const {
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    MPI_Get_processor_name(name, &length);
    std::vector<char> all(static_cast<std::size_t>(size_) * MPI_MAX_PROCESSOR_NAME);
    MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);
    std::vector<std::string> hosts;
    for (int r = 0; r < size_; ++r) hosts.emplace_back(all.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME);
    return hosts;
  }

 private:
  bool active_ = false;
  int rank_ = 0;
  int size_ = 1;
};
#endif

}  // namespace

bool built_with_mpi() {
#ifdef SIM_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool is_secondary_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"})
    if (const char* value = std::getenv(name)) return std::string(value) != "0";
  return false;
}

SweepResult run_sweep(const SweepOptions& o, const ModelList& models) {
  const auto start = std::chrono::steady_clock::now();
  // Every rank validates the sweep the same way, so bad input stops them all alike.
  const Scenario base = load_scenario(o.scenario, o.overrides, models);
  if (o.replicas < 1) throw InputError("--replicas " + std::to_string(o.replicas) + " must be at least 1");
  if (o.jobs < 1 || o.jobs > 4096) throw InputError("--jobs " + std::to_string(o.jobs) + " is out of range [1, 4096]");
  // Every run's records are held until written, and the file is sized for all of them.
  if (base.steps / base.record_every > 100'000'000)
    throw InputError("a sweep records at most 100000000 steps per run (sim.steps = " + std::to_string(base.steps) +
                     ", sim.record_every = " + std::to_string(base.record_every) + ")");
  // Agent snapshots are for single runs: a sweep's file holds series and region series only.
  for (const auto& factor : o.design.factors)
    if (factor.name == "sim.snapshot_every")
      throw InputError("sim.snapshot_every cannot be varied: a sweep writes no agent snapshots");
  if (!base.model->snapshot_fields.empty() && base.snapshot_every > 0)
    throw InputError("sim.snapshot_every = " + std::to_string(base.snapshot_every) +
                     ": a sweep writes no agent snapshots; set it to 0 (--set sim.snapshot_every=0) and take "
                     "snapshots of single runs with commons-sim run");
  const std::size_t regions = region_count(base);
  check_region_count(o, models, base, regions);
  if (static_cast<double>(o.design.points()) * static_cast<double>(o.replicas) >
      static_cast<double>(max_design_points))
    throw InputError("a sweep of " + std::to_string(o.design.points()) + " points x " +
                     std::to_string(o.replicas) + " replicas exceeds " +
                     std::to_string(max_design_points) + " runs");
  const auto runs = static_cast<std::int64_t>(o.design.points()) * o.replicas;

  // The file of an earlier attempt is read in a child process first (the HDF5 library can crash
  // or hang on a damaged file: sim/guarded_read.hpp), by the rank that owns the file, before
  // this process starts OpenMP threads or MPI.
  const bool resuming = o.resume && !is_secondary_rank() && std::filesystem::exists(o.out);
  std::string error;
  if (resuming) {
    try {
      run_guarded("sweep file", {o.out}, [&] {
        reading(o.out);
        finished_runs(o, base, runs, regions);
        return std::string();
      });
    } catch (const InputError& e) {
      error = e.what();
    }
  }

  const std::vector<std::int64_t> steps = record_steps(base);
  std::vector<double> times;
  {
    // The time axis comes from the base scenario's model (its time per step).
    Simulation simulation(base);
    for (auto s : steps) times.push_back(simulation.model().time_at(s));
  }
  const int threads = o.threads > 0 ? o.threads : std::max(1, max_threads() / o.jobs);

#ifdef SIM_HAVE_MPI
  MpiSession mpi;
  if (mpi.parallel() && o.jobs != 1) throw InputError("--jobs: under mpirun every rank runs one run at a time");
#endif

  // Rank 0 (or the only process) owns the file: its shard's runs, less those an earlier attempt
  // finished (--resume).
  std::vector<std::string> earlier(static_cast<std::size_t>(runs));
  std::vector<std::int64_t> pending;
  std::optional<SweepFile> file;
#ifdef SIM_HAVE_MPI
  const bool writer = mpi.rank() == 0;
#else
  const bool writer = true;
#endif
  if (writer && error.empty()) {
    try {
      if (resuming) earlier = finished_runs(o, base, runs, regions);
      for (std::int64_t r = o.shard_index; r < runs; r += o.shard_count)
        if (earlier[static_cast<std::size_t>(r)].empty()) pending.push_back(r);
      RunMeta meta{version, git_commit, o.command_line, threads, utc_now()};
      if (resuming) {
        file.emplace(o, base, steps.size(), regions);
      } else {
        file.emplace(o, base, steps, times, runs, regions, meta);
      }
    } catch (const InputError& e) {
      error = e.what();
    }
  }
#ifdef SIM_HAVE_MPI
  mpi.share_outcome(error);
  if (!error.empty() && mpi.parallel()) {
    // mpirun stops every rank as soon as one exits with an error: rank 0 says why before any
    // rank may leave, and the ranks leave with an error that was reported already.
    if (mpi.rank() == 0) {
      std::cerr << error << "\n";
      std::cerr.flush();
    }
    MPI_Barrier(MPI_COMM_WORLD);
    throw InputError("");
  }
#endif
  if (!error.empty()) throw InputError(error);

#ifdef SIM_HAVE_MPI
  std::vector<std::string> hosts;
  if (mpi.parallel()) hosts = mpi.hosts();
  if (!writer) {
    work_for_rank_zero(o, models, base, steps, regions, threads);
    SweepResult worker;
    worker.status = "worker";
    return worker;
  }
  if (mpi.parallel()) file->describe_ranks(mpi.size(), hosts);
#endif

  sweep_signal = 0;
  auto previous_int = std::signal(SIGINT, on_sweep_signal);
  auto previous_term = std::signal(SIGTERM, on_sweep_signal);

  std::unique_ptr<RunSource> source;
#ifdef SIM_HAVE_MPI
  if (mpi.parallel()) source = std::make_unique<Ranks>(pending, mpi.size());
#endif
  if (!source) source = std::make_unique<Threads>(o, models, base, steps, regions, pending, threads);

  const auto my_runs = static_cast<std::int64_t>(pending.size());
  SweepResult result;
  result.runs = my_runs;
  auto last_flush = std::chrono::steady_clock::now();
  auto last_progress = last_flush;
  std::int64_t written = 0;
  std::exception_ptr write_error;
  while (auto finished = source->next()) {
    if (sweep_signal != 0) source->stop();
    try {
      file->write(*finished);
    } catch (...) {
      write_error = std::current_exception();
      source->stop();  // the error is rethrown once the runs in flight are in
    }
    ++written;
    (finished->status == "complete" ? result.complete : result.failed)++;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_flush > std::chrono::seconds(1)) {
      file->flush();
      last_flush = now;
    }
    if (o.progress && (now - last_progress > std::chrono::milliseconds(250) || written == my_runs)) {
      last_progress = now;
      std::fprintf(stderr, "\rrun %lld/%lld  (%lld failed)   ", static_cast<long long>(written),
                   static_cast<long long>(my_runs), static_cast<long long>(result.failed));
      std::fflush(stderr);
    }
  }
  source.reset();
  if (o.progress) std::fputc('\n', stderr);
  std::signal(SIGINT, previous_int);
  std::signal(SIGTERM, previous_term);
  if (write_error) std::rethrow_exception(write_error);

  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (sweep_signal != 0 && written < my_runs) {
    result.status = "interrupted";
    result.exit_code = sweep_signal == SIGINT ? exit_sigint : exit_sigterm;
  } else {
    result.status = "complete";
    result.exit_code = result.failed > 0 ? exit_run_error : exit_ok;
  }
  // The file's totals count every run it holds, this attempt's and earlier ones'.
  SweepResult totals = result;
  for (const auto& status : earlier) {
    totals.complete += status == "complete" ? 1 : 0;
    totals.failed += status == "failed" ? 1 : 0;
  }
  totals.runs = runs;
  file->finish(totals, utc_now());
  return result;
}

std::pair<std::int64_t, std::int64_t> parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  std::int64_t i = -1, n = 0;
  try {
    std::size_t used_i = 0, used_n = 0;
    if (slash != std::string::npos) {
      i = std::stoll(text.substr(0, slash), &used_i);
      n = std::stoll(text.substr(slash + 1), &used_n);
      if (used_i != slash || used_n != text.size() - slash - 1) i = -1;
    }
  } catch (const std::exception&) {
    i = -1;
  }
  if (i < 0 || n < 1 || i >= n) throw InputError("--shard '" + text + "': expected i/n with 0 <= i < n");
  return {i, n};
}

namespace {

// What must agree between the parts of one sweep.
std::string sweep_identity(hid_t file) {
  std::string id;
  h5::Handle scenario = h5::open_group(file, "scenario");
  id += h5::read_string_attribute(scenario.id(), "text") + "\n";
  h5::Handle sweep = h5::open_group(file, "sweep");
  id += h5::read_string_attribute(sweep.id(), "design") + "|" + std::to_string(h5::read_int_attribute(sweep.id(), "samples")) +
        "|" + std::to_string(h5::read_int_attribute(sweep.id(), "levels")) + "|" +
        std::to_string(h5::read_int_attribute(sweep.id(), "replicates")) + "|";
  for (const auto& f : h5::read_strings_attribute(sweep.id(), "factors")) id += f + ",";
  for (const auto& r : h5::read_strings_attribute(sweep.id(), "ranges")) id += r + ",";
  h5::Handle meta = h5::open_group(file, "meta");
  id += "|" + std::to_string(h5::read_uint_attribute(meta.id(), "seed"));
  return id;
}

// The paths of the datasets of `group` with `rank` dimensions ("series/gini" and the like); none
// when the file has no such group.
std::vector<std::string> run_datasets(hid_t file, const std::string& group, std::size_t rank) {
  std::vector<std::string> names;
  if (!h5::exists(file, group)) return names;
  h5::Handle g = h5::open_group(file, group);
  for (const auto& name : h5::members(g.id())) {
    h5::Handle d = h5::open_dataset(g.id(), name);
    if (h5::shape(d.id()).size() == rank) names.push_back(group + "/" + name);
  }
  return names;
}

// The datasets with a run dimension: /series/<name> [run, step] and /regions/<name> [run, step, region].
std::vector<std::string> series_names(hid_t file) {
  std::vector<std::string> names = run_datasets(file, "series", 2);
  for (auto& name : run_datasets(file, "regions", 3)) names.push_back(std::move(name));
  return names;
}

// Copies row `row` of a dataset between two files with the same layout.
void copy_row(hid_t from, hid_t to, hsize_t row, hid_t memory_type, std::size_t element_size) {
  std::vector<hsize_t> shape = h5::shape(from);
  std::vector<hsize_t> start(shape.size(), 0), count = shape;
  start[0] = row;
  count[0] = 1;
  std::size_t elements = 1;
  for (std::size_t d = 1; d < count.size(); ++d) elements *= count[d];
  std::vector<unsigned char> buffer(elements * element_size);
  h5::Handle memory(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), h5::Kind::Dataspace);
  h5::Handle from_space(H5Dget_space(from), h5::Kind::Dataspace);
  h5::check(H5Sselect_hyperslab(from_space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), from, "",
            "select row");
  h5::check(H5Dread(from, memory_type, memory.id(), from_space.id(), H5P_DEFAULT, buffer.data()), from, "", "read row");
  h5::Handle to_space(H5Dget_space(to), h5::Kind::Dataspace);
  h5::check(H5Sselect_hyperslab(to_space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), to, "",
            "select row");
  h5::check(H5Dwrite(to, memory_type, memory.id(), to_space.id(), H5P_DEFAULT, buffer.data()), to, "", "write row");
  if (H5Tis_variable_str(memory_type) > 0) H5Dvlen_reclaim(memory_type, memory.id(), H5P_DEFAULT, buffer.data());
}

}  // namespace

std::int64_t merge_sweeps(const std::vector<std::filesystem::path>& parts, const std::filesystem::path& out,
                          bool overwrite) {
  if (parts.empty()) throw InputError("commons-sim merge: no part files given");
  check_output_path(out, overwrite);
  h5::silence_errors();

  // Validate every part before writing anything.
  std::vector<h5::Handle> files;
  std::string identity;
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> statuses;
  std::vector<std::vector<hsize_t>> shapes;
  std::int64_t runs = -1;
  for (const auto& part : parts) {
    h5::Handle f;
    try {
      reading(part);
      f = h5::open_file(part, H5F_ACC_RDONLY);
      read_every_object(f.id());
      h5::Handle meta = h5::open_group(f.id(), "meta");
      if (!h5::exists(f.id(), "runs") || h5::read_string_attribute(meta.id(), "kind") != "sweep")
        throw InputError("commons-sim merge: '" + part.string() + "' is not a sweep file");
      const std::string id = sweep_identity(f.id());
      if (identity.empty()) {
        identity = id;
        names = series_names(f.id());
      } else if (id != identity || series_names(f.id()) != names) {
        throw InputError("commons-sim merge: '" + part.string() + "' is part of another sweep than '" +
                         parts.front().string() + "' (scenario, design, seed or series differ)");
      }
      h5::Handle status = h5::open_dataset(f.id(), "runs/status");
      statuses.push_back(h5::read_strings(status.id()));
      // Every dataset merge copies rows of must have the first part's shape, one row per run.
      std::vector<std::vector<hsize_t>> part_shapes;
      for (const auto& name : names) part_shapes.push_back(h5::shape(h5::open_dataset(f.id(), name).id()));
      for (const char* name : {"runs/seed", "runs/status", "runs/error"})
        part_shapes.push_back(h5::shape(h5::open_dataset(f.id(), name).id()));
      if (shapes.empty()) shapes = part_shapes;
      bool fits = part_shapes == shapes;
      for (const auto& shape : part_shapes) fits = fits && !shape.empty() && shape[0] == statuses.back().size();
      if (!fits)
        throw InputError("commons-sim merge: '" + part.string() + "' has datasets of another shape than '" +
                         parts.front().string() + "' or not one row per run");
    } catch (const h5::Error& e) {
      throw InputError("commons-sim merge: cannot read '" + part.string() + "' as a sweep file (" + e.what() + ")");
    }
    if (runs >= 0 && static_cast<std::int64_t>(statuses.back().size()) != runs)
      throw InputError("commons-sim merge: '" + part.string() + "' has another number of runs");
    runs = static_cast<std::int64_t>(statuses.back().size());
    files.push_back(std::move(f));
  }
  std::vector<int> owner(static_cast<std::size_t>(runs), -1);
  for (std::size_t p = 0; p < parts.size(); ++p)
    for (std::int64_t r = 0; r < runs; ++r) {
      if (statuses[p][static_cast<std::size_t>(r)].empty()) continue;
      if (owner[static_cast<std::size_t>(r)] >= 0)
        throw InputError("commons-sim merge: run " + std::to_string(r) + " is in both '" +
                         parts[static_cast<std::size_t>(owner[static_cast<std::size_t>(r)])].string() + "' and '" +
                         parts[p].string() + "'");
      owner[static_cast<std::size_t>(r)] = static_cast<int>(p);
    }

  // The first part is the template: same layout, same design columns. The merged file is built
  // under a temporary name and renamed over `out` only when it is whole.
  files.clear();
  const std::filesystem::path building = out.string() + ".merging";
  struct Cleanup {
    const std::filesystem::path& path;
    bool done = false;
    ~Cleanup() {
      std::error_code ignored;
      if (!done) std::filesystem::remove(path, ignored);
    }
  } cleanup{building};
  std::filesystem::copy_file(parts.front(), building, std::filesystem::copy_options::overwrite_existing);
  // Damage validation cannot see (the heap or free-space data HDF5 touches only when it changes an
  // attribute) shows while the copy is written: it is the part's, unless the system refused a
  // read or a write (a full disk), which is the run failing.
  const auto damaged = [](const h5::Error& e, const std::string& which) {
    if (e.io_failed()) throw;
    throw InputError("commons-sim merge: " + which +
                     " is damaged (found while writing the merged file: " + e.what() + ")");
  };
  reading(parts.front());  // the merged file is a copy of it
  h5::Handle target = h5::open_file(building, H5F_ACC_RDWR);
  const h5::Handle strings = h5::string_type();
  // Every row is copied from the part that holds it, the first part's rows onto themselves too,
  // so that every value merged is read and its checksum checked.
  for (std::size_t p = 0; p < parts.size(); ++p) {
    reading(parts[p]);
    try {
      h5::Handle source = h5::open_file(parts[p], H5F_ACC_RDONLY);
      auto open_pair = [&](const std::string& path) {
        return std::pair{h5::open_dataset(source.id(), path), h5::open_dataset(target.id(), path)};
      };
      std::vector<std::pair<h5::Handle, h5::Handle>> series;
      for (const auto& name : names) series.push_back(open_pair(name));
      auto seed = open_pair("runs/seed");
      auto status = open_pair("runs/status");
      auto error = open_pair("runs/error");
      for (std::int64_t r = 0; r < runs; ++r) {
        if (owner[static_cast<std::size_t>(r)] != static_cast<int>(p)) continue;
        const auto row = static_cast<hsize_t>(r);
        for (auto& [from, to] : series)
          copy_row(from.id(), to.id(), row, H5T_NATIVE_DOUBLE, sizeof(double));
        copy_row(seed.first.id(), seed.second.id(), row, H5T_NATIVE_UINT64, sizeof(std::uint64_t));
        copy_row(status.first.id(), status.second.id(), row, strings.id(), sizeof(char*));
        copy_row(error.first.id(), error.second.id(), row, strings.id(), sizeof(char*));
      }
    } catch (const h5::Error& e) {
      damaged(e, p == 0 ? "'" + parts[p].string() + "'"
                        : "'" + parts[p].string() + "' or '" + parts.front().string() + "'");
    }
  }
  std::int64_t complete = 0, failed = 0, missing = 0;
  for (std::int64_t r = 0; r < runs; ++r) {
    const int p = owner[static_cast<std::size_t>(r)];
    if (p < 0) {
      ++missing;
      continue;
    }
    (statuses[static_cast<std::size_t>(p)][static_cast<std::size_t>(r)] == "complete" ? complete : failed)++;
  }
  reading(parts.front());
  try {
    h5::Handle meta = h5::open_group(target.id(), "meta");
    h5::write_attribute(meta.id(), "status", missing == 0 ? "complete" : "incomplete");
    h5::write_attribute(meta.id(), "shard",
                        std::string("merged from ") + std::to_string(parts.size()) + " parts");
    h5::write_attribute(meta.id(), "runs", runs);
    h5::write_attribute(meta.id(), "runs_complete", complete);
    h5::write_attribute(meta.id(), "runs_failed", failed);
    meta.close();
    target.close();
  } catch (const h5::Error& e) {
    damaged(e, "'" + parts.front().string() + "'");
  }
  std::filesystem::rename(building, out);
  cleanup.done = true;
  return missing;
}

std::int64_t merge_sweeps_guarded(const std::vector<std::filesystem::path>& parts,
                                  const std::filesystem::path& out, bool overwrite) {
  if (parts.empty()) throw InputError("commons-sim merge: no part files given");
  check_output_path(out, overwrite);
  try {
    return std::stoll(run_guarded("commons-sim merge: part", parts, [&] {
      return std::to_string(merge_sweeps(parts, out, overwrite));
    }));
  } catch (...) {
    // A child that died left its half-built file behind (merge_sweeps removes it otherwise).
    std::error_code ignored;
    std::filesystem::remove(out.string() + ".merging", ignored);
    throw;
  }
}

}  // namespace sim
