// Unit tests for ctest: CTest's test list (captured from `ctest
// --show-only=json-v1`, CMake 3.25), its filters and its verdict rules;
// every malformed input is an error, never a crash.
#include "client/testing/ctest.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

// `ctest --show-only=json-v1` of a project with: simple (plain), rich
// (WORKING_DIRECTORY, ENVIRONMENT, TIMEOUT 2.5, LABELS, WILL_FAIL,
// SKIP_RETURN_CODE), off (DISABLED), missing (an executable CTest cannot
// find), gen (a generator expression empty in this configuration), re
// (regexes, TIMEOUT 0 and properties kiln ignores).
constexpr const char* kCTest =
    R"kiln({"backtraceGraph": {"commands": ["add_test"], "files": ["/tmp/rs/c/CMakeLists.txt"], "nodes": [{"file": 0}, {"command": 0, "file": 0, "line": 4, "parent": 0}, {"file": 0}, {"command": 0, "file": 0, "line": 5, "parent": 2}, {"file": 0}, {"command": 0, "file": 0, "line": 7, "parent": 4}, {"file": 0}, {"command": 0, "file": 0, "line": 9, "parent": 6}, {"file": 0}, {"command": 0, "file": 0, "line": 10, "parent": 8}, {"file": 0}, {"command": 0, "file": 0, "line": 11, "parent": 10}]}, "kind": "ctestInfo", "tests": [{"backtrace": 1, "command": ["/usr/bin/echo", "hi", "a b"], "name": "simple", "properties": [{"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}, {"backtrace": 3, "command": ["/usr/bin/sh", "-c", "exit 0"], "name": "rich", "properties": [{"name": "ENVIRONMENT", "value": ["A=1", "B=x y"]}, {"name": "LABELS", "value": ["fast", "unit"]}, {"name": "SKIP_RETURN_CODE", "value": 77}, {"name": "TIMEOUT", "value": 2.5}, {"name": "WILL_FAIL", "value": true}, {"name": "WORKING_DIRECTORY", "value": "/tmp"}]}, {"backtrace": 5, "command": ["/usr/bin/true"], "name": "off", "properties": [{"name": "DISABLED", "value": true}, {"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}, {"backtrace": 7, "name": "missing", "properties": [{"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}, {"backtrace": 9, "name": "gen", "properties": [{"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}, {"backtrace": 11, "command": ["/usr/bin/true"], "name": "re", "properties": [{"name": "DEPENDS", "value": ["simple"]}, {"name": "ENVIRONMENT", "value": ["ONE=1"]}, {"name": "ENVIRONMENT_MODIFICATION", "value": ["P=path_list_prepend:/x"]}, {"name": "FAIL_REGULAR_EXPRESSION", "value": ["bad"]}, {"name": "SKIP_REGULAR_EXPRESSION", "value": ["skip"]}, {"name": "FIXTURES_REQUIRED", "value": ["db"]}, {"name": "LABELS", "value": ["solo"]}, {"name": "PASS_REGULAR_EXPRESSION", "value": ["ok", "fine"]}, {"name": "PROCESSORS", "value": 2}, {"name": "REQUIRED_FILES", "value": ["/nope"]}, {"name": "RESOURCE_LOCK", "value": ["x"]}, {"name": "RUN_SERIAL", "value": true}, {"name": "TIMEOUT", "value": 0.0}, {"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}], "version": {"major": 1, "minor": 0}})kiln";

// ---- CTest ----

TEST(ParseCTestJson, ReadsTheRealFormat) {
  auto r = parse_ctest_json(kCTest);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 6u);
  const CTestCase& simple = (*r)[0];
  EXPECT_EQ(simple.name, "simple");
  EXPECT_EQ(simple.command, (std::vector<std::string>{"/usr/bin/echo", "hi", "a b"}));
  EXPECT_EQ(simple.working_directory, "/tmp/rs/c/b");
  EXPECT_FALSE(simple.timeout);
  EXPECT_TRUE(simple.skip_reason.empty());

  const CTestCase& rich = (*r)[1];
  EXPECT_EQ(rich.command, (std::vector<std::string>{"/usr/bin/sh", "-c", "exit 0"}));
  EXPECT_EQ(rich.working_directory, "/tmp");
  EXPECT_EQ(rich.environment, (std::vector<std::string>{"A=1", "B=x y"}));
  EXPECT_EQ(rich.timeout, std::optional(2500ms));
  EXPECT_EQ(rich.labels, (std::vector<std::string>{"fast", "unit"}));
  EXPECT_TRUE(rich.will_fail);
  EXPECT_FALSE(rich.disabled);
  EXPECT_EQ(rich.skip_return_code, std::optional(77));
  EXPECT_TRUE(rich.ignored_properties.empty());

  EXPECT_TRUE((*r)[2].disabled);
  EXPECT_EQ((*r)[2].skip_reason, "disabled");
  EXPECT_TRUE((*r)[3].command.empty());
  EXPECT_EQ((*r)[3].skip_reason, "not available: CTest found no executable");
  EXPECT_EQ((*r)[4].skip_reason, "not available: CTest found no executable");

  const CTestCase& re = (*r)[5];
  EXPECT_EQ(re.pass_regex, (std::vector<std::string>{"ok", "fine"}));
  EXPECT_EQ(re.fail_regex, (std::vector<std::string>{"bad"}));
  EXPECT_EQ(re.skip_regex, (std::vector<std::string>{"skip"}));
  EXPECT_EQ(re.environment, (std::vector<std::string>{"ONE=1"}));
  EXPECT_FALSE(re.timeout) << "TIMEOUT 0 is no limit";
  EXPECT_EQ(
      re.ignored_properties,
      (std::vector<std::string>{"DEPENDS", "ENVIRONMENT_MODIFICATION", "FIXTURES_REQUIRED",
                                "PROCESSORS", "REQUIRED_FILES", "RESOURCE_LOCK", "RUN_SERIAL"}));
}

