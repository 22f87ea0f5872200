// Unit tests for client/test_report: GoogleTest XML in (samples captured
// from real GoogleTest 1.12 runs), JUnit XML and JSON out, CTest's test
// list (captured from `ctest --show-only=json-v1`, CMake 3.25) and its
// filters; every malformed input is an error, never a crash.
#include "client/testing/report.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

// A run of: Math.Adds (passes), Math.Fails (two failures, one with a
// multi-line streamed message full of XML specials), Math.Skips
// (GTEST_SKIP() << "not today"), Math.DISABLED_Off, a typed test Ty<int,
// double>.Zero and a value-parameterized Nums/P.Even over 2 and 3.
constexpr const char* kFullRun = R"kiln(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="8" failures="2" disabled="1" errors="0" time="0" timestamp="2026-11-26T12:52:41.625" name="AllTests">
  <testsuite name="Math" tests="4" failures="1" disabled="1" skipped="1" errors="0" time="0" timestamp="2026-11-26T12:52:41.625">
    <testcase name="Adds" file="t.cpp" line="3" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Math" />
    <testcase name="Fails" file="t.cpp" line="4" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Math">
      <failure message="t.cpp:6&#x0A;Expected equality of these values:&#x0A;  3&#x0A;  1 + 1&#x0A;    Which is: 2&#x0A;multi&#x0A;line &quot;msg&quot; &lt;&amp;&gt;" type=""><![CDATA[t.cpp:6
Expected equality of these values:
  3
  1 + 1
    Which is: 2
multi
line "msg" <&>]]></failure>
      <failure message="t.cpp:7&#x0A;Value of: false&#x0A;  Actual: false&#x0A;Expected: true" type=""><![CDATA[t.cpp:7
Value of: false
  Actual: false
Expected: true]]></failure>
    </testcase>
    <testcase name="Skips" file="t.cpp" line="9" status="run" result="skipped" time="0" timestamp="2026-11-26T12:52:41.625" classname="Math">
      <skipped message="t.cpp:9&#x0A;not today"><![CDATA[t.cpp:9
not today]]></skipped>
    </testcase>
    <testcase name="DISABLED_Off" file="t.cpp" line="10" status="notrun" result="suppressed" time="0" timestamp="1970-01-01T00:00:00.000" classname="Math" />
  </testsuite>
  <testsuite name="Ty/0" tests="1" failures="0" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-11-26T12:52:41.625">
    <testcase name="Zero" type_param="int" file="t.cpp" line="17" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Ty/0" />
  </testsuite>
  <testsuite name="Ty/1" tests="1" failures="0" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-11-26T12:52:41.625">
    <testcase name="Zero" type_param="double" file="t.cpp" line="17" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Ty/1" />
  </testsuite>
  <testsuite name="Nums/P" tests="2" failures="1" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-11-26T12:52:41.625">
    <testcase name="Even/0" value_param="2" file="t.cpp" line="12" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Nums/P" />
    <testcase name="Even/1" value_param="3" file="t.cpp" line="12" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Nums/P">
      <failure message="t.cpp:12&#x0A;Expected equality of these values:&#x0A;  GetParam() % 2&#x0A;    Which is: 1&#x0A;  0" type=""><![CDATA[t.cpp:12
Expected equality of these values:
  GetParam() % 2
    Which is: 1
  0]]></failure>
    </testcase>
  </testsuite>
</testsuites>
)kiln";

// Slow.Sleeps sleeps 1.234 s and records a property; Env's
// SetUpTestSuite ADD_FAILUREs (GoogleTest reports its test skipped);
// Ctl.Bytes fails with control bytes and UTF-8 in its message.
constexpr const char* kSlowRun = R"kiln(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="1" disabled="0" errors="0" time="1.234" timestamp="2026-11-26T12:52:47.805" name="AllTests">
  <testsuite name="Slow" tests="1" failures="0" disabled="0" skipped="0" errors="0" time="1.234" timestamp="2026-11-26T12:52:47.805">
    <testcase name="Sleeps" file="t2.cpp" line="3" status="run" result="completed" time="1.234" timestamp="2026-11-26T12:52:47.805" classname="Slow">
      <properties>
        <property name="key" value="val"/>
      </properties>
    </testcase>
  </testsuite>
  <testsuite name="Env" tests="1" failures="0" disabled="0" skipped="1" errors="0" time="0" timestamp="2026-11-26T12:52:49.039">
    <testcase name="A" file="t2.cpp" line="5" status="run" result="skipped" time="0" timestamp="1970-01-01T00:00:00.000" classname="Env">
      <skipped message="t2.cpp:5&#x0A;"><![CDATA[t2.cpp:5
]]></skipped>
    </testcase>
  </testsuite>
  <testsuite name="Ctl" tests="1" failures="1" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-11-26T12:52:49.039">
    <testcase name="Bytes" file="t2.cpp" line="6" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:49.039" classname="Ctl">
      <failure message="t2.cpp:6&#x0A;Failed&#x0A;ctl  bell é" type=""><![CDATA[t2.cpp:6
Failed
ctl  bell é]]></failure>
    </testcase>
  </testsuite>
</testsuites>
)kiln";

// A failure message containing "]]>": GoogleTest splits the CDATA.
constexpr const char* kCdataRun = R"kiln(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="1" failures="1" disabled="0" errors="0" time="0" timestamp="2026-11-26T12:55:36.944" name="AllTests">
  <testsuite name="Cdata" tests="1" failures="1" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-11-26T12:55:36.944">
    <testcase name="Splits" file="t3.cpp" line="2" status="run" result="completed" time="0" timestamp="2026-11-26T12:55:36.944" classname="Cdata">
      <failure message="t3.cpp:2&#x0A;Failed&#x0A;a]]&gt;b" type=""><![CDATA[t3.cpp:2
Failed
a]]>]]&gt;<![CDATA[b]]></failure>
    </testcase>
  </testsuite>
</testsuites>
)kiln";

// --gtest_list_tests --gtest_output=xml: a listing, not results.
constexpr const char* kListing = R"kiln(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="8" name="AllTests">
  <testsuite name="Math" tests="4">
    <testcase name="Adds" file="t.cpp" line="3" />
    <testcase name="Fails" file="t.cpp" line="4" />
    <testcase name="Skips" file="t.cpp" line="9" />
    <testcase name="DISABLED_Off" file="t.cpp" line="10" />
  </testsuite>
  <testsuite name="Ty/0" tests="1">
    <testcase name="Zero" type_param="int" file="t.cpp" line="17" />
  </testsuite>
  <testsuite name="Ty/1" tests="1">
    <testcase name="Zero" type_param="double" file="t.cpp" line="17" />
  </testsuite>
  <testsuite name="Nums/P" tests="2">
    <testcase name="Even/0" value_param="2" file="t.cpp" line="12" />
    <testcase name="Even/1" value_param="3" file="t.cpp" line="12" />
  </testsuite>
</testsuites>
)kiln";

