#pragma once
// Reading files a user hands back to commons-sim (a run's output for `resume`, a sweep's file for
// `sweep --resume`, the parts of `merge`) in a child process.
//
// HDF5 1.10.8 itself loops forever, frees twice or reads out of bounds on some damaged files
// (tests/fuzz/hdf5-findings/, docs/reliability.md), and no checksum keeps every such file out.
// So the commands do their reading of such a file in a forked child first: a crash or a hang
// there kills only the child, and the user gets one line naming the file and exit code 2.
// The readers themselves stay unguarded for the libFuzzer targets, which must not fork.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace sim {

// How long a guarded read may take: 60 s plus 10 s per 100 MB of the files, so that big
// legitimate files are never cut short; SIM_FILE_CHECK_SECONDS (a positive number) overrides it.
double file_check_seconds(const std::vector<std::filesystem::path>& files);

// Runs `work` in a forked child and waits for it. `work` must do single-threaded work only (no
// OpenMP, no threads: the child has only the thread that forked) and may call reading() to say
// which file it is about to read. Returns the text `work` returned. An InputError or RunError
// thrown in the child is thrown here with the same message. When the child dies of a signal or runs
// past file_check_seconds(files), it is killed and InputError "<what> '<file>' is damaged: the HDF5
// library crashed (signal N) reading it" (or "did not finish in S s reading it") is thrown, naming
// the file the child said it was reading, or else the first of `files`.
std::string run_guarded(const std::string& what, const std::vector<std::filesystem::path>& files,
                        const std::function<std::string()>& work);

// Inside run_guarded's `work`: the file about to be read, named if the child dies reading it.
// Does nothing outside a guarded child.
void reading(const std::filesystem::path& file);

}  // namespace sim
