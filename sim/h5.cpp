#include "sim/h5.hpp"

#include <hdf5_hl.h>

#include <cstdlib>
#include <stdexcept>
#include <utility>

namespace sim::h5 {

namespace {

// The most specific entry of HDF5's error stack ("object 'x' doesn't exist"), which says more
// than the API function that failed. Must run before any other HDF5 call, since every API
// call clears the stack on entry. `io_failed`, when given, tells whether the operating system
// refused a read or write: the innermost entry is then the file driver's, of class H5E_IO (outer
// entries of that class also wrap other failures, such as a chunk that fails its checksum).
std::string innermost_reason(bool* io_failed = nullptr) {
  struct Walk {
    std::string reason;
    bool io_failed = false;
  } walk;
  auto take_first = [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
    auto* out = static_cast<Walk*>(data);
    if (n != 0) return 0;
    if (err->desc != nullptr) out->reason = err->desc;
    out->io_failed = err->maj_num == H5E_IO;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, &walk);
  if (io_failed != nullptr) *io_failed = walk.io_failed;
  const std::string& reason = walk.reason;
  H5Eclear2(H5E_DEFAULT);
  // Some reasons span lines (a failed write lists time, file, errno...): errors are one line.
  std::string one_line;
  for (char c : reason) {
    if (c == '\n' || c == '\r') c = ' ';
    if (c == ' ' && !one_line.empty() && one_line.back() == ' ') continue;
    one_line += c;
  }
  return one_line;
}

std::string file_name_of(hid_t loc) {
  ssize_t n = H5Fget_name(loc, nullptr, 0);
  if (n <= 0) return "?";
  std::string name(static_cast<std::size_t>(n) + 1, '\0');
  H5Fget_name(loc, name.data(), name.size());
  name.resize(static_cast<std::size_t>(n));
  return name;
}

std::string object_name_of(hid_t loc, std::string_view object) {
  if (!object.empty() && object.front() == '/') return std::string(object);
  std::string base;
  ssize_t n = H5Iget_name(loc, nullptr, 0);
  if (n > 0) {
    base.assign(static_cast<std::size_t>(n) + 1, '\0');
    H5Iget_name(loc, base.data(), base.size());
    base.resize(static_cast<std::size_t>(n));
  }
  if (object.empty()) return base.empty() ? "/" : base;
  if (base.empty() || base.back() != '/') base += '/';
  return base + std::string(object);
}

std::string with_reason(std::string message, const std::string& reason) {
  if (!reason.empty()) message += ": " + reason;
  return message;
}

template <class T>
T read_scalar_attribute(hid_t obj, const std::string& name, hid_t memory_type) {
  Handle attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), obj, name, "open attribute"),
              Kind::Attribute);
  T value{};
  check(H5Aread(attr.id(), memory_type, &value), obj, name, "read attribute");
  return value;
}

template <class T>
void write_scalar_attribute(hid_t obj, const std::string& name, hid_t type, const T& value) {
  if (check(H5Aexists(obj, name.c_str()), obj, name, "look up attribute") > 0)
    check(H5Adelete(obj, name.c_str()), obj, name, "replace attribute");
  Handle space(check(H5Screate(H5S_SCALAR), obj, name, "create dataspace"), Kind::Dataspace);
  Handle attr(check(H5Acreate2(obj, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT), obj,
                    name, "create attribute"),
              Kind::Attribute);
  check(H5Awrite(attr.id(), type, &value), obj, name, "write attribute");
}

std::vector<const char*> c_strings(const std::vector<std::string>& values) {
  std::vector<const char*> pointers;
  pointers.reserve(values.size());
  for (const auto& v : values) pointers.push_back(v.c_str());
  return pointers;
}

// Copies variable-length strings HDF5 allocated into std::strings and gives the memory back.
std::vector<std::string> take_strings(std::vector<char*>& raw, hid_t type, hid_t space) {
  std::vector<std::string> out;
  out.reserve(raw.size());
  for (char* s : raw) out.emplace_back(s != nullptr ? s : "");
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, raw.data());
  return out;
}

}  // namespace

void silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

