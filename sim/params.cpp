#include "sim/params.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace sim {

std::string_view kind_name(ParamKind kind) {
  switch (kind) {
    case ParamKind::Integer:
      return "integer";
    case ParamKind::Real:
      return "real";
    case ParamKind::Boolean:
      return "boolean";
    case ParamKind::Choice:
      return "choice";
    case ParamKind::Text:
      return "text";
  }
  return "unknown";
}

namespace {
ParamSpec declared(std::string name, ParamKind kind, std::string default_text) {
  ParamSpec s;
  s.name = std::move(name);
  s.kind = kind;
  s.default_text = std::move(default_text);
  return s;
}
}  // namespace

ParamSpec ParamSpec::real(std::string name, double default_value) {
  return declared(std::move(name), ParamKind::Real, format_real(default_value));
}

ParamSpec ParamSpec::integer(std::string name, std::int64_t default_value) {
  return declared(std::move(name), ParamKind::Integer, std::to_string(default_value));
}

ParamSpec ParamSpec::boolean(std::string name, bool default_value) {
  return declared(std::move(name), ParamKind::Boolean, default_value ? "true" : "false");
}

ParamSpec ParamSpec::choice(std::string name, std::vector<std::string> choices,
                            std::string default_value) {
  ParamSpec s = declared(std::move(name), ParamKind::Choice, std::move(default_value));
  s.choices = std::move(choices);
  return s;
}

ParamSpec ParamSpec::text(std::string name, std::string default_value) {
  return declared(std::move(name), ParamKind::Text, std::move(default_value));
}

std::string ParamSpec::section() const {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? std::string() : name.substr(0, dot);
}

std::string ParamSpec::key() const {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

const ParamTable& sim_params() {
  static const ParamTable table = {
      ParamSpec::text("sim.model", "")
          .with_unit("")
          .describe("The model to run (required): one of the models `commons-sim params` lists"),
      ParamSpec::integer("sim.steps", 100)
          .with_unit("steps")
          .range(0, 1e12)
          .describe("Number of steps to simulate"),
      ParamSpec::integer("sim.seed", 1)
          .range(0, 9007199254740991.0)
          .describe("Seed of every random-number stream; same seed, same run"),
      ParamSpec::integer("sim.record_every", 1)
          .with_unit("steps")
          .range(1, 1e12)
          .describe("Outputs are sampled every this many steps"),
      ParamSpec::integer("sim.flush_every", 100)
          .with_unit("steps")
          .range(1, 1e12)
          .describe("The output file is flushed (made durable and visible to readers) at the first "
                    "record at least this many steps after the previous flush"),
      ParamSpec::integer("sim.snapshot_every", 0)
          .with_unit("steps")
          .range(0, 1e12)
          .describe("Agent snapshots (/snapshots/<step>/<kind>/<field>) at step 0, every this many steps "
                    "and at the last step; 0 writes none. Only models that declare snapshot fields write them"),
  };
  return table;
}

const ParamTable& sweep_params() {
  static const ParamTable table = {
      ParamSpec::choice("sweep.design", {"grid", "lhs", "sobol", "morris"}, "grid")
          .describe("Design of a sweep (docs/sweeps.md); `--design` overrides it"),
      ParamSpec::integer("sweep.samples", 0)
          .range(0, 1e9)
          .describe("lhs: points; sobol: base samples N; morris: trajectories; `--samples` overrides it"),
      ParamSpec::integer("sweep.levels", 4)
          .range(2, 1000)
          .describe("morris: grid levels (even); `--levels` overrides it"),
      ParamSpec::integer("sweep.replicas", 1)
          .with_unit("runs")
          .range(1, 1e9)
          .describe("Runs per design point, each with its own seed; `--replicas` overrides it"),
  };
  return table;
}

// ---- ParamValues --------------------------------------------------------------------------

namespace {

[[noreturn]] void wrong_kind(std::string_view name, const ParamValue& v, std::string_view asked) {
  throw std::logic_error("parameter '" + std::string(name) + "' is " +
                         std::string(v.spec ? kind_name(v.spec->kind) : "undeclared") + ", not " +
                         std::string(asked));
}

void require_constant(std::string_view name, const ParamValue& v) {
  if (!v.schedule.is_constant()) {
    throw std::logic_error("parameter '" + std::string(name) +
                           "' has a schedule; read it with ParamValues::schedule()");
  }
}

bool is(const ParamValue& v, ParamKind kind) { return v.spec && v.spec->kind == kind; }

}  // namespace

void ParamValues::set(std::string name, ParamValue value) {
  values_.insert_or_assign(std::move(name), std::move(value));
}

bool ParamValues::contains(std::string_view name) const {
  return values_.find(name) != values_.end();
}

const ParamValue& ParamValues::at(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) {
    throw std::logic_error("parameter '" + std::string(name) + "' is not declared");
  }
  return it->second;
}

