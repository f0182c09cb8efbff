// libFuzzer target: the scenario parser (files, includes, --set values, schedules).
//
// An input is up to three parts separated by a line "----": a scenario file main.ini, a file
// inc.ini it may include, and --set overrides, one per line. Every input must give a Scenario or
// an InputError; anything else (a crash, another exception, a hang) is a bug.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "models/all_models.hpp"
#include "sim/error.hpp"
#include "sim/scenario.hpp"

namespace {

const std::filesystem::path& folder() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("commons-sim-fuzz-scenario-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

std::vector<std::string> split(std::string_view text, std::string_view separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(separator, start);
    parts.emplace_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + separator.size();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const sim::ModelList models = models::all_models();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto parts = split(input, "\n----\n");
  const auto main_file = folder() / "main.ini";
  std::ofstream(main_file, std::ios::binary) << parts[0];
  std::ofstream(folder() / "inc.ini", std::ios::binary) << (parts.size() > 1 ? parts[1] : "");
  std::vector<std::string> overrides;
  if (parts.size() > 2)
    for (auto& line : split(parts[2], "\n"))
      if (!line.empty()) overrides.push_back(line);
  try {
    const sim::Scenario scenario = sim::load_scenario(main_file, overrides, models);
    // A resolved scenario must read back as itself.
    std::ofstream(folder() / "resolved.ini", std::ios::binary) << scenario.resolved_text;
    const sim::Scenario again = sim::load_scenario(folder() / "resolved.ini", {}, models);
    if (again.resolved_text != scenario.resolved_text) __builtin_trap();
  } catch (const sim::InputError&) {
  }
  return 0;
}