void fail(hid_t loc, std::string_view object, std::string_view action) {
  bool io_failed = false;
  std::string reason = innermost_reason(&io_failed);
  std::string message = "HDF5: cannot " + std::string(action) + " '" + object_name_of(loc, object) +
                        "' in '" + file_name_of(loc) + "'";
  H5Eclear2(H5E_DEFAULT);
  throw Error(with_reason(std::move(message), reason), io_failed);
}

void fail_file(const std::filesystem::path& file, std::string_view action) {
  bool io_failed = false;
  std::string reason = innermost_reason(&io_failed);
  throw Error(
      with_reason("HDF5: cannot " + std::string(action) + " '" + file.string() + "'", reason),
      io_failed);
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = std::exchange(other.id_, H5I_INVALID_HID);
    kind_ = other.kind_;
  }
  return *this;
}

namespace {
herr_t close_id(hid_t id, Kind kind) {
  switch (kind) {
    case Kind::File: return H5Fclose(id);
    case Kind::Group: return H5Gclose(id);
    case Kind::Dataset: return H5Dclose(id);
    case Kind::Dataspace: return H5Sclose(id);
    case Kind::Datatype: return H5Tclose(id);
    case Kind::Attribute: return H5Aclose(id);
    case Kind::PropertyList: return H5Pclose(id);
  }
  return -1;
}
}  // namespace

void Handle::close() {
  if (id_ < 0) return;
  hid_t id = std::exchange(id_, H5I_INVALID_HID);
  // A file's name must be read before it is closed, for the message.
  std::string file = kind_ == Kind::File ? file_name_of(id) : std::string();
  if (close_id(id, kind_) < 0) {
    bool io_failed = false;
    std::string reason = innermost_reason(&io_failed);
    throw Error(with_reason(kind_ == Kind::File ? "HDF5: cannot close '" + file + "'"
                                                : std::string("HDF5: cannot close an object"),
                            reason),
                io_failed);
  }
}

void Handle::reset() noexcept {
  if (id_ < 0) return;
  close_id(id_, kind_);
  id_ = H5I_INVALID_HID;
  H5Eclear2(H5E_DEFAULT);
}

Handle file_access_latest() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), Kind::PropertyList);
  if (!fapl || H5Pset_libver_bounds(fapl.id(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST) < 0)
    throw Error(with_reason("HDF5: cannot make a file access property list", innermost_reason()));
  return fapl;
}

Handle create_file(const std::filesystem::path& path, hid_t fapl) {
  silence_errors();
  return Handle(check_file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), path, "create"),
                Kind::File);
}

Handle open_file(const std::filesystem::path& path, unsigned flags, hid_t fapl) {
  silence_errors();
  return Handle(check_file(H5Fopen(path.c_str(), flags, fapl), path, "open"), Kind::File);
}

Handle create_group(hid_t loc, const std::string& name) {
  // Creation order is tracked so that h5py and xarray list members and attributes in the order
  // they were declared (series as the model declares them) rather than alphabetically.
  Handle gcpl(check(H5Pcreate(H5P_GROUP_CREATE), loc, name, "create properties for group"),
              Kind::PropertyList);
  const unsigned order = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
  check(H5Pset_link_creation_order(gcpl.id(), order), loc, name, "track link order of group");
  check(H5Pset_attr_creation_order(gcpl.id(), order), loc, name, "track attribute order of group");
  return Handle(check(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl.id(), H5P_DEFAULT), loc, name,
                      "create group"),
                Kind::Group);
}

Handle open_group(hid_t loc, const std::string& name) {
  return Handle(check(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), loc, name, "open group"), Kind::Group);
}

Handle open_dataset(hid_t loc, const std::string& name) {
  return Handle(check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), loc, name, "open dataset"),
                Kind::Dataset);
}

bool exists(hid_t loc, const std::string& name) {
  return check(H5Lexists(loc, name.c_str(), H5P_DEFAULT), loc, name, "look up") > 0;
}

Handle string_type() {
  Handle type(H5Tcopy(H5T_C_S1), Kind::Datatype);
  if (!type || H5Tset_size(type.id(), H5T_VARIABLE) < 0 ||
      H5Tset_cset(type.id(), H5T_CSET_UTF8) < 0)
    throw Error(with_reason("HDF5: cannot make a string type", innermost_reason()));
  return type;
}

