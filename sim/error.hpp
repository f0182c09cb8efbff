#pragma once
// The two kinds of failure the program distinguishes, and the exit codes they map to.
#include <stdexcept>
#include <string>

namespace sim {

// Bad input from the user: a scenario, an option, a path. One line on stderr, exit code 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The simulation itself went wrong (money not conserved, a non-finite value). Exit code 3.
class RunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int exit_ok = 0;
inline constexpr int exit_input_error = 2;
inline constexpr int exit_run_error = 3;
inline constexpr int exit_sigint = 130;
inline constexpr int exit_sigterm = 143;

}  // namespace sim
