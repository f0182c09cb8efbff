#pragma once
// Parameter declarations and resolved parameter values.
//
// Each model declares its parameters once, in a ParamTable. That one table generates the
// Boost.Program_options options, the range checks, `commons-sim params`, the `/scenario`
// attributes of the output file and docs/parameters.md.
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "sim/schedule.hpp"

namespace sim {

enum class ParamKind { Integer, Real, Boolean, Choice, Text };

std::string_view kind_name(ParamKind kind);

struct ParamSpec {
  std::string name;                 // dotted, `section.key`: "exchange.chi"
  ParamKind kind = ParamKind::Real;
  std::string default_text;         // the default as written in a scenario file
  std::string unit = "1";           // "1" for dimensionless
  double min = -std::numeric_limits<double>::infinity();  // inclusive, Integer and Real
  double max = std::numeric_limits<double>::infinity();   // inclusive, Integer and Real
  std::vector<std::string> choices;  // the allowed values of a Choice
  std::string description;          // one line
  std::string source;               // citation, or empty
  bool schedulable = false;         // may be given as a schedule (see docs/scenarios.md)

  // Builders, so that a table reads as a table:
  //   ParamSpec::real("exchange.chi", 0.0).unit("1/time").range(0, 1).describe("...").cite("...")
  static ParamSpec real(std::string name, double default_value);
  static ParamSpec integer(std::string name, std::int64_t default_value);
  static ParamSpec boolean(std::string name, bool default_value);
  static ParamSpec choice(std::string name, std::vector<std::string> choices, std::string default_value);
  static ParamSpec text(std::string name, std::string default_value);
  ParamSpec& with_unit(std::string u) { unit = std::move(u); return *this; }
  ParamSpec& range(double lo, double hi) { min = lo; max = hi; return *this; }
  ParamSpec& describe(std::string d) { description = std::move(d); return *this; }
  ParamSpec& cite(std::string s) { source = std::move(s); return *this; }
  ParamSpec& allow_schedule() { schedulable = true; return *this; }

  std::string section() const;  // "exchange" for "exchange.chi"
  std::string key() const;      // "chi" for "exchange.chi"
};

using ParamTable = std::vector<ParamSpec>;

// The engine's own parameters, section [sim]: model, steps, seed, record_every, flush_every.
const ParamTable& sim_params();

// Section [sweep], read by `commons-sim sweep` only: design, samples, levels, replicas. The
// varied parameters are keys `vary.<parameter> = lo:hi:n` or `= a,b,c` in the same section.
const ParamTable& sweep_params();

// One resolved parameter: its declaration, the text it was given as and its value over time.
struct ParamValue {
  const ParamSpec* spec = nullptr;
  std::string text;        // normalised text, as written back to the resolved scenario
  Schedule schedule;       // constant unless the parameter was given a schedule;
                           // a Choice holds the index of the chosen value
  std::string origin;      // "file.ini:12", "--set" or "default"
};

// Every parameter of a run, resolved. Lookups by name happen once, when a model reads its
// parameters into a typed struct; asking for an undeclared name or the wrong kind is a
// programming error (std::logic_error).
class ParamValues {
 public:
  void set(std::string name, ParamValue value);
  bool contains(std::string_view name) const;
  const ParamValue& at(std::string_view name) const;

  double real(std::string_view name) const;            // Real (constant) or Integer
  std::int64_t integer(std::string_view name) const;   // Integer (constant)
  bool boolean(std::string_view name) const;
  const std::string& choice(std::string_view name) const;  // Choice (constant): the chosen value
  const std::string& text(std::string_view name) const;    // Text, or any value's text
  const Schedule& schedule(std::string_view name) const;   // any schedulable value

  const std::map<std::string, ParamValue, std::less<>>& all() const { return values_; }

 private:
  std::map<std::string, ParamValue, std::less<>> values_;
};

// Renders a parameter table for `commons-sim params` and docs/parameters.md.
std::string params_as_text(const std::string& title, const ParamTable& table);
std::string params_as_markdown(const std::string& title, const ParamTable& table);

}  // namespace sim
