// Samples and helpers shared by the result formats' tests (gtest_xml_test,
// junit_test, json_report_test, result_test, result_codec_test).
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "client/testing/result.h"

namespace kiln::client::testing::test_samples {

using namespace std::chrono_literals;

// A run of: Math.Adds (passes), Math.Fails (two failures, one with a
// multi-line streamed message full of XML specials), Math.Skips
// (GTEST_SKIP() << "not today"), Math.DISABLED_Off, a typed test Ty<int,
// double>.Zero and a value-parameterized Nums/P.Even over 2 and 3.
inline constexpr const char* kFullRun = R"kiln(<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="8" failures="2" disabled="1" errors="0" time="0" timestamp="2026-11-26T12:52:41.625" name="AllTests">
  <testsuite name="Math" tests="4" failures="1" disabled="1" skipped="1" errors="0" time="0" timestamp="2026-11-26T12:52:41.625">
    <testcase name="Adds" file="t.cpp" line="3" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Math" />
    <testcase name="Fails" file="t.cpp" line="4" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Math">
      <failure message="t.cpp:6&#x0A;Expected equality of these values:&#x0A;  3&#x0A;  1 + 1&#x0A;    Which is: 2&#x0A;multi&#x0A;line &quot;msg&quot; &lt;&amp;&gt;" type=""><![CDATA[t.cpp:6
Expected equality of these values:
  3
  1 + 1
    Which is: 2
multi
line "msg" <&>]]></failure>
      <failure message="t.cpp:7&#x0A;Value of: false&#x0A;  Actual: false&#x0A;Expected: true" type=""><![CDATA[t.cpp:7
Value of: false
  Actual: false
Expected: true]]></failure>
    </testcase>
    <testcase name="Skips" file="t.cpp" line="9" status="run" result="skipped" time="0" timestamp="2026-11-26T12:52:41.625" classname="Math">
      <skipped message="t.cpp:9&#x0A;not today"><![CDATA[t.cpp:9
not today]]></skipped>
    </testcase>
    <testcase name="DISABLED_Off" file="t.cpp" line="10" status="notrun" result="suppressed" time="0" timestamp="1970-01-01T00:00:00.000" classname="Math" />
  </testsuite>
  <testsuite name="Ty/0" tests="1" failures="0" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-11-26T12:52:41.625">
    <testcase name="Zero" type_param="int" file="t.cpp" line="17" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Ty/0" />
  </testsuite>
  <testsuite name="Ty/1" tests="1" failures="0" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-11-26T12:52:41.625">
    <testcase name="Zero" type_param="double" file="t.cpp" line="17" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Ty/1" />
  </testsuite>
  <testsuite name="Nums/P" tests="2" failures="1" disabled="0" skipped="0" errors="0" time="0" timestamp="2026-11-26T12:52:41.625">
    <testcase name="Even/0" value_param="2" file="t.cpp" line="12" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Nums/P" />
    <testcase name="Even/1" value_param="3" file="t.cpp" line="12" status="run" result="completed" time="0" timestamp="2026-11-26T12:52:41.625" classname="Nums/P">
      <failure message="t.cpp:12&#x0A;Expected equality of these values:&#x0A;  GetParam() % 2&#x0A;    Which is: 1&#x0A;  0" type=""><![CDATA[t.cpp:12
Expected equality of these values:
  GetParam() % 2
    Which is: 1
  0]]></failure>
    </testcase>
  </testsuite>
</testsuites>
)kiln";

inline const TestResult* find(const std::vector<TestResult>& v, const std::string& id) {
  for (const TestResult& r : v) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

inline TestResult make(std::string suite, std::string name, Outcome outcome,
                       std::chrono::milliseconds time = 0ms) {
  TestResult r;
  r.suite = std::move(suite);
  r.name = std::move(name);
  r.id = r.suite + "." + r.name;
  r.outcome = outcome;
  r.time = time;
  return r;
}

inline std::vector<TestResult> mixed() {
  std::vector<TestResult> v;
  v.push_back(make("A", "pass", Outcome::kPassed, 1500ms));
  TestResult f = make("A", "fail", Outcome::kFailed, 12ms);
  f.message = "x.cpp:3\nExpected <1> & \"2\"";
  f.output = "x.cpp:3\nExpected <1> & \"2\"\nstdout: ]]> <![CDATA[ &amp;";
  v.push_back(f);
  TestResult s = make("B", "skip", Outcome::kSkipped);
  s.message = "not today";
  v.push_back(s);
  TestResult k = make("B", "flaky", Outcome::kFlaky, 2ms);
  k.attempts = 2;
  k.message = "first attempt failed";
  v.push_back(k);
  TestResult c = make("A", "crash", Outcome::kCrashed, 5ms);
  c.signal = 11;
  c.output = "Segmentation fault";
  v.push_back(c);
  TestResult t = make("C", "slow", Outcome::kTimedOut, 30001ms);
  t.timeout = 30s;
  v.push_back(t);
  TestResult cached = make("C", "cached", Outcome::kPassed, 1ms);
  cached.cached = true;
  v.push_back(cached);
  return v;
}

}  // namespace kiln::client::testing::test_samples
