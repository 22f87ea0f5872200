// Unit tests for json_report: kiln's --json document, read back with
// nlohmann_json.
#include "client/testing/json_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/testing/report_test_util.h"

namespace kiln::client::testing {
namespace {

using namespace std::chrono_literals;

using namespace test_samples;

// ---- write_json ----

TEST(WriteJson, TestsAndSummary) {
  const auto j = nlohmann::json::parse(write_json(mixed()));
  ASSERT_EQ(j["tests"].size(), 7u);
  const auto& fail = j["tests"][1];
  EXPECT_EQ(fail["id"], "A.fail");
  EXPECT_EQ(fail["outcome"], "failed");
  EXPECT_EQ(fail["time_ms"], 12);
  EXPECT_EQ(fail["attempts"], 1);
  EXPECT_EQ(fail["cached"], false);
  EXPECT_EQ(fail["failure_message"], "x.cpp:3\nExpected <1> & \"2\"");
  EXPECT_EQ(j["tests"][3]["outcome"], "flaky");
  EXPECT_EQ(j["tests"][3]["attempts"], 2);
  EXPECT_EQ(j["tests"][5]["outcome"], "timed_out");
  EXPECT_EQ(j["tests"][6]["cached"], true);
  const auto& s = j["summary"];
  EXPECT_EQ(s["total"], 7);
  EXPECT_EQ(s["passed"], 2);
  EXPECT_EQ(s["failed"], 1);
  EXPECT_EQ(s["flaky"], 1);
  EXPECT_EQ(s["skipped"], 1);
  EXPECT_EQ(s["crashed"], 1);
  EXPECT_EQ(s["timed_out"], 1);
  EXPECT_EQ(s["cached"], 1);
  EXPECT_EQ(s["time_ms"], 31521);
  EXPECT_EQ(s["ok"], false);
}

TEST(WriteJson, InvalidUtf8IsReplacedNotThrown) {
  TestResult r = make("S", "T\xFF", Outcome::kFailed);
  r.message = "bad \xC3";
  const auto j = nlohmann::json::parse(write_json(std::vector{r}));
  EXPECT_EQ(j["tests"][0]["failure_message"], "bad \xEF\xBF\xBD");
}

// ---- write_json with RunInfo ----

TEST(WriteJsonRun, HoldsTheRunAndItsShards) {
  RunInfo run;
  run.wall = 4200ms;
  run.lower_bound = 3900ms;
  run.slots = 3;
  run.shards.push_back({.label = "shard 1/2",
                        .tests = 5,
                        .ids = {"A.a", "A.b", "B.c", "B.d", "C.e"},
                        .estimate = 2000ms,
                        .wall = 2100ms,
                        .cached = false,
                        .where = "tcp://10.0.0.7:5555"});
  run.shards.push_back({.label = "shard 2/2",
                        .tests = 2,
                        .estimate = 1900ms,
                        .wall = 0ms,
                        .cached = true,
                        .where = "cache"});
  run.shards.push_back({.label = "retry A.fail",
                        .tests = 1,
                        .estimate = 12ms,
                        .wall = 15ms,
                        .cached = false,
                        .where = "local"});
  const auto j = nlohmann::json::parse(write_json(mixed(), run));
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j.contains("run"));
  const auto& r = j["run"];
  EXPECT_EQ(r["wall_ms"], 4200);
  EXPECT_EQ(r["lower_bound_ms"], 3900);
  EXPECT_EQ(r["slots"], 3);
  ASSERT_TRUE(r["shards"].is_array());
  ASSERT_EQ(r["shards"].size(), 3u);
  const auto& first = r["shards"][0];
  EXPECT_EQ(first["label"], "shard 1/2");
  EXPECT_EQ(first["tests"], 5);
  EXPECT_EQ(first["test_ids"], nlohmann::json({"A.a", "A.b", "B.c", "B.d", "C.e"}));
  EXPECT_EQ(first["estimate_ms"], 2000);
  EXPECT_EQ(first["wall_ms"], 2100);
  EXPECT_EQ(first["cached"], false);
  EXPECT_EQ(first["where"], "tcp://10.0.0.7:5555");
  const auto& second = r["shards"][1];
  EXPECT_EQ(second["label"], "shard 2/2");
  EXPECT_EQ(second["tests"], 2);
  EXPECT_EQ(second["estimate_ms"], 1900);
  EXPECT_EQ(second["wall_ms"], 0);
  EXPECT_EQ(second["cached"], true);
  EXPECT_EQ(second["where"], "cache");
  EXPECT_EQ(r["shards"][2]["label"], "retry A.fail");
  EXPECT_EQ(r["shards"][2]["where"], "local");

  // Everything write_json(results) writes is still there, unchanged.
  auto without_run = j;
  without_run.erase("run");
  EXPECT_EQ(without_run, nlohmann::json::parse(write_json(mixed())));
}

TEST(WriteJsonRun, NoShardsIsAnEmptyList) {
  const auto j = nlohmann::json::parse(write_json({}, RunInfo{}));
  const auto& r = j["run"];
  EXPECT_EQ(r["wall_ms"], 0);
  EXPECT_EQ(r["lower_bound_ms"], 0);
  EXPECT_EQ(r["slots"], 0);
  ASSERT_TRUE(r["shards"].is_array());
  EXPECT_TRUE(r["shards"].empty());
  EXPECT_EQ(j["summary"]["total"], 0);
  EXPECT_TRUE(j["tests"].empty());
}

TEST(WriteJsonRun, InvalidUtf8InALabelIsReplacedNotThrown) {
  RunInfo run;
  run.shards.push_back({.label = "batch \xFF", .where = "tcp://\xC3"});
  const auto j = nlohmann::json::parse(write_json({}, run));
  EXPECT_EQ(j["run"]["shards"][0]["label"], "batch \xEF\xBF\xBD");
  EXPECT_EQ(j["run"]["shards"][0]["where"], "tcp://\xEF\xBF\xBD");
}

}  // namespace
}  // namespace kiln::client::testing
