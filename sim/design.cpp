#include "sim/design.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

#include "sim/error.hpp"
#include "sim/rng.hpp"
#include "sim/scenario.hpp"

namespace sim {
namespace {

enum class Stream : std::uint64_t { LatinHypercube = 10, SobolBase = 11, MorrisTrajectory = 12 };

double parse_number(const std::string& text, const std::string& factor) {
  double value = 0.0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value))
    throw InputError("--vary '" + factor + "': '" + text + "' is not a number");
  return value;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(separator, start);
    std::string part = text.substr(start, at == std::string::npos ? std::string::npos : at - start);
    const auto first = part.find_first_not_of(" \t");
    const auto last = part.find_last_not_of(" \t");
    parts.push_back(first == std::string::npos ? "" : part.substr(first, last - first + 1));
    if (at == std::string::npos) return parts;
    start = at + 1;
  }
}

std::string number_text(double value, const ParamSpec& spec) {
  if (spec.kind == ParamKind::Integer) return std::to_string(std::llround(value));
  return format_real(value);
}

// A point of the unit hypercube mapped onto the factors' ranges.
void add_unit_point(Design& design, const std::vector<double>& unit) {
  std::vector<std::string> text;
  std::vector<double> value;
  for (std::size_t f = 0; f < design.factors.size(); ++f) {
    const Factor& factor = design.factors[f];
    double x = factor.lo + unit[f] * (factor.hi - factor.lo);
    if (factor.spec->kind == ParamKind::Integer) x = static_cast<double>(std::llround(x));
    text.push_back(number_text(x, *factor.spec));
    value.push_back(x);
  }
  design.text.push_back(std::move(text));
  design.value.push_back(std::move(value));
}

void require_ranges(const Design& design) {
  for (const auto& f : design.factors)
    if (f.is_list || !f.numeric())
      throw InputError("--vary '" + f.name + "': design " + design_name(design.kind) +
                       " needs a numeric range lo:hi, not a list");
}

void refuse_too_many(const Design& d, double points) {
  if (points > static_cast<double>(max_design_points))
    throw InputError("design " + design_name(d.kind) + " would have " + format_real(points) + " points; at most " +
                     std::to_string(max_design_points) + " (split the question, or use a random design)");
}

void make_grid(Design& d) {
  double total_points = 1.0;
  for (const auto& f : d.factors) total_points *= f.is_list ? static_cast<double>(f.values.size()) : static_cast<double>(std::max<std::int64_t>(f.n, 1));
  refuse_too_many(d, total_points);
  std::vector<std::vector<std::string>> texts;
  std::vector<std::vector<double>> values;
  for (const auto& f : d.factors) {
    std::vector<std::string> t;
    std::vector<double> v;
    if (f.is_list) {
      for (const auto& s : f.values) {
        t.push_back(s);
        double x = std::numeric_limits<double>::quiet_NaN();
        if (f.numeric()) x = parse_number(s, f.name);
        v.push_back(x);
      }
    } else {
      if (f.n < 1) throw InputError("--vary '" + f.name + "': a grid needs lo:hi:n (how many values)");
      for (std::int64_t i = 0; i < f.n; ++i) {
        double x = f.n == 1 ? f.lo : f.lo + static_cast<double>(i) * (f.hi - f.lo) / static_cast<double>(f.n - 1);
        if (f.spec->kind == ParamKind::Integer) x = static_cast<double>(std::llround(x));
        t.push_back(number_text(x, *f.spec));
        v.push_back(x);
      }
    }
    texts.push_back(std::move(t));
    values.push_back(std::move(v));
  }
  std::size_t total = 1;
  for (const auto& t : texts) total *= t.size();
  for (std::size_t p = 0; p < total; ++p) {
    std::vector<std::string> text(d.factors.size());
    std::vector<double> value(d.factors.size());
    std::size_t rest = p;
    for (std::size_t f = d.factors.size(); f-- > 0;) {
      const std::size_t i = rest % texts[f].size();
      rest /= texts[f].size();
      text[f] = texts[f][i];
      value[f] = values[f][i];
    }
    d.text.push_back(std::move(text));
    d.value.push_back(std::move(value));
  }
}

