#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "sim/params.hpp"

using sim::ParamKind;
using sim::ParamSpec;

namespace {

const sim::ParamTable& demo_table() {
  static const sim::ParamTable table = {
      ParamSpec::real("demo.chi", 0.25)
          .with_unit("1/step")
          .range(0, 1)
          .describe("Redistribution rate")
          .cite("Boghosian et al. 2017")
          .allow_schedule(),
      ParamSpec::integer("demo.agents", 1000).range(1, 1e6).describe("Number of agents"),
      ParamSpec::boolean("demo.verbose", true).describe("Talk | a lot"),
      ParamSpec::choice("demo.rule", {"random", "saving"}, "saving").describe("Exchange rule"),
      ParamSpec::text("demo.label", "").describe("Free text"),
  };
  return table;
}

sim::ParamValue value(const ParamSpec& spec, std::string text, sim::Schedule schedule) {
  sim::ParamValue v;
  v.spec = &spec;
  v.text = std::move(text);
  v.schedule = std::move(schedule);
  v.origin = "test";
  return v;
}

}  // namespace

TEST_CASE("kind names are the words a user reads", "[params]") {
  CHECK(sim::kind_name(ParamKind::Integer) == "integer");
  CHECK(sim::kind_name(ParamKind::Real) == "real");
  CHECK(sim::kind_name(ParamKind::Boolean) == "boolean");
  CHECK(sim::kind_name(ParamKind::Choice) == "choice");
  CHECK(sim::kind_name(ParamKind::Text) == "text");
}

TEST_CASE("builders fill a declaration and write the default as a scenario would", "[params]") {
  const auto& t = demo_table();
  CHECK(t[0].kind == ParamKind::Real);
  CHECK(t[0].default_text == "0.25");
  CHECK(t[0].unit == "1/step");
  CHECK(t[0].min == 0.0);
  CHECK(t[0].max == 1.0);
  CHECK(t[0].source == "Boghosian et al. 2017");
  CHECK(t[0].schedulable);
  CHECK(t[1].kind == ParamKind::Integer);
  CHECK(t[1].default_text == "1000");
  CHECK_FALSE(t[1].schedulable);
  CHECK(t[2].default_text == "true");
  CHECK(t[3].choices == std::vector<std::string>{"random", "saving"});
  CHECK(t[3].default_text == "saving");
  CHECK(t[4].kind == ParamKind::Text);
  CHECK(t[4].unit == "1");
  CHECK(ParamSpec::real("x.y", 0.1).default_text == "0.1");
  CHECK(ParamSpec::real("x.y", 1e-12).default_text == "1e-12");
}

TEST_CASE("a dotted name splits into section and key at the last dot", "[params]") {
  const ParamSpec p = ParamSpec::real("exchange.chi", 0);
  CHECK(p.section() == "exchange");
  CHECK(p.key() == "chi");
  const ParamSpec nested = ParamSpec::real("economy.state.tax", 0);
  CHECK(nested.section() == "economy.state");
  CHECK(nested.key() == "tax");
  const ParamSpec bare = ParamSpec::real("alone", 0);
  CHECK(bare.section().empty());
  CHECK(bare.key() == "alone");
}

TEST_CASE("the engine's [sim] table declares model, steps, seed, record_every, flush_every, snapshot_every",
          "[params]") {
  const auto& t = sim::sim_params();
  REQUIRE(t.size() == 6);
  CHECK(t[0].name == "sim.model");
  CHECK(t[0].kind == ParamKind::Text);
  CHECK(t[0].default_text.empty());
  CHECK(t[1].name == "sim.steps");
  CHECK(t[1].default_text == "100");
  CHECK(t[1].unit == "steps");
  CHECK(t[1].min == 0);
  CHECK(t[1].max == 1e12);
  CHECK(t[2].name == "sim.seed");
  CHECK(t[2].default_text == "1");
  CHECK(t[2].max == 9007199254740991.0);
  CHECK(t[3].name == "sim.record_every");
  CHECK(t[3].min == 1);
  CHECK(t[4].name == "sim.flush_every");
  CHECK(t[4].default_text == "100");
  CHECK(t[5].name == "sim.snapshot_every");
  CHECK(t[5].default_text == "0");
  for (const auto& p : t) {
    CHECK(p.section() == "sim");
    CHECK_FALSE(p.description.empty());
    CHECK_FALSE(p.schedulable);
  }
}

TEST_CASE("typed reads return the value of the declared kind", "[params]") {
  const auto& t = demo_table();
  sim::ParamValues v;
  v.set("demo.chi", value(t[0], "0.25", sim::Schedule::constant(0.25)));
  v.set("demo.agents", value(t[1], "1000", sim::Schedule::constant(1000)));
  v.set("demo.verbose", value(t[2], "true", sim::Schedule::constant(1)));
  v.set("demo.rule", value(t[3], "saving", sim::Schedule::constant(1)));
  v.set("demo.label", value(t[4], "hello", sim::Schedule::constant(0)));

  CHECK(v.contains("demo.chi"));
  CHECK_FALSE(v.contains("demo.nope"));
  CHECK(v.real("demo.chi") == 0.25);
  CHECK(v.real("demo.agents") == 1000.0);  // an Integer reads as a real too
  CHECK(v.integer("demo.agents") == 1000);
  CHECK(v.boolean("demo.verbose"));
  CHECK(v.choice("demo.rule") == "saving");
  CHECK(v.text("demo.label") == "hello");
  CHECK(v.text("demo.chi") == "0.25");
  CHECK(v.schedule("demo.chi").at(10) == 0.25);
  CHECK(v.at("demo.chi").origin == "test");
  CHECK(v.all().size() == 5);
}