TEST(ParseCTestJson, AnEmptyProjectHasNoTests) {
  auto r = parse_ctest_json(
      R"({"kind":"ctestInfo","version":{"major":1,"minor":0},"tests":[],"backtraceGraph":{}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->empty());
}

TEST(ParseCTestJson, RefusesMalformedInput) {
  const auto error_of = [](const std::string& json) {
    auto r = parse_ctest_json(json);
    EXPECT_FALSE(r.ok()) << json;
    EXPECT_EQ(r.ok() ? Errc::kInternal : r.error().code, Errc::kInvalidArgument);
    return r.ok() ? std::string() : r.error().message;
  };
  const std::string head = R"({"kind":"ctestInfo","version":{"major":1,"minor":0},"tests":)";
  EXPECT_NE(error_of("").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("<testsuites/>").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of(head + "[").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("ctestInfo"), std::string::npos);
  EXPECT_NE(error_of(R"({"kind":"codemodel","version":{"major":1}})").find("ctestInfo"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"kind":"ctestInfo","version":{"major":2},"tests":[]})").find("version"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"kind":"ctestInfo","tests":[]})").find("version"), std::string::npos);
  EXPECT_NE(error_of(R"({"kind":"ctestInfo","version":{"major":1}})").find("\"tests\""),
            std::string::npos);
  EXPECT_NE(error_of(head + "{}}").find("\"tests\""), std::string::npos);
  EXPECT_NE(error_of(head + "[1]}").find("tests[0] has no name"), std::string::npos);
  EXPECT_NE(error_of(head + R"([{"name":5}]})").find("no name"), std::string::npos);
  EXPECT_NE(error_of(head + R"([{"name":"t","command":"x"}]})").find("command is not a list"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"([{"name":"t","command":[1]}]})").find("command"), std::string::npos);
  EXPECT_NE(error_of(head + R"([{"name":"t","properties":{}}]})").find("not a list"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"([{"name":"t","properties":[{"name":"X"}]}]})")
                .find("without a name and value"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"([{"name":"t","properties":[5]}]})").find("property"),
            std::string::npos);
  const auto prop = [&](const std::string& name, const std::string& value) {
    return head + R"([{"name":"t","command":["x"],"properties":[{"name":")" + name +
           R"(","value":)" + value + "}]}]}";
  };
  EXPECT_NE(error_of(prop("WORKING_DIRECTORY", "1")).find("not a string"), std::string::npos);
  EXPECT_NE(error_of(prop("ENVIRONMENT", "[1]")).find("list of strings"), std::string::npos);
  EXPECT_NE(error_of(prop("LABELS", "{}")).find("list of strings"), std::string::npos);
  EXPECT_NE(error_of(prop("TIMEOUT", "\"5\"")).find("not a number"), std::string::npos);
  EXPECT_NE(error_of(prop("TIMEOUT", "1e300")).find("out of range"), std::string::npos);
  EXPECT_NE(error_of(prop("DISABLED", "\"ON\"")).find("not a boolean"), std::string::npos);
  EXPECT_NE(error_of(prop("WILL_FAIL", "1")).find("not a boolean"), std::string::npos);
  EXPECT_NE(error_of(prop("SKIP_RETURN_CODE", "1.5")).find("not an integer"), std::string::npos);
  EXPECT_NE(error_of(prop("SKIP_RETURN_CODE", "256")).find("out of range"), std::string::npos);
  EXPECT_NE(error_of(prop("SKIP_RETURN_CODE", "-1")).find("out of range"), std::string::npos);

  // The well-formed variants of the same properties are accepted.
  EXPECT_TRUE(parse_ctest_json(prop("LABELS", "\"one\"")).ok()) << "a single string is a list";
  EXPECT_TRUE(parse_ctest_json(prop("TIMEOUT", "-1")).ok());
  EXPECT_TRUE(parse_ctest_json(prop("SKIP_RETURN_CODE", "0")).ok());
}

