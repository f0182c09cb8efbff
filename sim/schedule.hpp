#pragma once
// A parameter's value over the steps of a run: piecewise constant, with optional linear ramps.
//
// Syntax (docs/scenarios.md):  `0.1`                    constant
//                              `0:0.1, 60:0.2`          0.1 from step 0, 0.2 from step 60
//                              `0:0.1, 60:0.1, 120~0.3` hold 0.1 to step 60, ramp linearly to 0.3 at 120
// The first point is at step 0; steps strictly increase; after the last point its value holds.
#include <cstdint>
#include <string>
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

}  // namespace sim
