#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "sim/error.hpp"
#include "sim/model.hpp"
#include "sim/scenario.hpp"

namespace fs = std::filesystem;
using sim::ParamSpec;

namespace {

// A fake model with one parameter of each kind, so these tests do not depend on real models.
const sim::ModelList& toy_models() {
  static const sim::ModelList models = [] {
    sim::ModelSpec toy;
    toy.name = "toy";
    toy.summary = "a model for the scenario tests";
    toy.params = {
        ParamSpec::real("toy.rate", 0.1)
            .range(0, 1)
            .describe("A schedulable rate")
            .allow_schedule(),
        ParamSpec::real("toy.chi", 0.0).range(0, 0.999).describe("A fixed rate"),
        ParamSpec::integer("toy.agents", 100).range(1, 1e6).describe("Agents"),
        ParamSpec::integer("toy.quota", 5).range(0, 1000).describe("Quota").allow_schedule(),
        ParamSpec::boolean("toy.verbose", false).describe("Talk"),
        ParamSpec::choice("toy.rule", {"random", "saving", "yard_sale"}, "random").describe("Rule"),
        ParamSpec::choice("toy.regime", {"open_access", "market", "commons"}, "open_access")
            .describe("Regime")
            .allow_schedule(),
        ParamSpec::text("toy.label", "none").describe("A label"),
        ParamSpec::real("market.tax", 0.2).range(0, 1).describe("A second section"),
    };
    sim::ModelSpec other;
    other.name = "other";
    other.params = {ParamSpec::real("other.x", 1.0).describe("The other model's parameter")};
    return sim::ModelList{toy, other};
  }();
  return models;
}

fs::path data(const std::string& name) {
  return fs::path(SIM_SOURCE_DIR) / "tests" / "data" / "scenarios" / name;
}

sim::Scenario load(const std::string& name, const std::vector<std::string>& overrides = {}) {
  return sim::load_scenario(data(name), overrides, toy_models());
}

std::string error_of_path(const fs::path& file, const std::vector<std::string>& overrides = {}) {
  try {
    sim::load_scenario(file, overrides, toy_models());
  } catch (const sim::InputError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string error_of(const std::string& name, const std::vector<std::string>& overrides = {}) {
  return error_of_path(data(name), overrides);
}

// A scratch directory for files written by a test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("commons-sim-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

}  // namespace

// ---- Reading values ------------------------------------------------------------------------

TEST_CASE("a scenario file sets the values it names and normalises their text", "[scenario]") {
  const sim::Scenario s = load("toy_basic.ini");
  REQUIRE(s.model != nullptr);
  CHECK(s.model->name == "toy");
  CHECK(s.steps == 200);
  CHECK(s.seed == 42u);
  CHECK(s.params.text("toy.rate") == "0:0.1, 60:0.1, 120~0.3");
  CHECK(s.params.schedule("toy.rate").at(90) == Approx(0.2));
  CHECK(s.params.integer("toy.agents") == 1000);  // `1e3` is an exact integer
  CHECK(s.params.text("toy.agents") == "1000");
  CHECK(s.params.boolean("toy.verbose"));
  CHECK(s.params.text("toy.verbose") == "true");
  CHECK(s.params.choice("toy.rule") == "saving");
  CHECK(s.params.text("toy.label") == "hello world");
  CHECK(s.params.real("market.tax") == 0.25);
  CHECK(s.params.at("sim.steps").origin == data("toy_basic.ini").string() + ":5");
  CHECK(s.files_read == std::vector<fs::path>{data("toy_basic.ini")});
  CHECK(s.file == data("toy_basic.ini"));
}

TEST_CASE("comments: # anywhere on a line, ; at the start of a line", "[scenario]") {
  TempDir dir;
  const auto file = dir.write("c.ini",
                              "; leading semicolon comment\n"
                              "# leading hash comment\n"
                              "[sim]   # after a section\n"
                              "model = toy # after a value\n"
                              "  ; indented semicolon comment\n"
                              "[toy]\n"
                              "label = a label#glued comment\n");
  const auto s = sim::load_scenario(file, {}, toy_models());
  CHECK(s.params.text("sim.model") == "toy");
  CHECK(s.params.text("toy.label") == "a label");
}

TEST_CASE("parameters not given take their defaults, with origin 'default'", "[scenario]") {
  const sim::Scenario s = load("no_model.ini", {"sim.model=toy"});
  CHECK(s.params.all().size() == sim::sim_params().size() + toy_models()[0].params.size());
  CHECK(s.steps == 10);
  CHECK(s.seed == 1u);
  CHECK(s.record_every == 1);
  CHECK(s.flush_every == 100);
  CHECK(s.params.at("sim.seed").origin == "default");
  CHECK(s.params.at("toy.rate").origin == "default");
  CHECK(s.params.real("toy.rate") == 0.1);
  CHECK(s.params.integer("toy.agents") == 100);
  CHECK_FALSE(s.params.boolean("toy.verbose"));
  CHECK(s.params.choice("toy.regime") == "open_access");
  CHECK(s.params.text("toy.label") == "none");
  CHECK(s.params.real("market.tax") == 0.2);
}

TEST_CASE("a Choice schedule holds choice indices and names in its text", "[scenario]") {
  const auto s = load("toy_basic.ini", {"toy.regime = 0:open_access, 120:commons"});
  const sim::Schedule& regime = s.params.schedule("toy.regime");
  CHECK(regime.at(119) == 0.0);
  CHECK(regime.at(120) == 2.0);
  CHECK(s.params.text("toy.regime") == "0:open_access, 120:commons");
  CHECK_THROWS_AS(s.params.choice("toy.regime"), std::logic_error);
}

TEST_CASE("integers: exact forms like 1e6 are accepted, fractions are not", "[scenario]") {
  CHECK(load("toy_basic.ini", {"toy.agents=2.5e3"}).params.integer("toy.agents") == 2500);
  CHECK(load("toy_basic.ini", {"toy.agents=+7"}).params.integer("toy.agents") == 7);
  CHECK_THAT(error_of("toy_basic.ini", {"toy.agents=2.5"}),
             Catch::Contains("--set: toy.agents: '2.5' is not an integer"));
  CHECK(load("toy_basic.ini", {"sim.seed=9007199254740991"}).seed == 9007199254740991u);
}

TEST_CASE("booleans accept true/false/yes/no/1/0 in any case", "[scenario]") {
  for (const char* t : {"true", "yes", "1", "TRUE", "Yes"}) {
    CHECK(load("toy_basic.ini", {std::string("toy.verbose=") + t}).params.boolean("toy.verbose"));
  }
  for (const char* f : {"false", "no", "0", "False"}) {
    CHECK_FALSE(
        load("toy_basic.ini", {std::string("toy.verbose=") + f}).params.boolean("toy.verbose"));
  }
}

// ---- Composition and precedence ------------------------------------------------------------

TEST_CASE("an including file's keys win over its includes; later includes over earlier",
          "[scenario]") {
  const sim::Scenario s = load("composed.ini");
  CHECK(s.params.text("toy.label") == "from composed");  // the includer
  CHECK(s.params.real("toy.chi") == 0.2);                // other_base.ini over base.ini
  CHECK(s.params.integer("toy.agents") == 10);           // only in base.ini
  CHECK(s.steps == 50);
  CHECK(s.seed == 7u);
  CHECK(s.params.at("toy.chi").origin == data("other_base.ini").string() + ":2");
  CHECK(s.params.at("toy.label").origin == data("composed.ini").string() + ":6");
  CHECK(s.files_read ==
        std::vector<fs::path>{data("composed.ini"), data("base.ini"), data("other_base.ini")});
}

TEST_CASE("an include path is relative to the including file", "[scenario]") {
  const sim::Scenario s = load("sub/nested.ini");
  CHECK(s.params.integer("toy.agents") == 20);
  CHECK(s.params.text("toy.label") == "from base");
  REQUIRE(s.files_read.size() == 2);
  CHECK(s.files_read[1] == data("base.ini"));
}

TEST_CASE("overrides win over every file, and a later --set over an earlier one", "[scenario]") {
  const sim::Scenario s =
      load("composed.ini", {"toy.label=from set", "toy.chi=0.3", "toy.chi = 0.4", "sim.steps=70"});
  CHECK(s.params.text("toy.label") == "from set");
  CHECK(s.params.real("toy.chi") == 0.4);
  CHECK(s.steps == 70);
  CHECK(s.params.at("toy.chi").origin == "--set");
}

TEST_CASE("an override can choose the model", "[scenario]") {
  const sim::Scenario s = load("no_model.ini", {"sim.model=other", "other.x=3"});
  CHECK(s.model->name == "other");
  CHECK(s.params.real("other.x") == 3.0);
  CHECK_FALSE(s.params.contains("toy.rate"));
}

TEST_CASE("a value overridden later must still be valid", "[scenario]") {
  const std::string e = error_of("overrides_bad_base.ini");
  CHECK_THAT(e, Catch::Contains("bad_in_base.ini:5: toy.chi: 'abc' is not a number"));
}

// ---- Round trip ----------------------------------------------------------------------------

TEST_CASE("the resolved text lists every parameter and reproduces the run", "[scenario]") {
  const sim::Scenario first =
      load("toy_basic.ini", {"toy.chi=0.30000000000000004", "toy.quota=0:3, 100~9"});
  CHECK(first.resolved_text.find("[sim]\nmodel = toy\nsteps = 200\nseed = 42\n") !=
        std::string::npos);
  CHECK(first.resolved_text.find("[toy]\nrate = 0:0.1, 60:0.1, 120~0.3\n") != std::string::npos);
  CHECK(first.resolved_text.find("[market]\ntax = 0.25\n") != std::string::npos);
  CHECK(first.resolved_text.find("chi = 0.30000000000000004\n") != std::string::npos);

  TempDir dir;
  const fs::path file = dir.write("resolved.ini", first.resolved_text);
  const sim::Scenario second = sim::load_scenario(file, {}, toy_models());
  REQUIRE(second.params.all().size() == first.params.all().size());
  for (const auto& [name, value] : first.params.all()) {
    INFO(name);
    CHECK(second.params.at(name).text == value.text);
    CHECK(second.params.at(name).schedule.points().size() == value.schedule.points().size());
    CHECK(second.params.at(name).origin != "default");  // every parameter was written out
  }
  CHECK(second.params.real("toy.chi") == first.params.real("toy.chi"));
  CHECK(second.resolved_text == first.resolved_text);
  CHECK(second.steps == first.steps);
  CHECK(second.seed == first.seed);
}

// ---- Errors: every message names the place -------------------------------------------------

TEST_CASE("an unreadable scenario names the file and the reason", "[scenario]") {
  const std::string e = error_of("no_such_file.ini");
  CHECK_THAT(e, Catch::StartsWith("cannot read scenario '"));
  CHECK_THAT(e, Catch::Contains("no_such_file.ini': No such file or directory"));
  CHECK_THAT(error_of_path(data("sub")), Catch::Contains("Is a directory"));
}

TEST_CASE("an unknown key names file, line, key and the nearest valid name", "[scenario]") {
  const std::string e = error_of("unknown_key.ini");
  CHECK_THAT(e, Catch::Contains("unknown_key.ini:7: unknown parameter 'toy.raet' "
                                "(did you mean 'toy.rate'?)"));
}

TEST_CASE("a key of an unknown section is an unknown parameter", "[scenario]") {
  const std::string e = error_of("unknown_section.ini");
  CHECK_THAT(e, Catch::Contains("unknown_section.ini:5: unknown parameter 'exchange.chi'"));
  CHECK_THAT(e, Catch::Contains("no section [exchange]"));
  CHECK_THAT(error_of("toy_basic.ini", {"toy.chii=0.2"}),
             Catch::Contains("--set: unknown parameter 'toy.chii' (did you mean 'toy.chi'?)"));
}

TEST_CASE("include inside a section is refused with a hint", "[scenario]") {
  const std::string e = error_of("section_include.ini");
  CHECK_THAT(e, Catch::Contains("section_include.ini:3: unknown parameter 'sim.include'"));
  CHECK_THAT(e, Catch::Contains("before the first [section]"));
}

TEST_CASE("a missing include names the including file, line and the include", "[scenario]") {
  const std::string e = error_of("missing_include.ini");
  CHECK_THAT(e, Catch::Contains("missing_include.ini:1: cannot read included file "
                                "'does_not_exist.ini': No such file or directory"));
}

TEST_CASE("an include cycle lists the chain", "[scenario]") {
  const std::string e = error_of("cycle_a.ini");
  CHECK_THAT(e, Catch::Contains("include cycle: "));
  CHECK_THAT(e, Catch::Contains("cycle_a.ini -> "));
  CHECK_THAT(e, Catch::Contains("cycle_b.ini -> "));
  CHECK_THAT(e, Catch::EndsWith("cycle_a.ini"));
  CHECK_THAT(e, Catch::StartsWith(data("cycle_b.ini").string() + ":1: "));
  const std::string self = error_of("self_include.ini");
  CHECK_THAT(self, Catch::Contains("include cycle: " + data("self_include.ini").string() + " -> " +
                                   data("self_include.ini").string()));
}

TEST_CASE("the same key twice in one file names both lines", "[scenario]") {
  const std::string e = error_of("duplicate_key.ini");
  CHECK_THAT(e, Catch::Contains("duplicate_key.ini:7: 'toy.chi' is set twice in this file "
                                "(first at line 5)"));
}

TEST_CASE("a bad number names file, line, key and value", "[scenario]") {
  CHECK_THAT(error_of("bad_number.ini"),
             Catch::Contains("bad_number.ini:5: toy.chi: 'abc' is not a number"));
  for (const char* v : {"1.5x", "nan", "inf", "-inf", "", "0x10"}) {
    INFO(v);
    CHECK_THAT(error_of("toy_basic.ini", {std::string("toy.chi=") + v}),
               Catch::Contains("--set: toy.chi: "));
  }
  CHECK_THAT(error_of("toy_basic.ini", {"toy.chi="}), Catch::Contains("toy.chi: no value given"));
  CHECK_THAT(error_of("toy_basic.ini", {"toy.chi=1.5x"}),
             Catch::Contains("'1.5x' is not a number"));
  CHECK_THAT(error_of("toy_basic.ini", {"toy.chi=nan"}), Catch::Contains("'nan' is not a finite"));
}

TEST_CASE("a bad integer names file, line, key and value", "[scenario]") {
  CHECK_THAT(error_of("bad_integer.ini"),
             Catch::Contains("bad_integer.ini:3: sim.steps: '1.5' is not an integer"));
}

TEST_CASE("a value out of range gives the key, value and allowed range", "[scenario]") {
  CHECK_THAT(error_of("out_of_range.ini"),
             Catch::Contains("out_of_range.ini:5: toy.chi = 1.5 is out of range [0, 0.999]"));
  CHECK_THAT(error_of("toy_basic.ini", {"sim.steps=-1"}),
             Catch::Contains("--set: sim.steps = -1 is out of range [0, 1000000000000]"));
  CHECK_THAT(error_of("toy_basic.ini", {"sim.record_every=0"}),
             Catch::Contains("sim.record_every = 0 is out of range [1, "));
}

TEST_CASE("every point of a schedule is range-checked", "[scenario]") {
  CHECK_THAT(error_of("schedule_out_of_range.ini"),
             Catch::Contains("schedule_out_of_range.ini:5: toy.rate = 1.5 (at step 60) is out of "
                             "range [0, 1]"));
}

TEST_CASE("an unknown choice lists the choices", "[scenario]") {
  const std::string e = error_of("bad_choice.ini");
  CHECK_THAT(e, Catch::Contains("bad_choice.ini:5: toy.rule: 'yard-sale' is not one of random, "
                                "saving, yard_sale (did you mean 'yard_sale'?)"));
}

TEST_CASE("a bad boolean names the accepted words", "[scenario]") {
  CHECK_THAT(error_of("bad_boolean.ini"),
             Catch::Contains("bad_boolean.ini:5: toy.verbose: 'maybe' is not a boolean"));
}

TEST_CASE("a schedule for a fixed parameter says it cannot change", "[scenario]") {
  CHECK_THAT(error_of("schedule_not_allowed.ini"),
             Catch::Contains("schedule_not_allowed.ini:5: toy.chi cannot change during a run"));
}

TEST_CASE("a schedule step beyond sim.steps is refused", "[scenario]") {
  CHECK_THAT(error_of("schedule_beyond_steps.ini"),
             Catch::Contains("schedule_beyond_steps.ini:6: toy.rate: schedule step 500 is beyond "
                             "sim.steps = 100"));
  // Raising the number of steps makes the same file valid.
  CHECK(load("schedule_beyond_steps.ini", {"sim.steps=500"}).params.schedule("toy.rate").at(500) ==
        0.2);
}

TEST_CASE("unsorted schedule steps are refused with the offending step", "[scenario]") {
  CHECK_THAT(error_of("schedule_unsorted.ini"),
             Catch::Contains("schedule_unsorted.ini:5: toy.rate: bad schedule "
                             "'0:0.1, 60:0.2, 30:0.3': schedule steps must increase: step 30 "
                             "comes after step 60"));
}

TEST_CASE("a Choice schedule cannot ramp", "[scenario]") {
  CHECK_THAT(error_of("choice_ramp.ini"),
             Catch::Contains("choice_ramp.ini:5: toy.regime: bad schedule"));
  CHECK_THAT(error_of("choice_ramp.ini"), Catch::Contains("cannot ramp"));
  CHECK_THAT(error_of("toy_basic.ini", {"toy.regime=0:open_access, 10:comons"}),
             Catch::Contains("'comons' is not one of open_access, market, commons"));
}

TEST_CASE("a missing model names the file", "[scenario]") {
  const std::string e = error_of("no_model.ini");
  CHECK_THAT(e, Catch::StartsWith(data("no_model.ini").string() + ": no model chosen"));
  CHECK_THAT(e, Catch::Contains("models: toy, other"));
  CHECK_THAT(error_of("empty_model.ini"), Catch::Contains("empty_model.ini:2: sim.model is empty"));
}

TEST_CASE("an unknown model suggests the nearest", "[scenario]") {
  CHECK_THAT(error_of("unknown_model.ini"),
             Catch::Contains("unknown_model.ini:2: unknown model 'tyo' (did you mean 'toy'?)"));
  CHECK_THAT(error_of("toy_basic.ini", {"sim.model=zzzzzzzz"}),
             Catch::Contains("--set: unknown model 'zzzzzzzz' (models: toy, other)"));
}

TEST_CASE("a line that is neither a section nor key = value names the line", "[scenario]") {
  CHECK_THAT(error_of("syntax_error.ini"),
             Catch::Contains("syntax_error.ini:3: expected 'key = value' or '[section]', got "
                             "'this line has no equals sign'"));
  CHECK_THAT(error_of("unclosed_section.ini"),
             Catch::Contains("unclosed_section.ini:1: section header '[sim' has no closing ']'"));
}

TEST_CASE("a malformed --set names --set and the text", "[scenario]") {
  CHECK_THAT(error_of("toy_basic.ini", {"toy.chi"}),
             Catch::Contains("--set 'toy.chi': expected key=value (no '=')"));
  CHECK_THAT(error_of("toy_basic.ini", {"=3"}), Catch::Contains("--set '=3': no parameter name"));
  CHECK_THAT(error_of("toy_basic.ini", {"include=base.ini"}), Catch::Contains("--set include"));
}

TEST_CASE("errors from other models' sections after --set model switch", "[scenario]") {
  // toy_basic.ini has [toy] keys; choosing `other` makes them unknown.
  CHECK_THAT(error_of("toy_basic.ini", {"sim.model=other"}),
             Catch::Contains("toy_basic.ini:9: unknown parameter 'toy.rate'"));
}

// ---- nearest_name ------------------------------------------------------------------------

TEST_CASE("nearest_name finds close names and refuses distant ones", "[scenario]") {
  const std::vector<std::string> names = {"exchange.chi", "exchange.saving", "exchange.zeta"};
  CHECK(sim::nearest_name("exchange.chii", names) == "exchange.chi");
  CHECK(sim::nearest_name("exchange.savng", names) == "exchange.saving");
  CHECK(sim::nearest_name("exchange.chi", names) == "exchange.chi");
  CHECK(sim::nearest_name("state.tax", names).empty());
  CHECK(sim::nearest_name("exchang", {"exchange", "cpr", "economy"}) == "exchange");
  CHECK(sim::nearest_name("ab", {"xy"}) == "xy");  // distance 2 is always allowed
  CHECK(sim::nearest_name("abc", {"xyz"}).empty());
  CHECK(sim::nearest_name("x", {}).empty());
}

TEST_CASE("find_model finds by exact name", "[scenario]") {
  CHECK(sim::find_model(toy_models(), "toy") == &toy_models()[0]);
  CHECK(sim::find_model(toy_models(), "other") == &toy_models()[1]);
  CHECK(sim::find_model(toy_models(), "Toy") == nullptr);
}
