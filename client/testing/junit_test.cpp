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

pugi::xml_node testsuite(const pugi::xml_document& doc, const char* suite) {
  return doc.child("testsuites").find_child_by_attribute("testsuite", "name", suite);
}

pugi::xml_node testcase(const pugi::xml_document& doc, const char* suite, const char* name) {
  return testsuite(doc, suite).find_child_by_attribute("testcase", "name", name);
}

// The value of the suite's property `name`, "" if it has none; every
// property name appears once.
std::string property(pugi::xml_node suite, const std::string& name) {
  std::string value;
  int seen = 0;
  for (pugi::xml_node p : suite.child("properties").children("property")) {
    if (p.attribute("name").value() != name) continue;
    value = p.attribute("value").value();
    ++seen;
  }
  EXPECT_LE(seen, 1) << name;
  return value;
}

std::vector<std::string> child_names(pugi::xml_node node) {
  std::vector<std::string> names;
  for (pugi::xml_node c : node.children()) names.emplace_back(c.name());
  return names;
}

std::vector<std::string> attribute_names(pugi::xml_node node) {
  std::vector<std::string> names;
  for (pugi::xml_attribute a : node.attributes()) names.emplace_back(a.name());
  return names;
}

TEST(WriteJUnit, CountsAndStructure) {
  const auto results = mixed();
  JUnitOptions o;
  o.name = "unit";
  o.timestamp = "2024-05-01T12:00:00";
  o.hostname = "ci-7";
  const std::string xml = write_junit(results, o);
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0), 0u) << xml;
  const pugi::xml_document doc = reparse(xml);
  const pugi::xml_node root = doc.child("testsuites");
  ASSERT_TRUE(root);
  // The Ant JUnit schema allows <testsuites> no attribute.
  EXPECT_FALSE(root.first_attribute()) << root.first_attribute().name();

  // Suites in order of first appearance, numbered from 0; a suite's tests
  // stay together.
  std::vector<std::string> suites;
  int testcases = 0;
  for (pugi::xml_node s : root.children("testsuite")) {
    EXPECT_EQ(s.attribute("id").as_int(-1), static_cast<int>(suites.size()));
    suites.push_back(s.attribute("name").value());
    for ([[maybe_unused]] pugi::xml_node tc : s.children("testcase")) ++testcases;
  }
  EXPECT_EQ(suites, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(testcases, 7);
  const pugi::xml_node a = testsuite(doc, "A");
  EXPECT_EQ(attribute_names(a),
            (std::vector<std::string>{"name", "tests", "failures", "errors", "time", "timestamp",
                                      "hostname", "id", "package"}));
  EXPECT_STREQ(a.attribute("tests").value(), "3");
  EXPECT_STREQ(a.attribute("failures").value(), "1");
  EXPECT_STREQ(a.attribute("errors").value(), "1");
  EXPECT_STREQ(a.attribute("time").value(), "1.517");
  EXPECT_STREQ(a.attribute("timestamp").value(), "2024-05-01T12:00:00");
  EXPECT_STREQ(a.attribute("hostname").value(), "ci-7");
  EXPECT_STREQ(a.attribute("package").value(), "") << "Jenkins would prefix the suite's name";
  EXPECT_EQ(property(a, "run"), "unit");
  // The Ant schema's order, every element present.
  EXPECT_EQ(child_names(a), (std::vector<std::string>{"properties", "testcase", "testcase",
                                                      "testcase", "system-out", "system-err"}));
  EXPECT_STREQ(testsuite(doc, "C").attribute("time").value(), "30.002");
  EXPECT_STREQ(testsuite(doc, "C").attribute("errors").value(), "1");

  const pugi::xml_node pass = testcase(doc, "A", "pass");
  EXPECT_EQ(attribute_names(pass), (std::vector<std::string>{"name", "classname", "time"}));
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
  EXPECT_EQ(property(testsuite(doc, "C"), "cached:cached"), "true");
  EXPECT_EQ(property(testsuite(doc, "C"), "cached:slow"), "");
  EXPECT_EQ(property(a, "cached:pass"), "");
  // Every testcase holds one element at most (the Ant schema's rule).
  for (pugi::xml_node s : root.children("testsuite")) {
    for (pugi::xml_node tc : s.children("testcase")) {
      EXPECT_LE(child_names(tc).size(), 1u) << tc.attribute("name").value();
    }
  }
}

