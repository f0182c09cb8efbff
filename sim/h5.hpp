#pragma once
// A thin RAII layer over the HDF5 C API and its high-level dimension-scale functions.
//
// Every HDF5 call of the engine goes through here so that (1) every identifier is closed with
// the right H5*close, even when an exception unwinds, and (2) every failure becomes an
// exception that names the file and the object, instead of HDF5's error stack on stderr.
// HDF5 is not thread-safe as Debian builds it: call these on the main thread only.
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sim/error.hpp"
#include "sim/state.hpp"

namespace sim::h5 {

// An HDF5 call failed. The message names the action, the object, the file and HDF5's reason.
class Error : public sim::RunError {
 public:
  explicit Error(const std::string& message, bool io_failed = false)
      : sim::RunError(message), io_failed_(io_failed) {}
  // The operating system refused a read or a write (a full disk, a file-size limit), rather than
  // HDF5 finding something wrong in a file.
  bool io_failed() const noexcept { return io_failed_; }

 private:
  bool io_failed_ = false;
};

// Stops HDF5 from printing its error stack to stderr; errors arrive as h5::Error instead.
// Idempotent and cheap; every function below that opens or creates a file calls it.
void silence_errors();

// Throws h5::Error for `action` on `object` (a name relative to `loc`, or empty for `loc`
// itself), naming the file `loc` belongs to and the innermost reason on HDF5's error stack.
[[noreturn]] void fail(hid_t loc, std::string_view object, std::string_view action);
// The same, for calls that have no location yet (creating or opening a file).
[[noreturn]] void fail_file(const std::filesystem::path& file, std::string_view action);

// Returns `rc` unless it is negative (HDF5's failure for herr_t, hid_t and htri_t alike).
template <class T>
T check(T rc, hid_t loc, std::string_view object, std::string_view action) {
  if (rc < 0) fail(loc, object, action);
  return rc;
}
template <class T>
T check_file(T rc, const std::filesystem::path& file, std::string_view action) {
  if (rc < 0) fail_file(file, action);
  return rc;
}

enum class Kind { File, Group, Dataset, Dataspace, Datatype, Attribute, PropertyList };

// Owns one HDF5 identifier. Move-only; closing errors in the destructor are swallowed, so
// close() a file explicitly where its last metadata write must be known to have succeeded.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, Kind kind) noexcept : id_(id), kind_(kind) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_), kind_(other.kind_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t id() const noexcept { return id_; }
  Kind kind() const noexcept { return kind_; }
  explicit operator bool() const noexcept { return id_ >= 0; }

  void close();           // throws h5::Error when HDF5 reports a failure
  void reset() noexcept;  // closes, ignoring failures

 private:
  hid_t id_ = H5I_INVALID_HID;
  Kind kind_ = Kind::File;
};

// Files. The access list asks for the newest format (superblock v3), which SWMR requires.
Handle file_access_latest();
Handle create_file(const std::filesystem::path& path, hid_t fapl);  // truncates
Handle open_file(const std::filesystem::path& path, unsigned flags, hid_t fapl = H5P_DEFAULT);

Handle create_group(hid_t loc, const std::string& name);
Handle open_group(hid_t loc, const std::string& name);
Handle open_dataset(hid_t loc, const std::string& name);
bool exists(hid_t loc, const std::string& name);  // a link `name` directly under `loc`

// A variable-length UTF-8 string type, which h5py and h5netcdf read as str.
Handle string_type();

// A dataset that grows along dimension 0 by whole rows of shape `row_shape`: created with
// extent [0, row_shape...], maximum [unlimited, row_shape...], chunks of `chunk_rows` rows
// (no checksum: see Extendible::create).
// It remembers its length, so an append costs one extent change and one write.
class Extendible {
 public:
  Extendible() = default;
  static Extendible create(hid_t loc, const std::string& name, hid_t file_type,
                           std::vector<hsize_t> row_shape, hsize_t chunk_rows);
  // Opens an extendible dataset created earlier (under SWMR too: opening creates nothing).
  static Extendible open(hid_t loc, const std::string& name);

  // Appends values.size() / row size rows; values.size() must be a whole number of rows.
  void append(std::span<const double> values);
  void append(std::span<const std::int64_t> values);
  // The same for `count` values of any type in memory (`memory_type`, e.g. H5T_NATIVE_UINT8).
  void append(const void* values, std::size_t count, hid_t memory_type);

  hsize_t rows() const { return rows_; }
  hsize_t row_size() const { return row_size_; }
  const Handle& handle() const { return dataset_; }
  hid_t id() const { return dataset_.id(); }
  void close() { dataset_.close(); }

 private:
  void append_raw(const void* values, std::size_t count, hid_t memory_type);

  Handle dataset_;
  std::string name_;
  std::vector<hsize_t> shape_;  // current extent; shape_[0] == rows_
  hsize_t rows_ = 0;
  hsize_t row_size_ = 1;
};

// A 1-D dataset of variable-length UTF-8 strings, written once.
Handle write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values);
// A 1-D int64 dataset, written once.
Handle write_ints(hid_t loc, const std::string& name, const std::vector<std::int64_t>& values);
// Removes the link `name` under `loc` (the object goes when nothing else links to it).
void remove(hid_t loc, const std::string& name);
// The names of the links directly under the group `loc`, in creation order where it is tracked
// (else by name).
std::vector<std::string> members(hid_t loc);
// A scalar dataset (contiguous, so rewriting it touches raw data only, which SWMR allows).
Handle create_scalar(hid_t loc, const std::string& name, hid_t file_type);
void write_scalar(hid_t dataset, std::int64_t value);

// Attributes, created or replaced. Strings are variable-length UTF-8 (h5py reads str).
// The deleted template stops an int or a bool from silently picking an overload.
void write_attribute(hid_t obj, const std::string& name, const std::string& value);
void write_attribute(hid_t obj, const std::string& name, const char* value);
void write_attribute(hid_t obj, const std::string& name, const std::vector<std::string>& values);
void write_attribute(hid_t obj, const std::string& name, std::int64_t value);
void write_attribute(hid_t obj, const std::string& name, std::uint64_t value);
void write_attribute(hid_t obj, const std::string& name, double value);
template <class T>
void write_attribute(hid_t obj, const std::string& name, T value) = delete;

// Reading back, for tests and tools.
std::string read_string_attribute(hid_t obj, const std::string& name);
std::vector<std::string> read_strings_attribute(hid_t obj, const std::string& name);
std::int64_t read_int_attribute(hid_t obj, const std::string& name);
std::uint64_t read_uint_attribute(hid_t obj, const std::string& name);
double read_double_attribute(hid_t obj, const std::string& name);
std::vector<hsize_t> shape(hid_t dataset);
std::vector<double> read_doubles(hid_t dataset);  // every element, row-major
std::vector<std::int64_t> read_ints(hid_t dataset);
std::vector<std::string> read_strings(hid_t dataset);

// Dimension scales (hdf5_hl). A scale cannot have scales attached to it, so only datasets that
// are coordinates of their own dimension (step, flow_type, sector) become scales.
void make_scale(hid_t dataset, const std::string& dimension_name);
void attach_scale(hid_t dataset, hid_t scale, unsigned dimension);

// The native (in-memory) HDF5 type of a State column type, for checkpoints and snapshots.
hid_t native_type(State::Type type);

}  // namespace sim::h5