// `ctest --show-only=json-v1` of a project with: simple (plain), rich
// (WORKING_DIRECTORY, ENVIRONMENT, TIMEOUT 2.5, LABELS, WILL_FAIL,
// SKIP_RETURN_CODE), off (DISABLED), missing (an executable CTest cannot
// find), gen (a generator expression empty in this configuration), re
// (regexes, TIMEOUT 0 and properties kiln ignores).
constexpr const char* kCTest =
    R"kiln({"backtraceGraph": {"commands": ["add_test"], "files": ["/tmp/rs/c/CMakeLists.txt"], "nodes": [{"file": 0}, {"command": 0, "file": 0, "line": 4, "parent": 0}, {"file": 0}, {"command": 0, "file": 0, "line": 5, "parent": 2}, {"file": 0}, {"command": 0, "file": 0, "line": 7, "parent": 4}, {"file": 0}, {"command": 0, "file": 0, "line": 9, "parent": 6}, {"file": 0}, {"command": 0, "file": 0, "line": 10, "parent": 8}, {"file": 0}, {"command": 0, "file": 0, "line": 11, "parent": 10}]}, "kind": "ctestInfo", "tests": [{"backtrace": 1, "command": ["/usr/bin/echo", "hi", "a b"], "name": "simple", "properties": [{"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}, {"backtrace": 3, "command": ["/usr/bin/sh", "-c", "exit 0"], "name": "rich", "properties": [{"name": "ENVIRONMENT", "value": ["A=1", "B=x y"]}, {"name": "LABELS", "value": ["fast", "unit"]}, {"name": "SKIP_RETURN_CODE", "value": 77}, {"name": "TIMEOUT", "value": 2.5}, {"name": "WILL_FAIL", "value": true}, {"name": "WORKING_DIRECTORY", "value": "/tmp"}]}, {"backtrace": 5, "command": ["/usr/bin/true"], "name": "off", "properties": [{"name": "DISABLED", "value": true}, {"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}, {"backtrace": 7, "name": "missing", "properties": [{"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}, {"backtrace": 9, "name": "gen", "properties": [{"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}, {"backtrace": 11, "command": ["/usr/bin/true"], "name": "re", "properties": [{"name": "DEPENDS", "value": ["simple"]}, {"name": "ENVIRONMENT", "value": ["ONE=1"]}, {"name": "ENVIRONMENT_MODIFICATION", "value": ["P=path_list_prepend:/x"]}, {"name": "FAIL_REGULAR_EXPRESSION", "value": ["bad"]}, {"name": "SKIP_REGULAR_EXPRESSION", "value": ["skip"]}, {"name": "FIXTURES_REQUIRED", "value": ["db"]}, {"name": "LABELS", "value": ["solo"]}, {"name": "PASS_REGULAR_EXPRESSION", "value": ["ok", "fine"]}, {"name": "PROCESSORS", "value": 2}, {"name": "REQUIRED_FILES", "value": ["/nope"]}, {"name": "RESOURCE_LOCK", "value": ["x"]}, {"name": "RUN_SERIAL", "value": true}, {"name": "TIMEOUT", "value": 0.0}, {"name": "WORKING_DIRECTORY", "value": "/tmp/rs/c/b"}]}], "version": {"major": 1, "minor": 0}})kiln";

const TestResult* find(const std::vector<TestResult>& v, const std::string& id) {
  for (const TestResult& r : v) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

TEST(ParseGTestXml, ReadsEveryKindOfTest) {
  auto r = parse_gtest_xml(kFullRun);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 8u);
  std::vector<std::string> ids;
  for (const TestResult& t : *r) ids.push_back(t.id);
  EXPECT_EQ(ids,
            (std::vector<std::string>{"Math.Adds", "Math.Fails", "Math.Skips", "Math.DISABLED_Off",
                                      "Ty/0.Zero", "Ty/1.Zero", "Nums/P.Even/0", "Nums/P.Even/1"}));

  const TestResult* adds = find(*r, "Math.Adds");
  EXPECT_EQ(adds->suite, "Math");
  EXPECT_EQ(adds->name, "Adds");
  EXPECT_EQ(adds->outcome, Outcome::kPassed);
  EXPECT_EQ(adds->attempts, 1);
  EXPECT_TRUE(adds->message.empty());

  const TestResult* fails = find(*r, "Math.Fails");
  EXPECT_EQ(fails->outcome, Outcome::kFailed);
  EXPECT_EQ(fails->message,
            "t.cpp:6\nExpected equality of these values:\n  3\n  1 + 1\n    Which is: 2\nmulti\n"
            "line \"msg\" <&>");
  EXPECT_NE(fails->output.find("line \"msg\" <&>"), std::string::npos);
  EXPECT_NE(fails->output.find("Expected: true"), std::string::npos) << "every failure's text";

  const TestResult* skips = find(*r, "Math.Skips");
  EXPECT_EQ(skips->outcome, Outcome::kSkipped);
  EXPECT_EQ(skips->message, "t.cpp:9\nnot today");

  const TestResult* off = find(*r, "Math.DISABLED_Off");
  EXPECT_EQ(off->outcome, Outcome::kSkipped);
  EXPECT_EQ(off->message, "disabled");

  EXPECT_EQ(find(*r, "Ty/0.Zero")->outcome, Outcome::kPassed);
  EXPECT_EQ(find(*r, "Ty/1.Zero")->suite, "Ty/1");
  EXPECT_EQ(find(*r, "Nums/P.Even/0")->outcome, Outcome::kPassed);
  const TestResult* odd = find(*r, "Nums/P.Even/1");
  EXPECT_EQ(odd->outcome, Outcome::kFailed);
  EXPECT_EQ(odd->name, "Even/1");
}

TEST(ParseGTestXml, TimesPropertiesAndBytes) {
  auto r = parse_gtest_xml(kSlowRun);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ(find(*r, "Slow.Sleeps")->time, 1234ms);
  EXPECT_EQ(find(*r, "Slow.Sleeps")->outcome, Outcome::kPassed);
  EXPECT_EQ(find(*r, "Env.A")->outcome, Outcome::kSkipped);
  const TestResult* ctl = find(*r, "Ctl.Bytes");
  EXPECT_EQ(ctl->outcome, Outcome::kFailed);
  EXPECT_EQ(ctl->message, "t2.cpp:6\nFailed\nctl  bell \xC3\xA9");
}

TEST(ParseGTestXml, JoinsSplitCdata) {
  auto r = parse_gtest_xml(kCdataRun);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].message, "t3.cpp:2\nFailed\na]]>b");
  EXPECT_EQ((*r)[0].output, "t3.cpp:2\nFailed\na]]>b");
}

TEST(ParseGTestXml, TimeRules) {
  const auto one = [](const std::string& time) {
    return parse_gtest_xml(
        "<testsuites><testsuite name=\"S\"><testcase name=\"T\" status=\"run\" "
        "result=\"completed\" time=\"" +
        time + "\" classname=\"S\"/></testsuite></testsuites>");
  };
  EXPECT_EQ((*one("0"))[0].time, 0ms);
  EXPECT_EQ((*one("0.0005"))[0].time, 1ms);
  EXPECT_EQ((*one("12.5"))[0].time, 12500ms);
  EXPECT_EQ((*one("1e-3"))[0].time, 1ms);
  for (const char* bad : {"", "-1", "abc", "1.5s", "nan", "inf", "1e300", "0x10"}) {
    auto r = one(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_NE(r.error().message.find("bad time"), std::string::npos) << r.error().message;
  }
}

TEST(ParseGTestXml, OutcomeRules) {
  const auto one = [](const std::string& attrs, const std::string& body) {
    auto r = parse_gtest_xml("<testsuites><testsuite name=\"S\"><testcase name=\"T\" " + attrs +
                             ">" + body + "</testcase></testsuite></testsuites>");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? (*r)[0] : TestResult{};
  };
  EXPECT_EQ(one("status=\"run\" result=\"completed\"", "").outcome, Outcome::kPassed);
  EXPECT_EQ(one("status=\"run\"", "").outcome, Outcome::kPassed) << "older GoogleTest: no result";
  // A failure wins over a skip (GoogleTest: failed, then GTEST_SKIP).
  const TestResult both = one("status=\"run\" result=\"completed\"",
                              "<failure message=\"m1\">t1</failure><skipped message=\"s\"/>"
                              "<failure message=\"m2\">t2</failure>");
  EXPECT_EQ(both.outcome, Outcome::kFailed);
  EXPECT_EQ(both.message, "m1");
  EXPECT_EQ(both.output, "t1\nt2");
  EXPECT_EQ(one("status=\"run\"", "<error message=\"e\"/>").outcome, Outcome::kFailed);
  EXPECT_EQ(one("status=\"run\" result=\"skipped\"", "").message, "skipped");
  EXPECT_EQ(one("status=\"run\"", "<skipped message=\"why\"/>").message, "why");
  EXPECT_EQ(one("status=\"notrun\"", "").outcome, Outcome::kSkipped);
  EXPECT_EQ(one("status=\"run\" result=\"suppressed\"", "").message, "disabled");
}

TEST(ParseGTestXml, EnvironmentFailureHasAnId) {
  auto r = parse_gtest_xml(
      "<testsuites><testsuite name=\"\"><testcase name=\"\" status=\"run\" result=\"completed\" "
      "classname=\"\"><failure message=\"global\"/></testcase></testsuite>"
      "<testsuite name=\"S\"><testcase name=\"\" status=\"run\" classname=\"S\">"
      "<failure message=\"teardown\"/></testcase></testsuite></testsuites>");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].id, "(environment)");
  EXPECT_EQ((*r)[0].outcome, Outcome::kFailed);
  EXPECT_EQ((*r)[1].id, "S");
}

TEST(ParseGTestXml, EmptyReportIsEmpty) {
  auto r = parse_gtest_xml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"0\" name=\"AllTests\">"
      "\n</testsuites>\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->empty());
}

TEST(ParseGTestXml, RefusesWhatIsNotAGTestReport) {
  const auto error_of = [](std::string_view xml) {
    auto r = parse_gtest_xml(xml);
    EXPECT_FALSE(r.ok()) << xml;
    EXPECT_EQ(r.ok() ? Errc::kInternal : r.error().code, Errc::kInvalidArgument);
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(error_of("").find("not well-formed"), std::string::npos);
  EXPECT_NE(error_of("not xml at all").find("not well-formed"), std::string::npos);
  EXPECT_NE(error_of("{\"tests\": []}").find("not well-formed"), std::string::npos);
  EXPECT_NE(error_of("<?xml version=\"1.0\"?>").find("not well-formed"), std::string::npos);
  EXPECT_NE(error_of("<testsuite name=\"S\"/>").find("root element is <testsuite>"),
            std::string::npos);
  EXPECT_NE(error_of("<html><body/></html>").find("not a GoogleTest XML report"),
            std::string::npos);
  EXPECT_NE(error_of("<testsuites/><testsuites/>").find("not"), std::string::npos);
  EXPECT_NE(error_of(kListing).find("no status attribute"), std::string::npos);
  EXPECT_NE(error_of("<testsuites><testsuite name=\"S\"><testcase status=\"run\"/></testsuite>"
                     "</testsuites>")
                .find("no name attribute"),
            std::string::npos);
  EXPECT_NE(error_of("<testsuites><testsuite name=\"S\"><testcase name=\"T\" status=\"maybe\"/>"
                     "</testsuite></testsuites>")
                .find("status \"maybe\""),
            std::string::npos);
}

TEST(ParseGTestXml, EveryTruncationIsAnError) {
  const std::string full = kFullRun;
  const std::size_t end = full.rfind("</testsuites>");
  ASSERT_NE(end, std::string::npos);
  for (std::size_t n = 0; n < end; ++n) {
    auto r = parse_gtest_xml(std::string_view(full).substr(0, n));
    EXPECT_FALSE(r.ok()) << "truncated to " << n << " bytes";
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    }
  }
}

TEST(ParseGTestXml, RefusesOversizedInput) {
  std::string huge(kMaxReportBytes + 1, ' ');
  auto r = parse_gtest_xml(huge);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kResourceExhausted);
}

TEST(ParseGTestXml, HostileXmlDoesNotExpand) {
  // No DTD processing: an entity defined in a DOCTYPE is not expanded (no
  // "billion laughs", no external files); pugixml keeps an unknown entity
  // reference as literal text.
  auto r = parse_gtest_xml(
      "<?xml version=\"1.0\"?><!DOCTYPE t [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">"
      "<!ENTITY x SYSTEM \"file:///etc/passwd\">]><testsuites><testsuite name=\"S\">"
      "<testcase name=\"T\" status=\"run\"><failure message=\"&b;&x;\"/></testcase>"
      "</testsuite></testsuites>");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].message, "&b;&x;");
  // Deep nesting and control-character references neither crash nor leak.
  std::string deep = "<testsuites>";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  EXPECT_FALSE(parse_gtest_xml(deep).ok());
  auto ctl = parse_gtest_xml(
      "<testsuites><testsuite name=\"S\"><testcase name=\"T\" status=\"run\">"
      "<failure message=\"a&#1;b&#0;c\"/></testcase></testsuite></testsuites>");
  ASSERT_TRUE(ctl.ok()) << ctl.error().message;
  EXPECT_EQ((*ctl)[0].outcome, Outcome::kFailed);
  EXPECT_EQ((*ctl)[0].message.substr(0, 3),
            "a\x01"
            "b")
      << "kept here, made safe by write_junit";
}