TEST(WriteJUnit, FlakyRoundTrips) {
  const std::string xml = write_junit(mixed());
  const pugi::xml_document doc = reparse(xml);
  const pugi::xml_node b = testsuite(doc, "B");
  const pugi::xml_node flaky = testcase(doc, "B", "flaky");
  ASSERT_TRUE(flaky);
  EXPECT_FALSE(flaky.first_child()) << "flaky is not a failure, and a testcase holds no notes";
  EXPECT_EQ(property(b, "flaky:flaky"), "true");
  EXPECT_EQ(property(b, "attempts:flaky"), "2");
  EXPECT_EQ(property(b, "flaky:skip"), "");
  EXPECT_EQ(property(b, "attempts:skip"), "") << "one attempt is the default";
  EXPECT_EQ(property(testsuite(doc, "A"), "flaky:pass"), "");
  EXPECT_EQ(std::string(b.child("system-out").text().get()),
            "kiln: flaky: flaky passed on attempt 2 after failing: first attempt failed\n");
  EXPECT_FALSE(testsuite(doc, "A").child("system-out").first_child()) << "no flaky test in A";
  // Defaults when the caller knows no time or host.
  EXPECT_STREQ(b.attribute("timestamp").value(), "1970-01-01T00:00:00");
  EXPECT_STREQ(b.attribute("hostname").value(), "localhost");
  EXPECT_EQ(property(b, "run"), "kiln test");
}

TEST(WriteJUnit, ReadsBackWhatGTestWrote) {
  auto parsed = parse_gtest_xml(kFullRun);
  ASSERT_TRUE(parsed.ok());
  const pugi::xml_document doc = reparse(write_junit(*parsed));
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  for (pugi::xml_node s : doc.child("testsuites").children("testsuite")) {
    tests += s.attribute("tests").as_int();
    failures += s.attribute("failures").as_int();
    errors += s.attribute("errors").as_int();
    for (pugi::xml_node tc : s.children("testcase")) skipped += tc.child("skipped") ? 1 : 0;
  }
  EXPECT_EQ(tests, 8);
  EXPECT_EQ(failures, 2);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(skipped, 2);
  EXPECT_STREQ(testsuite(doc, "Math").attribute("tests").value(), "4");
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
  EXPECT_EQ(std::string(testsuite(doc, "S").attribute("hostname").value()), "host" + fffd);
  EXPECT_EQ(property(testsuite(doc, "S"), "run").find('\x01'), std::string::npos);
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

  // A flaky test's note keeps its first line (which test) and the tail of
  // the output.
  TestResult k = make("S", "K", Outcome::kFlaky);
  k.attempts = 3;
  k.output = std::string(1000, 'b') + "LAST";
  const pugi::xml_document flaky = reparse(write_junit(std::vector{k}, o));
  EXPECT_EQ(std::string(testsuite(flaky, "S").child("system-out").text().get()),
            "kiln: flaky: K passed on attempt 3 after failing\n[kiln: 904 earlier bytes cut]\n" +
                std::string(96, 'b') + "LAST\n");
}

TEST(WriteJUnit, EdgeCases) {
  // Nothing ran: still a valid document, a bare <testsuites/>.
  const pugi::xml_document empty = reparse(write_junit({}));
  EXPECT_TRUE(empty.child("testsuites"));
  EXPECT_FALSE(empty.child("testsuites").first_child());
  EXPECT_FALSE(empty.child("testsuites").first_attribute());

  TestResult t = make("S", "T", Outcome::kTimedOut, 2500ms);  // no limit given: its time
  TestResult f = make("S", "F", Outcome::kFailed);            // no message at all
  TestResult e = make("", "", Outcome::kFailed);
  e.id = "(environment)";
  const pugi::xml_document doc = reparse(write_junit(std::vector{t, f, e}));
  EXPECT_STREQ(testcase(doc, "S", "T").child("error").attribute("message").value(),
               "timed out after 2.5 s");
  EXPECT_STREQ(testcase(doc, "S", "F").child("failure").attribute("message").value(), "failed");
  // A blank suite name is no token for the Ant schema: it gets one. The
  // testcase keeps its empty classname.
  const pugi::xml_node none = testcase(doc, "(no suite)", "(environment)");
  EXPECT_TRUE(none.child("failure"));
  EXPECT_STREQ(none.attribute("classname").value(), "");

  // A timestamp in another shape (a zone, a fraction) and a blank host.
  for (const char* stamp : {"2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5", "2024-05-01", ""}) {
    JUnitOptions o;
    o.timestamp = stamp;
    o.hostname = " \t";
    const pugi::xml_document d = reparse(write_junit(std::vector{f}, o));
    EXPECT_STREQ(testsuite(d, "S").attribute("timestamp").value(), "1970-01-01T00:00:00") << stamp;
    EXPECT_STREQ(testsuite(d, "S").attribute("hostname").value(), "localhost");
  }
}

}  // namespace
}  // namespace kiln::client::testing
