// run_guarded: work in a child process whose crash, hang or error comes back as one exception.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <functional>
#include <string>

#include "sim/error.hpp"
#include "sim/guarded_read.hpp"

namespace {

// Sets an environment variable for the life of a test.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// Dies of `signal` in the child, past the handlers Catch (and a sanitizer) installed.
[[noreturn]] void die_of(int signal) {
  std::signal(signal, SIG_DFL);
  std::raise(signal);
  ::_exit(99);
}

bool starts_with(const std::string& text, const std::string& start) {
  return text.rfind(start, 0) == 0;
}

std::string refusal(const std::function<std::string()>& work) {
  try {
    sim::run_guarded("test file", {"first.h5", "second.h5"}, work);
  } catch (const sim::InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

}  // namespace

TEST_CASE("a guarded child's result comes back to the parent", "[guarded_read]") {
  CHECK(sim::run_guarded("test file", {"a.h5"}, [] { return std::string("42 runs"); }) ==
        "42 runs");
}

TEST_CASE("a guarded child's InputError and RunError come back with their messages",
          "[guarded_read]") {
  CHECK(refusal([]() -> std::string { throw sim::InputError("bad part 'x.h5'"); }) ==
        "bad part 'x.h5'");
  CHECK_THROWS_MATCHES(sim::run_guarded("test file", {"a.h5"},
                                        []() -> std::string { throw sim::RunError("disk full"); }),
                       sim::RunError, Catch::Matchers::Message("disk full"));
}

TEST_CASE("a guarded child that crashes is reported with the file it was reading",
          "[guarded_read]") {
  const std::string message = refusal([]() -> std::string {
    sim::reading("second.h5");
    die_of(SIGSEGV);
  });
  CHECK(
      starts_with(message, "test file 'second.h5' is damaged: the HDF5 library crashed (signal "));
  CHECK(message.size() > 12);
  CHECK(message.substr(message.size() - 12) == ") reading it");
  // Before it names a file, the first of the files is blamed.
  CHECK(starts_with(refusal([]() -> std::string { die_of(SIGABRT); }),
                    "test file 'first.h5' is damaged: the HDF5 library crashed (signal "));
}

TEST_CASE("a guarded child that does not finish in time is killed", "[guarded_read]") {
  ScopedEnv limit("SIM_FILE_CHECK_SECONDS", "1");
  const auto start = std::chrono::steady_clock::now();
  const std::string message = refusal([]() -> std::string {
    for (;;) ::pause();
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(message ==
        "test file 'first.h5' is damaged: the HDF5 library did not finish in 1 s reading it");
  CHECK(seconds < 10);
}

TEST_CASE(
    "the time limit grows with the files and SIM_FILE_CHECK_SECONDS must be a positive number",
    "[guarded_read]") {
  CHECK(sim::file_check_seconds({"/no/such/file"}) == 60.0);
  {
    ScopedEnv limit("SIM_FILE_CHECK_SECONDS", "2.5");
    CHECK(sim::file_check_seconds({}) == 2.5);
  }
  ScopedEnv bad("SIM_FILE_CHECK_SECONDS", "soon");
  CHECK_THROWS_AS(sim::file_check_seconds({}), sim::InputError);
}