// ---- write_junit ----

TestResult make(std::string suite, std::string name, Outcome outcome,
                std::chrono::milliseconds time = 0ms) {
  TestResult r;
  r.suite = std::move(suite);
  r.name = std::move(name);
  r.id = r.suite + "." + r.name;
  r.outcome = outcome;
  r.time = time;
  return r;
}

std::vector<TestResult> mixed() {
  std::vector<TestResult> v;
  v.push_back(make("A", "pass", Outcome::kPassed, 1500ms));
  TestResult f = make("A", "fail", Outcome::kFailed, 12ms);
  f.message = "x.cpp:3\nExpected <1> & \"2\"";
  f.output = "x.cpp:3\nExpected <1> & \"2\"\nstdout: ]]> <![CDATA[ &amp;";
  v.push_back(f);
  TestResult s = make("B", "skip", Outcome::kSkipped);
  s.message = "not today";
  v.push_back(s);
  TestResult k = make("B", "flaky", Outcome::kFlaky, 2ms);
  k.attempts = 2;
  k.message = "first attempt failed";
  v.push_back(k);
  TestResult c = make("A", "crash", Outcome::kCrashed, 5ms);
  c.signal = 11;
  c.output = "Segmentation fault";
  v.push_back(c);
  TestResult t = make("C", "slow", Outcome::kTimedOut, 30001ms);
  t.timeout = 30s;
  v.push_back(t);
  TestResult cached = make("C", "cached", Outcome::kPassed, 1ms);
  cached.cached = true;
  v.push_back(cached);
  return v;
}

pugi::xml_document reparse(const std::string& xml) {
  pugi::xml_document doc;
  const pugi::xml_parse_result ok = doc.load_string(xml.c_str());
  EXPECT_TRUE(ok) << ok.description() << " at " << ok.offset << "\n" << xml;
  return doc;
}

std::string property(pugi::xml_node tc, const char* name) {
  for (pugi::xml_node p : tc.child("properties").children("property")) {
    if (std::string(p.attribute("name").value()) == name) return p.attribute("value").value();
  }
  return "";
}

pugi::xml_node testcase(const pugi::xml_document& doc, const char* suite, const char* name) {
  for (pugi::xml_node s : doc.child("testsuites").children("testsuite")) {
    if (std::string(s.attribute("name").value()) != suite) continue;
    for (pugi::xml_node tc : s.children("testcase")) {
      if (std::string(tc.attribute("name").value()) == name) return tc;
    }
  }
  return {};
}