Extendible Extendible::create(hid_t loc, const std::string& name, hid_t file_type,
                              std::vector<hsize_t> row_shape, hsize_t chunk_rows) {
  Extendible out;
  out.name_ = name;
  out.shape_.push_back(0);
  out.shape_.insert(out.shape_.end(), row_shape.begin(), row_shape.end());
  for (hsize_t n : row_shape) out.row_size_ *= n;
  std::vector<hsize_t> max_shape = out.shape_;
  max_shape[0] = H5S_UNLIMITED;
  std::vector<hsize_t> chunk = out.shape_;
  chunk[0] = chunk_rows < 1 ? 1 : chunk_rows;
  // A zero-sized trailing dimension cannot be chunked; such a dataset never holds data anyway.
  for (auto& c : chunk)
    if (c == 0) c = 1;

  auto rank = static_cast<int>(out.shape_.size());
  Handle space(check(H5Screate_simple(rank, out.shape_.data(), max_shape.data()), loc, name,
                     "create dataspace for"),
               Kind::Dataspace);
  Handle dcpl(check(H5Pcreate(H5P_DATASET_CREATE), loc, name, "create properties for"),
              Kind::PropertyList);
  check(H5Pset_chunk(dcpl.id(), rank, chunk.data()), loc, name, "set chunking of");
  // No Fletcher32 here (sweep files have it): a run file's last chunk is rewritten in place at
  // every flush, and a kill inside that write would leave the whole chunk failing its checksum,
  // records written long before included. Without it the flushed records stay readable whole
  // (their bytes do not change), which crash safety needs (docs/reliability.md).
  out.dataset_ = Handle(check(H5Dcreate2(loc, name.c_str(), file_type, space.id(), H5P_DEFAULT,
                                         dcpl.id(), H5P_DEFAULT),
                              loc, name, "create dataset"),
                        Kind::Dataset);
  return out;
}

Extendible Extendible::open(hid_t loc, const std::string& name) {
  Extendible out;
  out.name_ = name;
  out.dataset_ = open_dataset(loc, name);
  out.shape_ = shape(out.dataset_.id());
  if (out.shape_.empty()) fail(loc, name, "extend the scalar dataset");
  out.rows_ = out.shape_[0];
  for (std::size_t d = 1; d < out.shape_.size(); ++d) out.row_size_ *= out.shape_[d];
  return out;
}

void Extendible::append(const void* values, std::size_t count, hid_t memory_type) {
  append_raw(values, count, memory_type);
}

void Extendible::append(std::span<const double> values) {
  append_raw(values.data(), values.size(), H5T_NATIVE_DOUBLE);
}

void Extendible::append(std::span<const std::int64_t> values) {
  append_raw(values.data(), values.size(), H5T_NATIVE_INT64);
}

void Extendible::append_raw(const void* values, std::size_t count, hid_t memory_type) {
  if (row_size_ == 0 || count % row_size_ != 0)
    throw std::logic_error("h5::Extendible::append: " + std::to_string(count) +
                           " values are not whole rows of " + std::to_string(row_size_) + " for '" +
                           name_ + "'");
  hsize_t new_rows = count / row_size_;
  if (new_rows == 0) return;
  hid_t id = dataset_.id();
  std::vector<hsize_t> extent = shape_;
  extent[0] = rows_ + new_rows;
  check(H5Dset_extent(id, extent.data()), id, "", "extend dataset");
  shape_ = extent;

  Handle file_space(check(H5Dget_space(id), id, "", "get dataspace of"), Kind::Dataspace);
  std::vector<hsize_t> start(shape_.size(), 0);
  start[0] = rows_;
  std::vector<hsize_t> block = shape_;
  block[0] = new_rows;
  check(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr, block.data(),
                            nullptr),
        id, "", "select rows of");
  auto rank = static_cast<int>(block.size());
  Handle memory_space(check(H5Screate_simple(rank, block.data(), nullptr), id, "", "create memory space for"),
                      Kind::Dataspace);
  check(H5Dwrite(id, memory_type, memory_space.id(), file_space.id(), H5P_DEFAULT, values), id, "",
        "write rows of");
  rows_ += new_rows;
}

