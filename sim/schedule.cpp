#include "sim/schedule.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>
#include <system_error>

namespace sim {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::int64_t parse_step(std::string_view text, std::string_view point) {
  text = trim(text);
  if (!text.empty() && text.front() == '-') {
    throw std::invalid_argument("negative step " + std::string(text) + " in '" +
                                std::string(point) + "'");
  }
  std::int64_t step = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), step);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    throw std::invalid_argument("'" + std::string(text) + "' is not a step number in '" +
                                std::string(point) + "'");
  }
  return step;
}

}  // namespace

Schedule Schedule::constant(double value) { return Schedule({Point{0, value, false}}); }

Schedule::Schedule(std::vector<Point> points) {
  if (points.empty()) throw std::invalid_argument("empty schedule");
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    if (p.step < 0) throw std::invalid_argument("negative step " + std::to_string(p.step));
    if (!std::isfinite(p.value)) {
      throw std::invalid_argument("value at step " + std::to_string(p.step) + " is not finite");
    }
    if (i == 0) {
      if (p.step != 0) {
        throw std::invalid_argument("a schedule must start at step 0, not step " +
                                    std::to_string(p.step));
      }
      if (p.ramp) {
        throw std::invalid_argument(
            "a schedule cannot start with a ramp ('~'): there is "
            "nothing to ramp from");
      }
    } else if (p.step <= points[i - 1].step) {
      throw std::invalid_argument("schedule steps must increase: step " + std::to_string(p.step) +
                                  " comes after step " + std::to_string(points[i - 1].step));
    }
  }
  points_ = std::move(points);
}

double Schedule::at(std::int64_t step) const {
  // The last point at or before `step`; the first point is at 0, so for step >= 0 one exists.
  std::size_t i = 0;
  while (i + 1 < points_.size() && points_[i + 1].step <= step) ++i;
  const Point& from = points_[i];
  if (i + 1 == points_.size() || !points_[i + 1].ramp || step <= from.step) return from.value;
  const Point& to = points_[i + 1];
  const double t = static_cast<double>(step - from.step) / static_cast<double>(to.step - from.step);
  // a + (b - a) t, not (1 - t) a + t b: a ramp between equal values must stay exactly constant.
  return from.value + (to.value - from.value) * t;
}

bool looks_like_schedule(std::string_view text) {
  return text.find_first_of(":~,") != std::string_view::npos;
}

Schedule parse_schedule(std::string_view text, const ScheduleValueParser& parse_value,
                        bool allow_ramps) {
  text = trim(text);
  if (text.empty()) throw std::invalid_argument("no value given");
  if (!looks_like_schedule(text)) return Schedule::constant(parse_value(text));

  std::vector<Schedule::Point> points;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view point = trim(text.substr(start, comma - start));
    if (point.empty()) {
      throw std::invalid_argument("empty point in schedule '" + std::string(text) + "'");
    }
    const auto sep = point.find_first_of(":~");
    if (sep == std::string_view::npos) {
      throw std::invalid_argument("'" + std::string(point) +
                                  "' is not a schedule point (write step:value or step~value)");
    }
    const bool ramp = point[sep] == '~';
    if (ramp && !allow_ramps) {
      throw std::invalid_argument("'" + std::string(point) +
                                  "': this parameter cannot ramp ('~'); use step:value");
    }
    Schedule::Point p;
    p.step = parse_step(point.substr(0, sep), point);
    p.value = parse_value(trim(point.substr(sep + 1)));
    p.ramp = ramp;
    points.push_back(p);
    start = comma + 1;
  }
  return Schedule(std::move(points));
}

std::string schedule_text(const Schedule& schedule, const ScheduleValueWriter& write_value) {
  const auto& points = schedule.points();
  if (points.size() == 1) return write_value(points.front().value);
  std::string out;
  for (const auto& p : points) {
    if (!out.empty()) out += ", ";
    out += std::to_string(p.step);
    out += p.ramp ? '~' : ':';
    out += write_value(p.value);
  }
  return out;
}

std::string format_real(double value) {
  // Whole numbers as plain integers ("1000000", not "1e+06") while that is still exact.
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, ec == std::errc{} ? end : buf);
}

}  // namespace sim