TEST(WriteJUnit, CountsAndStructure) {
  const auto results = mixed();
  JUnitOptions o;
  o.name = "unit";
  o.timestamp = "2024-05-01T12:00:00";
  const std::string xml = write_junit(results, o);
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0), 0u) << xml;
  const pugi::xml_document doc = reparse(xml);
  const pugi::xml_node root = doc.child("testsuites");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("name").value(), "unit");
  EXPECT_STREQ(root.attribute("tests").value(), "7");
  EXPECT_STREQ(root.attribute("failures").value(), "1");
  EXPECT_STREQ(root.attribute("errors").value(), "2");
  EXPECT_STREQ(root.attribute("skipped").value(), "1");
  EXPECT_STREQ(root.attribute("time").value(), "31.521");
  EXPECT_STREQ(root.attribute("timestamp").value(), "2024-05-01T12:00:00");

  // Suites in order of first appearance; a suite's tests stay together.
  std::vector<std::string> suites;
  int testcases = 0;
  for (pugi::xml_node s : root.children("testsuite")) {
    suites.push_back(s.attribute("name").value());
    for ([[maybe_unused]] pugi::xml_node tc : s.children("testcase")) ++testcases;
  }
  EXPECT_EQ(suites, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(testcases, 7);
  const pugi::xml_node a = root.find_child_by_attribute("testsuite", "name", "A");
  EXPECT_STREQ(a.attribute("tests").value(), "3");
  EXPECT_STREQ(a.attribute("failures").value(), "1");
  EXPECT_STREQ(a.attribute("errors").value(), "1");
  EXPECT_STREQ(a.attribute("skipped").value(), "0");
  EXPECT_STREQ(a.attribute("time").value(), "1.517");
  EXPECT_STREQ(a.attribute("timestamp").value(), "2024-05-01T12:00:00");

  const pugi::xml_node pass = testcase(doc, "A", "pass");
  EXPECT_STREQ(pass.attribute("classname").value(), "A");
  EXPECT_STREQ(pass.attribute("time").value(), "1.500");
  EXPECT_FALSE(pass.first_child()) << "a plain pass has no children";

  const pugi::xml_node fail = testcase(doc, "A", "fail").child("failure");
  EXPECT_STREQ(fail.attribute("message").value(), "x.cpp:3\nExpected <1> & \"2\"");
  EXPECT_STREQ(fail.attribute("type").value(), "failure");
  EXPECT_STREQ(fail.text().get(), "x.cpp:3\nExpected <1> & \"2\"\nstdout: ]]> <![CDATA[ &amp;");

  const pugi::xml_node crash = testcase(doc, "A", "crash").child("error");
  EXPECT_STREQ(crash.attribute("message").value(), "crashed (signal 11)");
  EXPECT_STREQ(crash.attribute("type").value(), "crash");
  EXPECT_STREQ(crash.text().get(), "Segmentation fault");

  const pugi::xml_node slow = testcase(doc, "C", "slow").child("error");
  EXPECT_STREQ(slow.attribute("message").value(), "timed out after 30 s");
  EXPECT_STREQ(slow.attribute("type").value(), "timeout");

  EXPECT_STREQ(testcase(doc, "B", "skip").child("skipped").attribute("message").value(),
               "not today");
  EXPECT_EQ(property(testcase(doc, "C", "cached"), "cached"), "true");
  EXPECT_EQ(property(testcase(doc, "A", "pass"), "cached"), "");
}

TEST(WriteJUnit, FlakyRoundTrips) {
  const std::string xml = write_junit(mixed());
  const pugi::xml_document doc = reparse(xml);
  const pugi::xml_node flaky = testcase(doc, "B", "flaky");
  ASSERT_TRUE(flaky);
  EXPECT_EQ(property(flaky, "flaky"), "true");
  EXPECT_EQ(property(flaky, "attempts"), "2");
  EXPECT_FALSE(flaky.child("failure")) << "flaky is not a failure";
  EXPECT_FALSE(flaky.child("error"));
  const std::string note = flaky.child("system-out").text().get();
  EXPECT_NE(note.find("flaky: passed on attempt 2"), std::string::npos) << note;
  EXPECT_NE(note.find("first attempt failed"), std::string::npos) << note;
  // <properties> comes first in the testcase (the JUnit XSDs' order).
  EXPECT_STREQ(flaky.first_child().name(), "properties");
  EXPECT_EQ(property(testcase(doc, "A", "pass"), "flaky"), "");
}

TEST(WriteJUnit, ReadsBackWhatGTestWrote) {
  auto parsed = parse_gtest_xml(kFullRun);
  ASSERT_TRUE(parsed.ok());
  const pugi::xml_document doc = reparse(write_junit(*parsed));
  const pugi::xml_node root = doc.child("testsuites");
  EXPECT_STREQ(root.attribute("tests").value(), "8");
  EXPECT_STREQ(root.attribute("failures").value(), "2");
  EXPECT_STREQ(root.attribute("skipped").value(), "2");
  EXPECT_STREQ(root.attribute("errors").value(), "0");
  EXPECT_STREQ(testcase(doc, "Nums/P", "Even/1").child("failure").attribute("message").value(),
               "t.cpp:12\nExpected equality of these values:\n  GetParam() % 2\n    Which is: "
               "1\n  0");
}