double ParamValues::real(std::string_view name) const {
  const ParamValue& v = at(name);
  if (!is(v, ParamKind::Real) && !is(v, ParamKind::Integer)) wrong_kind(name, v, "real");
  require_constant(name, v);
  return v.schedule.at(0);
}

std::int64_t ParamValues::integer(std::string_view name) const {
  const ParamValue& v = at(name);
  if (!is(v, ParamKind::Integer)) wrong_kind(name, v, "integer");
  require_constant(name, v);
  // From the text, not the schedule's double, so values above 2^53 stay exact.
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(v.text.data(), v.text.data() + v.text.size(), out);
  if (ec != std::errc{} || end != v.text.data() + v.text.size()) {
    return static_cast<std::int64_t>(v.schedule.at(0));
  }
  return out;
}

bool ParamValues::boolean(std::string_view name) const {
  const ParamValue& v = at(name);
  if (!is(v, ParamKind::Boolean)) wrong_kind(name, v, "boolean");
  require_constant(name, v);
  return v.schedule.at(0) != 0.0;
}

const std::string& ParamValues::choice(std::string_view name) const {
  const ParamValue& v = at(name);
  if (!is(v, ParamKind::Choice)) wrong_kind(name, v, "choice");
  require_constant(name, v);
  const double index = v.schedule.at(0);
  if (index < 0 || index >= static_cast<double>(v.spec->choices.size())) {
    throw std::logic_error("parameter '" + std::string(name) + "' holds no valid choice");
  }
  return v.spec->choices[static_cast<std::size_t>(index)];
}

const std::string& ParamValues::text(std::string_view name) const { return at(name).text; }

const Schedule& ParamValues::schedule(std::string_view name) const {
  const ParamValue& v = at(name);
  if (!v.spec || v.spec->kind == ParamKind::Text) wrong_kind(name, v, "schedulable");
  return v.schedule;
}

// ---- Rendering ----------------------------------------------------------------------------

namespace {

std::string range_text(const ParamSpec& p) {
  switch (p.kind) {
    case ParamKind::Integer:
    case ParamKind::Real: {
      if (std::isinf(p.min) && std::isinf(p.max)) return "";
      // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string&&.
      std::string range = "[";
      range += format_real(p.min);
      range += ", ";
      range += format_real(p.max);
      range += "]";
      return range;
    }
    case ParamKind::Boolean:
      return "true, false";
    case ParamKind::Choice: {
      std::string out;
      for (const auto& c : p.choices) out += (out.empty() ? "" : ", ") + c;
      return out;
    }
    case ParamKind::Text:
      return "";
  }
  return "";
}

std::string type_text(const ParamSpec& p) {
  return std::string(kind_name(p.kind)) + (p.schedulable ? "~" : "");
}

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string params_as_text(const std::string& title, const ParamTable& table) {
  const std::vector<std::string> header = {"name", "type",  "default",
                                           "unit", "range", "description"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : table) {
    rows.push_back({p.name, type_text(p), p.default_text.empty() ? "\"\"" : p.default_text, p.unit,
                    range_text(p), p.description});
  }
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string out = "  ";
    for (std::size_t c = 0; c + 1 < cells.size(); ++c) out += pad(cells[c], width[c] + 2);
    out += cells.back();
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::size_t description_column = 2;
  for (std::size_t c = 0; c + 1 < header.size(); ++c) description_column += width[c] + 2;

  std::string out = title + "\n" + line(header);
  bool any_schedulable = false;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += line(rows[i]);
    if (!table[i].source.empty()) {
      out += std::string(description_column, ' ') + "source: " + table[i].source + "\n";
    }
    any_schedulable = any_schedulable || table[i].schedulable;
  }
  if (any_schedulable) out += "  (~ may be given as a schedule, see docs/scenarios.md)\n";
  return out;
}

std::string params_as_markdown(const std::string& title, const ParamTable& table) {
  std::string out = "## " + title + "\n\n";
  out += "| Name | Type | Default | Unit | Range | Description | Source |\n";
  out += "| --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& p : table) {
    const std::string type =
        std::string(kind_name(p.kind)) + (p.schedulable ? " (schedulable)" : "");
    out += "| `" + p.name + "` | " + type + " | " +
           (p.default_text.empty() ? std::string() : std::string("`").append(md_cell(p.default_text)).append("`")) + " | " +
           md_cell(p.unit) + " | " + md_cell(range_text(p)) + " | " + md_cell(p.description) +
           " | " + md_cell(p.source) + " |\n";
  }
  return out;
}

}  // namespace sim