TEST(ParseCTestJson, TinyTimeoutIsStillALimit) {
  // CTest runs a test with TIMEOUT 0.0003 under a 0.3 ms limit. Rounded to
  // whole milliseconds it became 0 ms, which the runner reads as "no
  // limit": the shortest limit turned into none.
  const auto timeout_of = [](const std::string& value) {
    const std::string json =
        R"({"kind":"ctestInfo","version":{"major":1,"minor":0},"tests":[{"name":"t","command":["x"],"properties":[{"name":"TIMEOUT","value":)" +
        value + "}]}]}";
    auto r = parse_ctest_json(json);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() && r->size() == 1 ? (*r)[0].timeout : std::nullopt;
  };
  EXPECT_EQ(timeout_of("0.0003"), std::optional(1ms));
  EXPECT_EQ(timeout_of("5e-324"), std::optional(1ms));
  EXPECT_EQ(timeout_of("0.0015"), std::optional(2ms));
  EXPECT_EQ(timeout_of("2.5"), std::optional(2500ms));
  EXPECT_EQ(timeout_of("0"), std::nullopt);
  EXPECT_EQ(timeout_of("-0.0003"), std::nullopt);
}

TEST(ParseCTestJson, EveryTruncationIsAnError) {
  const std::string full = kCTest;
  for (std::size_t n = 0; n + 1 < full.size(); ++n) {
    EXPECT_FALSE(parse_ctest_json(std::string_view(full).substr(0, n)).ok()) << n;
  }
}

TEST(ParseCTestJson, RefusesOversizedInput) {
  std::string huge(kMaxReportBytes + 1, ' ');
  auto r = parse_ctest_json(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kResourceExhausted);
}

TEST(ParseCTestJson, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_FALSE(parse_ctest_json(deep).ok());
}

// ---- filter_ctest ----

std::vector<std::string> names(const std::vector<CTestCase>& v) {
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const CTestCase& c : v) out.push_back(c.name);
  return out;
}

