#include "client/trace.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace kiln::client {
namespace {

using nlohmann::json;

ActionRecord action(const std::string& subject, std::int64_t start, std::int64_t end,
                    const std::string& where = "local", bool cached = false) {
  ActionRecord r;
  r.invocation = "ci-42";
  r.kind = "compile";
  r.subject = subject;
  r.outcome = cached ? "direct_hit" : "miss_local";
  r.cached = cached;
  r.where = where;
  r.action_digest = "ab/1";
  r.start_us = start;
  r.end_us = end;
  r.phases = {{"lookup", start, start + 1}};
  return r;
}

InvocationInfo invocation(std::int64_t started) {
  return InvocationInfo{
      {"ci-42", {{"ticket", "BANK-1"}, {"commit", "4f2a"}}}, started, "/src", {"make", "-j2"}};
}

std::vector<json> events_of(const json& trace, const std::string& ph) {
  std::vector<json> out;
  for (const json& e : trace.at("traceEvents")) {
    if (e.at("ph") == ph) out.push_back(e);
  }
  return out;
}

TEST(ChromeTrace, NamesTheInvocationAndUsesMicrosecondsFromItsStart) {
  const json trace = json::parse(chrome_trace(invocation(1000), {action("a.cc", 1500, 2500)}));
  EXPECT_EQ(trace.at("displayTimeUnit"), "ms");
  EXPECT_EQ(trace.at("otherData").at("invocation"), "ci-42");
  EXPECT_EQ(trace.at("otherData").at("labels").at("ticket"), "BANK-1");
  EXPECT_EQ(trace.at("otherData").at("labels").at("commit"), "4f2a");
  const auto xs = events_of(trace, "X");
  ASSERT_EQ(xs.size(), 2u);  // the action and its lookup
  EXPECT_EQ(xs[0].at("name"), "a.cc");
  EXPECT_EQ(xs[0].at("cat"), "compile");
  EXPECT_EQ(xs[0].at("ts"), 500);
  EXPECT_EQ(xs[0].at("dur"), 1000);
  EXPECT_EQ(xs[0].at("args").at("outcome"), "miss_local");
  EXPECT_EQ(xs[0].at("args").at("action_digest"), "ab/1");
  EXPECT_EQ(xs[0].at("args").at("exit_code"), 0);
  EXPECT_EQ(xs[1].at("name"), "lookup");
  EXPECT_EQ(xs[1].at("cat"), "phase");
}

TEST(ChromeTrace, ActionsOnOneThreadNeverOverlap) {
  // Five overlapping local compiles and three on a worker.
  std::vector<ActionRecord> records = {action("a", 0, 100),
                                       action("b", 10, 50),
                                       action("c", 20, 200),
                                       action("d", 50, 60),
                                       action("e", 100, 150),
                                       action("w1", 0, 100, "worker-1"),
                                       action("w2", 40, 90, "worker-1"),
                                       action("w3", 100, 120, "worker-1")};
  const json trace = json::parse(chrome_trace(invocation(0), records));
  std::map<std::pair<int, int>, std::vector<std::pair<std::int64_t, std::int64_t>>> by_thread;
  std::map<int, std::string> process_names;
  for (const json& e : events_of(trace, "M")) {
    if (e.at("name") == "process_name") process_names[e.at("pid")] = e.at("args").at("name");
  }
  for (const json& e : events_of(trace, "X")) {
    if (e.at("cat") == "phase") continue;
    by_thread[{e.at("pid"), e.at("tid")}].push_back(
        {e.at("ts"), e.at("ts").get<std::int64_t>() + e.at("dur").get<std::int64_t>()});
  }
  for (auto& [thread, spans] : by_thread) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) {
      EXPECT_LE(spans[i - 1].second, spans[i].first)
          << "pid " << thread.first << " tid " << thread.second;
    }
  }
  EXPECT_EQ(process_names[1], "local");
  EXPECT_EQ(process_names[2], "worker worker-1");
  // Greedy: a(0-100) b(10-50) c(20-200) need three slots locally; d reuses b's.
  int local_slots = 0;
  for (const auto& [thread, spans] : by_thread) local_slots += thread.first == 1;
  EXPECT_EQ(local_slots, 3);
}