TEST_CASE("reading an undeclared name or the wrong kind is a logic error", "[params]") {
  const auto& t = demo_table();
  sim::ParamValues v;
  v.set("demo.chi", value(t[0], "0.25", sim::Schedule::constant(0.25)));
  v.set("demo.rule", value(t[3], "saving", sim::Schedule::constant(1)));
  v.set("demo.label", value(t[4], "x", sim::Schedule::constant(0)));
  CHECK_THROWS_AS(v.at("demo.nope"), std::logic_error);
  CHECK_THROWS_WITH(v.real("demo.nope"), Catch::Contains("demo.nope"));
  CHECK_THROWS_AS(v.integer("demo.chi"), std::logic_error);
  CHECK_THROWS_AS(v.boolean("demo.chi"), std::logic_error);
  CHECK_THROWS_AS(v.choice("demo.chi"), std::logic_error);
  CHECK_THROWS_AS(v.real("demo.rule"), std::logic_error);
  CHECK_THROWS_AS(v.schedule("demo.label"), std::logic_error);
}

TEST_CASE("real() on a value with a schedule asks for schedule()", "[params]") {
  const auto& t = demo_table();
  sim::ParamValues v;
  v.set("demo.chi",
        value(t[0], "0:0.1, 10:0.2", sim::Schedule({{0, 0.1, false}, {10, 0.2, false}})));
  CHECK_THROWS_AS(v.real("demo.chi"), std::logic_error);
  CHECK_THROWS_WITH(v.real("demo.chi"), Catch::Contains("schedule()"));
  CHECK(v.schedule("demo.chi").at(10) == 0.2);
}

TEST_CASE("a Choice schedule holds the index of the choice", "[params]") {
  const auto& t = demo_table();
  sim::ParamValues v;
  v.set("demo.rule", value(t[3], "random", sim::Schedule::constant(0)));
  CHECK(v.choice("demo.rule") == "random");
  CHECK(v.schedule("demo.rule").at(0) == 0.0);
}

TEST_CASE("setting a value twice keeps the last", "[params]") {
  const auto& t = demo_table();
  sim::ParamValues v;
  v.set("demo.chi", value(t[0], "0.25", sim::Schedule::constant(0.25)));
  v.set("demo.chi", value(t[0], "0.5", sim::Schedule::constant(0.5)));
  CHECK(v.real("demo.chi") == 0.5);
}

TEST_CASE("the text table lists every column and marks schedules and sources", "[params]") {
  const std::string text = sim::params_as_text("demo", demo_table());
  CHECK(text.rfind("demo\n", 0) == 0);
  CHECK_THAT(text, Catch::Contains("name"));
  CHECK_THAT(text, Catch::Contains("description"));
  CHECK_THAT(text, Catch::Contains("demo.chi"));
  CHECK_THAT(text, Catch::Contains("real~"));
  CHECK_THAT(text, Catch::Contains("[0, 1]"));
  CHECK_THAT(text, Catch::Contains("random, saving"));
  CHECK_THAT(text, Catch::Contains("source: Boghosian et al. 2017"));
  CHECK_THAT(text, Catch::Contains("~ may be given as a schedule"));
  // Aligned: every row's name column is padded to the same width, so the type column lines up.
  const auto type_column = [&](const std::string& row_start) {
    const auto row = text.find(row_start);
    const auto line_start = text.rfind('\n', row) + 1;
    const auto after_name = text.find_first_not_of(' ', row + row_start.size());
    return after_name - line_start;
  };
  CHECK(type_column("  demo.chi") == type_column("  demo.verbose"));
  CHECK(sim::params_as_text("demo", demo_table()) == text);  // deterministic
}

TEST_CASE("the markdown table has a heading and the documented columns", "[params]") {
  const std::string md = sim::params_as_markdown("Demo model", demo_table());
  CHECK(
      md.rfind("## Demo model\n\n| Name | Type | Default | Unit | Range | Description | Source |\n",
               0) == 0);
  CHECK_THAT(md, Catch::Contains("| `demo.chi` | real (schedulable) | `0.25` | 1/step | [0, 1] | "
                                 "Redistribution rate | Boghosian et al. 2017 |\n"));
  CHECK_THAT(md, Catch::Contains("| `demo.agents` | integer | `1000` | 1 | [1, 1000000] |"));
  CHECK_THAT(md, Catch::Contains("Talk \\| a lot"));  // a pipe cannot break the table
  CHECK_THAT(md, Catch::Contains("| `demo.label` | text |  | 1 |  | Free text |  |"));
  CHECK(sim::params_as_markdown("Demo model", demo_table()) == md);
}
