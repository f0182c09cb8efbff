#include "sim/scenario.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "sim/error.hpp"

namespace sim {

const ModelSpec* find_model(const ModelList& models, const std::string& name) {
  for (const auto& m : models) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string nearest_name(const std::string& name, const std::vector<std::string>& candidates) {
  const auto distance = [](const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
  std::string best;
  std::size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    const std::size_t d = distance(name, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

namespace {

namespace po = boost::program_options;
namespace fs = std::filesystem;

constexpr const char* kWhitespace = " \t\r\n";

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(kWhitespace);
  return std::string(s.substr(first, last - first + 1));
}

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates) {
  const std::string near = nearest_name(name, candidates);
  return near.empty() ? std::string() : " (did you mean '" + near + "'?)";
}

// One `key = value` as given in a file or with --set.
struct Entry {
  std::string name;
  std::string value;
  std::string origin;  // "file.ini:12" or "--set"
  int line = 0;        // 0 for --set
};

// A scenario file as read: the text handed to Boost and the entries Boost found in it.
struct FileText {
  std::string display;    // the path as the user would write it, for messages
  std::string sanitized;  // what Boost parses: `;` comment lines blanked, line numbers kept
  std::vector<Entry> entries;
};

// Reads the whole file or returns the system's reason why not.
bool read_text(const fs::path& path, std::string& text, std::string& reason) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    reason = std::strerror(EISDIR);
    return false;
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    reason = std::strerror(errno != 0 ? errno : ENOENT);
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    reason = std::strerror(errno != 0 ? errno : EIO);
    return false;
  }
  text = buffer.str();
  return true;
}

// Boost's config-file parser reports no line numbers, so this scanner walks the lines the same
// way (a `#` starts a comment anywhere, `[section]` prefixes the keys after it with
// `section.`) and records where each `key = value` line is. It also blanks `;` comment lines,
// which Boost would reject, and reports malformed lines with their number.
struct ScannedKey {
  std::string name;
  int line;
};

std::vector<ScannedKey> scan(const std::string& display, const std::string& text,
                             std::string& sanitized) {
  std::vector<ScannedKey> keys;
  std::string prefix;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    if (line == 1 && raw.rfind("\xEF\xBB\xBF", 0) == 0) raw.erase(0, 3);  // UTF-8 byte order mark
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    std::string s = raw;
    if (const auto hash = s.find('#'); hash != std::string::npos) s.erase(hash);
    s = trim(s);
    const std::string where = display + ":" + std::to_string(line) + ": ";
    if (s.empty() || trim(raw).front() == ';') {
      sanitized += "\n";
      continue;
    }
    sanitized += raw + "\n";
    if (s.front() == '[') {
      if (s.back() != ']')
        throw InputError(where + "section header '" + s + "' has no closing ']'");
      std::string section = s.substr(1, s.size() - 2);
      if (trim(section).empty()) throw InputError(where + "empty section name '[]'");
      if (trim(section) != section) {
        throw InputError(where + "section name '" + section + "' has spaces around it");
      }
      prefix = section.back() == '.' ? section : section + ".";
      continue;
    }
    const auto equals = s.find('=');
    if (equals == std::string::npos) {
      throw InputError(where + "expected 'key = value' or '[section]', got '" + s + "'");
    }
    const std::string key = trim(s.substr(0, equals));
    if (key.empty()) throw InputError(where + "no parameter name before '=' in '" + s + "'");
    keys.push_back({prefix + key, line});
  }
  return keys;
}

// Everything Boost needs to know about the options: each parameter is a string, checked
// afterwards against its ParamSpec so that errors can name the file, line and allowed values.
// Config-file parsing in Boost matches names exactly (no guessing of abbreviations), and the
// lookups below pass approx = false for the same reason.
void add_option(po::options_description& desc, const std::string& name, const std::string& help) {
  desc.add_options()(name.c_str(), po::value<std::string>(), help.c_str());
}

// ---- Values -----------------------------------------------------------------------------

double parse_real_value(std::string_view text) {
  std::string_view s = text;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
    throw std::invalid_argument("'" + std::string(text) + "' is not a number");
  }
  if (!std::isfinite(value)) {
    throw std::invalid_argument("'" + std::string(text) + "' is not a finite number");
  }
  return value;
}

