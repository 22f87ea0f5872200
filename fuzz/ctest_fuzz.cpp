// libFuzzer harness for the CTest test-list reader
// (client/testing/ctest.h): the input is what `ctest --show-only=json-v1`
// prints.
//
// Beyond "no crash" (and a refusal being kInvalidArgument or
// kResourceExhausted), it checks:
//   - a TIMEOUT that is kept is at least 1 ms (0 would mean "no limit" to
//     the runner), a SKIP_RETURN_CODE is 0..255, and the skip reason
//     follows DISABLED and a missing command;
//   - round trip: the cases written back as json-v1 (by a small writer
//     here, with nlohmann_json: name, command, and one property per field
//     that is set; the ignored properties by name) read back to the same
//     cases.
// The verdict rules (ctest_outcome) are not fuzzed: they run the test
// list's regular expressions with std::regex, whose backtracking is
// exponential on purpose-built patterns, as CTest's own is.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "client/testing/ctest.h"
#include "fuzz/invariant.h"

namespace kiln::client::testing {
namespace {

using fuzz::require;
using Json = nlohmann::json;

Json property(const std::string& name, Json value) {
  return Json{{"name", name}, {"value", std::move(value)}};
}

std::string write_test_list(const std::vector<CTestCase>& cases) {
  Json tests = Json::array();
  for (const CTestCase& c : cases) {
    Json properties = Json::array();
    if (!c.working_directory.empty()) {
      properties.push_back(property("WORKING_DIRECTORY", c.working_directory));
    }
    properties.push_back(property("ENVIRONMENT", c.environment));
    properties.push_back(property("LABELS", c.labels));
    properties.push_back(property("PASS_REGULAR_EXPRESSION", c.pass_regex));
    properties.push_back(property("FAIL_REGULAR_EXPRESSION", c.fail_regex));
    properties.push_back(property("SKIP_REGULAR_EXPRESSION", c.skip_regex));
    if (c.timeout) {
      properties.push_back(property("TIMEOUT", static_cast<double>(c.timeout->count()) / 1000));
    }
    properties.push_back(property("DISABLED", c.disabled));
    properties.push_back(property("WILL_FAIL", c.will_fail));
    if (c.skip_return_code) properties.push_back(property("SKIP_RETURN_CODE", *c.skip_return_code));
    for (const std::string& name : c.ignored_properties) properties.push_back(property(name, true));
    Json test = {{"name", c.name}, {"properties", std::move(properties)}};
    if (!c.command.empty()) test["command"] = c.command;
    tests.push_back(std::move(test));
  }
  const Json doc = {
      {"kind", "ctestInfo"}, {"version", {{"major", 1}, {"minor", 0}}}, {"tests", tests}};
  return doc.dump();
}

void check(const CTestCase& c) {
  require(!c.timeout || c.timeout->count() >= 1, "a kept TIMEOUT is at least 1 ms");
  require(!c.skip_return_code || (*c.skip_return_code >= 0 && *c.skip_return_code <= 255),
          "SKIP_RETURN_CODE is 0..255");
  if (c.disabled) {
    require(c.skip_reason == "disabled", "a disabled test is skipped as disabled");
  } else if (c.command.empty()) {
    require(!c.skip_reason.empty(), "a test without a command is skipped");
  } else {
    require(c.skip_reason.empty(), "a runnable test is not skipped");
  }
}

void run(std::string_view json) {
  const auto cases = parse_ctest_json(json);
  if (!cases.ok()) {
    const Errc code = cases.error().code;
    require(code == Errc::kInvalidArgument || code == Errc::kResourceExhausted,
            "a refusal is kInvalidArgument or kResourceExhausted");
    return;
  }
  for (const CTestCase& c : *cases) check(c);
  const auto back = parse_ctest_json(write_test_list(*cases));
  require(back.ok(), "a test list written from cases reads back");
  require(*back == *cases, "a test list written from cases reads back the same");
}

}  // namespace
}  // namespace kiln::client::testing

// libFuzzer's entry point, named by libFuzzer.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::client::testing::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
