// libFuzzer target: opening an output file for `commons-sim resume` (a run's file) and for
// `commons-sim merge` (a sweep's part file), with the commands' own reading code.
//
// The input is the file. It is read as a resumed run reads the output named by its checkpoint
// (read_records, for each model, with the scenario text the file itself claims, so the reader
// gets past that check), then merged as the only part of a sweep into a scratch file. Every
// input must give records, a merged file or an InputError (or, from merge, a RunError that left
// no file behind); anything else (a crash, another exception, a leak, a hang) is a bug.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include <unistd.h>

#include "models/all_models.hpp"
#include "sim/error.hpp"
#include "sim/h5.hpp"
#include "sim/run_file.hpp"
#include "sim/sweep.hpp"

namespace {

const std::filesystem::path& folder() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("commons-sim-fuzz-output-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

// The scenario text the file holds, or "" when it holds none that can be read.
std::string claimed_scenario(const std::filesystem::path& path) {
  try {
    sim::h5::Handle fapl = sim::h5::file_access_latest();
    H5Pset_metadata_read_attempts(fapl.id(), 1);  // as read_records: no retries on a dead file
    sim::h5::Handle file = sim::h5::open_file(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl.id());
    sim::h5::Handle scenario = sim::h5::open_group(file.id(), "scenario");
    return sim::h5::read_string_attribute(scenario.id(), "text");
  } catch (const sim::h5::Error&) {
    return "";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sim::ModelList models = models::all_models();
  const auto path = folder() / "fuzz.h5";
  const auto merged = folder() / "merged.h5";
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  const std::string text = claimed_scenario(path);
  for (const auto& model : models) {
    try {
      sim::read_records(path, model, text, std::numeric_limits<std::int64_t>::max());
    } catch (const sim::InputError&) {
    }
  }
  try {
    sim::merge_sweeps({path}, merged, true);
  } catch (const sim::InputError&) {
  } catch (const sim::RunError&) {
    // Damage that passes validation but stops the writing (an attribute index merge updates):
    // allowed only when nothing was written.
    if (std::filesystem::exists(merged) || std::filesystem::exists(merged.string() + ".merging")) __builtin_trap();
  }
  std::filesystem::remove(merged);
  return 0;
}