Handle write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
  Handle type = string_type();
  hsize_t n = values.size();
  Handle space(check(H5Screate_simple(1, &n, nullptr), loc, name, "create dataspace for"),
               Kind::Dataspace);
  Handle dataset(check(H5Dcreate2(loc, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT,
                                  H5P_DEFAULT),
                       loc, name, "create dataset"),
                 Kind::Dataset);
  auto pointers = c_strings(values);
  if (!pointers.empty())
    check(H5Dwrite(dataset.id(), type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), loc, name,
          "write dataset");
  return dataset;
}

Handle write_ints(hid_t loc, const std::string& name, const std::vector<std::int64_t>& values) {
  hsize_t n = values.size();
  Handle space(check(H5Screate_simple(1, &n, nullptr), loc, name, "create dataspace for"),
               Kind::Dataspace);
  Handle dataset(check(H5Dcreate2(loc, name.c_str(), H5T_STD_I64LE, space.id(), H5P_DEFAULT,
                                  H5P_DEFAULT, H5P_DEFAULT),
                       loc, name, "create dataset"),
                 Kind::Dataset);
  if (!values.empty())
    check(H5Dwrite(dataset.id(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), loc,
          name, "write dataset");
  return dataset;
}

void remove(hid_t loc, const std::string& name) {
  check(H5Ldelete(loc, name.c_str(), H5P_DEFAULT), loc, name, "remove");
}

std::vector<std::string> members(hid_t loc) {
  H5G_info_t info;
  check(H5Gget_info(loc, &info), loc, "", "list the members of");
  // Creation order when the group tracks it, so members come back as they were declared.
  H5_index_t index = H5_INDEX_NAME;
  {
    Handle gcpl(check(H5Gget_create_plist(loc), loc, "", "get properties of"), Kind::PropertyList);
    unsigned flags = 0;
    check(H5Pget_link_creation_order(gcpl.id(), &flags), loc, "", "get link order of");
    if ((flags & H5P_CRT_ORDER_INDEXED) != 0) index = H5_INDEX_CRT_ORDER;
  }
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t size = check(H5Lget_name_by_idx(loc, ".", index, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT),
                               loc, "", "list the members of");
    std::string name(static_cast<std::size_t>(size), '\0');
    check(H5Lget_name_by_idx(loc, ".", index, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT), loc,
          "", "list the members of");
    names.push_back(std::move(name));
  }
  return names;
}

Handle create_scalar(hid_t loc, const std::string& name, hid_t file_type) {
  Handle space(check(H5Screate(H5S_SCALAR), loc, name, "create dataspace for"), Kind::Dataspace);
  return Handle(check(H5Dcreate2(loc, name.c_str(), file_type, space.id(), H5P_DEFAULT, H5P_DEFAULT,
                                 H5P_DEFAULT),
                      loc, name, "create dataset"),
                Kind::Dataset);
}

void write_scalar(hid_t dataset, std::int64_t value) {
  check(H5Dwrite(dataset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value), dataset, "",
        "write dataset");
}

void write_attribute(hid_t obj, const std::string& name, const std::string& value) {
  Handle type = string_type();
  write_scalar_attribute(obj, name, type.id(), value.c_str());
}

void write_attribute(hid_t obj, const std::string& name, const char* value) {
  write_attribute(obj, name, std::string(value));
}

void write_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values) {
  if (check(H5Aexists(obj, name.c_str()), obj, name, "look up attribute") > 0)
    check(H5Adelete(obj, name.c_str()), obj, name, "replace attribute");
  Handle type = string_type();
  hsize_t n = values.size();
  Handle space(check(H5Screate_simple(1, &n, nullptr), obj, name, "create dataspace"), Kind::Dataspace);
  Handle attr(check(H5Acreate2(obj, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), obj,
                    name, "create attribute"),
              Kind::Attribute);
  auto pointers = c_strings(values);
  if (!pointers.empty())
    check(H5Awrite(attr.id(), type.id(), pointers.data()), obj, name, "write attribute");
}

void write_attribute(hid_t obj, const std::string& name, std::int64_t value) {
  write_scalar_attribute(obj, name, H5T_NATIVE_INT64, value);
}

void write_attribute(hid_t obj, const std::string& name, std::uint64_t value) {
  write_scalar_attribute(obj, name, H5T_NATIVE_UINT64, value);
}

