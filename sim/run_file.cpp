#include "sim/run_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "sim/error.hpp"
#include "sim/guarded_read.hpp"
#include "sim/h5.hpp"

namespace sim {

namespace fs = std::filesystem;

namespace {

constexpr const char* format_name = "commons-sim/1";
// 1024 records of 8 bytes: chunks of 8 KiB, so a reader following a running file fetches
// little, and a run of a million steps still has only ~1000 chunks per series.
constexpr hsize_t series_chunk_rows = 1024;
// Flow-matrix chunks hold at most this many values (64 KiB of float64).
constexpr hsize_t flows_chunk_values = 8192;
constexpr const char* change_in_money = "change_in_money";

// Checksums of the stored values (/meta/record_hashes, docs/output.md). Each value contributes
// the 64-bit FNV-1a hash of its flat index in its dataset and its own 8 bytes (both
// little-endian), and a dataset's checksum is the sum of those terms modulo 2^64: the writer adds
// the terms of new records only, and a reader (numpy included) hashes every value at once.
constexpr std::uint64_t fnv_offset = 0xcbf29ce484222325ull;
constexpr std::uint64_t fnv_prime = 0x100000001b3ull;

std::uint64_t fnv1a_word(std::uint64_t hash, std::uint64_t word) {
  for (int byte = 0; byte < 8; ++byte) hash = (hash ^ ((word >> (8 * byte)) & 0xffu)) * fnv_prime;
  return hash;
}

std::uint64_t value_term(std::uint64_t index, std::uint64_t bits) {
  return fnv1a_word(fnv1a_word(fnv_offset, index), bits);
}

std::uint64_t bits_of(double value) { return std::bit_cast<std::uint64_t>(value); }
std::uint64_t bits_of(std::int64_t value) { return static_cast<std::uint64_t>(value); }

// /meta/record_hashes holds two slots of [1 + datasets][2] words: (sequence, check), then
// (records covered, checksum) per record dataset. A flush writes the slot of its sequence number
// (alternating), so a write torn by a kill spoils only that slot and the other one, from the
// previous flush, still holds. `check` is FNV-1a over the slot's other words, little-endian.
std::uint64_t slot_check(const std::uint64_t* slot, std::size_t datasets) {
  std::uint64_t hash = fnv1a_word(fnv_offset, slot[0]);
  for (std::size_t i = 2; i < 2 * (1 + datasets); ++i) hash = fnv1a_word(hash, slot[i]);
  return hash;
}

}  // namespace

// Everything that can be said about the path before HDF5 touches it, so that a refused run
// leaves an existing file byte for byte as it was.
void check_output_path(const fs::path& path, bool overwrite) {
  const std::string shown = path.string();
  auto cannot = [&](const std::string& reason) {
    return InputError("cannot create output file '" + shown + "': " + reason);
  };
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::exists(status)) {
    if (fs::is_directory(status)) throw cannot(std::strerror(EISDIR));
    if (!overwrite) throw InputError("output file '" + shown + "' exists; use --overwrite to replace it");
    if (::access(path.c_str(), W_OK) != 0) throw cannot(std::strerror(errno));
    return;
  }
  fs::path parent = path.parent_path();
  if (parent.empty()) parent = ".";
  const auto parent_status = fs::status(parent, ec);
  if (!fs::exists(parent_status)) throw cannot(std::strerror(ENOENT));
  if (!fs::is_directory(parent_status)) throw cannot(std::strerror(ENOTDIR));
  if (::access(parent.c_str(), W_OK | X_OK) != 0) throw cannot(std::strerror(errno));
}

namespace {

std::vector<std::string> ledger_flow_types(const ModelSpec& model) {
  std::vector<std::string> names = model.flow_types;
  names.emplace_back(change_in_money);
  return names;
}

void check_names(const ModelSpec& model) {
  std::vector<std::string> taken{"step", model.time_name};
  if (model.time_name == "step" || model.time_name.empty() ||
      model.time_name.find('/') != std::string::npos)
    throw std::logic_error("model '" + model.name + "': time_name '" + model.time_name +
                           "' cannot name a dataset beside 'step'");
  for (const auto& s : model.series) {
    if (s.name.empty() || s.name.find('/') != std::string::npos || s.name == "." ||
        std::find(taken.begin(), taken.end(), s.name) != taken.end())
      throw std::logic_error("model '" + model.name + "': series name '" + s.name +
                             "' is empty, repeated, contains '/' or clashes with step/" +
                             model.time_name);
    taken.push_back(s.name);
  }
  std::vector<std::string> region_taken{"step", "region", model.time_name};
  for (const auto& s : model.region_series) {
    if (s.name.empty() || s.name.find('/') != std::string::npos || s.name == "." ||
        std::find(region_taken.begin(), region_taken.end(), s.name) != region_taken.end())
      throw std::logic_error("model '" + model.name + "': region series name '" + s.name +
                             "' is empty, repeated, contains '/' or clashes with step/region/" +
                             model.time_name);
    region_taken.push_back(s.name);
  }
  if (!model.region_series.empty() && !model.region_count)
    throw std::logic_error("model '" + model.name + "' declares region series without region_count");
  std::vector<std::string> fields;
  for (const auto& f : model.snapshot_fields) {
    const auto slash = f.name.find('/');
    const bool shaped = slash != std::string::npos && slash > 0 && slash + 1 < f.name.size() &&
                        f.name.find('/', slash + 1) == std::string::npos && f.name.substr(0, slash) != "." &&
                        f.name.substr(slash + 1) != ".";
    if (!shaped || std::find(fields.begin(), fields.end(), f.name) != fields.end())
      throw std::logic_error("model '" + model.name + "': snapshot field '" + f.name +
                             "' is not named '<kind>/<field>' or is repeated");
    fields.push_back(f.name);
  }
}

// The element types a snapshot field may have, in the file and in memory.
hid_t file_type_of(State::Type type) {
  switch (type) {
    case State::Type::F64: return H5T_IEEE_F64LE;
    case State::Type::I64: return H5T_STD_I64LE;
    case State::Type::U64: return H5T_STD_U64LE;
    case State::Type::I32: return H5T_STD_I32LE;
    case State::Type::U32: return H5T_STD_U32LE;
    case State::Type::U8: return H5T_STD_U8LE;
  }
  throw std::logic_error("unknown State::Type");
}

// Snapshot datasets: chunks of at most this many elements (512 KiB of float64), and no larger
// than the field was when the run started, so small fields do not reserve large chunks.
constexpr hsize_t snapshot_chunk_values = 65536;

std::string escape_cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

std::vector<std::int64_t> snapshot_steps(const Scenario& scenario) {
  if (scenario.model == nullptr || scenario.model->snapshot_fields.empty() || scenario.snapshot_every <= 0) return {};
  const std::int64_t every = scenario.snapshot_every, steps = scenario.steps;
  const std::int64_t count = 1 + steps / every + (steps % every != 0 ? 1 : 0);
  if (count > max_snapshots)
    throw InputError("sim.snapshot_every = " + std::to_string(every) + " gives " + std::to_string(count) +
                     " snapshots over sim.steps = " + std::to_string(steps) + "; a run writes at most " +
                     std::to_string(max_snapshots) + " (choose sim.snapshot_every >= " +
                     std::to_string((steps + max_snapshots - 3) / (max_snapshots - 2)) + ")");
  std::vector<std::int64_t> out;
  for (std::int64_t step = 0; step <= steps; step += every) out.push_back(step);
  if (out.back() != steps) out.push_back(steps);
  return out;
}

std::size_t region_count(const Scenario& scenario) {
  if (scenario.model == nullptr || scenario.model->region_series.empty()) return 0;
  if (!scenario.model->region_count)
    throw std::logic_error("model '" + scenario.model->name + "' declares region series without region_count");
  const std::size_t regions = scenario.model->region_count(scenario.params);
  if (regions == 0)
    throw InputError("model '" + scenario.model->name +
                     "' writes region series, but a run with these parameters has no regions");
  return regions;
}

struct RunFile::Impl {
  fs::path path;
  const ModelSpec* model = nullptr;
  // Declared first so that it is destroyed last, after the datasets in it.
  h5::Handle file;
  h5::Handle progress;
  h5::Extendible step;
  h5::Extendible time;
  std::vector<h5::Extendible> series;
  h5::Extendible flow_step;
  h5::Extendible flow_time;
  h5::Extendible flows;
  std::size_t flow_cells = 0;
  std::size_t regions = 0;  // 0: no /regions group
  h5::Extendible region_step;
  h5::Extendible region_time;
  std::vector<h5::Extendible> region_series;
  // Snapshots: the planned steps, which of them are written, each field's name and type, and
  // /snapshots/steps, the list of the snapshots written whole.
  struct SnapshotField {
    std::string kind, field;
    State::Type type;
  };
  std::vector<std::int64_t> snapshot_plan;
  std::vector<bool> snapshot_written;
  std::vector<SnapshotField> snapshot_fields;
  h5::Extendible snapshot_done;
  bool finished = false;

