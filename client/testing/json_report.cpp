// TestResults and RunInfo into kiln's JSON report: see json_report.h.
#include "client/testing/json_report.h"

#include <nlohmann/json.hpp>

namespace kiln::client::testing {

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

}  // namespace kiln::client::testing