void write_attribute(hid_t obj, const std::string& name, double value) {
  write_scalar_attribute(obj, name, H5T_NATIVE_DOUBLE, value);
}

std::string read_string_attribute(hid_t obj, const std::string& name) {
  auto values = read_strings_attribute(obj, name);
  if (values.size() != 1) fail(obj, name, "read a single string from attribute");
  return values.front();
}

std::vector<std::string> read_strings_attribute(hid_t obj, const std::string& name) {
  Handle attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), obj, name, "open attribute"),
              Kind::Attribute);
  Handle space(check(H5Aget_space(attr.id()), obj, name, "get dataspace of attribute"),
               Kind::Dataspace);
  auto n = check(H5Sget_simple_extent_npoints(space.id()), obj, name, "size attribute");
  Handle type = string_type();
  std::vector<char*> raw(static_cast<std::size_t>(n), nullptr);
  check(H5Aread(attr.id(), type.id(), raw.data()), obj, name, "read attribute");
  return take_strings(raw, type.id(), space.id());
}

std::int64_t read_int_attribute(hid_t obj, const std::string& name) {
  return read_scalar_attribute<std::int64_t>(obj, name, H5T_NATIVE_INT64);
}

std::uint64_t read_uint_attribute(hid_t obj, const std::string& name) {
  return read_scalar_attribute<std::uint64_t>(obj, name, H5T_NATIVE_UINT64);
}

double read_double_attribute(hid_t obj, const std::string& name) {
  return read_scalar_attribute<double>(obj, name, H5T_NATIVE_DOUBLE);
}

std::vector<hsize_t> shape(hid_t dataset) {
  Handle space(check(H5Dget_space(dataset), dataset, "", "get dataspace of"), Kind::Dataspace);
  int rank = check(H5Sget_simple_extent_ndims(space.id()), dataset, "", "get rank of");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr), dataset, "", "get shape of");
  return dims;
}

namespace {
template <class T>
std::vector<T> read_all(hid_t dataset, hid_t memory_type) {
  Handle space(check(H5Dget_space(dataset), dataset, "", "get dataspace of"), Kind::Dataspace);
  auto n = check(H5Sget_simple_extent_npoints(space.id()), dataset, "", "size");
  std::vector<T> values(static_cast<std::size_t>(n));
  if (n > 0)
    check(H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), dataset, "",
          "read dataset");
  return values;
}
}  // namespace

std::vector<double> read_doubles(hid_t dataset) { return read_all<double>(dataset, H5T_NATIVE_DOUBLE); }

std::vector<std::int64_t> read_ints(hid_t dataset) {
  return read_all<std::int64_t>(dataset, H5T_NATIVE_INT64);
}

std::vector<std::string> read_strings(hid_t dataset) {
  Handle space(check(H5Dget_space(dataset), dataset, "", "get dataspace of"), Kind::Dataspace);
  auto n = check(H5Sget_simple_extent_npoints(space.id()), dataset, "", "size");
  Handle type = string_type();
  std::vector<char*> raw(static_cast<std::size_t>(n), nullptr);
  if (n > 0)
    check(H5Dread(dataset, type.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()), dataset, "",
          "read dataset");
  return take_strings(raw, type.id(), space.id());
}

void make_scale(hid_t dataset, const std::string& dimension_name) {
  check(H5DSset_scale(dataset, dimension_name.c_str()), dataset, "", "make a dimension scale of");
}

void attach_scale(hid_t dataset, hid_t scale, unsigned dimension) {
  check(H5DSattach_scale(dataset, scale, dimension), dataset, "",
        "attach dimension scale " + object_name_of(scale, "") + " to");
}

hid_t native_type(State::Type type) {
  switch (type) {
    case State::Type::F64: return H5T_NATIVE_DOUBLE;
    case State::Type::I64: return H5T_NATIVE_INT64;
    case State::Type::U64: return H5T_NATIVE_UINT64;
    case State::Type::I32: return H5T_NATIVE_INT32;
    case State::Type::U32: return H5T_NATIVE_UINT32;
    case State::Type::U8: return H5T_NATIVE_UINT8;
  }
  throw std::logic_error("unknown State::Type");
}

}  // namespace sim::h5
