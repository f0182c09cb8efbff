#pragma once
// A parameter's value over the steps of a run: piecewise constant, with optional linear ramps.
//
// Syntax (docs/scenarios.md):  `0.1`                    constant
//                              `0:0.1, 60:0.2`          0.1 from step 0, 0.2 from step 60
//                              `0:0.1, 60:0.1, 120~0.3` hold 0.1 to step 60, ramp linearly to 0.3 at 120
// The first point is at step 0; steps strictly increase; after the last point its value holds.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sim {

class Schedule {
 public:
  struct Point {
    std::int64_t step = 0;
    double value = 0.0;
    bool ramp = false;  // reached by a linear ramp from the previous point (`~`), not a jump (`:`)
  };

  Schedule() = default;
  static Schedule constant(double value);
  // Points must start at step 0 and strictly increase; the first may not be a ramp.
  // Violations throw std::invalid_argument with a message for the user.
  explicit Schedule(std::vector<Point> points);

  double at(std::int64_t step) const;
  bool is_constant() const { return points_.size() <= 1; }
  const std::vector<Point>& points() const { return points_; }

 private:
  std::vector<Point> points_{Point{}};
};

// Turns one value of a schedule into a number, or throws std::invalid_argument with a message
// for the user (a Choice parser returns the index of the choice).
using ScheduleValueParser = std::function<double(std::string_view)>;
// Writes one value of a schedule back as text (the inverse of a ScheduleValueParser).
using ScheduleValueWriter = std::function<std::string(double)>;

// True if `text` uses the schedule syntax (`step:value` or `step~value` points), false for a
// plain value.
bool looks_like_schedule(std::string_view text);

// Parses the syntax above. A plain value gives a constant schedule. `allow_ramps = false`
// rejects `~` (Boolean and Choice values cannot ramp). Throws std::invalid_argument.
Schedule parse_schedule(std::string_view text, const ScheduleValueParser& parse_value,
                        bool allow_ramps = true);

// The canonical text of a schedule: `0.1` for a constant, else `0:0.1, 60:0.2, 120~0.3`.
// parse_schedule(schedule_text(s, w), p) == s when `w` and `p` are inverses.
std::string schedule_text(const Schedule& schedule, const ScheduleValueWriter& write_value);

// The shortest text that reads back as exactly `value` ("0.1", "1e+300", "100").
std::string format_real(double value);

}  // namespace sim