void make_lhs(Design& d, std::uint64_t seed) {
  require_ranges(d);
  const auto n = static_cast<std::size_t>(d.samples);
  const std::size_t k = d.factors.size();
  std::vector<std::vector<double>> unit(n, std::vector<double>(k));
  for (std::size_t f = 0; f < k; ++f) {
    // Each factor's n strata, in a random order, one uniform point per stratum.
    std::vector<std::size_t> strata(n);
    std::iota(strata.begin(), strata.end(), 0);
    Rng rng{seed, Stream::LatinHypercube, f, 0};
    for (std::size_t i = n; i > 1; --i) std::swap(strata[i - 1], strata[rng.below(i)]);
    for (std::size_t i = 0; i < n; ++i)
      unit[i][f] = (static_cast<double>(strata[i]) + (1.0 - rng.u01())) / static_cast<double>(n);
  }
  for (const auto& u : unit) add_unit_point(d, u);
}

void make_sobol(Design& d, std::uint64_t seed) {
  require_ranges(d);
  const auto n = static_cast<std::size_t>(d.samples);
  const std::size_t k = d.factors.size();
  std::vector<std::vector<double>> a(n, std::vector<double>(k)), b(n, std::vector<double>(k));
  for (std::size_t i = 0; i < n; ++i) {
    Rng rng{seed, Stream::SobolBase, i, 0};
    for (std::size_t f = 0; f < k; ++f) a[i][f] = 1.0 - rng.u01();
    for (std::size_t f = 0; f < k; ++f) b[i][f] = 1.0 - rng.u01();
  }
  for (const auto& row : a) add_unit_point(d, row);
  for (const auto& row : b) add_unit_point(d, row);
  for (std::size_t f = 0; f < k; ++f)
    for (std::size_t i = 0; i < n; ++i) {
      auto row = a[i];
      row[f] = b[i][f];
      add_unit_point(d, row);
    }
}

void make_morris(Design& d, std::uint64_t seed) {
  require_ranges(d);
  if (d.levels < 2 || d.levels % 2 != 0)
    throw InputError("--levels " + std::to_string(d.levels) + ": morris needs an even number of levels >= 2");
  const std::size_t k = d.factors.size();
  const auto p = static_cast<double>(d.levels);
  const double delta = p / (2.0 * (p - 1.0));
  const auto base_levels = static_cast<std::uint64_t>(d.levels / 2);  // x* in {0, ..., 1 - delta}
  for (std::int64_t t = 0; t < d.samples; ++t) {
    Rng rng{seed, Stream::MorrisTrajectory, static_cast<std::uint64_t>(t), 0};
    std::vector<double> x(k);
    std::vector<int> direction(k);
    for (std::size_t f = 0; f < k; ++f) {
      const double start = static_cast<double>(rng.below(base_levels)) / (p - 1.0);
      direction[f] = rng.bernoulli(0.5) ? 1 : -1;
      x[f] = direction[f] > 0 ? start : start + delta;
    }
    std::vector<std::size_t> order(k);
    std::iota(order.begin(), order.end(), 0);
    for (std::size_t i = k; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    add_unit_point(d, x);
    for (std::size_t f : order) {
      x[f] += direction[f] * delta;
      add_unit_point(d, x);
    }
  }
}

}  // namespace

bool Factor::numeric() const { return spec->kind == ParamKind::Integer || spec->kind == ParamKind::Real; }

std::string design_name(DesignKind kind) {
  switch (kind) {
    case DesignKind::Grid: return "grid";
    case DesignKind::Lhs: return "lhs";
    case DesignKind::Sobol: return "sobol";
    case DesignKind::Morris: return "morris";
  }
  return "grid";
}