std::vector<CTestCase> cases() {
  std::vector<CTestCase> v(4);
  v[0].name = "unit_math";
  v[0].labels = {"unit", "fast"};
  v[1].name = "unit_io";
  v[1].labels = {"unit", "slow"};
  v[2].name = "e2e_grid";
  v[2].labels = {"e2e"};
  v[3].name = "lint";
  return v;
}

std::vector<std::string> kept(const CTestFilter& f) {
  auto r = filter_ctest(cases(), f);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? names(*r) : std::vector<std::string>{"error"};
}

TEST(FilterCTest, Rules) {
  using V = std::vector<std::string>;
  EXPECT_EQ(kept({}), (V{"unit_math", "unit_io", "e2e_grid", "lint"}));
  EXPECT_EQ(kept({.include = "unit"}), (V{"unit_math", "unit_io"}));
  EXPECT_EQ(kept({.include = "math"}), (V{"unit_math"})) << "a search, not a full match";
  EXPECT_EQ(kept({.include = "^e2e_|^lint$"}), (V{"e2e_grid", "lint"}));
  EXPECT_EQ(kept({.exclude = "io"}), (V{"unit_math", "e2e_grid", "lint"}));
  EXPECT_EQ(kept({.include = "unit", .exclude = "io"}), (V{"unit_math"}));
  EXPECT_EQ(kept({.label = "^unit$"}), (V{"unit_math", "unit_io"}));
  EXPECT_EQ(kept({.label = "fast|e2e"}), (V{"unit_math", "e2e_grid"}));
  EXPECT_EQ(kept({.label = "."}), (V{"unit_math", "unit_io", "e2e_grid"}))
      << "-L drops unlabelled tests";
  EXPECT_EQ(kept({.label_exclude = "slow"}), (V{"unit_math", "e2e_grid", "lint"}));
  EXPECT_EQ(kept({.include = "unit", .label = "slow"}), (V{"unit_io"})) << "options intersect";
  EXPECT_EQ(kept({.include = "nothing"}), V{});
}

TEST(FilterCTest, InvalidExpressionsAreErrors) {
  const std::pair<CTestFilter, const char*> bad[] = {{{.include = "("}, "-R"},
                                                     {{.exclude = "[a"}, "-E"},
                                                     {{.label = "*x"}, "-L"},
                                                     {{.label_exclude = "a{2,1}"}, "-LE"}};
  for (const auto& [filter, flag] : bad) {
    auto r = filter_ctest(cases(), filter);
    ASSERT_FALSE(r.ok()) << flag;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_EQ(r.error().message.rfind(flag, 0), 0u) << r.error().message;
  }
}

// ---- ctest_outcome ----

struct Verdict {
  Outcome outcome;
  std::string message;
};