  // The running checksum of every record dataset (/meta/record_hashes), in the order the datasets
  // are created and written_pending appends to them: updated as each block of records is appended
  // (only the new values are hashed), written at flushes once those records are in the file.
  struct RecordHash {
    std::string name;  // e.g. "series/step"
    std::uint64_t records = 0;
    std::uint64_t sum = 0;
  };
  std::vector<RecordHash> hashes;
  h5::Handle record_hashes;
  std::uint64_t hash_sequence = 0;
  std::vector<std::uint64_t> hash_slots;  // both slots, as in the file

  // Records wait here until the next flush (or a full chunk) and then go out as one block:
  // an extent change and a write per dataset per block rather than per record, which is most
  // of what an append costs in HDF5. Readers see records at flushes either way.
  std::vector<std::int64_t> pending_steps;
  std::vector<double> pending_times;
  std::vector<std::vector<double>> pending_values;  // one per series
  std::vector<double> pending_flows;
  std::vector<std::vector<double>> pending_regions;  // one per region series, rows of `regions`

  void create_meta(const Scenario& scenario, const RunMeta& meta);
  void create_scenario(const Scenario& scenario);
  void create_series();
  void create_flows();
  void create_regions();
  void create_snapshots(const State& types);
  void create_record_hashes();
  void publish_hashes();
  void close_datasets();
  void drop_datasets() noexcept;
  void write_pending();
};

void RunFile::Impl::write_pending() {
  if (pending_steps.empty()) return;
  auto clear = [&] {
    pending_steps.clear();
    pending_times.clear();
    for (auto& v : pending_values) v.clear();
    pending_flows.clear();
    for (auto& v : pending_regions) v.clear();
  };
  // Appends to the next dataset in the order of `hashes` and adds the new values' terms to its
  // checksum, once they are appended (a block that fails is not counted).
  std::size_t next = 0;
  auto append = [&](h5::Extendible& dataset, auto values) {
    dataset.append(values);
    RecordHash& h = hashes.at(next++);
    std::uint64_t index = h.records * dataset.row_size();
    for (const auto value : values) h.sum += value_term(index++, bits_of(value));
    h.records = dataset.rows();
  };
  try {
    append(step, std::span<const std::int64_t>(pending_steps));
    append(time, std::span<const double>(pending_times));
    for (std::size_t i = 0; i < series.size(); ++i) append(series[i], std::span<const double>(pending_values[i]));
    if (flow_cells > 0) {
      append(flow_step, std::span<const std::int64_t>(pending_steps));
      append(flow_time, std::span<const double>(pending_times));
      append(flows, std::span<const double>(pending_flows));
    }
    if (regions > 0) {
      append(region_step, std::span<const std::int64_t>(pending_steps));
      append(region_time, std::span<const double>(pending_times));
      for (std::size_t i = 0; i < region_series.size(); ++i)
        append(region_series[i], std::span<const double>(pending_regions[i]));
    }
  } catch (...) {
    // Never written twice: a failed block is dropped, not retried by the destructor.
    clear();
    throw;
  }
  clear();
}

void RunFile::Impl::create_meta(const Scenario& scenario, const RunMeta& meta) {
  h5::Handle group = h5::create_group(file.id(), "meta");
  const hid_t g = group.id();
  h5::write_attribute(g, "format", format_name);
  h5::write_attribute(g, "version", meta.version);
  h5::write_attribute(g, "git_commit", meta.git_commit);
  h5::write_attribute(g, "command_line", meta.command_line);
  h5::write_attribute(g, "model", model->name);
  h5::write_attribute(g, "seed", static_cast<std::uint64_t>(scenario.seed));
  h5::write_attribute(g, "threads", static_cast<std::int64_t>(meta.threads));
  h5::write_attribute(g, "phases", model->phase_names);
  h5::write_attribute(g, "start_time", meta.start_time);
  h5::write_attribute(g, "end_time", "");
  h5::write_attribute(g, "wall_seconds", 0.0);
  h5::write_attribute(g, "steps_completed", std::int64_t{0});
  h5::write_attribute(g, "status", "running");
  // SWMR lets a writer change raw data only, not attributes, so the count a reader can follow
  // while the run goes on lives in a dataset.
  progress = h5::create_scalar(g, "progress", H5T_STD_I64LE);
  h5::write_scalar(progress.id(), 0);
  h5::write_attribute(progress.id(), "description",
                      "steps completed at the last flush; readable while the run is writing");
}

void RunFile::Impl::create_scenario(const Scenario& scenario) {
  h5::Handle group = h5::create_group(file.id(), "scenario");
  h5::write_attribute(group.id(), "text", scenario.resolved_text);
  h5::write_attribute(group.id(), "file", scenario.file.string());
  for (const auto& [name, value] : scenario.params.all())
    h5::write_attribute(group.id(), name, value.text);
}

void RunFile::Impl::create_series() {
  h5::Handle group = h5::create_group(file.id(), "series");
  const hid_t g = group.id();
  step = h5::Extendible::create(g, "step", H5T_STD_I64LE, {}, series_chunk_rows);
  h5::write_attribute(step.id(), "units", "1");
  h5::write_attribute(step.id(), "description",
                      "the step at whose end the record was taken (0: the initial state)");
  h5::make_scale(step.id(), "step");
  hashes.push_back({"series/step"});

  // The time is a coordinate along step, not a scale of its own: a dataset that is a scale
  // cannot have `step` attached, and xarray would then see a second, unrelated dimension.
  time = h5::Extendible::create(g, model->time_name, H5T_IEEE_F64LE, {}, series_chunk_rows);
  h5::write_attribute(time.id(), "units", model->time_units);
  h5::write_attribute(time.id(), "description", "simulated time at the end of the step");
  h5::attach_scale(time.id(), step.id(), 0);
  hashes.push_back({"series/" + model->time_name});

  series.reserve(model->series.size());
  pending_values.resize(model->series.size());
  for (const auto& spec : model->series) {
    auto dataset = h5::Extendible::create(g, spec.name, H5T_IEEE_F64LE, {}, series_chunk_rows);
    h5::write_attribute(dataset.id(), "units", spec.units);
    h5::write_attribute(dataset.id(), "description", spec.description);
    // CF convention: xarray makes the time an (auxiliary) coordinate of every series.
    h5::write_attribute(dataset.id(), "coordinates", model->time_name);
    h5::attach_scale(dataset.id(), step.id(), 0);
    series.push_back(std::move(dataset));
    hashes.push_back({"series/" + spec.name});
  }
}

void RunFile::Impl::create_flows() {
  const auto flow_types = ledger_flow_types(*model);
  const auto& sectors = model->sectors;
  flow_cells = flow_types.size() * sectors.size();

  h5::Handle group = h5::create_group(file.id(), "flows");
  const hid_t g = group.id();
  // xarray looks for a dimension's scale in the group being opened and its parents, so the
  // flows group carries its own copy of step and time rather than pointing into /series.
  flow_step = h5::Extendible::create(g, "step", H5T_STD_I64LE, {}, series_chunk_rows);
  h5::write_attribute(flow_step.id(), "units", "1");
  h5::write_attribute(flow_step.id(), "description", "the step of the record, as /series/step");
  h5::make_scale(flow_step.id(), "step");
  hashes.push_back({"flows/step"});

  flow_time = h5::Extendible::create(g, model->time_name, H5T_IEEE_F64LE, {}, series_chunk_rows);
  h5::write_attribute(flow_time.id(), "units", model->time_units);
  h5::write_attribute(flow_time.id(), "description", "simulated time at the end of the step");
  h5::attach_scale(flow_time.id(), flow_step.id(), 0);
  hashes.push_back({"flows/" + model->time_name});

  h5::Handle flow_type = h5::write_strings(g, "flow_type", flow_types);
  h5::write_attribute(flow_type.id(), "description", "ledger flow types; the last row is change_in_money");
  h5::make_scale(flow_type.id(), "flow_type");
  h5::Handle sector = h5::write_strings(g, "sector", sectors);
  h5::write_attribute(sector.id(), "description", "ledger sectors");
  h5::make_scale(sector.id(), "sector");

  const hsize_t chunk_rows =
      std::clamp<hsize_t>(flows_chunk_values / std::max<hsize_t>(flow_cells, 1), 1, series_chunk_rows);
  flows = h5::Extendible::create(g, "matrix", H5T_IEEE_F64LE, {flow_types.size(), sectors.size()},
                                 chunk_rows);
  h5::write_attribute(flows.id(), "units", "money");
  h5::write_attribute(flows.id(), "description",
                      "money moved since the previous record, by flow type and sector: inflows "
                      "positive, outflows negative; change_in_money is minus each column's sum");
  h5::write_attribute(flows.id(), "coordinates", model->time_name);
  h5::attach_scale(flows.id(), flow_step.id(), 0);
  h5::attach_scale(flows.id(), flow_type.id(), 1);
  h5::attach_scale(flows.id(), sector.id(), 2);
  hashes.push_back({"flows/matrix"});
}

void RunFile::Impl::create_regions() {
  h5::Handle group = h5::create_group(file.id(), "regions");
  const hid_t g = group.id();
  // Like /flows, the group carries its own step scale and time, so it opens alone in xarray.
  region_step = h5::Extendible::create(g, "step", H5T_STD_I64LE, {}, series_chunk_rows);
  h5::write_attribute(region_step.id(), "units", "1");
  h5::write_attribute(region_step.id(), "description", "the step of the record, as /series/step");
  h5::make_scale(region_step.id(), "step");
  hashes.push_back({"regions/step"});

  region_time = h5::Extendible::create(g, model->time_name, H5T_IEEE_F64LE, {}, series_chunk_rows);
  h5::write_attribute(region_time.id(), "units", model->time_units);
  h5::write_attribute(region_time.id(), "description", "simulated time at the end of the step");
  h5::attach_scale(region_time.id(), region_step.id(), 0);
  hashes.push_back({"regions/" + model->time_name});

  std::vector<std::int64_t> index(regions);
  for (std::size_t r = 0; r < regions; ++r) index[r] = static_cast<std::int64_t>(r);
  h5::Handle region = h5::write_ints(g, "region", index);
  h5::write_attribute(region.id(), "units", "1");
  h5::write_attribute(region.id(), "description", "the region's index, 0 to regions - 1");
  h5::make_scale(region.id(), "region");

  const hsize_t chunk_rows = std::clamp<hsize_t>(flows_chunk_values / regions, 1, series_chunk_rows);
  region_series.reserve(model->region_series.size());
  pending_regions.resize(model->region_series.size());
  for (const auto& spec : model->region_series) {
    auto dataset = h5::Extendible::create(g, spec.name, H5T_IEEE_F64LE, {regions}, chunk_rows);
    h5::write_attribute(dataset.id(), "units", spec.units);
    h5::write_attribute(dataset.id(), "description", spec.description);
    h5::write_attribute(dataset.id(), "coordinates", model->time_name);
    h5::attach_scale(dataset.id(), region_step.id(), 0);
    h5::attach_scale(dataset.id(), region.id(), 1);
    region_series.push_back(std::move(dataset));
    hashes.push_back({"regions/" + spec.name});
  }
}

void RunFile::Impl::create_snapshots(const State& types) {
  for (const auto& spec : model->snapshot_fields) {
    const auto it = types.entries().find(spec.name);
    if (it == types.entries().end())
      throw std::logic_error("model '" + model->name + "' declares snapshot field '" + spec.name +
                             "' but its snapshot() does not put it");
    const auto slash = spec.name.find('/');
    snapshot_fields.push_back({spec.name.substr(0, slash), spec.name.substr(slash + 1), it->second.type});
  }
  for (const auto& entry : types.entries()) {
    const std::string& name = entry.first;  // clang 14 cannot capture a structured binding
    const bool declared = std::any_of(model->snapshot_fields.begin(), model->snapshot_fields.end(),
                                      [&](const SeriesSpec& f) { return f.name == name; });
    if (!declared)
      throw std::logic_error("model '" + model->name + "' puts snapshot field '" + name + "' it does not declare");
  }
  snapshot_written.assign(snapshot_plan.size(), false);

  h5::Handle group = h5::create_group(file.id(), "snapshots");
  snapshot_done = h5::Extendible::create(group.id(), "steps", H5T_STD_I64LE, {}, 256);
  h5::write_attribute(snapshot_done.id(), "units", "1");
  h5::write_attribute(snapshot_done.id(), "description",
                      "the steps whose snapshots were written whole; a /snapshots/<step> group not "
                      "listed here is incomplete (a killed run) and holds no data");
  // SWMR writers cannot create objects, so every planned snapshot is created now, empty, and
  // filled at its step; a run that ends early removes the ones it did not reach.
  for (std::int64_t step : snapshot_plan) {
    h5::Handle at = h5::create_group(group.id(), std::to_string(step));
    h5::write_attribute(at.id(), "step", step);
    std::vector<std::pair<std::string, h5::Handle>> kinds;
    for (std::size_t i = 0; i < snapshot_fields.size(); ++i) {
      const SnapshotField& f = snapshot_fields[i];
      auto kind = std::find_if(kinds.begin(), kinds.end(), [&](const auto& k) { return k.first == f.kind; });
      if (kind == kinds.end()) {
        kinds.emplace_back(f.kind, h5::create_group(at.id(), f.kind));
        kind = kinds.end() - 1;
      }
      const std::size_t count = types.entries().at(model->snapshot_fields[i].name).count;
      const hsize_t chunk = std::clamp<hsize_t>(count, 1, snapshot_chunk_values);
      auto dataset = h5::Extendible::create(kind->second.id(), f.field, file_type_of(f.type), {}, chunk);
      h5::write_attribute(dataset.id(), "units", model->snapshot_fields[i].units);
      h5::write_attribute(dataset.id(), "description", model->snapshot_fields[i].description);
    }
  }
}

void RunFile::Impl::create_record_hashes() {
  h5::Handle meta = h5::open_group(file.id(), "meta");
  const hsize_t dims[3] = {2, 1 + hashes.size(), 2};
  h5::Handle space(h5::check(H5Screate_simple(3, dims, nullptr), meta.id(), "record_hashes", "create dataspace for"),
                   h5::Kind::Dataspace);
  // Contiguous and fixed in shape, so that rewriting it under SWMR touches raw data only.
  record_hashes = h5::Handle(h5::check(H5Dcreate2(meta.id(), "record_hashes", H5T_STD_U64LE, space.id(), H5P_DEFAULT,
                                                  H5P_DEFAULT, H5P_DEFAULT),
                                       meta.id(), "record_hashes", "create dataset"),
                             h5::Kind::Dataset);
  std::vector<std::string> names;
  for (const auto& h : hashes) names.push_back(h.name);
  h5::write_attribute(record_hashes.id(), "datasets", names);
  h5::write_attribute(record_hashes.id(), "description",
                      "checksums of the stored values: two slots of [(sequence, check), (records, checksum) "
                      "per dataset named in `datasets`]; the valid slot of the higher sequence holds "
                      "(docs/output.md)");
  // Both slots say that nothing is covered yet; the first write also allocates the storage, which
  // SWMR writers cannot do.
  const std::size_t width = 2 * (1 + hashes.size());
  hash_slots.assign(2 * width, 0);
  for (std::size_t s = 0; s < 2; ++s) hash_slots[s * width + 1] = slot_check(&hash_slots[s * width], hashes.size());
  h5::check(H5Dwrite(record_hashes.id(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, hash_slots.data()),
            meta.id(), "record_hashes", "write dataset");
}

// Writes the running checksums into the slot of the next sequence number and flushes it. Call
// it only once the records it covers are in the file (after H5Fflush): it claims every record
// appended so far.
void RunFile::Impl::publish_hashes() {
  ++hash_sequence;
  const std::size_t width = 2 * (1 + hashes.size());
  std::uint64_t* slot = hash_slots.data() + (hash_sequence % 2) * width;
  slot[0] = hash_sequence;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    slot[2 + 2 * i] = hashes[i].records;
    slot[3 + 2 * i] = hashes[i].sum;
  }
  slot[1] = slot_check(slot, hashes.size());
  // The other slot is written again with the bytes it holds, so a torn write cannot spoil it.
  h5::check(H5Dwrite(record_hashes.id(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, hash_slots.data()),
            file.id(), "meta/record_hashes", "write");
  h5::check(H5Dflush(record_hashes.id()), file.id(), "meta/record_hashes", "flush");
}

void RunFile::Impl::close_datasets() {
  progress.close();
  record_hashes.close();
  step.close();
  time.close();
  for (auto& s : series) s.close();
  flow_step.close();
  flow_time.close();
  flows.close();
  region_step.close();
  region_time.close();
  for (auto& s : region_series) s.close();
  snapshot_done.close();
}

void RunFile::Impl::drop_datasets() noexcept {
  progress.reset();
  record_hashes.reset();
  step = {};
  time = {};
  series.clear();
  flow_step = {};
  flow_time = {};
  flows = {};
  region_step = {};
  region_time = {};
  region_series.clear();
  snapshot_done = {};
}

RunFile::RunFile(const fs::path& path, bool overwrite, const Scenario& scenario, const RunMeta& meta,
                 const State& snapshot_types)
    : impl_(std::make_unique<Impl>()) {
  if (scenario.model == nullptr) throw std::logic_error("RunFile: scenario has no model");
  check_names(*scenario.model);
  impl_->regions = region_count(scenario);
  impl_->snapshot_plan = snapshot_steps(scenario);
  check_output_path(path, overwrite);
  impl_->path = path;
  impl_->model = scenario.model;

  h5::silence_errors();
  // The layout is built under a temporary name and the file appears under its own name only once
  // SWMR writing has started (which flushes it): a run killed at any moment leaves a file that
  // opens, or none.
  const fs::path creating = path.string() + ".creating";
  {
    h5::Handle fapl = h5::file_access_latest();
    try {
      impl_->file = h5::create_file(creating, fapl.id());
    } catch (const h5::Error& e) {
      throw InputError("cannot create output file '" + path.string() + "' (" + e.what() + ")");
    }
  }
  try {
    impl_->create_meta(scenario, meta);
    impl_->create_scenario(scenario);
    impl_->create_series();
    if (!scenario.model->sectors.empty()) impl_->create_flows();
    if (impl_->regions > 0) impl_->create_regions();
    if (!impl_->snapshot_plan.empty()) impl_->create_snapshots(snapshot_types);
    impl_->create_record_hashes();
    // From here on only raw data changes, which is what SWMR readers can follow; every group,
    // attribute and scale exists already, and only dataset handles are open.
    h5::check(H5Fstart_swmr_write(impl_->file.id()), impl_->file.id(), "", "start SWMR writing to");
    fs::rename(creating, path);
  } catch (...) {
    impl_.reset();
    std::error_code ignored;
    fs::remove(creating, ignored);
    throw;
  }
}

RunFile::~RunFile() {
  if (!impl_ || !impl_->file || impl_->finished) return;
  // Unflushed records still reach the file when it closes; status stays "running".
  bool written = true;
  try {
    impl_->write_pending();
  } catch (...) {
    // A destructor runs during unwinding too: the records are lost, the file stays readable.
    written = false;
  }
  // The checksums follow the records only when every record is known to be in the file.
  if (H5Fflush(impl_->file.id(), H5F_SCOPE_LOCAL) >= 0 && written) {
    try {
      impl_->publish_hashes();
    } catch (...) {
      // The checksums of the previous flush stay.
    }
  }
  impl_->drop_datasets();
  impl_->file.reset();
}

void RunFile::append(std::int64_t step, double time, std::span<const double> values,
                     std::span<const double> flows, std::span<const double> regions) {
  Impl& f = *impl_;
  if (f.finished) throw std::logic_error("RunFile::append after finish");
  if (values.size() != f.series.size())
    throw std::logic_error("RunFile::append: " + std::to_string(values.size()) + " values for " +
                           std::to_string(f.series.size()) + " declared series");
  if (flows.size() != f.flow_cells)
    throw std::logic_error("RunFile::append: flow matrix of " + std::to_string(flows.size()) +
                           " cells, expected " + std::to_string(f.flow_cells));
  f.pending_steps.push_back(step);
  f.pending_times.push_back(time);
  for (std::size_t i = 0; i < values.size(); ++i) f.pending_values[i].push_back(values[i]);
  if (regions.size() != f.region_series.size() * f.regions)
    throw std::logic_error("RunFile::append: " + std::to_string(regions.size()) + " region values, expected " +
                           std::to_string(f.region_series.size()) + " series x " + std::to_string(f.regions) +
                           " regions");
  f.pending_flows.insert(f.pending_flows.end(), flows.begin(), flows.end());
  for (std::size_t i = 0; i < f.region_series.size(); ++i)
    f.pending_regions[i].insert(f.pending_regions[i].end(), regions.begin() + static_cast<std::ptrdiff_t>(i * f.regions),
                                regions.begin() + static_cast<std::ptrdiff_t>((i + 1) * f.regions));
  if (f.pending_steps.size() >= series_chunk_rows) f.write_pending();
}

void RunFile::flush(std::int64_t steps_completed) {
  Impl& f = *impl_;
  if (f.finished) throw std::logic_error("RunFile::flush after finish");
  // The records reach the file before the checksums that cover them, and both before the
  // progress that announces them, so a run killed between any two leaves checksums and a progress
  // that lag the records, never ones that lead them, and a progress that never leads the checksums.
  f.write_pending();
  h5::check(H5Fflush(f.file.id(), H5F_SCOPE_LOCAL), f.file.id(), "", "flush");
  f.publish_hashes();
  h5::write_scalar(f.progress.id(), steps_completed);
  h5::check(H5Dflush(f.progress.id()), f.file.id(), "meta/progress", "flush");
}

void RunFile::finish(const std::string& status, std::int64_t steps_completed, double wall_seconds,
                     const std::string& end_time) {
  Impl& f = *impl_;
  if (f.finished) throw std::logic_error("RunFile::finish called twice");
  f.finished = true;
  // In the order of flush(); then the checksums go into the other slot too, so that both slots of
  // a finished file cover every record.
  f.write_pending();
  h5::check(H5Fflush(f.file.id(), H5F_SCOPE_LOCAL), f.file.id(), "", "flush");
  f.publish_hashes();
  h5::write_scalar(f.progress.id(), steps_completed);
  h5::check(H5Dflush(f.progress.id()), f.file.id(), "meta/progress", "flush");
  f.publish_hashes();
  f.close_datasets();
  f.file.close();
  // Attributes cannot change under SWMR, so the file is reopened without it for the final
  // ones. A SWMR reader following the run holds a shared lock on the file that would refuse
  // this reopen, so it is made without locking: the run is still the only writer.
  h5::Handle fapl = h5::file_access_latest();
  h5::check_file(H5Pset_file_locking(fapl.id(), false, true), f.path, "set up the final reopen of");
  f.file = h5::open_file(f.path, H5F_ACC_RDWR, fapl.id());
  if (!f.snapshot_plan.empty()) {
    // A run that ended early leaves the snapshots it did not reach: they go, so that every
    // /snapshots/<step> of a finished file is whole.
    h5::Handle snapshots = h5::open_group(f.file.id(), "snapshots");
    for (std::size_t i = 0; i < f.snapshot_plan.size(); ++i)
      if (!f.snapshot_written[i]) h5::remove(snapshots.id(), std::to_string(f.snapshot_plan[i]));
  }
  {
    h5::Handle meta = h5::open_group(f.file.id(), "meta");
    h5::write_attribute(meta.id(), "status", status);
    h5::write_attribute(meta.id(), "steps_completed", steps_completed);
    h5::write_attribute(meta.id(), "end_time", end_time);
    h5::write_attribute(meta.id(), "wall_seconds", wall_seconds);
  }
  f.file.close();
}

void RunFile::write_snapshot(std::int64_t step, const State& snapshot) {
  Impl& f = *impl_;
  if (f.finished) throw std::logic_error("RunFile::write_snapshot after finish");
  const auto at = std::lower_bound(f.snapshot_plan.begin(), f.snapshot_plan.end(), step);
  if (at == f.snapshot_plan.end() || *at != step)
    throw std::logic_error("RunFile::write_snapshot: no snapshot is planned at step " + std::to_string(step));
  const auto index = static_cast<std::size_t>(at - f.snapshot_plan.begin());
  if (f.snapshot_written[index])
    throw std::logic_error("RunFile::write_snapshot: step " + std::to_string(step) + " written twice");
  for (const auto& field : f.snapshot_fields) {
    const std::string name = field.kind + "/" + field.field;
    const auto it = snapshot.entries().find(name);
    if (it == snapshot.entries().end())
      throw RunError("model '" + f.model->name + "': the snapshot of step " + std::to_string(step) +
                     " lacks its declared field '" + name + "'");
    if (it->second.type != field.type || it->second.bytes.size() != it->second.count * State::size_of(field.type))
      throw RunError("model '" + f.model->name + "': snapshot field '" + name + "' changed its element type at step " +
                     std::to_string(step));
  }
  const std::string group_name = "snapshots/" + std::to_string(step);
  {
    h5::Handle group = h5::open_group(f.file.id(), group_name);
    for (const auto& field : f.snapshot_fields) {
      const State::Entry& entry = snapshot.entries().at(field.kind + "/" + field.field);
      auto dataset = h5::Extendible::open(group.id(), field.kind + "/" + field.field);
      if (dataset.rows() != 0)
        throw std::logic_error("RunFile::write_snapshot: " + group_name + " holds data already");
      dataset.append(entry.bytes.data(), entry.count, h5::native_type(field.type));
    }
  }
  // The fields are durable before the list says the snapshot is whole.
  h5::check(H5Fflush(f.file.id(), H5F_SCOPE_LOCAL), f.file.id(), "", "flush");
  const std::int64_t done[1] = {step};
  f.snapshot_done.append(std::span<const std::int64_t>(done));
  h5::check(H5Fflush(f.file.id(), H5F_SCOPE_LOCAL), f.file.id(), "", "flush");
  f.snapshot_written[index] = true;
}

namespace {

// The output file of a run being resumed, read-only.
h5::Handle open_for_resume(const fs::path& path) {
  h5::silence_errors();
  // A run killed outright leaves its file marked as open for writing: read it as SWMR does.
  h5::Handle fapl = h5::file_access_latest();
  // A SWMR reader retries metadata whose checksum fails (100 times by default, sleeping ever
  // longer: hours), in case a live writer was halfway through it. The writer of a file being
  // resumed is gone, so a checksum that fails once is damage: refuse the file at once.
  h5::check_file(H5Pset_metadata_read_attempts(fapl.id(), 1), path, "set the read attempts for");
  return h5::open_file(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl.id());
}

// Checks the stored values that /meta/record_hashes covers against their checksums: InputError
// naming the file and the dataset when one differs. A file without the checksums (written before
// commons-sim kept them) is accepted as it is. HDF5 failures come out as h5::Error.
void verify_record_hashes(hid_t file, const std::string& shown) {
  if (!h5::exists(file, "meta")) return;
  h5::Handle meta = h5::open_group(file, "meta");
  if (!h5::exists(meta.id(), "record_hashes")) return;
  auto damaged = [&](const std::string& what) {
    return InputError("output file '" + shown + "': " + what + " (damaged file)");
  };
  h5::Handle table = h5::open_dataset(meta.id(), "record_hashes");
  const auto names = h5::read_strings_attribute(table.id(), "datasets");
  const std::size_t width = 2 * (1 + names.size());
  if (h5::shape(table.id()) != std::vector<hsize_t>{2, 1 + names.size(), 2})
    throw damaged("/meta/record_hashes does not fit the datasets it names");
  std::vector<std::uint64_t> slots(2 * width);
  h5::check(H5Dread(table.id(), H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, slots.data()), meta.id(),
            "record_hashes", "read");
  // The valid slot of the higher sequence (a kill may have torn the slot being written).
  const std::uint64_t* slot = nullptr;
  for (std::size_t s = 0; s < 2; ++s) {
    const std::uint64_t* candidate = &slots[s * width];
    if (candidate[1] == slot_check(candidate, names.size()) && (slot == nullptr || candidate[0] > slot[0]))
      slot = candidate;
  }
  if (slot == nullptr) throw damaged("both slots of /meta/record_hashes fail their own check");

  hsize_t file_size = 0;
  h5::check(H5Fget_filesize(file, &file_size), file, "", "get the size of");
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::uint64_t records = slot[2 + 2 * k], expected = slot[3 + 2 * k];
    if (records == 0) continue;
    const std::string& name = names[k];
    h5::Handle dataset = h5::open_dataset(file, name);
    h5::Handle type(h5::check(H5Dget_type(dataset.id()), file, name, "get the type of"), h5::Kind::Datatype);
    const H5T_class_t type_class = H5Tget_class(type.id());
    if ((type_class != H5T_FLOAT && type_class != H5T_INTEGER) || H5Tget_size(type.id()) != 8)
      throw damaged("/" + name + " is not a dataset of 8-byte numbers");
    // The values as little-endian float64 or int64: the bytes the writer hashed.
    const hid_t memory_type = type_class == H5T_FLOAT ? H5T_IEEE_F64LE : H5T_STD_I64LE;
    std::vector<hsize_t> shape = h5::shape(dataset.id());
    if (shape.empty()) throw damaged("/" + name + " is not a dataset of records");
    std::uint64_t row_size = 1;
    for (std::size_t d = 1; d < shape.size(); ++d) {
      if (shape[d] == 0 || row_size > file_size / shape[d]) {
        row_size = 0;
        break;
      }
      row_size *= shape[d];
    }
    // Every covered value is stored in the file (no filters): a count beyond that is damage.
    if (records > shape[0] || row_size == 0 || records > file_size / 8 / row_size)
      throw damaged("/" + name + " cannot hold the " + std::to_string(records) + " records its checksum covers");
    h5::Handle file_space(h5::check(H5Dget_space(dataset.id()), file, name, "get the dataspace of"),
                          h5::Kind::Dataspace);
    // In blocks of about 64 Ki values, so that memory stays small whatever the file claims.
    const std::uint64_t block_rows = std::max<std::uint64_t>(1, 65536 / row_size);
    std::vector<unsigned char> bytes;
    std::uint64_t sum = 0, index = 0;
    for (std::uint64_t first = 0; first < records; first += block_rows) {
      std::vector<hsize_t> start(shape.size(), 0), count = shape;
      start[0] = first;
      count[0] = std::min(block_rows, records - first);
      h5::check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
                file, name, "select records of");
      const hsize_t values = count[0] * row_size;
      h5::Handle memory_space(h5::check(H5Screate_simple(1, &values, nullptr), file, name, "create memory space for"),
                              h5::Kind::Dataspace);
      bytes.resize(values * 8);
      h5::check(H5Dread(dataset.id(), memory_type, memory_space.id(), file_space.id(), H5P_DEFAULT, bytes.data()),
                file, name, "read");
      for (hsize_t v = 0; v < values; ++v) {
        std::uint64_t bits = 0;
        for (int b = 7; b >= 0; --b) bits = (bits << 8) | bytes[v * 8 + static_cast<std::size_t>(b)];
        sum += value_term(index++, bits);
      }
    }
    if (sum != expected) throw damaged("stored values of /" + name + " do not match their checksum");
  }
}

}  // namespace