// Plain integers; `1e6` is accepted when it is exactly a whole number.
std::int64_t parse_integer_value(std::string_view text) {
  std::string_view s = text;
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (!s.empty() && ec == std::errc{} && end == s.data() + s.size()) return value;
  double real = 0;
  const auto [rend, rec] = std::from_chars(s.data(), s.data() + s.size(), real);
  if (!s.empty() && rec == std::errc{} && rend == s.data() + s.size() && std::isfinite(real) &&
      real == std::floor(real) && std::fabs(real) < 9.2e18) {
    return static_cast<std::int64_t>(real);
  }
  throw std::invalid_argument("'" + std::string(text) + "' is not an integer");
}

bool parse_boolean_value(std::string_view text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "true" || s == "yes" || s == "1") return true;
  if (s == "false" || s == "no" || s == "0") return false;
  throw std::invalid_argument("'" + std::string(text) +
                              "' is not a boolean (true, false, yes, no, 1 or 0)");
}

std::size_t parse_choice_value(const ParamSpec& spec, std::string_view text) {
  const auto it = std::find(spec.choices.begin(), spec.choices.end(), text);
  if (it != spec.choices.end()) return static_cast<std::size_t>(it - spec.choices.begin());
  throw std::invalid_argument("'" + std::string(text) + "' is not one of " + join(spec.choices) +
                              did_you_mean(std::string(text), spec.choices));
}

// Resolves one value given for `spec` at `origin`: its normalised text and schedule.
ParamValue resolve_value(const ParamSpec& spec, const std::string& given,
                         const std::string& origin) {
  ParamValue out;
  out.spec = &spec;
  out.origin = origin;
  if (spec.kind == ParamKind::Text) {
    out.text = given;
    out.schedule = Schedule::constant(0.0);
    return out;
  }

  ScheduleValueParser parse;
  ScheduleValueWriter write;
  switch (spec.kind) {
    case ParamKind::Integer:
      parse = [](std::string_view t) { return static_cast<double>(parse_integer_value(t)); };
      write = [](double v) { return std::to_string(static_cast<std::int64_t>(v)); };
      break;
    case ParamKind::Real:
      parse = parse_real_value;
      write = format_real;
      break;
    case ParamKind::Boolean:
      parse = [](std::string_view t) { return parse_boolean_value(t) ? 1.0 : 0.0; };
      write = [](double v) { return std::string(v != 0.0 ? "true" : "false"); };
      break;
    case ParamKind::Choice:
      parse = [&spec](std::string_view t) {
        return static_cast<double>(parse_choice_value(spec, t));
      };
      write = [&spec](double v) { return spec.choices.at(static_cast<std::size_t>(v)); };
      break;
    case ParamKind::Text:
      break;
  }

  const bool is_schedule = looks_like_schedule(given);
  if (is_schedule && !spec.schedulable) {
    throw InputError(origin + ": " + spec.name + " cannot change during a run, so it takes one " +
                     "value, not the schedule '" + given + "'");
  }
  try {
    const bool ramps = spec.kind == ParamKind::Integer || spec.kind == ParamKind::Real;
    out.schedule = parse_schedule(given, parse, ramps);
  } catch (const std::invalid_argument& e) {
    throw InputError(origin + ": " + spec.name + ": " +
                     (is_schedule ? "bad schedule '" + given + "': " : std::string()) + e.what());
  }

  if (spec.kind == ParamKind::Integer || spec.kind == ParamKind::Real) {
    for (const auto& p : out.schedule.points()) {
      if (p.value < spec.min || p.value > spec.max) {
        throw InputError(origin + ": " + spec.name + " = " + write(p.value) +
                         (is_schedule ? " (at step " + std::to_string(p.step) + ")" : "") +
                         " is out of range [" + format_real(spec.min) + ", " +
                         format_real(spec.max) + "]");
      }
    }
  }
  // A constant integer keeps its exact int64 text (seeds above 2^53 would not survive a double).
  if (spec.kind == ParamKind::Integer && !is_schedule) {
    out.text = std::to_string(parse_integer_value(trim(given)));
  } else {
    out.text = schedule_text(out.schedule, write);
  }
  return out;
}

