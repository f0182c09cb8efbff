// libFuzzer target: opening a checkpoint for `commons-sim resume`.
//
// The first byte of an input is a mode, the rest becomes the checkpoint file:
//   even: the rest is the whole file, as it lies on disk (the user block's checks come first);
//   odd:  with SIM_FUZZ_HDF5=1 only, the rest is the HDF5 part, and a valid user block is put
//         in front of it, so damaged HDF5 content reaches the HDF5 library itself. commons-sim
//         never does that (the checksum refuses such a file first), so this mode fuzzes HDF5:
//         what it finds is reported upstream (docs/reliability.md), not replayed by CI. Without
//         the variable, odd inputs are whole files too.
// The file then goes through resume_run, the command's own path, which reads and checks the
// checkpoint, loads its scenario and restores the model before it looks at the output file
// (which the seeds' checkpoints name but which does not exist here). Every input must end in an
// InputError; anything else (a crash, another exception, a leak, a hang) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "models/all_models.hpp"
#include "sim/checkpoint.hpp"
#include "sim/error.hpp"
#include "sim/runner.hpp"

namespace {

const std::filesystem::path& folder() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("commons-sim-fuzz-checkpoint-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sim::ModelList models = models::all_models();
  if (size == 0) return 0;
  static const bool fuzz_hdf5 = [] {
    const char* v = std::getenv("SIM_FUZZ_HDF5");
    return v && std::string(v) == "1";
  }();
  const bool sealed = fuzz_hdf5 && (data[0] & 1);
  const auto path = folder() / "fuzz.checkpoint";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (sealed) out << std::string(512, '\0');
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    if (sealed) sim::seal_checkpoint(path, path);
    sim::RunOptions options;
    options.threads = 1;
    sim::resume_run(path, options, models);
    // Only a checkpoint with its output file could get here, and the fuzzer has none.
    __builtin_trap();
  } catch (const sim::InputError&) {
  }
  return 0;
}