void RunFile::carry_snapshots(const fs::path& from, std::int64_t up_to_step) {
  Impl& f = *impl_;
  if (f.snapshot_plan.empty()) return;
  const std::string shown = from.string();
  try {
    h5::Handle file = open_for_resume(from);
    if (!h5::exists(file.id(), "snapshots")) return;
    h5::Handle steps = h5::open_dataset(file.id(), "snapshots/steps");
    for (std::int64_t step : h5::read_ints(steps.id())) {
      if (step > up_to_step || !std::binary_search(f.snapshot_plan.begin(), f.snapshot_plan.end(), step)) continue;
      State snapshot;
      for (const auto& field : f.snapshot_fields) {
        const std::string name = field.kind + "/" + field.field;
        h5::Handle dataset = h5::open_dataset(file.id(), "snapshots/" + std::to_string(step) + "/" + name);
        const auto shape = h5::shape(dataset.id());
        const std::size_t count = shape.size() == 1 ? static_cast<std::size_t>(shape[0]) : 0;
        State::Entry entry{field.type, count, std::vector<std::byte>(count * State::size_of(field.type))};
        if (count > 0)
          h5::check(H5Dread(dataset.id(), h5::native_type(field.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, entry.bytes.data()),
                    file.id(), "snapshots/" + std::to_string(step) + "/" + name, "read");
        snapshot.put_entry(name, std::move(entry));
      }
      write_snapshot(step, snapshot);
    }
  } catch (const h5::Error& e) {
    throw InputError("cannot read the snapshots of output file '" + shown + "' to resume it (" + e.what() + ")");
  }
}

const fs::path& RunFile::path() const { return impl_->path; }

void RunFile::moved_to(const fs::path& path) { impl_->path = path; }

StoredRecords read_records(const fs::path& path, const ModelSpec& model, const std::string& scenario_text,
                           std::int64_t up_to_step) {
  const std::string shown = path.string();
  StoredRecords out;
  try {
    h5::Handle file = open_for_resume(path);
    h5::Handle scenario = h5::open_group(file.id(), "scenario");
    if (h5::read_string_attribute(scenario.id(), "text") != scenario_text)
      throw InputError("output file '" + shown + "' holds another scenario than the checkpoint");
    verify_record_hashes(file.id(), shown);
    h5::Handle series = h5::open_group(file.id(), "series");
    h5::Handle step = h5::open_dataset(series.id(), "step");
    const auto steps = h5::read_ints(step.id());
    std::size_t n = 0;
    while (n < steps.size() && steps[n] <= up_to_step) ++n;
    out.steps.assign(steps.begin(), steps.begin() + static_cast<std::ptrdiff_t>(n));
    h5::Handle time = h5::open_dataset(series.id(), model.time_name);
    const auto times = h5::read_doubles(time.id());
    if (times.size() < n) throw InputError("output file '" + shown + "' is incomplete");
    out.times.assign(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(n));
    out.values.assign(n, std::vector<double>(model.series.size()));
    for (std::size_t s = 0; s < model.series.size(); ++s) {
      h5::Handle d = h5::open_dataset(series.id(), model.series[s].name);
      const auto values = h5::read_doubles(d.id());
      if (values.size() < n) throw InputError("output file '" + shown + "' is incomplete");
      for (std::size_t r = 0; r < n; ++r) out.values[r][s] = values[r];
    }
    out.regions.assign(n, {});
    if (!model.region_series.empty()) {
      h5::Handle regions = h5::open_group(file.id(), "regions");
      const std::size_t count = model.region_series.size();
      for (std::size_t s = 0; s < count; ++s) {
        h5::Handle d = h5::open_dataset(regions.id(), model.region_series[s].name);
        const auto shape = h5::shape(d.id());
        if (shape.size() != 2 || shape[0] < n) throw InputError("output file '" + shown + "' is incomplete");
        const auto width = static_cast<std::size_t>(shape[1]);
        const auto values = h5::read_doubles(d.id());
        for (std::size_t r = 0; r < n; ++r) {
          if (s == 0) out.regions[r].assign(count * width, 0.0);
          if (out.regions[r].size() != count * width)
            throw InputError("output file '" + shown + "' has region series of different widths");
          std::copy(values.begin() + static_cast<std::ptrdiff_t>(r * width),
                    values.begin() + static_cast<std::ptrdiff_t>((r + 1) * width),
                    out.regions[r].begin() + static_cast<std::ptrdiff_t>(s * width));
        }
      }
    }
    out.flows.assign(n, {});
    if (!model.sectors.empty()) {
      h5::Handle flows = h5::open_dataset(file.id(), "flows/matrix");
      const auto shape = h5::shape(flows.id());
      const auto cells = static_cast<std::size_t>(shape[1] * shape[2]);
      const auto all = h5::read_doubles(flows.id());
      if (shape[0] < n) throw InputError("output file '" + shown + "' is incomplete");
      for (std::size_t r = 0; r < n; ++r)
        out.flows[r].assign(all.begin() + static_cast<std::ptrdiff_t>(r * cells),
                            all.begin() + static_cast<std::ptrdiff_t>((r + 1) * cells));
    }
  } catch (const h5::Error& e) {
    throw InputError("cannot read output file '" + shown + "' to resume it (" + e.what() + ")");
  }
  return out;
}

void check_resumable_output(const fs::path& path, const ModelSpec& model,
                            const std::string& scenario_text, std::int64_t up_to_step) {
  run_guarded("output file", {path}, [&] {
    reading(path);
    read_records(path, model, scenario_text, up_to_step);
    if (model.snapshot_fields.empty()) return std::string();
    // The snapshots carry_snapshots copies, each field read whole in its stored type.
    try {
      h5::Handle file = open_for_resume(path);
      if (!h5::exists(file.id(), "snapshots")) return std::string();
      h5::Handle steps = h5::open_dataset(file.id(), "snapshots/steps");
      for (std::int64_t step : h5::read_ints(steps.id())) {
        if (step > up_to_step) continue;
        for (const auto& field : model.snapshot_fields) {
          const std::string name = "snapshots/" + std::to_string(step) + "/" + field.name;
          h5::Handle dataset = h5::open_dataset(file.id(), name);
          h5::Handle stored(
              h5::check(H5Dget_type(dataset.id()), file.id(), name, "get the type of"),
              h5::Kind::Datatype);
          h5::Handle type(h5::check(H5Tget_native_type(stored.id(), H5T_DIR_DEFAULT), file.id(),
                                    name, "get the type of"),
                          h5::Kind::Datatype);
          const auto shape = h5::shape(dataset.id());
          const std::size_t count = shape.size() == 1 ? static_cast<std::size_t>(shape[0]) : 0;
          std::vector<std::byte> bytes(count * H5Tget_size(type.id()));
          if (count > 0)
            h5::check(H5Dread(dataset.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()),
                      file.id(), name, "read");
        }
      }
    } catch (const h5::Error& e) {
      throw InputError("cannot read the snapshots of output file '" + path.string() +
                       "' to resume it (" + e.what() + ")");
    }
    return std::string();
  });
}

std::string output_doc_markdown(const ModelList& models) {
  std::ostringstream md;
  md << R"(# Output files

<!-- Generated by `commons-sim docs` from sim/run_file.cpp and the models' declared series.
     Edit those, not this file. -->

Every run writes one HDF5 file, format `commons-sim/1` (attribute `/meta/format`). It is
written with the HDF5 1.10 file format (`libver="latest"`), so it needs HDF5 1.10 or newer
(h5py 2.5 or newer built against it).

## Layout

```
/series/step          int64   [step]                     dimension scale "step"
/series/<time>        float64 [step]                     simulated time ("year" or "time")
/series/<name>        float64 [step]                     one per declared series
/flows/step           int64   [step]                     dimension scale "step" (same values)
/flows/<time>         float64 [step]
/flows/flow_type      string  [flow_type]                dimension scale "flow_type"
/flows/sector         string  [sector]                   dimension scale "sector"
/flows/matrix         float64 [step, flow_type, sector]  the transaction-flow matrix
/regions/step         int64   [step]                     dimension scale "step" (same values)
/regions/<time>       float64 [step]
/regions/region       int64   [region]                   dimension scale "region": 0 .. regions - 1
/regions/<name>       float64 [step, region]             one per declared region series
/snapshots/steps      int64   [snapshot]                 the steps whose snapshots are whole
/snapshots/<step>/<kind>/<field>  [agent]                one per declared snapshot field
/scenario             group, attributes only
/meta                 group, attributes
/meta/progress        int64   scalar                     steps completed at the last flush
/meta/record_hashes   uint64  [2, 1 + datasets, 2]       checksums of the stored values (below)
```

One record is written per recorded step (`[sim] record_every`, plus the initial state at step 0
and the last step). `step` holds the actual step numbers, so records need not be evenly spaced.
Strings (attributes and datasets) are variable-length UTF-8; h5py reads them as `str`.

Every extendible dataset (all but the string scales `flow_type` and `sector`, `/regions/region`
`/meta/progress` and `/meta/record_hashes`) is chunked, without filters. HDF5's metadata carries
checksums of its own (`libver="latest"`); HDF5 filters would not do for the stored values: the
last chunk is rewritten in place at every flush, and a process killed inside that write would
leave a checksummed chunk unreadable, earlier records included, where without a filter those
records stay whole. The stored values are checked against `/meta/record_hashes` instead (next
section). (Sweep files, whose chunks are written once, carry Fletcher32 checksums.)

### Checksums of the stored values: `/meta/record_hashes`

One checksum per record dataset, over the records flushed so far. The attribute `datasets` names
the record datasets in their order (`series/step`, `series/<time>`, every series in declaration
order, then `flows/step`, `flows/<time>`, `flows/matrix` and `regions/step`, `regions/<time>`,
every region series, for the groups the file has). The dataset holds two slots, `[slot, row,
column]`: row 0 is (`sequence`, `check`), and row 1 + k is (`records`, `checksum`) of dataset k.

* `checksum` is the sum modulo 2^64, over the first `records` records of the dataset (their
  values in row-major order, flat index i from 0), of FNV-1a-64 over 16 bytes: i as a
  little-endian uint64, then the value as a little-endian float64 (int64 for `step`). A sum lets
  the writer add the new records' terms at each flush and a reader hash every value at once
  (numpy); the index keeps records from trading places unseen.
* `check` is FNV-1a-64 over the little-endian bytes of the slot's other words (`sequence`, then
  every `records`, `checksum` pair). A slot whose `check` fails is ignored; of the valid slots,
  the one with the higher `sequence` holds. Each flush writes the slot of its sequence number
  (they alternate), so a kill inside that write spoils only that slot and the other, from the
  previous flush, holds. A file whose two slots both fail is refused as damaged. A finished file
  has the same checksums in both slots.

`commons-sim resume` and the loaders of `commons_analysis` (`load_dataset`, `load_flows`,
`load_regions`) check every dataset's covered records and refuse the file when one differs:
`output file 'run.h5': stored values of /series/gini do not match their checksum (damaged file)`
(exit 2; `commons_analysis.DamagedFileError` in Python). Records beyond `records` (those a run
wrote after its last flush, or while it was being killed) are not checked. Files written before
commons-sim kept checksums have no `/meta/record_hashes`; they are read unchecked (the format
stays `commons-sim/1`: the dataset is an addition that older readers ignore).

### `/series`

* `step`: the step at whose end the record was taken (0 is the initial state). It is the
  dimension scale of dimension 0 of every dataset in the group.
* `<time>`: the simulated time of the record, named by the model (`year` for models stepped in
  months, else `time`); attribute `units`. It is not a scale of its own (HDF5 cannot attach a
  scale to a scale); it is a coordinate along `step`: `step` is attached to it, and every series
  names it in a CF `coordinates` attribute, so xarray shows it as a coordinate `<time>(step)`.
* `<name>`: one float64 dataset per declared series (tables below), attributes `units`
  (`1` for dimensionless), `description` and `coordinates`.

### `/flows`

Present only for models that declare ledger sectors. `matrix[step, flow_type, sector]` is the
money moved since the previous record: inflows positive, outflows negative. Every transfer adds
to one row twice with opposite signs, so each row sums to zero; the last row, `change_in_money`,
is minus each column's sum, so each column sums to zero too (a Godley table). Only named money
creation and destruction leave a row unbalanced. `flow_type` and `sector` hold the names and
are the dimension scales of dimensions 1 and 2; the group has its own `step` scale and time
coordinate so that it opens on its own in xarray.

### `/regions`

Present only for models that declare region series (tables below). `<name>[step, region]` is
the series for each region, recorded with `/series` (same records, same flushes). The number of
regions is fixed by the run's parameters before the model is built. `region` holds the region
indices 0 to regions - 1 and is the dimension scale of dimension 1; like `/flows`, the group has
its own `step` scale and time coordinate, so `xr.open_dataset(f, engine="h5netcdf",
group="regions")` opens it on its own with dimensions `step` and `region`. Attributes `units`,
`description` and `coordinates`.

### `/snapshots`

Agent-level arrays, present only for models that declare snapshot fields and only when
`[sim] snapshot_every` is above 0: at step 0, every `snapshot_every` steps and at the last step
(at most 10000 snapshots per run). `/snapshots/<step>/<kind>/<field>` is a 1-D array, one
element per agent of that kind (its length may change between snapshots), in the element type
the model keeps it in, with attributes `units` and `description`; the group `<step>` has an
attribute `step`.

A writer in SWMR mode cannot create objects, so every planned snapshot's groups and datasets
are created, empty, with the file, and each is filled at its step: its fields are written and
flushed, then its step is appended to `/snapshots/steps` and flushed again. A snapshot listed in
`/snapshots/steps` is whole. When the run ends (complete, interrupted or failed) the groups of
snapshots it never reached are removed, so every `/snapshots/<step>` of a finished file is
whole. Only a killed run (status still `running`) leaves empty groups for the steps it did not
reach: read the steps listed in `/snapshots/steps`. A resumed run carries the snapshots up to its
checkpoint into the new file and writes the later ones, as an uninterrupted run would.

Sweep files hold no snapshots (see [sweeps.md](sweeps.md)).

### `/scenario`

Attributes only: `text`, the fully resolved scenario (running it again reproduces the run);
`file`, the scenario file named on the command line; and one string attribute per parameter,
named `section.key` (for example `sim.seed`), holding its value as written in the resolved
scenario (a schedule keeps its schedule syntax).

### `/meta`

| attribute | type | meaning |
|---|---|---|
| `format` | string | `commons-sim/1` |
| `version` | string | commons-sim version |
| `git_commit` | string | commit the program was built from (`unknown` outside git) |
| `command_line` | string | the command as typed |
| `model` | string | the model's name |
| `seed` | uint64 | `[sim] seed` |
| `threads` | int64 | OpenMP threads used |
| `phases` | string array | the model's phases, in the order of the step |
| `start_time` | string | ISO 8601, UTC |
| `end_time` | string | ISO 8601, UTC; empty until the run finishes |
| `wall_seconds` | float64 | run time; 0 until the run finishes |
| `steps_completed` | int64 | steps simulated; 0 until the run finishes |
| `status` | string | see below |

`status` is `running` while the run goes on, then `complete` (every step ran), `interrupted`
(stopped by SIGINT or SIGTERM; the last simulated state is recorded) or `failed` (the run
stopped on an error such as money not being conserved; the records before it are kept). A file
whose status is still `running` after its process ended comes from a run that was killed.

The dataset `/meta/progress` holds the number of steps completed at the last flush. It exists
because of how the file is written (next section); after the run it equals `steps_completed`.

## While a run is writing (SWMR)

The file is created with `libver="latest"`; every group, dataset, attribute and scale is
created first, then the writer switches to single-writer/multiple-reader mode
(`H5Fstart_swmr_write`). From then on it only appends records: it keeps them in memory (at
most 1024) and, at the first record `[sim] flush_every` steps after the previous flush, writes them
and flushes the file, then writes and flushes `/meta/record_hashes`, then `/meta/progress`, so a
reader sees whole records up to the last flush, and neither the checksums nor the progress ever
claim a record that is not in the file. HDF5's SWMR mode lets a writer change raw
data only, not attributes, so the attributes of `/meta` keep their initial values (`status =
running`, `steps_completed = 0`) until the run ends: then the writer closes the file, reopens it
without SWMR and sets `status`, `steps_completed`, `end_time` and `wall_seconds`.

To follow a running file, open it in SWMR read mode and refresh the datasets:

```python
import h5py
f = h5py.File("run.h5", "r", libver="latest", swmr=True)
step = f["series/step"]
step.refresh(); f["meta/progress"].refresh()
print(len(step), "records,", f["meta/progress"][()], "steps flushed")
```

A killed run (SIGKILL, power loss) leaves every flushed record readable, but HDF5 marks the file
as still open for writing, and a plain `h5py.File("run.h5", "r")` refuses it ("file is already
open for write"). Open it with `libver="latest", swmr=True` as above, or clear the mark once
with `h5clear -s run.h5` (package hdf5-tools); its `status` still says `running`. A run killed
while it was writing may leave its datasets of different lengths: HDF5 writes each dataset's new
length when it flushes its metadata, in no fixed order. The file's records are those present in
every dataset of a group (the shortest length), each of them whole and as the uninterrupted run
wrote it; they include every step up to `/meta/progress`, which is written only after the flush.
The checksums of `/meta/record_hashes` cover every record up to `/meta/progress` too (they are
written between the two) and never more records than a dataset holds; records past them are read
unchecked. `commons_analysis.load_dataset` reads exactly those records, checked, and
`commons-sim resume` rebuilds the file from them.

## Reading a finished file

With h5py:

```python
import h5py
with h5py.File("run.h5", "r") as f:
    print(dict(f["meta"].attrs))
    step = f["series/step"][:]
    series = {name: f["series"][name][:] for name in f["series"]}
    flows = f["flows/matrix"][:]             # [step, flow_type, sector]
    flow_types = f["flows/flow_type"][:].astype(str)
```

With xarray (h5netcdf engine), one group at a time, with named dimensions and coordinates:

```python
import xarray as xr
series = xr.open_dataset("run.h5", engine="h5netcdf", group="series")
df = series.to_dataframe()                   # index: step; columns: time and every series
flows = xr.open_dataset("run.h5", engine="h5netcdf", group="flows")
flows["matrix"].sel(flow_type="change_in_money")
regions = xr.open_dataset("run.h5", engine="h5netcdf", group="regions")   # dims step, region
regions.to_dataframe()                       # index: (step, region)
```

Snapshots with h5py:

```python
with h5py.File("run.h5", "r") as f:
    for step in f["snapshots/steps"][:]:
        wealth = f[f"snapshots/{step}/commoners/wealth"][:]
```

## Series by model

For each model: its series, its flow matrix, its region series and its snapshot fields.
)";

  for (const auto& model : models) {
    md << "\n### " << model.name << "\n\n";
    if (!model.summary.empty()) md << model.summary << "\n\n";
    md << "Time coordinate: `/series/" << model.time_name << "` (units `" << model.time_units
       << "`).\n\n";
    md << "| series | units | description |\n|---|---|---|\n";
    for (const auto& s : model.series)
      md << "| `" << s.name << "` | " << escape_cell(s.units) << " | " << escape_cell(s.description)
         << " |\n";
    if (model.series.empty()) md << "| (none) | | |\n";
    md << '\n';
    if (model.sectors.empty()) {
      md << "No ledger sectors: the file has no `/flows` group.\n";
    } else {
      md << "Flow types (rows of `/flows/matrix`): ";
      const auto flow_types = ledger_flow_types(model);
      for (std::size_t i = 0; i < flow_types.size(); ++i)
        md << (i == 0 ? "" : ", ") << '`' << flow_types[i] << '`';
      md << ".\n\nSectors (columns): ";
      for (std::size_t i = 0; i < model.sectors.size(); ++i)
        md << (i == 0 ? "" : ", ") << '`' << model.sectors[i] << '`';
      md << ".\n";
    }
    md << '\n';
    if (model.region_series.empty()) {
      md << "No region series: the file has no `/regions` group.\n";
    } else {
      md << "Region series (`/regions/<name>` [step, region]):\n\n| region series | units | description |\n|---|---|---|\n";
      for (const auto& s : model.region_series)
        md << "| `" << s.name << "` | " << escape_cell(s.units) << " | " << escape_cell(s.description) << " |\n";
    }
    md << '\n';
    if (model.snapshot_fields.empty()) {
      md << "No snapshot fields: `[sim] snapshot_every` writes nothing for this model.\n";
    } else {
      md << "Snapshot fields (`/snapshots/<step>/<kind>/<field>`, with `[sim] snapshot_every`):\n\n"
            "| field | units | description |\n|---|---|---|\n";
      for (const auto& s : model.snapshot_fields)
        md << "| `" << s.name << "` | " << escape_cell(s.units) << " | " << escape_cell(s.description) << " |\n";
    }
    if (!model.phase_names.empty()) {
      md << "\nPhases of the step (`/meta/phases`): ";
      for (std::size_t i = 0; i < model.phase_names.size(); ++i)
        md << (i == 0 ? "" : ", ") << '`' << model.phase_names[i] << '`';
      md << ".\n";
    }
  }
  return md.str();
}

}  // namespace sim