TEST(WriteJUnit, StaysWellFormedWithHostileText) {
  std::string nasty = "ctl:";
  for (int c = 0; c < 32; ++c) nasty += static_cast<char>(c);
  nasty +=
      " bad utf8: \xC3 \xFF \xED\xA0\x80 \xEF\xBF\xBF \xF4\x90\x80\x80 ok: \xC3\xA9 "
      "\xF0\x9F\x94\xA5";
  nasty += " xml: <&>\"' ]]> --> <?pi?>";
  TestResult r = make(nasty, nasty, Outcome::kFailed);
  r.message = nasty;
  r.output = nasty;
  TestResult c = make("S", "crash", Outcome::kCrashed);
  c.exit_code = 3;
  c.output = nasty;
  const std::vector<TestResult> v{r, c};
  JUnitOptions o;
  o.name = nasty;
  o.hostname = "host\x01";
  const std::string xml = write_junit(v, o);
  const pugi::xml_document doc = reparse(xml);
  const std::string msg = doc.child("testsuites")
                              .child("testsuite")
                              .child("testcase")
                              .child("failure")
                              .attribute("message")
                              .value();
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(msg.find('\x01'), std::string::npos);
  EXPECT_NE(msg.find("\t\n"), std::string::npos) << "tab and newline are kept";
  EXPECT_NE(msg.find("bad utf8: " + fffd + " " + fffd + " " + fffd + fffd + fffd + " " + fffd +
                     " " + fffd + fffd + fffd + fffd + " ok: \xC3\xA9 \xF0\x9F\x94\xA5"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("xml: <&>\"' ]]> --> <?pi?>"), std::string::npos);
  EXPECT_STREQ(testcase(doc, "S", "crash").child("error").attribute("message").value(),
               "crashed (exit code 3)");
  // No raw control byte anywhere in the document.
  for (char ch : xml) {
    const auto u = static_cast<unsigned char>(ch);
    EXPECT_TRUE(u >= 0x20 || ch == '\n' || ch == '\t' || ch == '\r') << int(u);
  }
}

TEST(WriteJUnit, CutsLongOutputToItsTail) {
  TestResult r = make("S", "T", Outcome::kFailed);
  r.message = "m";
  r.output = std::string(1000, 'a') + "THE END";
  JUnitOptions o;
  o.max_output_bytes = 100;
  const pugi::xml_document doc = reparse(write_junit(std::vector{r}, o));
  const std::string text = testcase(doc, "S", "T").child("failure").text().get();
  EXPECT_EQ(text, "[kiln: 907 earlier bytes cut]\n" + std::string(93, 'a') + "THE END");
}

TEST(WriteJUnit, EdgeCases) {
  // Nothing ran: still a valid document.
  const pugi::xml_document empty = reparse(write_junit({}));
  EXPECT_STREQ(empty.child("testsuites").attribute("tests").value(), "0");
  EXPECT_STREQ(empty.child("testsuites").attribute("time").value(), "0.000");
  EXPECT_FALSE(empty.child("testsuites").attribute("timestamp"));

  TestResult t = make("S", "T", Outcome::kTimedOut, 2500ms);  // no limit given: its time
  TestResult f = make("S", "F", Outcome::kFailed);            // no message at all
  TestResult e = make("", "", Outcome::kFailed);
  e.id = "(environment)";
  const pugi::xml_document doc = reparse(write_junit(std::vector{t, f, e}));
  EXPECT_STREQ(testcase(doc, "S", "T").child("error").attribute("message").value(),
               "timed out after 2.5 s");
  EXPECT_STREQ(testcase(doc, "S", "F").child("failure").attribute("message").value(), "failed");
  EXPECT_TRUE(testcase(doc, "", "(environment)").child("failure"));
}

// ---- write_json ----

TEST(WriteJson, TestsAndSummary) {
  const auto j = nlohmann::json::parse(write_json(mixed()));
  ASSERT_EQ(j["tests"].size(), 7u);
  const auto& fail = j["tests"][1];
  EXPECT_EQ(fail["id"], "A.fail");
  EXPECT_EQ(fail["outcome"], "failed");
  EXPECT_EQ(fail["time_ms"], 12);
  EXPECT_EQ(fail["attempts"], 1);
  EXPECT_EQ(fail["cached"], false);
  EXPECT_EQ(fail["failure_message"], "x.cpp:3\nExpected <1> & \"2\"");
  EXPECT_EQ(j["tests"][3]["outcome"], "flaky");
  EXPECT_EQ(j["tests"][3]["attempts"], 2);
  EXPECT_EQ(j["tests"][5]["outcome"], "timed_out");
  EXPECT_EQ(j["tests"][6]["cached"], true);
  const auto& s = j["summary"];
  EXPECT_EQ(s["total"], 7);
  EXPECT_EQ(s["passed"], 2);
  EXPECT_EQ(s["failed"], 1);
  EXPECT_EQ(s["flaky"], 1);
  EXPECT_EQ(s["skipped"], 1);
  EXPECT_EQ(s["crashed"], 1);
  EXPECT_EQ(s["timed_out"], 1);
  EXPECT_EQ(s["cached"], 1);
  EXPECT_EQ(s["time_ms"], 31521);
  EXPECT_EQ(s["ok"], false);
}

TEST(WriteJson, InvalidUtf8IsReplacedNotThrown) {
  TestResult r = make("S", "T\xFF", Outcome::kFailed);
  r.message = "bad \xC3";
  const auto j = nlohmann::json::parse(write_json(std::vector{r}));
  EXPECT_EQ(j["tests"][0]["failure_message"], "bad \xEF\xBF\xBD");
}

TEST(Summary, OnlyRealFailuresCount) {
  std::vector<TestResult> v{make("S", "a", Outcome::kPassed), make("S", "b", Outcome::kFlaky),
                            make("S", "c", Outcome::kSkipped)};
  EXPECT_TRUE(summarize(v).ok());
  for (Outcome bad : {Outcome::kFailed, Outcome::kCrashed, Outcome::kTimedOut}) {
    v.push_back(make("S", "d", bad));
    EXPECT_FALSE(summarize(v).ok());
    EXPECT_TRUE(is_real_failure(bad));
    v.pop_back();
  }
  EXPECT_FALSE(is_real_failure(Outcome::kFlaky));
  EXPECT_TRUE(summarize({}).ok());
  EXPECT_EQ(to_string(Outcome::kTimedOut), "timed_out");
}

// ---- write_json with RunInfo ----

TEST(WriteJsonRun, HoldsTheRunAndItsShards) {
  RunInfo run;
  run.wall = 4200ms;
  run.lower_bound = 3900ms;
  run.slots = 3;
  run.shards.push_back({.label = "shard 1/2",
                        .tests = 5,
                        .ids = {"A.a", "A.b", "B.c", "B.d", "C.e"},
                        .estimate = 2000ms,
                        .wall = 2100ms,
                        .cached = false,
                        .where = "tcp://10.0.0.7:5555"});
  run.shards.push_back({.label = "shard 2/2",
                        .tests = 2,
                        .estimate = 1900ms,
                        .wall = 0ms,
                        .cached = true,
                        .where = "cache"});
  run.shards.push_back({.label = "retry A.fail",
                        .tests = 1,
                        .estimate = 12ms,
                        .wall = 15ms,
                        .cached = false,
                        .where = "local"});
  const auto j = nlohmann::json::parse(write_json(mixed(), run));
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j.contains("run"));
  const auto& r = j["run"];
  EXPECT_EQ(r["wall_ms"], 4200);
  EXPECT_EQ(r["lower_bound_ms"], 3900);
  EXPECT_EQ(r["slots"], 3);
  ASSERT_TRUE(r["shards"].is_array());
  ASSERT_EQ(r["shards"].size(), 3u);
  const auto& first = r["shards"][0];
  EXPECT_EQ(first["label"], "shard 1/2");
  EXPECT_EQ(first["tests"], 5);
  EXPECT_EQ(first["test_ids"], nlohmann::json({"A.a", "A.b", "B.c", "B.d", "C.e"}));
  EXPECT_EQ(first["estimate_ms"], 2000);
  EXPECT_EQ(first["wall_ms"], 2100);
  EXPECT_EQ(first["cached"], false);
  EXPECT_EQ(first["where"], "tcp://10.0.0.7:5555");
  const auto& second = r["shards"][1];
  EXPECT_EQ(second["label"], "shard 2/2");
  EXPECT_EQ(second["tests"], 2);
  EXPECT_EQ(second["estimate_ms"], 1900);
  EXPECT_EQ(second["wall_ms"], 0);
  EXPECT_EQ(second["cached"], true);
  EXPECT_EQ(second["where"], "cache");
  EXPECT_EQ(r["shards"][2]["label"], "retry A.fail");
  EXPECT_EQ(r["shards"][2]["where"], "local");

  // Everything write_json(results) writes is still there, unchanged.
  auto without_run = j;
  without_run.erase("run");
  EXPECT_EQ(without_run, nlohmann::json::parse(write_json(mixed())));
}

TEST(WriteJsonRun, NoShardsIsAnEmptyList) {
  const auto j = nlohmann::json::parse(write_json({}, RunInfo{}));
  const auto& r = j["run"];
  EXPECT_EQ(r["wall_ms"], 0);
  EXPECT_EQ(r["lower_bound_ms"], 0);
  EXPECT_EQ(r["slots"], 0);
  ASSERT_TRUE(r["shards"].is_array());
  EXPECT_TRUE(r["shards"].empty());
  EXPECT_EQ(j["summary"]["total"], 0);
  EXPECT_TRUE(j["tests"].empty());
}

TEST(WriteJsonRun, InvalidUtf8InALabelIsReplacedNotThrown) {
  RunInfo run;
  run.shards.push_back({.label = "batch \xFF", .where = "tcp://\xC3"});
  const auto j = nlohmann::json::parse(write_json({}, run));
  EXPECT_EQ(j["run"]["shards"][0]["label"], "batch \xEF\xBF\xBD");
  EXPECT_EQ(j["run"]["shards"][0]["where"], "tcp://\xEF\xBF\xBD");
}

// ---- encode_test_result / decode_test_result ----

// A result with every field away from its default.
TestResult full_result() {
  TestResult r = make("Nums/P", "Even/1", Outcome::kCrashed, 1234ms);
  r.message = "crashed (signal 11)\n\"quoted\" \\ \t";
  r.output = "line 1\nline 2\r\n\x01 binary-ish";
  r.attempts = 3;
  r.signal = 11;
  r.exit_code = 134;
  r.timeout = 30s;
  return r;
}

TEST(TestResultCodec, RoundTripsEveryFieldButCached) {
  const TestResult r = full_result();
  const auto back = decode_test_result(encode_test_result(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->id, "Nums/P.Even/1");
  EXPECT_EQ(back->suite, "Nums/P");
  EXPECT_EQ(back->name, "Even/1");
  EXPECT_EQ(back->outcome, Outcome::kCrashed);
  EXPECT_EQ(back->time, 1234ms);
  EXPECT_EQ(back->message, r.message);
  EXPECT_EQ(back->output, r.output);
  EXPECT_EQ(back->attempts, 3);
  EXPECT_EQ(back->signal, 11);
  EXPECT_EQ(back->exit_code, 134);
  EXPECT_EQ(back->timeout, 30s);
  EXPECT_FALSE(back->cached);
  EXPECT_EQ(*back, r);
}

TEST(TestResultCodec, RoundTripsEveryOutcomeAndTheDefaults) {
  for (Outcome o : {Outcome::kPassed, Outcome::kFailed, Outcome::kSkipped, Outcome::kFlaky,
                    Outcome::kCrashed, Outcome::kTimedOut}) {
    const TestResult r = make("S", "t", o);
    const auto back = decode_test_result(encode_test_result(r));
    ASSERT_TRUE(back.has_value()) << to_string(o);
    EXPECT_EQ(*back, r) << to_string(o);
  }
  TestResult empty_strings;
  empty_strings.id = "S.t";  // suite, name, message and output left empty
  const auto back = decode_test_result(encode_test_result(empty_strings));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, empty_strings);
}

TEST(TestResultCodec, CachedIsNotEncodedAndDecodesFalse) {
  TestResult r = full_result();
  r.cached = true;
  const std::string json = encode_test_result(r);
  EXPECT_FALSE(nlohmann::json::parse(json).contains("cached")) << json;
  r.cached = false;
  EXPECT_EQ(json, encode_test_result(r)) << "cached does not change the encoding";
  const auto back = decode_test_result(json);
  ASSERT_TRUE(back.has_value());
  EXPECT_FALSE(back->cached);

  // A "cached" someone else wrote is not read either.
  auto doc = nlohmann::json::parse(json);
  doc["cached"] = true;
  const auto other = decode_test_result(doc.dump());
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->cached);
}

