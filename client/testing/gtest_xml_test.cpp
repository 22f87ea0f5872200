// Unit tests for gtest_xml: GoogleTest XML reports in (samples captured
// from real GoogleTest 1.12 runs); every malformed input is an error,
// never a crash.
#include "client/testing/gtest_xml.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "client/testing/report_test_util.h"

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

using namespace test_samples;

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

}  // namespace
}  // namespace kiln::client::testing