Verdict outcome_of(const CTestCase& test, CTestRun run, std::string_view output = "") {
  std::string message = "left over from an earlier call";
  const Outcome o = ctest_outcome(test, run, output, message);
  return {o, message};
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(CTestOutcome, TheExitCodeDecidesByDefault) {
  const CTestCase plain;
  auto v = outcome_of(plain, {.exit_code = 0});
  EXPECT_EQ(v.outcome, Outcome::kPassed);
  EXPECT_EQ(v.message, "") << "a pass clears the message";
  v = outcome_of(plain, {.exit_code = 3}, "some output");
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_EQ(v.message, "exit code 3");
  EXPECT_EQ(outcome_of(plain, {.exit_code = 255}).outcome, Outcome::kFailed);
}

TEST(CTestOutcome, ATimeoutComesFirst) {
  CTestCase t;
  t.will_fail = true;
  t.skip_return_code = 0;
  t.pass_regex = {"ok"};
  t.skip_regex = {"skip"};
  const auto v = outcome_of(t, {.exit_code = 0, .signal = 9, .timed_out = true}, "ok skip");
  EXPECT_EQ(v.outcome, Outcome::kTimedOut);
  EXPECT_TRUE(contains(v.message, "timed out")) << v.message;
  EXPECT_EQ(outcome_of(CTestCase{}, {.timed_out = true}).outcome, Outcome::kTimedOut);
}

TEST(CTestOutcome, ASignalIsACrashWhateverElseSays) {
  CTestCase t;
  EXPECT_EQ(outcome_of(t, {.signal = 11}).outcome, Outcome::kCrashed);
  EXPECT_TRUE(contains(outcome_of(t, {.signal = 11}).message, "11"));
  t.will_fail = true;  // WILL_FAIL expects a failure, not a crash
  EXPECT_EQ(outcome_of(t, {.signal = 6}).outcome, Outcome::kCrashed);
  t.will_fail = false;
  t.skip_return_code = 0;
  t.pass_regex = {"ok"};
  t.skip_regex = {"skip"};
  EXPECT_EQ(outcome_of(t, {.signal = 11}, "ok skip").outcome, Outcome::kCrashed);
}

TEST(CTestOutcome, SkipReturnCode) {
  CTestCase t;
  t.skip_return_code = 77;
  auto v = outcome_of(t, {.exit_code = 77});
  EXPECT_EQ(v.outcome, Outcome::kSkipped);
  EXPECT_TRUE(contains(v.message, "SKIP_RETURN_CODE")) << v.message;
  EXPECT_TRUE(contains(v.message, "77")) << v.message;
  EXPECT_EQ(outcome_of(t, {.exit_code = 0}).outcome, Outcome::kPassed);
  EXPECT_EQ(outcome_of(t, {.exit_code = 1}).outcome, Outcome::kFailed);

  // It comes before the expressions and WILL_FAIL.
  t.fail_regex = {"error"};
  t.pass_regex = {"never printed"};
  t.will_fail = true;
  EXPECT_EQ(outcome_of(t, {.exit_code = 77}, "error").outcome, Outcome::kSkipped);

  CTestCase zero;
  zero.skip_return_code = 0;
  EXPECT_EQ(outcome_of(zero, {.exit_code = 0}).outcome, Outcome::kSkipped);
}

TEST(CTestOutcome, SkipRegularExpression) {
  CTestCase t;
  t.skip_regex = {"no GPU", "SKIP(PED)?:"};
  auto v = outcome_of(t, {.exit_code = 1}, "checking devices\nno GPU found\n");
  EXPECT_EQ(v.outcome, Outcome::kSkipped);
  EXPECT_TRUE(contains(v.message, "SKIP_REGULAR_EXPRESSION")) << v.message;
  EXPECT_TRUE(contains(v.message, "no GPU")) << v.message;
  v = outcome_of(t, {.exit_code = 0}, "SKIPPED: later");
  EXPECT_EQ(v.outcome, Outcome::kSkipped);
  EXPECT_TRUE(contains(v.message, "SKIP(PED)?:")) << v.message;

  EXPECT_EQ(outcome_of(t, {.exit_code = 0}, "all fine").outcome, Outcome::kPassed);
  EXPECT_EQ(outcome_of(t, {.exit_code = 2}, "all fine").outcome, Outcome::kFailed);

  // It comes before the pass and fail expressions and WILL_FAIL.
  t.fail_regex = {"GPU"};
  t.pass_regex = {"never printed"};
  t.will_fail = true;
  EXPECT_EQ(outcome_of(t, {.exit_code = 0}, "no GPU").outcome, Outcome::kSkipped);
}

TEST(CTestOutcome, PassRegularExpressionIgnoresTheExitCode) {
  CTestCase t;
  t.pass_regex = {"^all ok", "[0-9]+ passed"};
  EXPECT_EQ(outcome_of(t, {.exit_code = 1}, "all ok\n").outcome, Outcome::kPassed);
  EXPECT_EQ(outcome_of(t, {.exit_code = 1}, "all ok\n").message, "");
  EXPECT_EQ(outcome_of(t, {.exit_code = 0}, "summary: 12 passed").outcome, Outcome::kPassed)
      << "any one expression is enough; a search, not a full match";
  auto v = outcome_of(t, {.exit_code = 0}, "everything is fine");
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_TRUE(contains(v.message, "PASS_REGULAR_EXPRESSION")) << v.message;
  EXPECT_EQ(outcome_of(t, {.exit_code = 0}, "").outcome, Outcome::kFailed);
}

TEST(CTestOutcome, FailRegularExpression) {
  CTestCase t;
  t.fail_regex = {"ERROR", "leak"};
  auto v = outcome_of(t, {.exit_code = 0}, "step 1\nERROR: disk full\n");
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_EQ(v.message, "matched FAIL_REGULAR_EXPRESSION 'ERROR'");
  v = outcome_of(t, {.exit_code = 0}, "memory leak of 4 bytes");
  EXPECT_EQ(v.message, "matched FAIL_REGULAR_EXPRESSION 'leak'");
  EXPECT_EQ(outcome_of(t, {.exit_code = 0}, "fine").outcome, Outcome::kPassed);
  EXPECT_EQ(outcome_of(t, {.exit_code = 4}, "fine").message, "exit code 4");

  // It overrides a matching PASS_REGULAR_EXPRESSION.
  t.pass_regex = {"done"};
  v = outcome_of(t, {.exit_code = 0}, "done, with an ERROR");
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_TRUE(contains(v.message, "FAIL_REGULAR_EXPRESSION")) << v.message;
  EXPECT_EQ(outcome_of(t, {.exit_code = 1}, "done").outcome, Outcome::kPassed);
}

TEST(CTestOutcome, WillFailInvertsPassAndFail) {
  CTestCase t;
  t.will_fail = true;
  auto v = outcome_of(t, {.exit_code = 1});
  EXPECT_EQ(v.outcome, Outcome::kPassed);
  EXPECT_EQ(v.message, "");
  v = outcome_of(t, {.exit_code = 0});
  EXPECT_EQ(v.outcome, Outcome::kFailed);
  EXPECT_TRUE(contains(v.message, "WILL_FAIL")) << v.message;

  t.fail_regex = {"ERROR"};
  EXPECT_EQ(outcome_of(t, {.exit_code = 0}, "ERROR").outcome, Outcome::kPassed);
  t.fail_regex.clear();
  t.pass_regex = {"ok"};
  EXPECT_EQ(outcome_of(t, {.exit_code = 0}, "nope").outcome, Outcome::kPassed);
  EXPECT_EQ(outcome_of(t, {.exit_code = 1}, "ok").outcome, Outcome::kFailed);
}

TEST(CTestOutcome, AnInvalidExpressionFailsNamingTheProperty) {
  const std::pair<std::vector<std::string> CTestCase::*, const char*> properties[] = {
      {&CTestCase::pass_regex, "PASS_REGULAR_EXPRESSION"},
      {&CTestCase::fail_regex, "FAIL_REGULAR_EXPRESSION"},
      {&CTestCase::skip_regex, "SKIP_REGULAR_EXPRESSION"}};
  for (const auto& [member, property] : properties) {
    for (const char* expression : {"(", "[a", "a{2,1}", "*x"}) {
      CTestCase t;
      (t.*member) = {expression};
      auto v = outcome_of(t, {.exit_code = 0}, "output");
      EXPECT_EQ(v.outcome, Outcome::kFailed) << property << " " << expression;
      EXPECT_TRUE(contains(v.message, property)) << v.message;
      // WILL_FAIL does not turn a broken expression into a pass.
      t.will_fail = true;
      v = outcome_of(t, {.exit_code = 1}, "output");
      EXPECT_EQ(v.outcome, Outcome::kFailed) << property << " " << expression << " WILL_FAIL";
      EXPECT_TRUE(contains(v.message, property)) << v.message;
    }
  }
}

}  // namespace
}  // namespace kiln::client::testing