// ---- Reading and composing files --------------------------------------------------------

class Loader {
 public:
  using Given = std::map<std::string, Entry, std::less<>>;

  // Reads `path` and everything it includes; returns the winning entry for each name.
  Given compose(const fs::path& path, const std::string& display, const Entry* include) {
    std::error_code ec;
    fs::path identity = fs::weakly_canonical(path, ec);
    if (ec) identity = fs::absolute(path).lexically_normal();

    if (const auto it = std::find(stack_.begin(), stack_.end(), identity); it != stack_.end()) {
      std::vector<std::string> cycle(stack_display_.begin() + (it - stack_.begin()),
                                     stack_display_.end());
      cycle.push_back(display);
      throw InputError(include->origin + ": include cycle: " + join(cycle, " -> "));
    }

    std::string text, reason;
    if (!read_text(path, text, reason)) {
      if (include) {
        throw InputError(include->origin + ": cannot read included file '" + include->value +
                         "': " + reason);
      }
      throw InputError("cannot read scenario '" + display + "': " + reason);
    }
    if (std::find(read_.begin(), read_.end(), identity) == read_.end()) {
      read_.push_back(identity);
      files_read.push_back(path);
    }

    auto file = std::make_unique<FileText>();
    file->display = display;
    const std::vector<ScannedKey> keys = scan(display, text, file->sanitized);
    file->entries = parse_leniently(*file, keys);
    check_duplicates(*file);
    files.push_back(std::move(file));
    const FileText& self = *files.back();

    stack_.push_back(identity);
    stack_display_.push_back(display);
    Given given;
    // Includes first, in order, so later includes and then this file's own keys win.
    for (const Entry& e : self.entries) {
      if (e.name != "include") continue;
      if (e.value.empty()) throw InputError(e.origin + ": 'include =' names no file");
      const fs::path target = (path.parent_path() / e.value).lexically_normal();
      for (auto& [name, entry] : compose(target, target.string(), &e)) {
        given.insert_or_assign(name, std::move(entry));
      }
    }
    for (const Entry& e : self.entries) {
      if (e.name != "include") given.insert_or_assign(e.name, e);
    }
    stack_.pop_back();
    stack_display_.pop_back();
    return given;
  }

  std::vector<std::unique_ptr<FileText>> files;  // every file read, in reading order
  std::vector<fs::path> files_read;              // each file once, in reading order

 private:
  // The first reading, before the model (and so the full option list) is known: Boost parses
  // with unregistered options allowed; the keys are checked once the model is chosen.
  static std::vector<Entry> parse_leniently(const FileText& file,
                                            const std::vector<ScannedKey>& keys) {
    po::options_description desc;
    add_option(desc, "include", "a scenario file to read first");
    std::istringstream in(file.sanitized);
    const po::parsed_options parsed = [&] {
      try {
        return po::parse_config_file(in, desc, /*allow_unregistered=*/true);
      } catch (const po::error& e) {
        throw InputError(file.display + ": " + e.what());
      }
    }();
    std::vector<Entry> entries;
    for (std::size_t i = 0; i < parsed.options.size(); ++i) {
      const auto& option = parsed.options[i];
      Entry e;
      e.name = option.string_key;
      e.value = option.value.empty() ? std::string() : option.value.front();
      // The scanner walks the lines as Boost does, so the i-th key is on the i-th key line.
      e.line = i < keys.size() ? keys[i].line : 0;
      e.origin = file.display + (e.line > 0 ? ":" + std::to_string(e.line) : std::string());
      entries.push_back(std::move(e));
    }
    return entries;
  }

  static void check_duplicates(const FileText& file) {
    std::map<std::string, int> first_line;
    for (const Entry& e : file.entries) {
      if (e.name == "include") continue;
      const auto [it, inserted] = first_line.emplace(e.name, e.line);
      if (!inserted) {
        throw InputError(e.origin + ": '" + e.name + "' is set twice in this file (first at line " +
                         std::to_string(it->second) + ")");
      }
    }
  }

  std::vector<fs::path> stack_;  // the chain of includes being read, to catch cycles
  std::vector<std::string> stack_display_;
  std::vector<fs::path> read_;
};

