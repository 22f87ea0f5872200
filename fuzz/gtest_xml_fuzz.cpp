// libFuzzer harness for the GoogleTest XML reader
// (client/testing/gtest_xml.h): the input is a report as a test binary
// would write it with --gtest_output=xml.
//
// Beyond "no crash" (and a refusal being kInvalidArgument or
// kResourceExhausted), it checks:
//   - every result has an id that is "suite.name", or the suite (or
//     "(environment)") when the name is empty; only a failure carries
//     output; a time is never negative;
//   - round trip: the results written back as a GoogleTest report (by a
//     small writer here, with pugixml: a <testsuite> per run of one suite,
//     status/result attributes, <failure> with the output as CDATA and
//     <skipped> children, times in seconds with 3 decimals) read back to the
//     same results.
#include <cstddef>
#include <cstdint>
#include <pugixml.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "client/testing/gtest_xml.h"
#include "fuzz/invariant.h"

namespace kiln::client::testing {
namespace {

using fuzz::require;

std::string seconds(std::chrono::milliseconds ms) {
  const auto count = ms.count();
  std::string frac = std::to_string(count % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return std::to_string(count / 1000) + "." + frac;
}

std::string write_report(const std::vector<TestResult>& results) {
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("testsuites");
  pugi::xml_node suite;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const TestResult& r = results[i];
    if (i == 0 || r.suite != results[i - 1].suite) {
      suite = root.append_child("testsuite");
      suite.append_attribute("name") = r.suite.c_str();
    }
    pugi::xml_node tc = suite.append_child("testcase");
    tc.append_attribute("name") = r.name.c_str();
    tc.append_attribute("status") = "run";
    tc.append_attribute("result") = r.outcome == Outcome::kSkipped ? "skipped" : "completed";
    tc.append_attribute("time") = seconds(r.time).c_str();
    if (r.outcome == Outcome::kFailed) {
      pugi::xml_node failure = tc.append_child("failure");
      failure.append_attribute("message") = r.message.c_str();
      // CDATA, as GoogleTest writes it: it keeps whitespace-only text
      // (pugixml drops such pcdata), and pugixml splits it at "]]>".
      if (!r.output.empty()) failure.append_child(pugi::node_cdata).set_value(r.output.c_str());
    } else if (r.outcome == Outcome::kSkipped) {
      tc.append_child("skipped").append_attribute("message") = r.message.c_str();
    }
  }
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

void check(const TestResult& r) {
  if (!r.name.empty()) {
    require(r.id == r.suite + "." + r.name, "a test's id is suite.name");
  } else {
    require(r.id == (r.suite.empty() ? "(environment)" : r.suite), "an unnamed test's id");
  }
  require(r.outcome == Outcome::kPassed || r.outcome == Outcome::kFailed ||
              r.outcome == Outcome::kSkipped,
          "a report says passed, failed or skipped");
  require(r.outcome == Outcome::kFailed || r.output.empty(), "only a failure has output");
  require(r.time.count() >= 0, "a time is not negative");
}

void run(std::string_view xml) {
  const auto results = parse_gtest_xml(xml);
  if (!results.ok()) {
    const Errc code = results.error().code;
    require(code == Errc::kInvalidArgument || code == Errc::kResourceExhausted,
            "a refusal is kInvalidArgument or kResourceExhausted");
    return;
  }
  for (const TestResult& r : *results) check(r);
  const std::string written = write_report(*results);
  const auto back = parse_gtest_xml(written);
  require(back.ok(), "a report written from results reads back");
  require(*back == *results, "a report written from results reads back the same");
}

}  // namespace
}  // namespace kiln::client::testing

// libFuzzer's entry point, named by libFuzzer.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::client::testing::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