TEST(ChromeTrace, PhasesNestInsideTheirActionEvenAcrossClocks) {
  // A grid compile: the worker's clock runs ahead of the client's, so its
  // phases start before the client's lookup ended and end after the
  // action: they are put in order and the action widened over them.
  ActionRecord r = action("grid.cc", 1000, 2000, "worker-7");
  r.outcome = "miss_remote";
  r.phases = {{"lookup", 1000, 1300},
              {"queue", 1250, 1400},
              {"input_fetch", 1400, 1500},
              {"execute", 1500, 2100},
              {"upload", 2100, 2150}};
  const json trace = json::parse(chrome_trace(invocation(1000), {r}));
  const auto xs = events_of(trace, "X");
  ASSERT_EQ(xs.size(), 6u);
  const json& act = xs[0];
  EXPECT_EQ(act.at("name"), "grid.cc");
  const std::int64_t start = act.at("ts");
  const std::int64_t end = start + act.at("dur").get<std::int64_t>();
  EXPECT_EQ(end, 1150);  // widened to the upload's end
  std::int64_t previous_end = start;
  std::vector<std::string> names;
  for (std::size_t i = 1; i < xs.size(); ++i) {
    const std::int64_t ts = xs[i].at("ts");
    const std::int64_t phase_end = ts + xs[i].at("dur").get<std::int64_t>();
    EXPECT_GE(ts, previous_end);
    EXPECT_LE(phase_end, end);
    EXPECT_EQ(xs[i].at("pid"), act.at("pid"));
    EXPECT_EQ(xs[i].at("tid"), act.at("tid"));
    previous_end = phase_end;
    names.push_back(xs[i].at("name"));
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"lookup", "queue", "input_fetch", "execute", "upload"}));
}

TEST(ChromeTrace, HitsAreDrawnWhereTheyWereLookedUp) {
  // A hit on a result a worker once made: its time was spent here.
  ActionRecord hit = action("h.cc", 0, 10, "worker-1", /*cached=*/true);
  const json trace = json::parse(chrome_trace(invocation(0), {hit}));
  const auto xs = events_of(trace, "X");
  ASSERT_FALSE(xs.empty());
  EXPECT_EQ(xs[0].at("pid"), 1);
  EXPECT_EQ(xs[0].at("args").at("cached"), true);
  EXPECT_EQ(xs[0].at("args").at("where"), "worker-1");
}

TEST(ChromeTrace, EventsAreSortedByStartWithTheEnclosingFirst) {
  const json trace = json::parse(chrome_trace(
      invocation(0), {action("late", 500, 600), action("early", 0, 100), action("mid", 200, 300)}));
  std::int64_t last = -1;
  std::int64_t last_dur = 0;
  std::vector<std::string> names;
  for (const json& e : events_of(trace, "X")) {
    const std::int64_t ts = e.at("ts");
    const std::int64_t dur = e.at("dur");
    EXPECT_GE(ts, last);
    // At one start, the enclosing (longer) event first.
    if (ts == last) {
      EXPECT_GE(last_dur, dur);
    }
    last = ts;
    last_dur = dur;
    names.push_back(e.at("name"));
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"early", "lookup", "mid", "lookup", "late", "lookup"}));
}

TEST(ChromeTrace, AnEmptyInvocationIsAnEmptyTrace) {
  const json trace = json::parse(chrome_trace(invocation(0), {}));
  EXPECT_TRUE(trace.at("traceEvents").empty());
  EXPECT_EQ(trace.at("otherData").at("actions"), 0);
}

}  // namespace
}  // namespace kiln::client
