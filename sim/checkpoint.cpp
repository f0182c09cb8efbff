#include "sim/checkpoint.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sim/error.hpp"
#include "sim/h5.hpp"
#include "sim/version.hpp"

namespace sim {
namespace {

hid_t native_type(State::Type type) {
  switch (type) {
    case State::Type::F64: return H5T_NATIVE_DOUBLE;
    case State::Type::I64: return H5T_NATIVE_INT64;
    case State::Type::U64: return H5T_NATIVE_UINT64;
    case State::Type::I32: return H5T_NATIVE_INT32;
    case State::Type::U32: return H5T_NATIVE_UINT32;
    case State::Type::U8: return H5T_NATIVE_UINT8;
  }
  return H5T_NATIVE_UINT8;
}

std::size_t type_size(State::Type type) {
  switch (type) {
    case State::Type::F64:
    case State::Type::I64:
    case State::Type::U64: return 8;
    case State::Type::I32:
    case State::Type::U32: return 4;
    case State::Type::U8: return 1;
  }
  return 1;
}

// FNV-1a over everything a checkpoint holds, so a flipped bit anywhere is caught on reading.
class Checksum {
 public:
  void add(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) hash_ = (hash_ ^ bytes[i]) * 0x100000001b3ull;
  }
  void add(const std::string& text) {
    add(text.data(), text.size());
    add(std::int64_t{static_cast<std::int64_t>(text.size())});
  }
  void add(std::int64_t value) { add(&value, sizeof value); }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

std::uint64_t checksum(const Checkpoint& c) {
  Checksum sum;
  for (const std::string* text : {&c.version, &c.model, &c.scenario_text})
    sum.add(*text);
  sum.add(c.scenario_file.string());
  sum.add(c.out.string());
  for (std::int64_t v : {c.step, c.last_recorded, c.last_flushed, c.checkpoint_every}) sum.add(v);
  for (const auto& [name, entry] : c.state.entries()) {
    sum.add(name);
    sum.add(static_cast<std::int64_t>(entry.type));
    sum.add(static_cast<std::int64_t>(entry.count));
    sum.add(entry.bytes.data(), entry.bytes.size());
  }
  return sum.value();
}

}  // namespace

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& c) {
  const std::filesystem::path temporary = path.string() + ".writing";
  h5::silence_errors();
  {
    h5::Handle file;
    try {
      file = h5::create_file(temporary, H5P_DEFAULT);
    } catch (const h5::Error& e) {
      throw InputError("cannot write checkpoint '" + path.string() + "' (" + e.what() + ")");
    }
    h5::Handle g = h5::create_group(file.id(), "checkpoint");
    h5::write_attribute(g.id(), "format", checkpoint_format);
    h5::write_attribute(g.id(), "version", c.version);
    h5::write_attribute(g.id(), "git_commit", git_commit);
    h5::write_attribute(g.id(), "model", c.model);
    h5::write_attribute(g.id(), "scenario_text", c.scenario_text);
    h5::write_attribute(g.id(), "scenario_file", c.scenario_file.string());
    h5::write_attribute(g.id(), "out", c.out.string());
    h5::write_attribute(g.id(), "step", c.step);
    h5::write_attribute(g.id(), "last_recorded", c.last_recorded);
    h5::write_attribute(g.id(), "last_flushed", c.last_flushed);
    h5::write_attribute(g.id(), "checkpoint_every", c.checkpoint_every);
    h5::write_attribute(g.id(), "checksum", checksum(c));
    h5::Handle state = h5::create_group(file.id(), "state");
    for (const auto& [name, entry] : c.state.entries()) {
      const hsize_t count = entry.count;
      h5::Handle space(h5::check(H5Screate_simple(1, &count, nullptr), state.id(), name, "create dataspace"),
                       h5::Kind::Dataspace);
      h5::Handle d(h5::check(H5Dcreate2(state.id(), name.c_str(), native_type(entry.type), space.id(), H5P_DEFAULT,
                                        H5P_DEFAULT, H5P_DEFAULT),
                             state.id(), name, "create"),
                   h5::Kind::Dataset);
      if (count > 0)
        h5::check(H5Dwrite(d.id(), native_type(entry.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, entry.bytes.data()),
                  state.id(), name, "write");
    }
    file.close();
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    throw InputError("cannot write checkpoint '" + path.string() + "': " + std::strerror(errno));
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  const std::string shown = path.string();
  if (!std::filesystem::exists(path)) throw InputError("cannot read checkpoint '" + shown + "': No such file or directory");
  Checkpoint c;
  std::uint64_t stored = 0;
  try {
    h5::Handle file = h5::open_file(path, H5F_ACC_RDONLY);
    if (!h5::exists(file.id(), "checkpoint") || !h5::exists(file.id(), "state"))
      throw InputError("'" + shown + "' is not a commons-sim checkpoint");
    h5::Handle g = h5::open_group(file.id(), "checkpoint");
    const std::string format = h5::read_string_attribute(g.id(), "format");
    if (format != checkpoint_format)
      throw InputError("checkpoint '" + shown + "' has format '" + format + "'; this commons-sim reads '" +
                       checkpoint_format + "'");
    c.version = h5::read_string_attribute(g.id(), "version");
    if (c.version != sim::version)
      throw InputError("checkpoint '" + shown + "' was written by commons-sim " + c.version +
                       "; resume it with that version (this is " + sim::version + ")");
    c.model = h5::read_string_attribute(g.id(), "model");
    c.scenario_text = h5::read_string_attribute(g.id(), "scenario_text");
    c.scenario_file = h5::read_string_attribute(g.id(), "scenario_file");
    c.out = h5::read_string_attribute(g.id(), "out");
    c.step = h5::read_int_attribute(g.id(), "step");
    c.last_recorded = h5::read_int_attribute(g.id(), "last_recorded");
    c.last_flushed = h5::read_int_attribute(g.id(), "last_flushed");
    c.checkpoint_every = h5::read_int_attribute(g.id(), "checkpoint_every");
    stored = h5::read_uint_attribute(g.id(), "checksum");
    h5::Handle state = h5::open_group(file.id(), "state");
    H5G_info_t info;
    h5::check(H5Gget_info(state.id(), &info), state.id(), "", "list");
    for (hsize_t i = 0; i < info.nlinks; ++i) {
      const ssize_t size = H5Lget_name_by_idx(state.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
      std::string name(static_cast<std::size_t>(std::max<ssize_t>(size, 0)), '\0');
      H5Lget_name_by_idx(state.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
      h5::Handle d = h5::open_dataset(state.id(), name);
      h5::Handle type(H5Dget_type(d.id()), h5::Kind::Datatype);
      State::Entry entry{};
      bool known = false;
      for (auto t : {State::Type::F64, State::Type::I64, State::Type::U64, State::Type::I32, State::Type::U32,
                     State::Type::U8})
        if (H5Tequal(type.id(), native_type(t)) > 0) {
          entry.type = t;
          known = true;
          break;
        }
      if (!known) throw InputError("checkpoint '" + shown + "': entry '" + name + "' has an unknown type");
      const auto shape = h5::shape(d.id());
      entry.count = shape.empty() ? 1 : static_cast<std::size_t>(shape[0]);
      entry.bytes.resize(entry.count * type_size(entry.type));
      if (entry.count > 0)
        h5::check(H5Dread(d.id(), native_type(entry.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, entry.bytes.data()),
                  state.id(), name, "read");
      c.state.put_entry(name, std::move(entry));
    }
  } catch (const h5::Error& e) {
    throw InputError("cannot read checkpoint '" + shown + "': corrupt or not a checkpoint (" + e.what() + ")");
  }
  if (checksum(c) != stored)
    throw InputError("checkpoint '" + shown + "' is corrupt: its checksum does not match its contents");
  return c;
}

}  // namespace sim