TEST(TestResultCodec, MalformedJsonIsNullopt) {
  const std::string good = encode_test_result(full_result());
  ASSERT_TRUE(decode_test_result(good).has_value());
  for (const std::string& bad :
       {std::string(), std::string("null"), std::string("[]"), std::string("42"),
        std::string("\"text\""), std::string("{}"), std::string("not json"), good + "}",
        std::string("{") + good, std::string(good).replace(good.find(':'), 1, "="),
        std::string(100000, '[') + std::string(100000, ']')}) {
    EXPECT_FALSE(decode_test_result(bad).has_value()) << bad.substr(0, 200);
  }
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(decode_test_result(std::string_view(good).substr(0, n)).has_value()) << n;
  }
}

TEST(TestResultCodec, MissingFieldsAreNullopt) {
  const auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  for (const auto& [key, value] : doc.items()) {
    auto without = doc;
    without.erase(key);
    EXPECT_FALSE(decode_test_result(without.dump()).has_value()) << "without " << key;
  }
}

TEST(TestResultCodec, WrongTypesAreNullopt) {
  const auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  const std::vector<nlohmann::json> wrong_for_string = {
      nullptr, 1, 1.5, true, nlohmann::json::array({"x"}), nlohmann::json::object()};
  const std::vector<nlohmann::json> wrong_for_number = {
      nullptr, "1", 1.5, -0.5, true, nlohmann::json::array({1}), nlohmann::json::object()};
  for (const char* key : {"id", "suite", "name", "outcome", "message", "output"}) {
    for (const auto& value : wrong_for_string) {
      auto bad = doc;
      bad[key] = value;
      EXPECT_FALSE(decode_test_result(bad.dump()).has_value()) << key << " = " << value.dump();
    }
  }
  for (const char* key : {"time_ms", "attempts", "signal", "exit_code", "timeout_ms"}) {
    for (const auto& value : wrong_for_number) {
      auto bad = doc;
      bad[key] = value;
      EXPECT_FALSE(decode_test_result(bad.dump()).has_value()) << key << " = " << value.dump();
    }
  }
}

TEST(TestResultCodec, UnknownOutcomeIsNullopt) {
  auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  for (const char* outcome :
       {"", "PASSED", "Passed", "pass", "timedout", "timed out", "error", "passed ", "kPassed"}) {
    doc["outcome"] = outcome;
    EXPECT_FALSE(decode_test_result(doc.dump()).has_value()) << '"' << outcome << '"';
  }
}

TEST(TestResultCodec, OutOfRangeNumbersAreNullopt) {
  const auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  const std::int64_t day_ms = std::int64_t{24} * 3600 * 1000;
  const std::vector<std::pair<const char*, nlohmann::json>> bad = {
      {"time_ms", -1},
      {"time_ms", day_ms * 365},
      {"time_ms", std::numeric_limits<std::int64_t>::max()},
      {"time_ms", std::numeric_limits<std::int64_t>::min()},
      {"time_ms", std::numeric_limits<std::uint64_t>::max()},
      {"timeout_ms", -1},
      {"timeout_ms", day_ms * 365},
      {"timeout_ms", std::numeric_limits<std::uint64_t>::max()},
      {"attempts", 0},
      {"attempts", -1},
      {"attempts", std::int64_t{1} << 31},  // does not fit an int
      {"attempts", (std::int64_t{1} << 32) + 1},
      {"attempts", std::numeric_limits<std::uint64_t>::max()},
      {"signal", -1},
      {"signal", std::int64_t{1} << 31},
      {"signal", (std::int64_t{1} << 32) + 11},
      {"signal", std::numeric_limits<std::uint64_t>::max()},
      {"exit_code", 256},
      {"exit_code", -1000},
      {"exit_code", std::int64_t{1} << 31},
      {"exit_code", (std::int64_t{1} << 32) + 1},
      {"exit_code", std::numeric_limits<std::int64_t>::min()},
  };
  for (const auto& [key, value] : bad) {
    auto changed = doc;
    changed[key] = value;
    EXPECT_FALSE(decode_test_result(changed.dump()).has_value()) << key << " = " << value.dump();
  }
  // Numbers too large for any integer type are read as floating point.
  std::string huge = doc.dump();
  huge.replace(huge.find("\"time_ms\":1234"), 14, "\"time_ms\":1e300");
  EXPECT_FALSE(decode_test_result(huge).has_value()) << huge;
}

// An unsigned JSON integer >= 2^63 must not wrap: 2^64 - 1 read as int64
// would be -1, inside exit_code's accepted range.
TEST(TestResultCodec, HugeUnsignedExitCodeIsNullopt) {
  auto doc = nlohmann::json::parse(encode_test_result(full_result()));
  doc["exit_code"] = std::numeric_limits<std::uint64_t>::max();
  const auto r = decode_test_result(doc.dump());
  EXPECT_FALSE(r.has_value()) << "decoded exit_code " << r->exit_code;
}

TEST(TestResultCodec, OversizedInputIsNullopt) {
  TestResult r = full_result();
  r.output.assign(kMaxReportBytes, 'x');
  EXPECT_FALSE(decode_test_result(encode_test_result(r)).has_value());
}

// ---- parse_gtest_progress ----

std::string_view state_name(GTestProgress::State s) {
  switch (s) {
    case GTestProgress::State::kRunning:
      return "running";
    case GTestProgress::State::kPassed:
      return "passed";
    case GTestProgress::State::kFailed:
      return "failed";
    case GTestProgress::State::kSkipped:
      return "skipped";
  }
  return "?";
}

// One line per test: "id state Nms [output]", for readable comparisons.
std::string describe(const std::vector<GTestProgress>& tests) {
  std::string out;
  for (const GTestProgress& t : tests) {
    out += t.id + " " + std::string(state_name(t.state)) + " " + std::to_string(t.time.count()) +
           "ms [" + t.output + "]\n";
  }
  return out;
}

// The console of a real GoogleTest 1.12 run (a plain suite, a typed test
// and a value-parameterized test), up to the end of the last verdict.
constexpr const char* kConsoleTests = R"kiln(Running main() from ./googletest/src/gtest_main.cc
[==========] Running 7 tests from 3 test suites.
[----------] Global test environment set-up.
[----------] 3 tests from A
[ RUN      ] A.Pass
hello from pass
[       OK ] A.Pass (0 ms)
[ RUN      ] A.Fail
before
t.cpp:5: Failure
Expected equality of these values:
  1
  2
[  FAILED  ] A.Fail (12 ms)
[ RUN      ] A.Skip
t.cpp:6: Skipped
not today
[  SKIPPED ] A.Skip (1 ms)
[----------] 3 tests from A (13 ms total)

[----------] 1 test from In/Ty/0, where TypeParam = int
[ RUN      ] In/Ty/0.Zero
t.cpp:13: Failure
Expected equality of these values:
  TypeParam()
    Which is: 0
  TypeParam(1)
    Which is: 1
[  FAILED  ] In/Ty/0.Zero, where TypeParam = int (3 ms)
[----------] 1 test from In/Ty/0 (3 ms total)

[----------] 3 tests from Nums/P
[ RUN      ] Nums/P.Even/0
[       OK ] Nums/P.Even/0 (1500 ms)
[ RUN      ] Nums/P.Even/1
t.cpp:9: Failure
Expected equality of these values:
  GetParam() % 2
    Which is: 1
  0
[  FAILED  ] Nums/P.Even/1, where GetParam() = 3 (7 ms)
[ RUN      ] Nums/P.Even/2
[  FAILED  ] Nums/P.Even/2, where GetParam() = "a (b) c, where d" (0 ms)
[----------] 3 tests from Nums/P (1507 ms total)
)kiln";

