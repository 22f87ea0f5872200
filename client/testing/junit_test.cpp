// Unit tests for junit: the JUnit XML document, read back with pugixml.
#include "client/testing/junit.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>
#include <string>
#include <vector>

#include "client/testing/gtest_xml.h"
#include "client/testing/report_test_util.h"

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

using namespace test_samples;

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

}  // namespace
}  // namespace kiln::client::testing
