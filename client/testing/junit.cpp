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
  std::chrono::milliseconds time{0};

  void add(const TestResult& r) {
    tests.push_back(&r);
    failures += r.outcome == Outcome::kFailed ? 1 : 0;
    errors += r.outcome == Outcome::kCrashed || r.outcome == Outcome::kTimedOut ? 1 : 0;
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
  node.append_attribute("time").set_value(seconds3(t.time).c_str());
}

// True when `s` has something besides XML whitespace: the Ant schema's
// names are tokens of at least one character after whitespace is collapsed.
bool has_token(string_view s) { return s.find_first_not_of(" \t\r\n") != string_view::npos; }

// "YYYY-MM-DDTHH:MM:SS", the only timestamp shape the Ant schema accepts.
bool is_timestamp(string_view s) {
  constexpr string_view kShape = "dddd-dd-ddTdd:dd:dd";
  if (s.size() != kShape.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool digit = s[i] >= '0' && s[i] <= '9';
    if (kShape[i] == 'd' ? !digit : s[i] != kShape[i]) return false;
  }
  return true;
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

// The testcase's name attribute, which the suite's properties name too.
std::string case_name(const TestResult& r) { return r.name.empty() ? r.id : r.name; }

void add_property(pugi::xml_node props, string_view name, string_view value) {
  pugi::xml_node p = props.append_child("property");
  set_attr(p, "name", name);
  set_attr(p, "value", value);
}

// kiln's facts about each test of the suite that are not the default.
void write_properties(pugi::xml_node suite, const SuiteTotals& s, const JUnitOptions& o) {
  pugi::xml_node props = suite.append_child("properties");
  add_property(props, "run", o.name);
  for (const TestResult* r : s.tests) {
    const std::string name = case_name(*r);
    if (r->outcome == Outcome::kFlaky) add_property(props, "flaky:" + name, "true");
    if (r->attempts != 1) add_property(props, "attempts:" + name, std::to_string(r->attempts));
    if (r->cached) add_property(props, "cached:" + name, "true");
  }
}

void write_testcase(pugi::xml_node suite, const TestResult& r, const JUnitOptions& o) {
  pugi::xml_node tc = suite.append_child("testcase");
  set_attr(tc, "name", case_name(r));
  set_attr(tc, "classname", r.suite);
  tc.append_attribute("time").set_value(seconds3(r.time).c_str());

  switch (r.outcome) {
    case Outcome::kPassed:
    case Outcome::kFlaky:  // its note is in the suite's system-out
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
      // Outside the Ant schema, which cannot say "skipped": see junit.h.
      pugi::xml_node s = tc.append_child("skipped");
      if (!r.message.empty()) set_attr(s, "message", r.message);
      break;
    }
  }
}

// The suite's system-out: a note for each flaky test (whose testcase can
// hold none), naming it, with the tail of its earlier failure's output.
void write_flaky_notes(pugi::xml_node suite, const SuiteTotals& s, const JUnitOptions& o) {
  std::string notes;
  for (const TestResult* r : s.tests) {
    if (r->outcome != Outcome::kFlaky) continue;
    notes += "kiln: flaky: " + case_name(*r) + " passed on attempt " + std::to_string(r->attempts) +
             " after failing";
    if (!r->message.empty()) notes += ": " + r->message;
    notes += "\n";
    if (!r->output.empty()) {
      notes += tail(r->output, o.max_output_bytes);
      if (notes.back() != '\n') notes += "\n";
    }
  }
  pugi::xml_node out = suite.append_child("system-out");
  if (!notes.empty()) out.append_child(pugi::node_pcdata).set_value(xml_safe(notes).c_str());
}

void write_suite(pugi::xml_node root, const SuiteTotals& s, std::size_t id, const JUnitOptions& o) {
  pugi::xml_node suite = root.append_child("testsuite");
  set_attr(suite, "name", has_token(s.name) ? string_view(s.name) : "(no suite)");
  set_counts(suite, s);
  set_attr(suite, "timestamp",
           is_timestamp(o.timestamp) ? string_view(o.timestamp) : "1970-01-01T00:00:00");
  set_attr(suite, "hostname", has_token(o.hostname) ? string_view(o.hostname) : "localhost");
  suite.append_attribute("id").set_value(std::to_string(id).c_str());
  suite.append_attribute("package").set_value("");
  write_properties(suite, s, o);
  for (const TestResult* r : s.tests) write_testcase(suite, *r, o);
  write_flaky_notes(suite, s, o);
  suite.append_child("system-err");
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
  for (const TestResult& r : results) {
    auto [it, inserted] = index.try_emplace(r.suite, suites.size());
    if (inserted) {
      suites.emplace_back();
      suites.back().name = r.suite;
    }
    suites[it->second].add(r);
  }

  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version").set_value("1.0");
  decl.append_attribute("encoding").set_value("UTF-8");
  // Bare: the Ant schema allows <testsuites> no attribute (see junit.h).
  pugi::xml_node root = doc.append_child("testsuites");
  for (std::size_t i = 0; i < suites.size(); ++i) write_suite(root, suites[i], i, options);
  StringWriter writer;
  doc.save(writer, "  ", pugi::format_default, pugi::encoding_utf8);
  return std::move(writer.out);
}

}  // namespace kiln::client::testing