// What GoogleTest prints after the last test: the summary lists every
// failed test again, without a time.
constexpr const char* kConsoleSummary = R"kiln(
[----------] Global test environment tear-down
[==========] 7 tests from 3 test suites ran. (1523 ms total)
[  PASSED  ] 2 tests.
[  SKIPPED ] 1 test, listed below:
[  SKIPPED ] A.Skip
[  FAILED  ] 4 tests, listed below:
[  FAILED  ] A.Fail
[  FAILED  ] In/Ty/0.Zero, where TypeParam = int
[  FAILED  ] Nums/P.Even/1, where GetParam() = 3
[  FAILED  ] Nums/P.Even/2, where GetParam() = "a (b) c, where d"

 4 FAILED TESTS
)kiln";

constexpr const char* kConsoleExpected =
    "A.Pass passed 0ms [hello from pass\n]\n"
    "A.Fail failed 12ms [before\nt.cpp:5: Failure\nExpected equality of these values:\n  1\n"
    "  2\n]\n"
    "A.Skip skipped 1ms [t.cpp:6: Skipped\nnot today\n]\n"
    "In/Ty/0.Zero failed 3ms [t.cpp:13: Failure\nExpected equality of these values:\n"
    "  TypeParam()\n    Which is: 0\n  TypeParam(1)\n    Which is: 1\n]\n"
    "Nums/P.Even/0 passed 1500ms []\n"
    "Nums/P.Even/1 failed 7ms [t.cpp:9: Failure\nExpected equality of these values:\n"
    "  GetParam() % 2\n    Which is: 1\n  0\n]\n"
    "Nums/P.Even/2 failed 0ms []\n";

TEST(ParseGTestProgress, ReadsEveryVerdictOfARealRun) {
  const auto tests = parse_gtest_progress(kConsoleTests);
  ASSERT_EQ(tests.size(), 7u) << describe(tests);
  EXPECT_EQ(describe(tests), kConsoleExpected);
}

TEST(ParseGTestProgress, TheFinalSummaryChangesNothing) {
  const std::string whole = std::string(kConsoleTests) + kConsoleSummary;
  EXPECT_EQ(describe(parse_gtest_progress(whole)), kConsoleExpected);

  // Not even when the summary calls a passed test failed, or repeats one.
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\n[       OK ] A.x (4 ms)\n[  FAILED  ] A.x\n[  FAILED  ] A.x (9 ms)\n"
      "[  SKIPPED ] A.x\n");
  EXPECT_EQ(describe(tests), "A.x passed 4ms []\n");
}

TEST(ParseGTestProgress, ACrashLeavesTheTestRunningWithItsOutput) {
  const auto tests = parse_gtest_progress(
      "[==========] Running 3 tests from 1 test suite.\n"
      "[ RUN      ] A.ok\n"
      "[       OK ] A.ok (2 ms)\n"
      "[ RUN      ] A.dies\n"
      "about to crash\n"
      "last words without a newline");
  EXPECT_EQ(describe(tests),
            "A.ok passed 2ms []\n"
            "A.dies running 0ms [about to crash\nlast words without a newline]\n");

  // Killed right after RUN: running, no output.
  EXPECT_EQ(describe(parse_gtest_progress("[ RUN      ] A.x\n")), "A.x running 0ms []\n");
  EXPECT_EQ(describe(parse_gtest_progress("[ RUN      ] A.x")), "A.x running 0ms []\n");
}

TEST(ParseGTestProgress, NothingStartedIsEmpty) {
  EXPECT_TRUE(parse_gtest_progress("").empty());
  EXPECT_TRUE(parse_gtest_progress("\n\n").empty());
  EXPECT_TRUE(parse_gtest_progress("Running main() from gtest_main.cc\n"
                                   "[==========] Running 0 tests from 0 test suites.\n"
                                   "[==========] 0 tests from 0 test suites ran. (0 ms total)\n"
                                   "[  PASSED  ] 0 tests.\n")
                  .empty());
  // Verdicts without a RUN (e.g. a summary from an earlier run) start nothing.
  EXPECT_TRUE(parse_gtest_progress("[       OK ] A.x (1 ms)\n[  FAILED  ] B.y (2 ms)\n"
                                   "[  SKIPPED ] C.z (0 ms)\n")
                  .empty());
}

TEST(ParseGTestProgress, CrLfLineEnds) {
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\r\nhello\r\n[       OK ] A.x (5 ms)\r\n"
      "[ RUN      ] P/T.y/1\r\n[  FAILED  ] P/T.y/1, where GetParam() = 1 (6 ms)\r\n"
      "[ RUN      ] A.s\r\n[  SKIPPED ] A.s (0 ms)\r\n"
      "[ RUN      ] A.z\r\n[  FAILED  ] A.z (7 ms)\r\n"
      "[  FAILED  ] A.z\r\n"
      "[ RUN      ] A.crash\r\nboom\r\n");
  ASSERT_EQ(tests.size(), 5u) << describe(tests);
  EXPECT_EQ(tests[0].id, "A.x");
  EXPECT_EQ(tests[0].state, GTestProgress::State::kPassed);
  EXPECT_EQ(tests[0].time, 5ms);
  std::string output = tests[0].output;
  std::erase(output, '\r');  // whether '\r' stays in the output is not specified
  EXPECT_EQ(output, "hello\n");
  EXPECT_EQ(tests[1].id, "P/T.y/1");
  EXPECT_EQ(tests[1].state, GTestProgress::State::kFailed);
  EXPECT_EQ(tests[1].time, 6ms);
  EXPECT_EQ(tests[2].id, "A.s");
  EXPECT_EQ(tests[2].state, GTestProgress::State::kSkipped);
  EXPECT_EQ(tests[3].id, "A.z");
  EXPECT_EQ(tests[3].state, GTestProgress::State::kFailed);
  EXPECT_EQ(tests[3].time, 7ms);
  EXPECT_EQ(tests[4].id, "A.crash");
  EXPECT_EQ(tests[4].state, GTestProgress::State::kRunning);
  output = tests[4].output;
  std::erase(output, '\r');
  EXPECT_EQ(output, "boom\n");
}

TEST(ParseGTestProgress, AVerdictNamingAnotherTestIsOutput) {
  // A test that prints GoogleTest-looking lines (it runs another GoogleTest
  // binary, or logs one): only its own verdict ends it.
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\n"
      "[       OK ] B.y (1 ms)\n"
      "[  FAILED  ] A.xy (2 ms)\n"
      "[  SKIPPED ] A (3 ms)\n"
      "[  FAILED  ] Other.t, where GetParam() = 1 (4 ms)\n"
      "[       OK ] A.x (5 ms)\n"
      "[ RUN      ] A.w\n"
      "[       OK ] A.wx (1 ms)\n");
  EXPECT_EQ(describe(tests),
            "A.x passed 5ms [[       OK ] B.y (1 ms)\n[  FAILED  ] A.xy (2 ms)\n"
            "[  SKIPPED ] A (3 ms)\n[  FAILED  ] Other.t, where GetParam() = 1 (4 ms)\n]\n"
            "A.w running 0ms [[       OK ] A.wx (1 ms)\n]\n");
}

TEST(ParseGTestProgress, LinesBetweenTestsAreNobodysOutput) {
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\n"
      "[       OK ] A.x (1 ms)\n"
      "stray output between tests\n"
      "[----------] 1 test from A (1 ms total)\n"
      "[ RUN      ] B.y\n"
      "mine\n"
      "[  FAILED  ] B.y (2 ms)\n"
      "[----------] Global test environment tear-down\n");
  EXPECT_EQ(describe(tests), "A.x passed 1ms []\nB.y failed 2ms [mine\n]\n");
}

TEST(ParseGTestProgress, TheSameTestRunTwiceIsListedTwice) {
  // --gtest_repeat=2
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.x\n[       OK ] A.x (1 ms)\n"
      "Repeating all tests (iteration 2) . . .\n"
      "[ RUN      ] A.x\noops\n[  FAILED  ] A.x (2 ms)\n");
  EXPECT_EQ(describe(tests), "A.x passed 1ms []\nA.x failed 2ms [oops\n]\n");
}