DesignKind design_kind(const std::string& name) {
  for (auto kind : {DesignKind::Grid, DesignKind::Lhs, DesignKind::Sobol, DesignKind::Morris})
    if (design_name(kind) == name) return kind;
  throw InputError("--design '" + name + "' is not one of grid, lhs, sobol, morris");
}

Factor parse_factor(const std::string& text, const ParamValues& params) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--vary '" + text + "': expected key=lo:hi:n or key=a,b,c");
  Factor f;
  f.name = text.substr(0, eq);
  const std::string rest = text.substr(eq + 1);
  if (!params.contains(f.name)) {
    std::vector<std::string> names;
    for (const auto& [name, value] : params.all()) names.push_back(name);
    const std::string near = nearest_name(f.name, names);
    throw InputError("--vary: unknown parameter '" + f.name + "'" +
                     (near.empty() ? "" : " (did you mean '" + near + "'?)"));
  }
  f.spec = params.at(f.name).spec;
  if (f.name == "sim.model" || f.name == "sim.steps" || f.name == "sim.record_every" || f.name == "sim.seed")
    throw InputError("--vary: " + f.name + " cannot vary within a sweep (every run shares it; seeds come from the sweep)");
  if (rest.find(',') != std::string::npos || !f.numeric()) {
    f.is_list = true;
    f.values = split(rest, ',');
    for (const auto& v : f.values)
      if (v.empty()) throw InputError("--vary '" + text + "': an empty value in the list");
    return f;
  }
  const auto parts = split(rest, ':');
  if (parts.size() < 2 || parts.size() > 3)
    throw InputError("--vary '" + text + "': expected key=lo:hi:n, key=lo:hi or key=a,b,c");
  f.lo = parse_number(parts[0], f.name);
  f.hi = parse_number(parts[1], f.name);
  if (parts.size() == 3) {
    const double n = parse_number(parts[2], f.name);
    if (n < 1 || n != std::floor(n) || n > 1e9)
      throw InputError("--vary '" + text + "': n = " + parts[2] + " must be a whole number >= 1");
    f.n = static_cast<std::int64_t>(n);
  }
  if (f.lo > f.hi) throw InputError("--vary '" + text + "': lo is above hi");
  if (f.lo < f.spec->min || f.hi > f.spec->max)
    throw InputError("--vary '" + text + "': range [" + format_real(f.lo) + ", " + format_real(f.hi) +
                     "] leaves the allowed range [" + format_real(f.spec->min) + ", " + format_real(f.spec->max) + "]");
  return f;
}

Design make_design(DesignKind kind, std::vector<Factor> factors, std::int64_t samples, std::int64_t levels,
                   std::uint64_t seed) {
  Design d;
  d.kind = kind;
  d.factors = std::move(factors);
  d.samples = samples;
  d.levels = levels;
  if (d.factors.empty()) throw InputError("a sweep needs at least one --vary");
  for (std::size_t i = 0; i < d.factors.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (d.factors[i].name == d.factors[j].name)
        throw InputError("--vary: " + d.factors[i].name + " is varied twice");
  if (kind != DesignKind::Grid && samples < 1)
    throw InputError("--samples " + std::to_string(samples) + ": design " + design_name(kind) + " needs at least 1");
  const auto k = static_cast<double>(d.factors.size());
  const auto n = static_cast<double>(samples);
  if (kind == DesignKind::Lhs) refuse_too_many(d, n);
  if (kind == DesignKind::Sobol) refuse_too_many(d, n * (k + 2.0));
  if (kind == DesignKind::Morris) refuse_too_many(d, n * (k + 1.0));
  switch (kind) {
    case DesignKind::Grid: make_grid(d); break;
    case DesignKind::Lhs: make_lhs(d, seed); break;
    case DesignKind::Sobol: make_sobol(d, seed); break;
    case DesignKind::Morris: make_morris(d, seed); break;
  }
  return d;
}

std::uint64_t run_seed(std::uint64_t base, std::uint64_t run) {
  std::uint64_t z = base + (run + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return z & ((std::uint64_t{1} << 53) - 1);
}

}  // namespace sim
