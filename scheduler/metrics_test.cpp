// The /metrics text without HTTP: histogram buckets, escaping, number
// formatting, and the page's shape (every family announced once by HELP
// and TYPE before its samples, every line one the format allows).
#include "scheduler/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace kiln::scheduler {
namespace {

TEST(Histogram, BucketsAreUpperBoundsInclusive) {
  Histogram h({1, 2.5});
  h.observe(0.5);
  h.observe(1);  // le="1": on the bound counts in it
  h.observe(1.5);
  h.observe(100);  // +Inf only
  EXPECT_EQ(h.bucket_counts(), (std::vector<std::uint64_t>{2, 1, 1}));
  EXPECT_EQ(h.count(), 4u);
  EXPECT_DOUBLE_EQ(h.sum(), 103);
}

TEST(TextExposition, HistogramIsCumulative) {
  Histogram h({0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(0.5);
  h.observe(7);
  TextExposition t;
  t.histogram("kiln_x_seconds", "X.", h);
  EXPECT_EQ(t.text(),
            "# HELP kiln_x_seconds X.\n"
            "# TYPE kiln_x_seconds histogram\n"
            "kiln_x_seconds_bucket{le=\"0.1\"} 1\n"
            "kiln_x_seconds_bucket{le=\"1\"} 3\n"
            "kiln_x_seconds_bucket{le=\"+Inf\"} 4\n"
            "kiln_x_seconds_sum 8.05\n"
            "kiln_x_seconds_count 4\n");
}

TEST(TextExposition, Escaping) {
  EXPECT_EQ(escape_help("a\\b\nc\"d"), "a\\\\b\\nc\"d");  // quotes stay in HELP
  EXPECT_EQ(escape_label_value("a\\b\nc\"d"), "a\\\\b\\nc\\\"d");
  TextExposition t;
  t.family("kiln_y_total", TextExposition::Type::kCounter, "Line one\nline two \\ end");
  t.sample("kiln_y_total", {{"path", "C:\\x \"q\"\n"}, {"b", ""}}, std::uint64_t{3});
  EXPECT_EQ(t.text(),
            "# HELP kiln_y_total Line one\\nline two \\\\ end\n"
            "# TYPE kiln_y_total counter\n"
            "kiln_y_total{path=\"C:\\\\x \\\"q\\\"\\n\",b=\"\"} 3\n");
}

TEST(TextExposition, Numbers) {
  EXPECT_EQ(format_value(0.005), "0.005");
  EXPECT_EQ(format_value(1), "1");
  EXPECT_EQ(format_value(2.5), "2.5");
  EXPECT_EQ(format_value(600), "600");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
  // Counters are exact past 2^53, where a double would round.
  TextExposition t;
  t.sample("kiln_big_total", {}, std::uint64_t{9007199254740993ULL});
  EXPECT_EQ(t.text(), "kiln_big_total 9007199254740993\n");
}

// The page's families, from its HELP and TYPE lines; checks the shape on
// the way.
std::map<std::string, std::string> families_of(const std::string& page) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*")*\})? (-?[0-9.e+]+|\+Inf|-Inf|NaN)$)");
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::string current;
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (line.starts_with("# HELP ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << "HELP twice: " << name;
      current = name;
    } else if (line.starts_with("# TYPE ")) {
      std::istringstream words(line.substr(7));
      std::string name;
      std::string type;
      words >> name >> type;
      EXPECT_EQ(name, current) << "TYPE without its HELP before: " << line;
      EXPECT_TRUE(types.emplace(name, type).second) << "TYPE twice: " << name;
    } else if (std::regex_match(line, m, kSample)) {
      const std::string name = m[1];
      EXPECT_TRUE(name == current || name == current + "_bucket" || name == current + "_sum" ||
                  name == current + "_count")
          << "sample outside its family: " << line;
      EXPECT_TRUE(name.starts_with("kiln_")) << line;
    } else {
      ADD_FAILURE() << "not a line of the text format: '" << line << "'";
    }
  }
  EXPECT_TRUE(page.ends_with('\n'));
  return types;
}

TEST(RenderMetrics, EveryFamilyTypedAndNamedByConvention) {
  MetricsSnapshot s;
  s.store_known = true;
  s.queue_wait.observe(0.02);
  const auto types = families_of(render_metrics(s, {}));
  for (const auto& [name, type] : types) {
    if (type == "counter") {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
    if (type == "histogram") {
      EXPECT_TRUE(name.ends_with("_seconds")) << name;
    }
    EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << name;
  }
  EXPECT_EQ(types.at("kiln_queued_actions"), "gauge");  // the autoscaler's
  EXPECT_EQ(types.at("kiln_actions_executed_total"), "counter");
  EXPECT_EQ(types.at("kiln_store_size_bytes"), "gauge");
  EXPECT_EQ(types.at("kiln_action_queue_wait_seconds"), "histogram");
  EXPECT_EQ(types.at("kiln_action_execution_seconds"), "histogram");
}

TEST(RenderMetrics, Values) {
  MetricsSnapshot s;
  s.action_requests = 12;
  s.cache_hits = 5;
  s.executed = 6;
  s.failed[static_cast<std::size_t>(FailureKind::kNoMatchingWorker)] = 1;
  s.queued = 7;
  s.workers = 2;
  s.slots = 8;
  s.slots_busy = 3;
  s.uptime_seconds = 1.5;
  s.draining = true;
  s.execution.observe(0.3);
  const std::string page = render_metrics(s, HttpCounters{4});
  for (const char* line : {"kiln_action_requests_total 12\n", "kiln_action_cache_hits_total 5\n",
                           "kiln_actions_executed_total 6\n",
                           "kiln_action_requests_failed_total{reason=\"no_matching_worker\"} 1\n",
                           "kiln_action_requests_failed_total{reason=\"retries_exhausted\"} 0\n",
                           "kiln_queued_actions 7\n", "kiln_workers 2\n", "kiln_worker_slots 8\n",
                           "kiln_worker_slots_busy 3\n", "kiln_uptime_seconds 1.5\n",
                           "kiln_draining 1\n", "kiln_http_unauthorized_requests_total 4\n",
                           "kiln_action_execution_seconds_bucket{le=\"0.25\"} 0\n",
                           "kiln_action_execution_seconds_bucket{le=\"0.5\"} 1\n",
                           "kiln_action_execution_seconds_count 1\n"}) {
    EXPECT_NE(page.find(line), std::string::npos) << line << "in:\n" << page;
  }
  // Unknown store stats are left out rather than shown as 0.
  EXPECT_EQ(page.find("kiln_store_size_bytes"), std::string::npos);
}

}  // namespace
}  // namespace kiln::scheduler