// A test whose last output has no trailing newline (printf("partial") in
// the test body) makes GoogleTest print its verdict on the same line:
// "partial[       OK ] A.NoNewline (0 ms)" (captured from GoogleTest 1.12).
TEST(ParseGTestProgress, VerdictAfterOutputWithoutANewline) {
  const auto tests = parse_gtest_progress(
      "[ RUN      ] A.NoNewline\n"
      "partial[       OK ] A.NoNewline (0 ms)\n"
      "[----------] 1 test from A (0 ms total)\n"
      "[ RUN      ] B.next\n"
      "[       OK ] B.next (1 ms)\n");
  ASSERT_EQ(tests.size(), 2u) << describe(tests);
  EXPECT_EQ(tests[0].state, GTestProgress::State::kPassed) << describe(tests);
  EXPECT_EQ(tests[0].time, 0ms) << describe(tests);
  EXPECT_EQ(tests[0].output.find("[       OK ]"), std::string::npos) << describe(tests);
}

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

// ---- interpret_gtest_shard ----

// A two-test report: A.ok passed in 5 ms, A.bad failed with "boom".
constexpr const char* kShardReport = R"kiln(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" failures="1" disabled="0" errors="0" time="0.01" name="AllTests">
  <testsuite name="A" tests="2" failures="1" disabled="0" errors="0" time="0.01">
    <testcase name="ok" status="run" result="completed" time="0.005" classname="A" />
    <testcase name="bad" status="run" result="completed" time="0.001" classname="A">
      <failure message="t.cpp:3&#x0A;boom" type=""><![CDATA[t.cpp:3
boom]]></failure>
    </testcase>
  </testsuite>
</testsuites>
)kiln";

const TestResult* verdict_of(const ShardVerdicts& v, const std::string& id) {
  for (const TestResult& r : v.verdicts)
    if (r.id == id) return &r;
  return nullptr;
}

TEST(InterpretGTestShard, AReportDecidesAndFailuresKeepTheirConsole) {
  const std::vector<std::string> tests{"A.bad", "A.ok"};
  ShardRun run;
  run.exit_code = 1;
  run.out =
      "[ RUN      ] A.ok\n[       OK ] A.ok (5 ms)\n[ RUN      ] A.bad\nt.cpp:3: Failure\nboom\n"
      "[  FAILED  ] A.bad (1 ms)\n";
  run.report = kShardReport;
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  ASSERT_EQ(v.verdicts.size(), 2u);
  EXPECT_TRUE(v.rerun.empty());
  EXPECT_TRUE(v.rerun_alone.empty());
  EXPECT_TRUE(v.report_error.empty());
  EXPECT_EQ(verdict_of(v, "A.ok")->outcome, Outcome::kPassed);
  EXPECT_EQ(verdict_of(v, "A.ok")->time, 5ms);
  const TestResult* bad = verdict_of(v, "A.bad");
  EXPECT_EQ(bad->outcome, Outcome::kFailed);
  EXPECT_EQ(bad->output, "t.cpp:3: Failure\nboom\n");
}

TEST(InterpretGTestShard, ATestMissingFromTheReportFailed) {
  const std::vector<std::string> tests{"A.bad", "A.gone", "A.ok"};
  ShardRun run;
  run.exit_code = 1;
  run.report = kShardReport;
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  ASSERT_EQ(v.verdicts.size(), 3u);
  EXPECT_EQ(verdict_of(v, "A.gone")->outcome, Outcome::kFailed);
  EXPECT_NE(verdict_of(v, "A.gone")->message.find("did not report"), std::string::npos);
}

TEST(InterpretGTestShard, ANonZeroExitWithEveryTestPassedFailsThem) {
  const std::vector<std::string> tests{"A.ok"};
  ShardRun run;
  run.exit_code = 23;  // a leak check at exit, say
  run.err = "LeakSanitizer: detected memory leaks\n";
  run.report = kShardReport;
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.verdicts[0].outcome, Outcome::kFailed);
  EXPECT_NE(v.verdicts[0].message.find("exited with code 23"), std::string::npos);
  EXPECT_NE(v.verdicts[0].output.find("LeakSanitizer"), std::string::npos);
}

TEST(InterpretGTestShard, AnUnreadableReportFailsEveryTestAndSaysWhy) {
  const std::vector<std::string> tests{"A.ok", "B.x"};
  ShardRun run;
  run.report = "<testsuites><testsuite name=\"A\" & ";
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  EXPECT_FALSE(v.report_error.empty());
  ASSERT_EQ(v.verdicts.size(), 2u);
  for (const TestResult& r : v.verdicts) EXPECT_EQ(r.outcome, Outcome::kFailed);
}

TEST(InterpretGTestShard, ACrashFailsTheRunningTestAndRerunsTheRest) {
  const std::vector<std::string> tests{"A.a", "A.b", "A.c", "A.d"};
  ShardRun run;
  run.signal = 11;
  run.exit_code = 139;
  run.out = "[ RUN      ] A.a\n[       OK ] A.a (3 ms)\n[ RUN      ] A.b\nabout to crash\n";
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 10s);
  ASSERT_EQ(v.verdicts.size(), 2u);
  EXPECT_EQ(verdict_of(v, "A.a")->outcome, Outcome::kPassed);
  const TestResult* b = verdict_of(v, "A.b");
  EXPECT_EQ(b->outcome, Outcome::kCrashed);
  EXPECT_EQ(b->signal, 11);
  EXPECT_EQ(b->output, "about to crash\n");
  EXPECT_EQ(v.rerun, (std::vector<std::string>{"A.c", "A.d"}));
  EXPECT_TRUE(v.rerun_alone.empty());
}

TEST(InterpretGTestShard, AKillIsATimeoutOnlyIfTheTestAloneRanPastItsLimit) {
  const std::vector<std::string> tests{"A.a", "A.b", "A.c"};
  ShardRun run;
  run.timed_out = true;
  run.exit_code = 137;
  run.out = "[ RUN      ] A.a\n[       OK ] A.a (4000 ms)\n[ RUN      ] A.b\n";
  // Killed 7 s in: A.b had run 3 s, past its 2 s limit.
  run.wall = 7000ms;
  ShardVerdicts v = interpret_gtest_shard(tests, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 2u);
  EXPECT_EQ(verdict_of(v, "A.b")->outcome, Outcome::kTimedOut);
  EXPECT_EQ(verdict_of(v, "A.b")->timeout, 2s);
  EXPECT_EQ(v.rerun, (std::vector<std::string>{"A.c"}));
  // Killed 5 s in: A.b had run 1 s, under its limit; the shard's own limit
  // came first, so A.b runs again alone.
  run.wall = 5000ms;
  v = interpret_gtest_shard(tests, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.rerun_alone, (std::vector<std::string>{"A.b"}));
  EXPECT_EQ(v.rerun, (std::vector<std::string>{"A.c"}));
}

TEST(InterpretGTestShard, NothingStartedIsLoneTestsVerdictOrEachAlone) {
  ShardRun run;
  run.signal = 6;
  run.exit_code = 134;
  run.err = "abort in a static constructor\n";
  const std::vector<std::string> one{"A.a"};
  ShardVerdicts v = interpret_gtest_shard(one, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.verdicts[0].outcome, Outcome::kCrashed);
  EXPECT_EQ(v.verdicts[0].signal, 6);
  const std::vector<std::string> two{"A.a", "A.b"};
  v = interpret_gtest_shard(two, run, 2s);
  EXPECT_TRUE(v.verdicts.empty());
  EXPECT_EQ(v.rerun_alone, two);
  run = ShardRun{};
  run.timed_out = true;
  v = interpret_gtest_shard(one, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.verdicts[0].outcome, Outcome::kTimedOut);
}

TEST(InterpretGTestShard, TestsOutsideTheShardAreIgnored) {
  const std::vector<std::string> tests{"A.ok"};
  ShardRun run;
  run.signal = 9;
  run.out = "[ RUN      ] Other.x\n[       OK ] Other.x (1 ms)\n[ RUN      ] A.ok\n";
  const ShardVerdicts v = interpret_gtest_shard(tests, run, 2s);
  ASSERT_EQ(v.verdicts.size(), 1u);
  EXPECT_EQ(v.verdicts[0].id, "A.ok");
  EXPECT_EQ(v.verdicts[0].outcome, Outcome::kCrashed);
}

}  // namespace
}  // namespace kiln::client::testing
