#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>
#include <string>

#include "sim/schedule.hpp"

using sim::Schedule;

namespace {

double real(std::string_view text) { return std::stod(std::string(text)); }

Schedule parse(std::string_view text) { return sim::parse_schedule(text, real); }

std::string rejection(std::string_view text, bool allow_ramps = true) {
  try {
    sim::parse_schedule(text, real, allow_ramps);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("a default schedule is the constant zero", "[schedule]") {
  const Schedule s;
  CHECK(s.is_constant());
  CHECK(s.at(0) == 0.0);
  CHECK(s.at(1000) == 0.0);
}

TEST_CASE("a constant schedule has its value at every step", "[schedule]") {
  const Schedule s = parse("0.1");
  CHECK(s.is_constant());
  CHECK(s.at(0) == 0.1);
  CHECK(s.at(7) == 0.1);
  CHECK(s.at(1'000'000) == 0.1);
  CHECK(Schedule::constant(2.5).at(3) == 2.5);
}

TEST_CASE("jumps take the new value at their step", "[schedule]") {
  const Schedule s = parse("0:0.1, 60:0.2");
  CHECK_FALSE(s.is_constant());
  REQUIRE(s.points().size() == 2);
  CHECK(s.at(0) == 0.1);
  CHECK(s.at(59) == 0.1);
  CHECK(s.at(60) == 0.2);
  CHECK(s.at(61) == 0.2);
}

TEST_CASE("a ramp interpolates linearly from the previous point", "[schedule]") {
  const Schedule s = parse("0:10, 60:10, 120~20");
  CHECK(s.at(30) == 10.0);  // held before the ramp starts
  CHECK(s.at(60) == 10.0);
  CHECK(s.at(75) == 12.5);
  CHECK(s.at(90) == 15.0);  // the midpoint, exactly
  CHECK(s.at(105) == 17.5);
  CHECK(s.at(120) == 20.0);
  CHECK(s.points()[2].ramp);
  CHECK_FALSE(s.points()[1].ramp);
}

TEST_CASE("a ramp from the first point starts at step 0", "[schedule]") {
  const Schedule s = parse("0:0, 4~1, 8:5");
  CHECK(s.at(0) == 0.0);
  CHECK(s.at(1) == 0.25);
  CHECK(s.at(2) == 0.5);
  CHECK(s.at(4) == 1.0);
  CHECK(s.at(7) == 1.0);  // the next point is a jump: hold
  CHECK(s.at(8) == 5.0);
}

TEST_CASE("a ramp between equal values stays exactly constant", "[schedule]") {
  const Schedule s = parse("0:0.1, 3~0.1");
  for (int step = 0; step <= 3; ++step) CHECK(s.at(step) == 0.1);
}

TEST_CASE("after the last point its value holds", "[schedule]") {
  CHECK(parse("0:1, 10:2").at(1'000'000'000) == 2.0);
  CHECK(parse("0:1, 10~3").at(11) == 3.0);
  CHECK(parse("0:1, 10~3").at(500) == 3.0);
}

TEST_CASE("the schedule constructor rejects what the syntax forbids", "[schedule]") {
  using P = Schedule::Point;
  CHECK_THROWS_WITH(Schedule(std::vector<P>{}), Catch::Contains("empty"));
  CHECK_THROWS_WITH(Schedule({P{5, 1.0, false}}), Catch::Contains("start at step 0"));
  CHECK_THROWS_WITH(Schedule({P{0, 1.0, true}}), Catch::Contains("cannot start with a ramp"));
  CHECK_THROWS_WITH(Schedule({P{0, 1.0, false}, P{10, 2.0, false}, P{10, 3.0, false}}),
                    Catch::Contains("must increase"));
  CHECK_THROWS_WITH(Schedule({P{0, 1.0, false}, P{10, 2.0, false}, P{5, 3.0, false}}),
                    Catch::Contains("step 5 comes after step 10"));
  CHECK_THROWS_WITH(Schedule({P{-1, 1.0, false}}), Catch::Contains("negative step -1"));
  CHECK_THROWS_WITH(Schedule({P{0, std::numeric_limits<double>::infinity(), false}}),
                    Catch::Contains("not finite"));
}

TEST_CASE("the schedule parser rejects malformed text", "[schedule]") {
  CHECK_THAT(rejection(""), Catch::Contains("no value given"));
  CHECK_THAT(rejection("5:0.1, 10:0.2"), Catch::Contains("start at step 0"));
  CHECK_THAT(rejection("0~0.1"), Catch::Contains("cannot start with a ramp"));
  CHECK_THAT(rejection("0:0.1, 60:0.2, 30:0.3"), Catch::Contains("must increase"));
  CHECK_THAT(rejection("0:0.1, 60:0.2, 60:0.3"), Catch::Contains("must increase"));
  CHECK_THAT(rejection("0:0.1, -5:0.2"), Catch::Contains("negative step -5"));
  CHECK_THAT(rejection("0:0.1, x:0.2"), Catch::Contains("'x' is not a step number"));
  CHECK_THAT(rejection("0:0.1,"), Catch::Contains("empty point"));
  CHECK_THAT(rejection("0:0.1, 60"), Catch::Contains("'60' is not a schedule point"));
  CHECK_THAT(rejection("0:0.1, 60~0.2", /*allow_ramps=*/false), Catch::Contains("cannot ramp"));
}

TEST_CASE("value errors inside a schedule come from the value parser", "[schedule]") {
  const auto strict = [](std::string_view t) -> double {
    if (t != "1") throw std::invalid_argument("'" + std::string(t) + "' is not 1");
    return 1.0;
  };
  CHECK_THROWS_WITH(sim::parse_schedule("0:1, 5:2", strict), Catch::Contains("'2' is not 1"));
}

TEST_CASE("whitespace around points and separators is ignored", "[schedule]") {
  const Schedule s = parse("  0 : 0.1 ,60~ 0.5  ");
  REQUIRE(s.points().size() == 2);
  CHECK(s.points()[1].step == 60);
  CHECK(s.points()[1].value == 0.5);
  CHECK(s.points()[1].ramp);
}

TEST_CASE("schedule text is canonical and reads back to the same schedule", "[schedule]") {
  const Schedule s = parse("0:0.1,60: 0.1,  120~0.3");
  const std::string text = sim::schedule_text(s, sim::format_real);
  CHECK(text == "0:0.1, 60:0.1, 120~0.3");
  const Schedule back = sim::parse_schedule(text, real);
  REQUIRE(back.points().size() == s.points().size());
  for (std::size_t i = 0; i < s.points().size(); ++i) {
    CHECK(back.points()[i].step == s.points()[i].step);
    CHECK(back.points()[i].value == s.points()[i].value);
    CHECK(back.points()[i].ramp == s.points()[i].ramp);
  }
  CHECK(sim::schedule_text(parse("0:0.25"), sim::format_real) == "0.25");
}

TEST_CASE("format_real is the shortest exact text", "[schedule]") {
  CHECK(sim::format_real(0.1) == "0.1");
  CHECK(sim::format_real(1e6) == "1000000");
  CHECK(sim::format_real(-3) == "-3");
  CHECK(sim::format_real(1e300) == "1e+300");
  CHECK(sim::format_real(0.1 + 0.2) == "0.30000000000000004");
  CHECK(std::stod(sim::format_real(1.0 / 3.0)) == 1.0 / 3.0);
  CHECK(sim::format_real(std::numeric_limits<double>::infinity()) == "inf");
}

TEST_CASE("plain values are not schedules", "[schedule]") {
  CHECK_FALSE(sim::looks_like_schedule("0.1"));
  CHECK_FALSE(sim::looks_like_schedule("-1e-3"));
  CHECK(sim::looks_like_schedule("0:0.1"));
  CHECK(sim::looks_like_schedule("0:0.1, 5~1"));
}
