// GoogleTest XML reports into TestResults: see gtest_xml.h.
#include "client/testing/gtest_xml.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <pugixml.hpp>
#include <string>
#include <system_error>
#include <utility>

namespace kiln::client::testing {
namespace {

using std::string_view;

Error invalid(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

Result<std::chrono::milliseconds> parse_seconds(string_view text) {
  double seconds = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (ec != std::errc() || ptr != end || !std::isfinite(seconds) || seconds < 0 || seconds > 1e9) {
    return invalid("bad time \"" + std::string(text) + "\"");
  }
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

// The text of `node`'s direct pcdata and CDATA children, joined (GoogleTest
// splits a message containing "]]>" across several CDATA sections).
std::string all_text(const pugi::xml_node& node) {
  std::string out;
  for (const pugi::xml_node child : node.children()) {
    if (child.type() == pugi::node_pcdata || child.type() == pugi::node_cdata) out += child.value();
  }
  return out;
}

Result<TestResult> read_testcase(const pugi::xml_node& tc, const std::string& suite) {
  TestResult r;
  r.suite = suite;
  const pugi::xml_attribute name = tc.attribute("name");
  if (!name) return invalid("a <testcase> in suite \"" + suite + "\" has no name attribute");
  r.name = name.value();
  if (!r.name.empty()) {
    r.id = suite + "." + r.name;
  } else {
    r.id = suite.empty() ? "(environment)" : suite;
  }
  const pugi::xml_attribute status = tc.attribute("status");
  if (!status) {
    return invalid("testcase " + r.id +
                   " has no status attribute: not a GoogleTest result report (a test listing?)");
  }
  const string_view result = tc.attribute("result").value();
  if (const pugi::xml_attribute time = tc.attribute("time")) {
    auto t = parse_seconds(time.value());
    if (!t) return invalid("testcase " + r.id + ": " + t.error().message);
    r.time = *t;
  }

  bool failed = false;
  for (const pugi::xml_node child : tc.children()) {
    const string_view tag = child.name();
    if (tag != "failure" && tag != "error") continue;
    if (!failed) r.message = child.attribute("message").value();
    if (failed) r.output += "\n";
    r.output += all_text(child);
    failed = true;
  }
  const pugi::xml_node skipped = tc.child("skipped");
  if (failed) {
    r.outcome = Outcome::kFailed;
  } else if (result == "skipped" || skipped) {
    r.outcome = Outcome::kSkipped;
    r.message = skipped ? skipped.attribute("message").value() : "skipped";
  } else if (string_view(status.value()) == "notrun" || result == "suppressed") {
    r.outcome = Outcome::kSkipped;
    r.message = "disabled";
  } else if (string_view(status.value()) == "run") {
    r.outcome = Outcome::kPassed;
  } else {
    return invalid("testcase " + r.id + " has status \"" + status.value() +
                   "\" (GoogleTest writes \"run\" or \"notrun\")");
  }
  return r;
}

}  // namespace

Result<std::vector<TestResult>> parse_gtest_xml(std::string_view xml) {
  if (xml.size() > kMaxReportBytes) return oversized_input("the GoogleTest XML report", xml.size());
  pugi::xml_document doc;
  const pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return invalid("the GoogleTest XML report is not well-formed XML (truncated?): " +
                   std::string(parsed.description()) + " at byte " + std::to_string(parsed.offset));
  }
  pugi::xml_node root;
  int elements = 0;
  for (const pugi::xml_node child : doc.children()) {
    if (child.type() != pugi::node_element) continue;
    ++elements;
    root = child;
  }
  if (elements != 1 || string_view(root.name()) != "testsuites") {
    return invalid(std::string("not a GoogleTest XML report: the root element is <") +
                   (elements == 0 ? "" : root.name()) + ">, not one <testsuites>");
  }
  std::vector<TestResult> results;
  for (const pugi::xml_node suite : root.children("testsuite")) {
    const std::string suite_name = suite.attribute("name").value();
    for (const pugi::xml_node tc : suite.children("testcase")) {
      auto r = read_testcase(tc, suite_name);
      if (!r) return invalid("not a GoogleTest XML report: " + r.error().message);
      results.push_back(std::move(*r));
    }
  }
  return results;
}

}  // namespace kiln::client::testing
