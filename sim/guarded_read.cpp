#include "sim/guarded_read.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <system_error>

#include "sim/error.hpp"

namespace sim {

namespace {

// The child's end of the pipe to its parent; -1 outside a guarded child.
int child_pipe = -1;

// What the child tells its parent: a tag and a text, as tag, 4-byte length, bytes.
enum Tag : char {
  file_tag = 'F',
  result_tag = 'O',
  input_error_tag = 'I',
  run_error_tag = 'R',
  other_error_tag = 'X'
};

void send(Tag tag, const std::string& text) {
  const auto length = static_cast<std::uint32_t>(text.size());
  std::string record(1, tag);
  record.append(reinterpret_cast<const char*>(&length), sizeof length);
  record += text;
  const char* p = record.data();
  std::size_t left = record.size();
  while (left > 0) {
    const ssize_t n = ::write(child_pipe, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone: nobody is left to tell
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

[[noreturn]] void run_child(int pipe_fd, const std::function<std::string()>& work) {
  child_pipe = pipe_fd;
  // The parent reports whatever happens here in one line; the child's own noise (a sanitizer's
  // report, glibc's "double free detected") would only break that line up.
  const int null = ::open("/dev/null", O_WRONLY);
  if (null >= 0) ::dup2(null, STDERR_FILENO);
  int code = exit_ok;
  try {
    send(result_tag, work());
  } catch (const InputError& e) {
    send(input_error_tag, e.what());
    code = exit_input_error;
  } catch (const RunError& e) {
    send(run_error_tag, e.what());
    code = exit_run_error;
  } catch (const std::exception& e) {
    send(other_error_tag, e.what());
    code = 1;
  }
  // No exit handlers: HDF5's would close, in the child, what the parent still holds.
  ::_exit(code);
}

struct ChildReport {
  std::string file;  // the last file the child said it was reading
  std::string result;
  char error_tag = 0;
  std::string error;
};

ChildReport parse(const std::string& data) {
  ChildReport report;
  std::size_t at = 0;
  while (at + 1 + sizeof(std::uint32_t) <= data.size()) {
    const char tag = data[at];
    std::uint32_t length = 0;
    std::memcpy(&length, data.data() + at + 1, sizeof length);
    at += 1 + sizeof length;
    if (at + length > data.size()) break;  // cut short by a crash
    std::string text = data.substr(at, length);
    at += length;
    if (tag == file_tag) {
      report.file = std::move(text);
    } else if (tag == result_tag) {
      report.result = std::move(text);
    } else {
      report.error_tag = tag;
      report.error = std::move(text);
    }
  }
  return report;
}

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f", seconds);
  return text;
}

}  // namespace

double file_check_seconds(const std::vector<std::filesystem::path>& files) {
  if (const char* text = std::getenv("SIM_FILE_CHECK_SECONDS")) {
    char* end = nullptr;
    const double seconds = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(seconds > 0))
      throw InputError(std::string("SIM_FILE_CHECK_SECONDS='") + text +
                       "' is not a positive number of seconds");
    return seconds;
  }
  double bytes = 0;
  for (const auto& file : files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (!ec) bytes += static_cast<double>(size);
  }
  return 60.0 + 10.0 * bytes / 100e6;
}

void reading(const std::filesystem::path& file) {
  if (child_pipe >= 0) send(file_tag, file.string());
}

std::string run_guarded(const std::string& what, const std::vector<std::filesystem::path>& files,
                        const std::function<std::string()>& work) {
  const double seconds = file_check_seconds(files);
  int fds[2];
  if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  // What the parent has buffered must not come out twice (the child never flushes, but be sure).
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::system_error(error, std::generic_category(), "fork");
  }
  if (pid == 0) {
    ::close(fds[0]);
    run_child(fds[1], work);
  }
  ::close(fds[1]);

  // Everything the child says, until it closes the pipe by exiting, or the time is up.
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(seconds));
  std::string said;
  bool timed_out = false, child_done = false;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      said.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      child_done = true;
      break;
    } else if (errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  // A child that is not done (out of time, or the pipe failed) is stopped before it is waited for.
  if (!child_done) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  const ChildReport report = parse(said);
  const std::string file = !report.file.empty() ? report.file
                           : files.empty()      ? std::string("?")
                                                : files.front().string();
  const std::string damaged = what + " '" + file + "' is damaged: the HDF5 library ";
  if (timed_out)
    throw InputError(damaged + "did not finish in " + seconds_text(seconds) + " s reading it");
  if (WIFSIGNALED(status))
    throw InputError(damaged + "crashed (signal " + std::to_string(WTERMSIG(status)) +
                     ") reading it");
  switch (report.error_tag) {
    case input_error_tag:
      throw InputError(report.error);
    case run_error_tag:
      throw RunError(report.error);
    case other_error_tag:
      throw std::runtime_error(report.error);
    default:
      break;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw InputError(damaged + "stopped (exit " + std::to_string(WEXITSTATUS(status)) +
                     ") reading it");
  return report.result;
}

}  // namespace sim
