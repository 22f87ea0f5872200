// TestResults into a JUnit XML document: see junit.h.
#include "client/testing/junit.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <pugixml.hpp>
#include <string_view>
#include <vector>

namespace kiln::client::testing {
namespace {

using std::string_view;

constexpr string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

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

}  // namespace kiln::client::testing
