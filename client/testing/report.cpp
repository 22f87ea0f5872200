// Test result formats for `kiln test`. XML goes through pugixml (parsing,
// escaping) and JSON through nlohmann_json; what is kiln's own is the
// mapping between their trees and TestResult / CTestCase, and making text
// from test binaries safe to put into XML 1.0.
#include "client/testing/report.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pugixml.hpp>
#include <regex>
#include <set>
#include <system_error>
#include <utility>

namespace kiln::client::testing {
namespace {

using std::string_view;
using namespace std::chrono_literals;

constexpr string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

Error too_big(string_view what, std::size_t size) {
  return make_error(Errc::kResourceExhausted, std::string(what) + " is " + std::to_string(size) +
                                                  " bytes; the limit is " +
                                                  std::to_string(kMaxReportBytes));
}

Error invalid(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

// ---- XML 1.0 safe text ----

bool xml_char_allowed(std::uint32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
         (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

// Length of the well-formed UTF-8 sequence at s[i] and its code point, or 0.
std::size_t decode_utf8(string_view s, std::size_t i, std::uint32_t& cp) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  std::uint32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1Fu, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0Fu, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// `s` with every byte sequence XML 1.0 cannot carry (invalid UTF-8, control
// characters other than tab/newline/return, U+FFFE/U+FFFF) as U+FFFD.
std::string xml_safe(string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    const std::size_t len = decode_utf8(s, i, cp);
    if (len == 0) {
      out += kReplacement;
      ++i;
    } else {
      if (xml_char_allowed(cp)) {
        out.append(s.substr(i, len));
      } else {
        out += kReplacement;
      }
      i += len;
    }
  }
  return out;
}

// The last `max` bytes of `s` (not starting inside a UTF-8 sequence), with
// a note when something was cut.
std::string tail(string_view s, std::size_t max) {
  if (s.size() <= max) return std::string(s);
  std::size_t start = s.size() - max;
  while (start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0u) == 0x80u) ++start;
  return "[kiln: " + std::to_string(start) + " earlier bytes cut]\n" + std::string(s.substr(start));
}

std::string seconds3(std::chrono::milliseconds ms) {
  const long long v = std::max<long long>(ms.count(), 0);
  std::string frac = std::to_string(v % 1000);
  frac.insert(0, 3 - frac.size(), '0');
  return std::to_string(v / 1000) + "." + frac;
}

// ---- GoogleTest XML ----

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

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPassed:
      return "passed";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kSkipped:
      return "skipped";
    case Outcome::kFlaky:
      return "flaky";
    case Outcome::kCrashed:
      return "crashed";
    case Outcome::kTimedOut:
      return "timed_out";
  }
  return "unknown";
}

bool is_real_failure(Outcome outcome) {
  return outcome == Outcome::kFailed || outcome == Outcome::kCrashed ||
         outcome == Outcome::kTimedOut;
}

Result<std::vector<TestResult>> parse_gtest_xml(std::string_view xml) {
  if (xml.size() > kMaxReportBytes) return too_big("the GoogleTest XML report", xml.size());
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

// ---- JUnit ----

namespace {

struct SuiteTotals {
  std::string name;
  std::vector<const TestResult*> tests;
  int failures = 0;
  int errors = 0;
  int skipped = 0;
  std::chrono::milliseconds time{0};

  void add(const TestResult& r) {
    tests.push_back(&r);
    failures += r.outcome == Outcome::kFailed ? 1 : 0;
    errors += r.outcome == Outcome::kCrashed || r.outcome == Outcome::kTimedOut ? 1 : 0;
    skipped += r.outcome == Outcome::kSkipped ? 1 : 0;
    time += r.time;
  }
};

void set_attr(pugi::xml_node node, const char* name, string_view value) {
  node.append_attribute(name).set_value(xml_safe(value).c_str());
}

void set_counts(pugi::xml_node node, const SuiteTotals& t) {
  node.append_attribute("tests").set_value(std::to_string(t.tests.size()).c_str());
  node.append_attribute("failures").set_value(std::to_string(t.failures).c_str());
  node.append_attribute("errors").set_value(std::to_string(t.errors).c_str());
  node.append_attribute("skipped").set_value(std::to_string(t.skipped).c_str());
  node.append_attribute("time").set_value(seconds3(t.time).c_str());
}

void add_property(pugi::xml_node& props, pugi::xml_node tc, const char* name,
                  const std::string& value) {
  if (!props) props = tc.append_child("properties");
  pugi::xml_node p = props.append_child("property");
  p.append_attribute("name").set_value(name);
  p.append_attribute("value").set_value(value.c_str());
}

void add_text(pugi::xml_node node, string_view text, std::size_t max) {
  if (text.empty()) return;
  node.append_child(pugi::node_pcdata).set_value(xml_safe(tail(text, max)).c_str());
}

std::string crash_message(const TestResult& r) {
  if (r.signal != 0) return "crashed (signal " + std::to_string(r.signal) + ")";
  return "crashed (exit code " + std::to_string(r.exit_code) + ")";
}

std::string timeout_message(const TestResult& r) {
  const auto limit = r.timeout.count() > 0 ? r.timeout : r.time;
  std::string s = seconds3(limit);
  // "30.000" -> "30", "2.500" -> "2.5"
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return "timed out after " + s + " s";
}

void write_testcase(pugi::xml_node suite, const TestResult& r, const JUnitOptions& o) {
  pugi::xml_node tc = suite.append_child("testcase");
  set_attr(tc, "name", r.name.empty() ? r.id : r.name);
  set_attr(tc, "classname", r.suite);
  tc.append_attribute("time").set_value(seconds3(r.time).c_str());

  pugi::xml_node props;
  if (r.outcome == Outcome::kFlaky) add_property(props, tc, "flaky", "true");
  if (r.attempts != 1) add_property(props, tc, "attempts", std::to_string(r.attempts));
  if (r.cached) add_property(props, tc, "cached", "true");

  switch (r.outcome) {
    case Outcome::kPassed:
      break;
    case Outcome::kFailed: {
      pugi::xml_node f = tc.append_child("failure");
      set_attr(f, "message", r.message.empty() ? "failed" : r.message);
      f.append_attribute("type").set_value("failure");
      add_text(f, r.output.empty() ? r.message : r.output, o.max_output_bytes);
      break;
    }
    case Outcome::kCrashed:
    case Outcome::kTimedOut: {
      const bool crashed = r.outcome == Outcome::kCrashed;
      pugi::xml_node e = tc.append_child("error");
      set_attr(e, "message", crashed ? crash_message(r) : timeout_message(r));
      e.append_attribute("type").set_value(crashed ? "crash" : "timeout");
      add_text(e, r.output, o.max_output_bytes);
      break;
    }
    case Outcome::kSkipped: {
      pugi::xml_node s = tc.append_child("skipped");
      if (!r.message.empty()) set_attr(s, "message", r.message);
      break;
    }
    case Outcome::kFlaky: {
      std::string note =
          "kiln: flaky: passed on attempt " + std::to_string(r.attempts) + " after failing";
      if (!r.message.empty()) note += ": " + r.message;
      note += "\n";
      if (!r.output.empty()) note += r.output;
      add_text(tc.append_child("system-out"), note, o.max_output_bytes);
      break;
    }
  }
}

struct StringWriter : pugi::xml_writer {
  std::string out;
  void write(const void* data, std::size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

}  // namespace

std::string write_junit(std::span<const TestResult> results, const JUnitOptions& options) {
  std::vector<SuiteTotals> suites;
  std::map<std::string, std::size_t, std::less<>> index;
  SuiteTotals all;
  for (const TestResult& r : results) {
    auto [it, inserted] = index.try_emplace(r.suite, suites.size());
    if (inserted) {
      suites.emplace_back();
      suites.back().name = r.suite;
    }
    suites[it->second].add(r);
    all.add(r);
  }

  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version").set_value("1.0");
  decl.append_attribute("encoding").set_value("UTF-8");
  pugi::xml_node root = doc.append_child("testsuites");
  set_attr(root, "name", options.name);
  set_counts(root, all);
  if (!options.timestamp.empty()) set_attr(root, "timestamp", options.timestamp);
  for (const SuiteTotals& s : suites) {
    pugi::xml_node suite = root.append_child("testsuite");
    set_attr(suite, "name", s.name);
    set_counts(suite, s);
    if (!options.timestamp.empty()) set_attr(suite, "timestamp", options.timestamp);
    if (!options.hostname.empty()) set_attr(suite, "hostname", options.hostname);
    for (const TestResult* r : s.tests) write_testcase(suite, *r, options);
  }
  StringWriter writer;
  doc.save(writer, "  ", pugi::format_default, pugi::encoding_utf8);
  return std::move(writer.out);
}

// ---- JSON ----

TestSummary summarize(std::span<const TestResult> results) {
  TestSummary s;
  for (const TestResult& r : results) {
    ++s.total;
    s.cached += r.cached ? 1 : 0;
    s.time += r.time;
    switch (r.outcome) {
      case Outcome::kPassed:
        ++s.passed;
        break;
      case Outcome::kFailed:
        ++s.failed;
        break;
      case Outcome::kSkipped:
        ++s.skipped;
        break;
      case Outcome::kFlaky:
        ++s.flaky;
        break;
      case Outcome::kCrashed:
        ++s.crashed;
        break;
      case Outcome::kTimedOut:
        ++s.timed_out;
        break;
    }
  }
  return s;
}

std::string write_json(std::span<const TestResult> results) {
  using Json = nlohmann::ordered_json;
  Json tests = Json::array();
  for (const TestResult& r : results) {
    tests.push_back(Json{{"id", r.id},
                         {"suite", r.suite},
                         {"name", r.name},
                         {"outcome", to_string(r.outcome)},
                         {"time_ms", r.time.count()},
                         {"attempts", r.attempts},
                         {"cached", r.cached},
                         {"failure_message", r.message}});
  }
  const TestSummary s = summarize(results);
  const Json summary{{"total", s.total},          {"passed", s.passed},
                     {"failed", s.failed},        {"flaky", s.flaky},
                     {"skipped", s.skipped},      {"crashed", s.crashed},
                     {"timed_out", s.timed_out},  {"cached", s.cached},
                     {"time_ms", s.time.count()}, {"ok", s.ok()}};
  const Json doc{{"tests", std::move(tests)}, {"summary", summary}};
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string write_json(std::span<const TestResult> results, const RunInfo& run) {
  using Json = nlohmann::ordered_json;
  Json doc = Json::parse(write_json(results));
  Json shards = Json::array();
  for (const ShardRecord& shard : run.shards) {
    shards.push_back(Json{{"label", shard.label},
                          {"tests", shard.tests},
                          {"test_ids", shard.ids},
                          {"estimate_ms", shard.estimate.count()},
                          {"wall_ms", shard.wall.count()},
                          {"cached", shard.cached},
                          {"where", shard.where}});
  }
  doc["run"] = Json{{"wall_ms", run.wall.count()},
                    {"lower_bound_ms", run.lower_bound.count()},
                    {"slots", run.slots},
                    {"shards", std::move(shards)}};
  return doc.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string encode_test_result(const TestResult& r) {
  const nlohmann::ordered_json doc{{"id", r.id},
                                   {"suite", r.suite},
                                   {"name", r.name},
                                   {"outcome", to_string(r.outcome)},
                                   {"time_ms", r.time.count()},
                                   {"message", r.message},
                                   {"output", r.output},
                                   {"attempts", r.attempts},
                                   {"signal", r.signal},
                                   {"exit_code", r.exit_code},
                                   {"timeout_ms", r.timeout.count()}};
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::optional<TestResult> decode_test_result(std::string_view json) {
  if (json.size() > kMaxReportBytes) return std::nullopt;
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  const auto text = [&](const char* key, std::string& out) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  const auto number = [&](const char* key, std::int64_t& out) {
    auto it = doc.find(key);
    if (it == doc.end() || !it->is_number_integer()) return false;
    // An unsigned value past int64's range would wrap to a negative one.
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
      return false;
    out = it->get<std::int64_t>();
    return true;
  };
  TestResult r;
  std::string outcome;
  std::int64_t time = 0, attempts = 0, signal = 0, exit_code = 0, timeout = 0;
  if (!text("id", r.id) || !text("suite", r.suite) || !text("name", r.name) ||
      !text("outcome", outcome) || !text("message", r.message) || !text("output", r.output) ||
      !number("time_ms", time) || !number("attempts", attempts) || !number("signal", signal) ||
      !number("exit_code", exit_code) || !number("timeout_ms", timeout)) {
    return std::nullopt;
  }
  bool known = false;
  for (Outcome o : {Outcome::kPassed, Outcome::kFailed, Outcome::kSkipped, Outcome::kFlaky,
                    Outcome::kCrashed, Outcome::kTimedOut}) {
    if (to_string(o) == outcome) {
      r.outcome = o;
      known = true;
    }
  }
  constexpr std::int64_t kMaxMs = std::int64_t{24} * 3600 * 1000;
  if (!known || r.id.empty() || time < 0 || time > kMaxMs || timeout < 0 || timeout > kMaxMs ||
      attempts < 1 || attempts > 1000 || signal < 0 || signal > 128 || exit_code < -1 ||
      exit_code > 255) {
    return std::nullopt;
  }
  r.time = std::chrono::milliseconds(time);
  r.timeout = std::chrono::milliseconds(timeout);
  r.attempts = static_cast<int>(attempts);
  r.signal = static_cast<int>(signal);
  r.exit_code = static_cast<int>(exit_code);
  return r;
}

namespace {

// "X (12 ms)" / "X, where GetParam() = 3 (12 ms)" -> {"X", 12ms}; the
// summary's "[  FAILED  ] X" (no time) gives no time.
std::pair<std::string, std::optional<std::chrono::milliseconds>> verdict_subject(string_view rest) {
  std::optional<std::chrono::milliseconds> time;
  if (rest.size() > 5 && rest.substr(rest.size() - 4) == " ms)") {
    const auto open = rest.rfind(" (");
    if (open != string_view::npos) {
      std::int64_t ms = 0;
      const char* first = rest.data() + open + 2;
      const char* last = rest.data() + rest.size() - 4;
      auto [end, ec] = std::from_chars(first, last, ms);
      if (ec == std::errc() && end == last && ms >= 0) {
        time = std::chrono::milliseconds(ms);
        rest = rest.substr(0, open);
      }
    }
  }
  if (auto where = rest.find(", where "); where != string_view::npos) rest = rest.substr(0, where);
  return {std::string(rest), time};
}

}  // namespace

std::vector<GTestProgress> parse_gtest_progress(std::string_view console) {
  constexpr string_view kRun = "[ RUN      ] ";
  constexpr string_view kOk = "[       OK ] ";
  constexpr string_view kFailed = "[  FAILED  ] ";
  constexpr string_view kSkipped = "[  SKIPPED ] ";
  std::vector<GTestProgress> tests;
  bool open = false;  // tests.back() is running
  std::size_t pos = 0;
  while (pos < console.size()) {
    const auto nl = console.find('\n', pos);
    const std::size_t end = nl == string_view::npos ? console.size() : nl + 1;
    string_view line = console.substr(pos, end - pos);
    pos = end;
    string_view body = line;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
    if (body.starts_with(kRun)) {
      tests.push_back(GTestProgress{
          std::string(body.substr(kRun.size())), GTestProgress::State::kRunning, {}, {}});
      open = true;
      continue;
    }
    if (open) {
      GTestProgress& current = tests.back();
      // A test's output without a final newline runs into the verdict
      // ("partial[       OK ] A.b (0 ms)"): the verdict starts mid-line.
      std::size_t marker = string_view::npos;
      for (string_view m : {kOk, kFailed, kSkipped}) marker = std::min(marker, body.find(m));
      if (marker != string_view::npos && marker > 0) {
        current.output.append(line.substr(0, marker));
        line = line.substr(marker);
        body = body.substr(marker);
      }
      std::optional<GTestProgress::State> state;
      string_view rest;
      if (body.starts_with(kOk)) {
        state = GTestProgress::State::kPassed;
        rest = body.substr(kOk.size());
      } else if (body.starts_with(kFailed)) {
        state = GTestProgress::State::kFailed;
        rest = body.substr(kFailed.size());
      } else if (body.starts_with(kSkipped)) {
        state = GTestProgress::State::kSkipped;
        rest = body.substr(kSkipped.size());
      }
      if (state) {
        auto [id, time] = verdict_subject(rest);
        if (id == current.id) {
          current.state = *state;
          current.time = time.value_or(std::chrono::milliseconds(0));
          open = false;
          continue;
        }
      }
      if (current.output.size() < kMaxReportBytes) current.output.append(line);
    }
  }
  return tests;
}

// ---- CTest ----

namespace {

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
    if (seconds > 0) c.timeout = std::chrono::milliseconds(std::llround(seconds * 1000));
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
  if (json.size() > kMaxReportBytes) return too_big("the CTest JSON", json.size());
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

TestResult test_result(const std::string& id, Outcome outcome) {
  TestResult r;
  r.id = id;
  const auto dot = id.find('.');
  r.suite = dot == std::string::npos ? id : id.substr(0, dot);
  r.name = dot == std::string::npos ? id : id.substr(dot + 1);
  r.outcome = outcome;
  return r;
}

namespace {

// The end of `text`, at most `max` bytes, saying how much was cut.
std::string tail_text(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  return "[… " + std::to_string(text.size() - max) + " bytes cut]\n" +
         text.substr(text.size() - max);
}

std::string first_line(std::string_view text) {
  std::string line(text.substr(0, text.find('\n')));
  if (line.size() > 200) line = line.substr(0, 200) + "…";
  return line;
}

// "3.00 s"
std::string seconds_text(std::chrono::milliseconds ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f s", static_cast<double>(ms.count()) / 1000.0);
  return text;
}

}  // namespace

ShardVerdicts interpret_gtest_shard(std::span<const std::string> tests, const ShardRun& run,
                                    std::chrono::milliseconds per_test_timeout) {
  ShardVerdicts in;
  const std::set<std::string> wanted(tests.begin(), tests.end());
  const std::vector<GTestProgress> progress = parse_gtest_progress(run.out);
  std::map<std::string, const GTestProgress*> seen;
  for (const GTestProgress& p : progress) seen[p.id] = &p;
  const auto with_output = [&](TestResult r) {
    if (is_real_failure(r.outcome)) {
      auto p = seen.find(r.id);
      std::string console = p != seen.end() ? p->second->output : std::string();
      if (!console.empty()) r.output = console;
      if (r.output.empty()) r.output = tail_text(run.err, 8192);
    }
    return r;
  };

  const bool finished = !run.timed_out && run.signal == 0;
  if (finished && run.report) {
    auto parsed = parse_gtest_xml(*run.report);
    if (!parsed.ok()) {
      in.report_error = parsed.error().message;
      for (const std::string& id : tests) {
        TestResult r = test_result(id, Outcome::kFailed);
        r.message = "invalid XML report: " + parsed.error().message;
        in.verdicts.push_back(with_output(std::move(r)));
      }
      return in;
    }
    std::map<std::string, TestResult> reported;
    bool any_failed = false;
    for (TestResult& r : *parsed) {
      if (!wanted.contains(r.id)) continue;
      any_failed = any_failed || is_real_failure(r.outcome);
      reported[r.id] = std::move(r);
    }
    for (const std::string& id : tests) {
      auto it = reported.find(id);
      if (it == reported.end()) {
        TestResult r = test_result(id, Outcome::kFailed);
        r.message =
            "the binary did not report this test (exit code " + std::to_string(run.exit_code) + ")";
        in.verdicts.push_back(with_output(std::move(r)));
        continue;
      }
      TestResult r = std::move(it->second);
      // A non-zero exit with nothing failed in the report: something
      // outside the tests failed (SetUpTestSuite, a leak check at exit).
      if (run.exit_code != 0 && !any_failed && r.outcome != Outcome::kSkipped) {
        r.outcome = Outcome::kFailed;
        r.message = "the binary exited with code " + std::to_string(run.exit_code) +
                    " although its tests passed";
        r.output = tail_text(run.out + run.err, 8192);
      }
      in.verdicts.push_back(with_output(std::move(r)));
    }
    return in;
  }

  // No report: it crashed, was killed at its limit, or exited early. The
  // console says which tests finished and which one was running.
  std::chrono::milliseconds finished_time{0};
  const GTestProgress* running = nullptr;
  for (const GTestProgress& p : progress) {
    if (!wanted.contains(p.id)) continue;
    if (p.state == GTestProgress::State::kRunning) {
      running = &p;
      continue;
    }
    finished_time += p.time;
    TestResult r =
        test_result(p.id, p.state == GTestProgress::State::kPassed    ? Outcome::kPassed
                          : p.state == GTestProgress::State::kSkipped ? Outcome::kSkipped
                                                                      : Outcome::kFailed);
    r.time = p.time;
    if (r.outcome == Outcome::kFailed) {
      r.message = first_line(p.output);
      r.output = p.output;
    }
    in.verdicts.push_back(std::move(r));
  }
  std::set<std::string> decided;
  for (const TestResult& r : in.verdicts) decided.insert(r.id);
  if (running != nullptr) {
    decided.insert(running->id);
    const std::chrono::milliseconds in_test = run.wall - finished_time;
    if (run.timed_out && (tests.size() == 1 || in_test >= per_test_timeout)) {
      TestResult r = test_result(running->id, Outcome::kTimedOut);
      r.time = in_test;
      r.timeout = per_test_timeout;
      r.message = "timed out after " + seconds_text(per_test_timeout);
      r.output = running->output;
      in.verdicts.push_back(std::move(r));
    } else if (run.timed_out) {
      // The shard's limit came before this test's own: run it alone.
      in.rerun_alone.push_back(running->id);
    } else {
      TestResult r = test_result(running->id, Outcome::kCrashed);
      r.signal = run.signal;
      r.exit_code = run.signal != 0 ? 0 : run.exit_code;
      r.message = run.signal != 0
                      ? "crashed (signal " + std::to_string(run.signal) + ")"
                      : "exited with code " + std::to_string(run.exit_code) + " during the test";
      r.output = running->output + tail_text(run.err, 8192);
      in.verdicts.push_back(std::move(r));
    }
  }
  std::vector<std::string> left;
  for (const std::string& id : tests)
    if (!decided.contains(id)) left.push_back(id);
  if (left.empty()) return in;
  if (running == nullptr && tests.size() == 1) {
    // It died before its test started (or never printed): that test.
    TestResult r =
        test_result(left.front(), run.timed_out ? Outcome::kTimedOut : Outcome::kCrashed);
    r.signal = run.signal;
    r.exit_code = run.signal != 0 ? 0 : run.exit_code;
    r.timeout = run.timed_out ? per_test_timeout : std::chrono::milliseconds(0);
    r.time = run.wall;
    r.message = run.timed_out ? "timed out after " + seconds_text(run.timeout)
                : run.signal != 0
                    ? "crashed (signal " + std::to_string(run.signal) + ")"
                    : "exited with code " + std::to_string(run.exit_code) + " without a report";
    r.output = tail_text(run.out + run.err, 8192);
    in.verdicts.push_back(std::move(r));
    return in;
  }
  if (running == nullptr) {
    // Nothing said which test it died in: each alone finds out.
    in.rerun_alone = left;
  } else {
    in.rerun = left;
  }
  return in;
}

}  // namespace kiln::client::testing