Entry parse_override(const std::string& text) {
  const auto equals = text.find('=');
  if (equals == std::string::npos) {
    throw InputError("--set '" + text + "': expected key=value (no '=')");
  }
  Entry e;
  e.name = trim(text.substr(0, equals));
  e.value = trim(text.substr(equals + 1));
  e.origin = "--set";
  if (e.name.empty()) throw InputError("--set '" + text + "': no parameter name before '='");
  return e;
}

std::string unknown_parameter(const Entry& e, const std::vector<std::string>& names,
                              const ModelSpec& model) {
  std::string message = e.origin + ": unknown parameter '" + e.name + "'";
  const std::string hint = did_you_mean(e.name, names);
  if (!hint.empty()) return message + hint;
  const auto dot = e.name.rfind('.');
  if (e.name.size() > 8 && e.name.compare(e.name.size() - 8, 8, ".include") == 0) {
    return message + " ('include =' must come before the first [section])";
  }
  if (dot == std::string::npos) return message + " (parameters are written in a [section])";
  const std::string section = e.name.substr(0, dot);
  const bool known_section = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
    return n.compare(0, section.size() + 1, section + ".") == 0;
  });
  if (!known_section) {
    return message + " (model '" + model.name + "' has no section [" + section + "])";
  }
  return message;
}

std::string resolved_text(const ModelSpec& model, const std::vector<const ParamSpec*>& specs,
                          const ParamValues& values) {
  std::vector<std::string> sections;
  for (const ParamSpec* s : specs) {
    if (std::find(sections.begin(), sections.end(), s->section()) == sections.end()) {
      sections.push_back(s->section());
    }
  }
  std::string out = "# Resolved scenario: every parameter of [sim] and of model '" + model.name +
                    "', defaults included.\n";
  for (std::size_t i = 0; i < sections.size(); ++i) {
    out += (i == 0 ? "" : "\n") + std::string("[") + sections[i] + "]\n";
    for (const ParamSpec* s : specs) {
      if (s->section() != sections[i]) continue;
      const std::string& text = values.at(s->name).text;
      out += s->key() + " =" + (text.empty() ? "" : " " + text) + "\n";
    }
  }
  return out;
}

}  // namespace

