#include "sim/checkpoint.hpp"

#include <hdf5.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "sim/error.hpp"
#include "sim/h5.hpp"
#include "sim/version.hpp"

namespace sim {
namespace {

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

// The file starts with a user block that HDF5 skips (h5py reads the file as usual): the format,
// the version that wrote it, the size of the HDF5 part and an FNV-1a checksum of its bytes.
// Reading checks all four before HDF5 parses anything, so a truncated or damaged checkpoint is
// refused by this code and never reaches the HDF5 library's own parser.
constexpr std::size_t user_block = 512;

struct Header {
  std::string format, version;
  std::uint64_t size = 0, sum = 0;
};

std::string header_text(const Header& h) {
  char line[128];
  std::snprintf(line, sizeof line, "size %" PRIu64 "\nfnv1a %016" PRIx64 "\n", h.size, h.sum);
  return h.format + "\nversion " + h.version + "\n" + line;
}

// The size and checksum of the bytes of `path` after the user block; nullopt-like false when
// the file cannot be read.
bool file_checksum(const std::filesystem::path& path, std::uint64_t& size, std::uint64_t& sum) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  in.seekg(static_cast<std::streamoff>(user_block));
  if (!in) return false;
  Checksum hash;
  std::array<char, 1 << 16> buffer;
  size = 0;
  while (in) {
    in.read(buffer.data(), buffer.size());
    const auto got = static_cast<std::size_t>(in.gcount());
    hash.add(buffer.data(), got);
    size += got;
  }
  if (in.bad()) return false;
  sum = hash.value();
  return true;
}

}  // namespace

void seal_checkpoint(const std::filesystem::path& temporary, const std::filesystem::path& shown) {
  Header h{checkpoint_format, version, 0, 0};
  if (!file_checksum(temporary, h.size, h.sum))
    throw InputError("cannot write checkpoint '" + shown.string() + "': cannot read it back");
  std::string text = header_text(h);
  text.resize(user_block, '\0');
  const int fd = ::open(temporary.c_str(), O_WRONLY);
  bool ok = fd >= 0 && ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  const int saved = errno;
  if (fd >= 0) ok = (::close(fd) == 0) && ok;
  if (!ok) throw InputError("cannot write checkpoint '" + shown.string() + "': " + std::strerror(saved));
}

namespace {

// Checks the user block (format, version, size, checksum) before HDF5 opens the file.
void check_header(const std::filesystem::path& path) {
  const std::string shown = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot read checkpoint '" + shown + "': " + std::strerror(errno));
  std::string block(user_block, '\0');
  in.read(block.data(), static_cast<std::streamsize>(block.size()));
  block.resize(static_cast<std::size_t>(in.gcount()));
  block = block.substr(0, block.find('\0'));
  std::istringstream lines(block);
  Header h;
  std::string word;
  std::getline(lines, h.format);
  if (h.format.rfind("commons-sim-checkpoint/", 0) != 0)
    throw InputError("cannot read checkpoint '" + shown + "': not a commons-sim checkpoint of format 2 or later");
  if (h.format != checkpoint_format)
    throw InputError("checkpoint '" + shown + "' has format '" + h.format + "'; this commons-sim reads '" +
                     checkpoint_format + "'");
  if (!(lines >> word >> h.version) || word != "version")
    throw InputError("checkpoint '" + shown + "' is corrupt: its header is damaged");
  if (h.version != sim::version)
    throw InputError("checkpoint '" + shown + "' was written by commons-sim " + h.version +
                     "; resume it with that version (this is " + sim::version + ")");
  std::string hex;
  if (!(lines >> word >> h.size) || word != "size" || !(lines >> word >> hex) || word != "fnv1a" || hex.size() != 16)
    throw InputError("checkpoint '" + shown + "' is corrupt: its header is damaged");
  h.sum = std::strtoull(hex.c_str(), nullptr, 16);
  std::uint64_t size = 0, sum = 0;
  if (!file_checksum(path, size, sum)) throw InputError("cannot read checkpoint '" + shown + "': " + std::strerror(errno));
  if (size != h.size)
    throw InputError("checkpoint '" + shown + "' is truncated or damaged: it holds " + std::to_string(size) +
                     " bytes of " + std::to_string(h.size));
  if (sum != h.sum)
    throw InputError("checkpoint '" + shown + "' is corrupt: its checksum does not match its contents");
}

}  // namespace

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& c) {
  const std::filesystem::path temporary = path.string() + ".writing";
  h5::silence_errors();
  {
    h5::Handle file;
    try {
      h5::Handle fcpl(H5Pcreate(H5P_FILE_CREATE), h5::Kind::PropertyList);
      h5::check_file(H5Pset_userblock(fcpl.id(), user_block), temporary, "set the user block of");
      // The newest format checksums the HDF5 metadata too.
      const h5::Handle fapl = h5::file_access_latest();
      file = h5::Handle(h5::check_file(H5Fcreate(temporary.c_str(), H5F_ACC_TRUNC, fcpl.id(), fapl.id()),
                                       temporary, "create"),
                        h5::Kind::File);
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
      h5::Handle d(h5::check(H5Dcreate2(state.id(), name.c_str(), h5::native_type(entry.type), space.id(), H5P_DEFAULT,
                                        H5P_DEFAULT, H5P_DEFAULT),
                             state.id(), name, "create"),
                   h5::Kind::Dataset);
      if (count > 0)
        h5::check(H5Dwrite(d.id(), h5::native_type(entry.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, entry.bytes.data()),
                  state.id(), name, "write");
    }
    file.close();
  }
  seal_checkpoint(temporary, path);
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    throw InputError("cannot write checkpoint '" + path.string() + "': " + std::strerror(errno));
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  const std::string shown = path.string();
  if (!std::filesystem::exists(path)) throw InputError("cannot read checkpoint '" + shown + "': No such file or directory");
  check_header(path);
  const std::uint64_t file_size = std::filesystem::file_size(path);
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
        if (H5Tequal(type.id(), h5::native_type(t)) > 0) {
          entry.type = t;
          known = true;
          break;
        }
      if (!known) throw InputError("checkpoint '" + shown + "': entry '" + name + "' has an unknown type");
      const auto shape = h5::shape(d.id());
      // Entries are one-dimensional and no larger than the file (a damaged shape must not
      // make the read below overrun its buffer or ask for terabytes).
      if (shape.size() > 1)
        throw InputError("checkpoint '" + shown + "': entry '" + name + "' has " + std::to_string(shape.size()) +
                         " dimensions; entries have one");
      entry.count = shape.empty() ? 1 : static_cast<std::size_t>(shape[0]);
      if (entry.count > file_size / State::size_of(entry.type))
        throw InputError("checkpoint '" + shown + "': entry '" + name + "' claims " + std::to_string(entry.count) +
                         " values, more than the file holds");
      entry.bytes.resize(entry.count * State::size_of(entry.type));
      if (entry.count > 0)
        h5::check(H5Dread(d.id(), h5::native_type(entry.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, entry.bytes.data()),
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
