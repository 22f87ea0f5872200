// Unit tests for client/test_report: GoogleTest XML in (samples captured
// from real GoogleTest 1.12 runs), JUnit XML and JSON out, CTest's test
// list (captured from `ctest --show-only=json-v1`, CMake 3.25) and its
// filters; every malformed input is an error, never a crash.
#include "client/test_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <string>

namespace kiln::client {
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

}  // namespace
}  // namespace kiln::client
