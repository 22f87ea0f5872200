// CTest's test list, selection and verdicts: see ctest.h.
#include "client/testing/ctest.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <regex>
#include <utility>

namespace kiln::client::testing {
namespace {

Error invalid(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

using Json = nlohmann::json;

Result<std::vector<std::string>> string_list(const Json& v, const std::string& what) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) return invalid(what + " is not a list of strings");
  for (const Json& e : v) {
    if (!e.is_string()) return invalid(what + " is not a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

Status read_property(CTestCase& c, const Json& p) {
  if (!p.is_object() || !p.contains("name") || !p["name"].is_string() || !p.contains("value")) {
    return invalid("test \"" + c.name + "\" has a property without a name and value");
  }
  const std::string name = p["name"].get<std::string>();
  const Json& v = p["value"];
  const std::string what = "test \"" + c.name + "\" property " + name;
  const auto list_into = [&](std::vector<std::string>& dst) -> Status {
    auto l = string_list(v, what);
    if (!l) return l.error();
    dst = std::move(*l);
    return {};
  };
  if (name == "WORKING_DIRECTORY") {
    if (!v.is_string()) return invalid(what + " is not a string");
    c.working_directory = v.get<std::string>();
  } else if (name == "ENVIRONMENT") {
    return list_into(c.environment);
  } else if (name == "LABELS") {
    return list_into(c.labels);
  } else if (name == "PASS_REGULAR_EXPRESSION") {
    return list_into(c.pass_regex);
  } else if (name == "FAIL_REGULAR_EXPRESSION") {
    return list_into(c.fail_regex);
  } else if (name == "SKIP_REGULAR_EXPRESSION") {
    return list_into(c.skip_regex);
  } else if (name == "TIMEOUT") {
    if (!v.is_number()) return invalid(what + " is not a number");
    const double seconds = v.get<double>();
    if (!std::isfinite(seconds) || seconds > 1e9) return invalid(what + " is out of range");
    // At least 1 ms: rounded to 0 it would read as "no limit" downstream.
    if (seconds > 0) {
      c.timeout = std::chrono::milliseconds(std::max(1LL, std::llround(seconds * 1000)));
    }
  } else if (name == "DISABLED" || name == "WILL_FAIL") {
    if (!v.is_boolean()) return invalid(what + " is not a boolean");
    (name == "DISABLED" ? c.disabled : c.will_fail) = v.get<bool>();
  } else if (name == "SKIP_RETURN_CODE") {
    if (!v.is_number_integer()) return invalid(what + " is not an integer");
    const auto code = v.get<std::int64_t>();
    if (code < 0 || code > 255) return invalid(what + " is out of range 0..255");
    c.skip_return_code = static_cast<int>(code);
  } else {
    c.ignored_properties.push_back(name);
  }
  return {};
}

Result<CTestCase> read_ctest(const Json& t, std::size_t i) {
  if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
    return invalid("tests[" + std::to_string(i) + "] has no name");
  }
  CTestCase c;
  c.name = t["name"].get<std::string>();
  if (t.contains("command")) {
    if (!t["command"].is_array()) return invalid("test \"" + c.name + "\" command is not a list");
    auto cmd = string_list(t["command"], "test \"" + c.name + "\" command");
    if (!cmd) return cmd.error();
    c.command = std::move(*cmd);
  }
  if (t.contains("properties")) {
    const Json& props = t["properties"];
    if (!props.is_array()) return invalid("test \"" + c.name + "\" properties is not a list");
    for (const Json& p : props) {
      if (Status s = read_property(c, p); !s) return s.error();
    }
  }
  if (c.disabled) {
    c.skip_reason = "disabled";
  } else if (c.command.empty()) {
    c.skip_reason = "not available: CTest found no executable";
  }
  return c;
}

}  // namespace

Result<std::vector<CTestCase>> parse_ctest_json(std::string_view json) {
  if (json.size() > kMaxReportBytes) return oversized_input("the CTest JSON", json.size());
  const Json doc = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid("the CTest test list is not valid JSON (truncated?)");
  if (!doc.is_object() || doc.value("kind", Json()) != "ctestInfo") {
    return invalid("not `ctest --show-only=json-v1` output: no \"kind\": \"ctestInfo\"");
  }
  const Json version = doc.value("version", Json());
  if (!version.is_object() || version.value("major", Json()) != 1) {
    return invalid("unsupported CTest JSON version (kiln reads major version 1)");
  }
  if (!doc.contains("tests") || !doc["tests"].is_array()) {
    return invalid("the CTest test list has no \"tests\" array");
  }
  std::vector<CTestCase> cases;
  const Json& tests = doc["tests"];
  for (std::size_t i = 0; i < tests.size(); ++i) {
    auto c = read_ctest(tests[i], i);
    if (!c) return c.error();
    cases.push_back(std::move(*c));
  }
  return cases;
}

Result<std::vector<CTestCase>> filter_ctest(std::span<const CTestCase> cases,
                                            const CTestFilter& filter) {
  struct Compiled {
    std::optional<std::regex> include, exclude, label, label_exclude;
  } re;
  const std::pair<const std::string*, std::optional<std::regex>*> options[] = {
      {&filter.include, &re.include},
      {&filter.exclude, &re.exclude},
      {&filter.label, &re.label},
      {&filter.label_exclude, &re.label_exclude}};
  const char* const flags[] = {"-R", "-E", "-L", "-LE"};
  for (std::size_t i = 0; i < std::size(options); ++i) {
    if (options[i].first->empty()) continue;
    try {
      options[i].second->emplace(*options[i].first, std::regex::ECMAScript | std::regex::nosubs);
    } catch (const std::regex_error& e) {
      return invalid(std::string(flags[i]) + " \"" + *options[i].first +
                     "\" is not a valid regular expression: " + e.what());
    }
  }
  const auto any_label = [](const CTestCase& c, const std::regex& r) {
    return std::any_of(c.labels.begin(), c.labels.end(),
                       [&](const std::string& l) { return std::regex_search(l, r); });
  };
  std::vector<CTestCase> kept;
  try {
    for (const CTestCase& c : cases) {
      if (re.include && !std::regex_search(c.name, *re.include)) continue;
      if (re.exclude && std::regex_search(c.name, *re.exclude)) continue;
      if (re.label && !any_label(c, *re.label)) continue;
      if (re.label_exclude && any_label(c, *re.label_exclude)) continue;
      kept.push_back(c);
    }
  } catch (const std::regex_error& e) {  // error_complexity / error_stack on a pathological match
    return invalid(std::string("matching the test filter failed: ") + e.what());
  }
  return kept;
}

Outcome ctest_outcome(const CTestCase& test, const CTestRun& run, std::string_view output,
                      std::string& message) {
  message.clear();
  if (run.timed_out) {
    message = "timed out";
    return Outcome::kTimedOut;
  }
  if (run.signal != 0) {
    message = "crashed (signal " + std::to_string(run.signal) + ")";
    return Outcome::kCrashed;
  }
  // Searches the output for each expression; nullopt when one is invalid.
  const auto matching = [&](const std::vector<std::string>& expressions,
                            const char* property) -> std::optional<std::string> {
    for (const std::string& expression : expressions) {
      try {
        if (std::regex_search(output.begin(), output.end(), std::regex(expression)))
          return expression;
      } catch (const std::regex_error&) {
        message = std::string(property) + " '" + expression + "' is not a valid expression";
        return std::nullopt;
      }
    }
    return std::string();
  };
  if (test.skip_return_code && *test.skip_return_code == run.exit_code) {
    message = "SKIP_RETURN_CODE " + std::to_string(run.exit_code);
    return Outcome::kSkipped;
  }
  const auto skip = matching(test.skip_regex, "SKIP_REGULAR_EXPRESSION");
  if (!skip) return Outcome::kFailed;
  if (!skip->empty()) {
    message = "matched SKIP_REGULAR_EXPRESSION '" + *skip + "'";
    return Outcome::kSkipped;
  }
  bool passed = run.exit_code == 0;
  std::string why = "exit code " + std::to_string(run.exit_code);
  if (!test.pass_regex.empty()) {
    const auto pass = matching(test.pass_regex, "PASS_REGULAR_EXPRESSION");
    if (!pass) return Outcome::kFailed;
    passed = !pass->empty();
    why = "no PASS_REGULAR_EXPRESSION matched";
  }
  const auto fail = matching(test.fail_regex, "FAIL_REGULAR_EXPRESSION");
  if (!fail) return Outcome::kFailed;
  if (!fail->empty()) {
    passed = false;
    why = "matched FAIL_REGULAR_EXPRESSION '" + *fail + "'";
  }
  if (test.will_fail) {
    passed = !passed;
    why = "WILL_FAIL, but it passed";
  }
  if (!passed) message = why;
  return passed ? Outcome::kPassed : Outcome::kFailed;
}

}  // namespace kiln::client::testing