Scenario load_scenario(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                       const ModelList& models) {
  Loader loader;
  Loader::Given given = loader.compose(file, file.string(), nullptr);

  std::vector<Entry> set_entries;
  for (const auto& text : overrides) {
    set_entries.push_back(parse_override(text));
    given.insert_or_assign(set_entries.back().name, set_entries.back());
  }

  // The model, and with it the full list of parameters.
  std::vector<std::string> model_names;
  for (const auto& m : models) model_names.push_back(m.name);
  const std::string known_models =
      model_names.empty() ? "no models are built in" : "models: " + join(model_names);
  const auto model_entry = given.find("sim.model");
  if (model_entry == given.end()) {
    throw InputError(file.string() + ": no model chosen: add 'model = NAME' under [sim] (" +
                     known_models + ")");
  }
  const Entry& chosen = model_entry->second;
  if (chosen.value.empty()) {
    throw InputError(chosen.origin + ": sim.model is empty: name a model (" + known_models + ")");
  }
  const ModelSpec* model = find_model(models, chosen.value);
  if (!model) {
    const std::string hint = did_you_mean(chosen.value, model_names);
    throw InputError(chosen.origin + ": unknown model '" + chosen.value + "'" +
                     (hint.empty() ? " (" + known_models + ")" : hint));
  }

  std::vector<const ParamSpec*> specs;
  std::map<std::string, const ParamSpec*, std::less<>> by_name;
  std::vector<std::string> names;
  po::options_description desc;
  add_option(desc, "include", "a scenario file to read first");
  for (const ParamTable* table : {&sim_params(), &model->params}) {
    for (const ParamSpec& s : *table) {
      if (!by_name.emplace(s.name, &s).second) {
        throw std::logic_error("parameter '" + s.name + "' is declared twice (model '" +
                               model->name + "')");
      }
      specs.push_back(&s);
      names.push_back(s.name);
      add_option(desc, s.name, s.description);
    }
  }
  // [sweep]: its settings, and `vary.<parameter>` for every parameter a sweep may vary.
  for (const ParamSpec& s : sweep_params()) {
    by_name.emplace(s.name, &s);
    names.push_back(s.name);
    add_option(desc, s.name, s.description);
  }
  const std::string vary_prefix = "sweep.vary.";
  const std::size_t parameter_count = names.size() - sweep_params().size();
  for (std::size_t i = 0; i < parameter_count; ++i) {
    names.push_back(vary_prefix + names[i]);
    add_option(desc, names.back(), "a varied parameter of a sweep");
  }
  auto is_vary = [&](const std::string& name) { return name.compare(0, vary_prefix.size(), vary_prefix) == 0; };

  // The second reading: Boost parses each file against the full option list, unregistered
  // options not allowed; its error carries no line, so the entry's origin supplies it.
  for (const auto& f : loader.files) {
    std::istringstream in(f->sanitized);
    try {
      po::parse_config_file(in, desc, /*allow_unregistered=*/false);
    } catch (const po::error& error) {
      for (const Entry& e : f->entries) {
        if (!desc.find_nothrow(e.name, /*approx=*/false)) {
          throw InputError(unknown_parameter(e, names, *model));
        }
      }
      throw InputError(f->display + ": " + error.what());
    }
  }
  for (const Entry& e : set_entries) {
    if (e.name == "include") {
      throw InputError("--set include: includes can only be written in a scenario file");
    }
    if (!desc.find_nothrow(e.name, /*approx=*/false)) {
      throw InputError(unknown_parameter(e, names, *model));
    }
  }

  // Every value given anywhere must be valid, even one a later file or --set overrides: a
  // broken base file should not pass unnoticed because today's scenario hides it.
  for (const auto& f : loader.files) {
    for (const Entry& e : f->entries) {
      if (e.name != "include" && !is_vary(e.name)) resolve_value(*by_name.at(e.name), e.value, e.origin);
    }
  }
  for (const Entry& e : set_entries)
    if (!is_vary(e.name)) resolve_value(*by_name.at(e.name), e.value, e.origin);

  Scenario scenario;
  scenario.file = file;
  scenario.files_read = loader.files_read;
  scenario.model = model;
  for (const ParamSpec* s : specs) {
    const auto it = given.find(s->name);
    if (it == given.end()) {
      try {
        scenario.params.set(s->name, resolve_value(*s, s->default_text, "default"));
      } catch (const InputError& e) {
        throw std::logic_error(std::string("invalid default: ") + e.what());
      }
    } else {
      scenario.params.set(s->name, resolve_value(*s, it->second.value, it->second.origin));
    }
  }

  for (const ParamSpec& s : sweep_params()) {
    const auto it = given.find(s.name);
    scenario.sweep.set(s.name, it == given.end() ? resolve_value(s, s.default_text, "default")
                                                 : resolve_value(s, it->second.value, it->second.origin));
  }
  for (const auto& [name, entry] : given)
    if (is_vary(name)) scenario.sweep_vary.push_back(name.substr(vary_prefix.size()) + "=" + entry.value);

  scenario.steps = scenario.params.integer("sim.steps");
  scenario.seed = static_cast<std::uint64_t>(scenario.params.integer("sim.seed"));
  scenario.record_every = scenario.params.integer("sim.record_every");
  scenario.snapshot_every = scenario.params.integer("sim.snapshot_every");
  scenario.flush_every = scenario.params.integer("sim.flush_every");

  for (const ParamSpec* s : specs) {
    const ParamValue& v = scenario.params.at(s->name);
    for (const auto& p : v.schedule.points()) {
      if (p.step > scenario.steps) {
        throw InputError(v.origin + ": " + s->name + ": schedule step " + std::to_string(p.step) +
                         " is beyond sim.steps = " + std::to_string(scenario.steps));
      }
    }
  }

  // Rules that tie parameters together are the model's to state.
  if (model->check_params) {
    try {
      model->check_params(scenario.params);
    } catch (const InputError& e) {
      throw InputError(file.string() + ": " + e.what());
    }
  }

  scenario.resolved_text = resolved_text(*model, specs, scenario.params);
  return scenario;
}

}  // namespace sim
