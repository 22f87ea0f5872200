// The pages from hand-made values: escaping of what clients send, the
// DOM hooks pages.h promises (the browser test relies on them), the
// timeline's packing, the trends' points, the empty states, and the JSON.
#include "scheduler/pages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>

namespace kiln::scheduler {
namespace {

using Attributes = std::map<std::string, std::string>;

// The attributes of every element that starts with `open` (e.g.
// `<rect class="action"`), in document order: a loose parse of our own output.
std::vector<Attributes> elements(const std::string& html, const std::string& open) {
  std::vector<Attributes> out;
  static const std::regex kAttribute(R"re(([a-zA-Z][\w-]*)="([^"]*)")re");
  for (std::size_t at = html.find(open); at != std::string::npos; at = html.find(open, at + 1)) {
    const std::size_t end = html.find('>', at);
    const std::string tag = html.substr(at, end - at);
    Attributes attrs;
    for (auto it = std::sregex_iterator(tag.begin(), tag.end(), kAttribute);
         it != std::sregex_iterator(); ++it) {
      attrs[(*it)[1]] = (*it)[2];
    }
    out.push_back(std::move(attrs));
  }
  return out;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The text between `from` and the next `to` after it.
std::string section(const std::string& html, const std::string& from, const std::string& to) {
  const std::size_t a = html.find(from);
  if (a == std::string::npos) {
    return "";
  }
  const std::size_t b = html.find(to, a);
  return html.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

constexpr std::int64_t kT0 = 1'714'564'984'000'000;  // 2024-05-01 12:03:04 UTC
constexpr std::string_view kEvil = "\"><script>alert('x')</script>&";

ActionEntry action(std::string subject, std::string worker, std::int64_t submitted,
                   std::int64_t started, std::int64_t finished) {
  ActionEntry a;
  a.digest = "0123456789abcdef0123456789abcdef/42";
  a.kind = "compile";
  a.subject = std::move(subject);
  a.client = "ci";
  a.worker = std::move(worker);
  a.submitted_us = kT0 + submitted;
  a.started_us = started < 0 ? 0 : kT0 + started;
  a.finished_us = finished < 0 ? 0 : kT0 + finished;
  a.state = finished < 0 ? (started < 0 ? ActionState::kQueued : ActionState::kRunning)
                         : ActionState::kDone;
  return a;
}

InvocationDetail sample_detail() {
  InvocationDetail d;
  d.summary.id = "ci-42.build";
  d.summary.labels = {{"ticket", "BANK-123"}, {"commit", "9f3c2e1a"}, {"note", std::string(kEvil)}};
  d.workers = {"w1", "w2"};
  // w1: three overlapping actions and one after them; w2: a chain.
  d.actions.push_back(action("a.cpp", "w1", 0, 100'000, 2'000'000));
  d.actions.push_back(action("b.cpp", "w1", 0, 200'000, 1'500'000));
  d.actions.push_back(action("c.cpp", "w1", 50'000, 300'000, 900'000));
  d.actions.push_back(action("d.cpp", "w1", 2'100'000, 2'200'000, 3'000'000));
  d.actions.push_back(action("link", "w2", 2'000'000, 2'050'000, 4'000'000));
  d.actions.back().phases = {{"input_fetch", 7, 100'007},
                             {"execute", 100'007, 1'800'007},
                             {"upload", 1'800'007, 1'900'007}};
  ActionEntry hit = action("h.cpp", "w2", 10'000, -1, 12'000);
  hit.cached = true;
  d.actions.push_back(hit);
  ActionEntry bad = action(std::string(kEvil), "w2", 100'000, 150'000, 600'000);
  bad.state = ActionState::kFailed;
  bad.exit_code = 2;
  bad.message = "<b>boom</b>";
  d.actions.push_back(bad);
  d.actions.push_back(action("waiting.cpp", "", 3'500'000, -1, -1));
  d.summary.first_us = kT0;
  d.summary.last_us = kT0 + 4'000'000;
  d.summary.actions = d.actions.size();
  d.summary.hits = 1;
  d.summary.executed = 6;
  d.summary.failed = 1;
  d.summary.in_flight = 1;
  d.summary.clients = {"ci"};
  d.critical = {0, 4};
  d.critical_us = 3'850'000;
  d.slowest = {4, 0, 1};
  return d;
}

TEST(Pages, EscapeHtml) {
  EXPECT_EQ(escape_html("<script>alert(\"x\" & 'y')</script>"),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
  EXPECT_EQ(escape_html("plain ünïcode"), "plain ünïcode");
  EXPECT_EQ(escape_html(""), "");
}

TEST(Pages, Formats) {
  EXPECT_EQ(format_duration(0), "0 ms");
  EXPECT_EQ(format_duration(-5), "0 ms");
  EXPECT_EQ(format_duration(400), "0.4 ms");
  EXPECT_EQ(format_duration(850'000), "850 ms");
  EXPECT_EQ(format_duration(12'480'000), "12.4 s");
  EXPECT_EQ(format_duration(59'999'999), "59.9 s");
  EXPECT_EQ(format_duration(185'000'000), "3 min 5 s");
  EXPECT_EQ(format_duration(7'500'000'000), "2 h 5 min");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(1288490189), "1.2 GiB");
  EXPECT_EQ(format_bytes(300ull << 20), "300 MiB");
  EXPECT_EQ(format_utc(kT0), "2024-05-01 12:03:04 UTC");
  EXPECT_EQ(format_utc(0), "1970-01-01 00:00:00 UTC");
}

TEST(Pages, PackRowsNeverOverlapsAndUsesTheFewestRows) {
  EXPECT_TRUE(pack_rows({}).empty());
  // Touching spans share a row; overlapping ones do not.
  EXPECT_EQ(pack_rows({{0, 10}, {10, 20}, {5, 15}}), (std::vector<std::size_t>{0, 0, 1}));

  std::mt19937 rng(13);
  for (int round = 0; round < 50; ++round) {
    std::vector<LaneSpan> spans;
    for (int i = 0; i < 200; ++i) {
      const std::int64_t b = rng() % 10'000;
      spans.push_back({b, b + 1 + static_cast<std::int64_t>(rng() % 800)});
    }
    const std::vector<std::size_t> rows = pack_rows(spans);
    ASSERT_EQ(rows.size(), spans.size());
    std::size_t used = 0;
    for (std::size_t i = 0; i < spans.size(); ++i) {
      used = std::max(used, rows[i] + 1);
      for (std::size_t j = i + 1; j < spans.size(); ++j) {
        if (rows[i] == rows[j]) {
          EXPECT_TRUE(spans[i].end_us <= spans[j].begin_us || spans[j].end_us <= spans[i].begin_us)
              << "round " << round << ": " << i << " and " << j << " share row " << rows[i];
        }
      }
    }
    // As many rows as spans at the busiest instant (some span's begin).
    std::size_t busiest = 0;
    for (const LaneSpan& s : spans) {
      busiest = std::max<std::size_t>(
          busiest, static_cast<std::size_t>(
                       std::count_if(spans.begin(), spans.end(), [&](const LaneSpan& o) {
                         return o.begin_us <= s.begin_us && s.begin_us < o.end_us;
                       })));
    }
    EXPECT_EQ(used, busiest);
  }
}

TEST(Pages, StatusWorkersTable) {
  StatusView view;
  view.now_us = kT0;
  view.uptime_seconds = 3700;
  view.authenticated = true;
  view.draining = true;
  view.workers = {{"w1", 8, 3, "os=linux,arch=x86_64", 1200, 0},
                  {std::string(kEvil), 4, 4, "os=linux,arch=aarch64", 300, 0},
                  {"w3", 2, 0, "os=linux,arch=x86_64", 50, 30'000}};
  view.cache_hits = 3;
  view.cache_misses = 1;
  const std::string html = render_status_page(view);
  EXPECT_NE(html.find("<meta http-equiv=\"refresh\" content=\"5\">"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge draining\">"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge auth\">"), std::string::npos);
  EXPECT_NE(html.find("1.2 s ago"), std::string::npos);
  EXPECT_NE(html.find("75.0%"), std::string::npos);

  const auto rows = elements(html, "<tr class=\"worker");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("data-worker"), "w1");
  EXPECT_EQ(rows[0].at("data-slots"), "8");
  EXPECT_EQ(rows[0].at("data-busy"), "3");
  EXPECT_EQ(rows[1].at("data-worker"), escape_html(kEvil));
  EXPECT_EQ(rows[2].at("class"), "worker quarantined");
  EXPECT_NE(html.find("<table id=\"workers\">"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"badge quarantined\">"), std::string::npos);
}

TEST(Pages, StatusQueueInFlightFailuresRecent) {
  StatusView view;
  view.now_us = kT0 + 10'000'000;
  view.in_flight = {action("a.cpp", "", 0, -1, -1), action("b.cpp", "w1", 0, 1'000'000, -1),
                    action("c.cpp", "", 0, -1, -1)};
  view.in_flight[2].client = "other";
  view.in_flight_invocations = {"inv-1", "bad id/..", "inv-1"};
  ActionEntry failed = action(std::string(kEvil), "w1", 0, 100, 5'000'000);
  failed.state = ActionState::kFailed;
  failed.exit_code = 3;
  view.failures = {failed};
  view.failure_invocations = {"inv-1"};
  InvocationSummary s;
  s.id = "inv-1";
  s.actions = 3;
  view.recent = {s};
  const std::string html = render_status_page(view);
  EXPECT_EQ(html.find("<script"), std::string::npos);

  const auto clients = elements(html, "<tr class=\"client\"");
  ASSERT_EQ(clients.size(), 2u);
  EXPECT_EQ(clients[0].at("data-client"), "ci");
  EXPECT_EQ(clients[0].at("data-queued"), "1");
  EXPECT_EQ(clients[0].at("data-running"), "1");
  EXPECT_EQ(clients[1].at("data-client"), "other");

  const auto in_flight =
      elements(section(html, "id=\"in-flight\"", "</table>"), "<tr class=\"action\"");
  ASSERT_EQ(in_flight.size(), 3u);
  EXPECT_EQ(in_flight[0].at("data-invocation"), "inv-1");
  EXPECT_EQ(in_flight[1].at("data-state"), "running");
  EXPECT_EQ(in_flight[1].count("data-invocation"), 0u);  // not a URL-safe id: no link
  EXPECT_EQ(html.find("href=\"/invocations/bad"), std::string::npos);

  const auto failures = elements(html, "<tr class=\"failure\"");
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].at("data-exit-code"), "3");
  EXPECT_EQ(failures[0].at("data-invocation"), "inv-1");

  const auto recent =
      elements(section(html, "id=\"recent-invocations\"", "</table>"), "<tr class=\"invocation");
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_NE(html.find("href=\"/invocations/inv-1\""), std::string::npos);
}

TEST(Pages, EmptyStates) {
  const std::string status = render_status_page(StatusView{});
  EXPECT_NE(status.find("no workers yet"), std::string::npos);
  EXPECT_NE(status.find("no invocations yet"), std::string::npos);
  EXPECT_EQ(status.find("<table id=\"workers\">"), std::string::npos);
  const std::string list = render_invocations_page({}, kT0);
  EXPECT_NE(list.find("no invocations yet"), std::string::npos);
  const std::string one = render_invocation_page(InvocationDetail{}, kT0);
  EXPECT_NE(one.find("no actions recorded"), std::string::npos);
  for (const std::string* page : {&status, &list, &one}) {
    EXPECT_EQ(page->find("nan"), std::string::npos);
    EXPECT_EQ(page->find("inf%"), std::string::npos);
  }
  // One invocation with no actions, and one with a zero duration.
  InvocationSummary s;
  s.id = "x";
  s.first_us = s.last_us = kT0;
  const std::string single = render_invocations_page({s}, kT0);
  EXPECT_EQ(single.find("nan"), std::string::npos);
  EXPECT_NE(single.find("data-points=\"1\""), std::string::npos);
}

TEST(Pages, TrendsHaveOnePointPerInvocationOldestFirst) {
  std::vector<InvocationSummary> newest_first;
  for (int i = 0; i < 7; ++i) {
    InvocationSummary s;
    s.id = "inv-" + std::to_string(7 - i);
    s.labels = {{"ticket", "T-" + std::to_string(i)}, {"commit", "abcdef"}};
    s.first_us = kT0 - i * 1'000'000'000LL;
    s.last_us = s.first_us + (i + 1) * 10'000'000LL;
    s.actions = 10;
    s.hits = static_cast<std::size_t>(i);
    s.flaky = i % 2;
    newest_first.push_back(s);
  }
  const std::string html = render_invocations_page(newest_first, kT0);
  EXPECT_NE(html.find("id=\"trends\""), std::string::npos);
  const auto charts = elements(html, "<svg class=\"trend\"");
  ASSERT_EQ(charts.size(), 3u);
  std::set<std::string> metrics;
  for (const auto& chart : charts) {
    metrics.insert(chart.at("data-metric"));
    EXPECT_EQ(chart.at("data-points"), "7");
    const std::string svg =
        section(html, "data-metric=\"" + chart.at("data-metric") + "\"", "</svg>");
    EXPECT_EQ(count(svg, "class=\"point"), 7u) << chart.at("data-metric");
    // Oldest to newest: the first point links to the oldest invocation.
    EXPECT_LT(svg.find("/invocations/inv-1\""), svg.find("/invocations/inv-7\""));
  }
  EXPECT_EQ(metrics, (std::set<std::string>{"duration", "hit-rate", "flaky"}));

  const auto rows = elements(html, "<tr class=\"invocation");
  ASSERT_EQ(rows.size(), 7u);
  EXPECT_EQ(rows[0].at("data-invocation"), "inv-7");  // the table is newest first
  EXPECT_NE(html.find("<span class=\"chip key\" data-label=\"ticket\""), std::string::npos);
  EXPECT_NE(html.find("<span class=\"chip key\" data-label=\"commit\""), std::string::npos);
  EXPECT_EQ(html.find("http-equiv=\"refresh\""), std::string::npos);
}

TEST(Pages, InvocationEscapesEverythingFromClients) {
  const std::string html = render_invocation_page(sample_detail(), kT0 + 4'000'000);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>boom"), std::string::npos);
  EXPECT_NE(html.find(escape_html(kEvil)), std::string::npos);
  EXPECT_NE(html.find("<section id=\"summary\" data-invocation=\"ci-42.build\">"),
            std::string::npos);
}

TEST(Pages, TimelineBarsDoNotOverlapWithinARow) {
  const InvocationDetail d = sample_detail();
  const std::string html = render_invocation_page(d, kT0 + 4'000'000);
  const std::string svg = section(html, "<svg id=\"timeline\"", "</svg>");
  ASSERT_FALSE(svg.empty());
  const auto bars = elements(svg, "<rect class=\"action\"");
  ASSERT_EQ(bars.size(), d.actions.size());

  const auto lanes = elements(svg, "<g class=\"lane\"");
  std::vector<std::string> lane_names;
  for (const auto& lane : lanes) {
    lane_names.push_back(lane.at("data-worker"));
  }
  EXPECT_EQ(lane_names, (std::vector<std::string>{"w1", "w2", "(cache hits)", "(queued)"}));

  std::map<std::pair<std::string, std::string>, std::vector<std::pair<double, double>>> rows;
  std::set<std::string> indices;
  for (const auto& bar : bars) {
    indices.insert(bar.at("data-index"));
    const double x = std::stod(bar.at("x"));
    const double w = std::stod(bar.at("width"));
    EXPECT_GT(w, 0);
    rows[{bar.at("data-lane"), bar.at("data-row")}].push_back({x, x + w});
  }
  EXPECT_EQ(indices.size(), d.actions.size());
  for (auto& [row, spans] : rows) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) {
      EXPECT_LE(spans[i - 1].second, spans[i].first + 1e-6)
          << row.first << " row " << row.second << " overlaps";
    }
  }
  // w1's three overlapping actions need three rows; d.cpp fits in row 0 after them.
  EXPECT_EQ(rows.count({"w1", "2"}), 1u);
  EXPECT_EQ(rows.count({"w1", "3"}), 0u);
  // Every bar has a tooltip, and phases are drawn.
  EXPECT_EQ(count(svg, "<g class=\"bar\"><title>"), d.actions.size());
  EXPECT_NE(svg.find("ph ph-input_fetch"), std::string::npos);
  EXPECT_NE(svg.find("ph ph-upload"), std::string::npos);
  EXPECT_NE(svg.find("class=\"ex failed\""), std::string::npos);
}

// A test run queues everything at once: a worker's lane shows what ran
// there from the lease instead of a row per waiting action.
TEST(Pages, TimelineBurstHidesWaitsInsteadOfStackingThem) {
  InvocationDetail d;
  d.summary.id = "burst";
  d.workers = {"w1", "w2"};
  for (int i = 0; i < 40; ++i) {
    // Two slots on w1, each action 1 s, all submitted at 0.
    const std::int64_t start = (i / 2) * 1'000'000;
    d.actions.push_back(action("t" + std::to_string(i), "w1", 0, start, start + 1'000'000));
  }
  d.actions.push_back(action("x", "w2", 0, 100'000, 900'000));
  const std::string html = render_invocation_page(d, kT0 + 30'000'000);
  const auto lanes = elements(html, "<g class=\"lane\"");
  ASSERT_EQ(lanes.size(), 2u);
  EXPECT_EQ(lanes[0].at("data-queue"), "hidden");
  EXPECT_EQ(lanes[1].at("data-queue"), "shown");
  std::map<std::string, std::vector<std::pair<double, double>>> rows;
  for (const auto& bar : elements(html, "<rect class=\"action\"")) {
    if (bar.at("data-lane") == "w1") {
      const double x = std::stod(bar.at("x"));
      rows[bar.at("data-row")].push_back({x, x + std::stod(bar.at("width"))});
    }
  }
  EXPECT_EQ(rows.size(), 2u);  // the two slots
  for (auto& [row, spans] : rows) {
    std::sort(spans.begin(), spans.end());
    for (std::size_t i = 1; i < spans.size(); ++i) {
      EXPECT_LE(spans[i - 1].second, spans[i].first + 1e-6) << "row " << row;
    }
  }
}

TEST(Pages, CriticalPathIsMarked) {
  const InvocationDetail d = sample_detail();
  const std::string html = render_invocation_page(d, kT0 + 4'000'000);
  std::set<std::string> critical;
  for (const auto& bar : elements(html, "<rect class=\"action\"")) {
    if (bar.at("data-critical") == "true") {
      critical.insert(bar.at("data-index"));
    } else {
      EXPECT_EQ(bar.at("data-critical"), "false");
    }
  }
  EXPECT_EQ(critical, (std::set<std::string>{"0", "4"}));

  const std::string table = section(html, "<table id=\"critical-path\"", "</table>");
  ASSERT_FALSE(table.empty());
  const auto steps = elements(table, "<tr class=\"step");
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0].at("data-index"), "0");
  EXPECT_EQ(steps[1].at("data-index"), "4");
  EXPECT_NE(table.find("data-critical-us=\"3850000\""), std::string::npos);
  EXPECT_NE(table.find("3.8 s"), std::string::npos);

  const auto slowest =
      elements(section(html, "<table id=\"slowest\"", "</table>"), "<tr class=\"step");
  ASSERT_EQ(slowest.size(), 3u);
  EXPECT_EQ(slowest[0].at("data-index"), "4");

  const auto all =
      elements(section(html, "<table id=\"actions\"", "</table>"), "<tr class=\"action");
  ASSERT_EQ(all.size(), d.actions.size());
  EXPECT_EQ(all[6].at("class"), "action failed");
  EXPECT_EQ(all[5].at("data-cached"), "true");
}

// Whatever the log hands over (unfinished, never leased, clocks that
// disagree), the timeline stays well-formed: a bar per action, no overlaps
// in a row, no NaN.
TEST(Pages, TimelineSurvivesOddTimes) {
  std::mt19937 rng(5);
  for (int round = 0; round < 20; ++round) {
    InvocationDetail d;
    d.summary.id = "odd";
    d.workers = {"w1", "w2", "w3"};
    for (int i = 0; i < 60; ++i) {
      auto t = [&] { return rng() % 4 == 0 ? -1 : static_cast<std::int64_t>(rng() % 5'000'000); };
      ActionEntry a = action("s" + std::to_string(i), rng() % 5 == 0 ? "" : d.workers[rng() % 3],
                             static_cast<std::int64_t>(rng() % 5'000'000), t(), t());
      a.cached = rng() % 6 == 0;
      if (rng() % 3 == 0) {
        a.phases = {{"execute", static_cast<std::int64_t>(rng() % 100),
                     static_cast<std::int64_t>(rng() % 3'000'000)}};
      }
      d.actions.push_back(a);
    }
    const std::string html = render_invocation_page(d, kT0 + 2'000'000);
    EXPECT_EQ(html.find("nan"), std::string::npos);
    const auto bars = elements(html, "<rect class=\"action\"");
    ASSERT_EQ(bars.size(), d.actions.size());
    std::map<std::pair<std::string, std::string>, std::vector<std::pair<double, double>>> rows;
    for (const auto& bar : bars) {
      const double x = std::stod(bar.at("x"));
      rows[{bar.at("data-lane"), bar.at("data-row")}].push_back(
          {x, x + std::stod(bar.at("width"))});
    }
    for (auto& [row, spans] : rows) {
      std::sort(spans.begin(), spans.end());
      for (std::size_t i = 1; i < spans.size(); ++i) {
        EXPECT_LE(spans[i - 1].second, spans[i].first + 0.02)
            << "round " << round << ": " << row.first << " row " << row.second;
      }
    }
  }
}

TEST(Pages, StaleIndicesDoNotCrash) {
  InvocationDetail d = sample_detail();
  d.critical = {0, 99};
  d.slowest = {1000};
  const std::string html = render_invocation_page(d, kT0);
  EXPECT_NE(html.find("id=\"critical-path\""), std::string::npos);
}

TEST(Pages, NotFoundEscapes) {
  const std::string html = render_not_found_page("invocation <script>x</script>");
  EXPECT_NE(html.find("id=\"not-found\""), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("invocation &lt;script&gt;"), std::string::npos);
}

TEST(Pages, JsonRoundTrips) {
  using nlohmann::json;
  const InvocationDetail d = sample_detail();
  const json one = json::parse(invocation_json(d));
  EXPECT_EQ(one["summary"]["id"], "ci-42.build");
  EXPECT_EQ(one["summary"]["labels"][0]["name"], "ticket");
  EXPECT_EQ(one["summary"]["labels"][0]["value"], "BANK-123");
  EXPECT_EQ(one["summary"]["duration_us"], 4'000'000);
  EXPECT_DOUBLE_EQ(one["summary"]["hit_rate"].get<double>(), 1.0 / 8);
  ASSERT_EQ(one["actions"].size(), d.actions.size());
  EXPECT_EQ(one["actions"][6]["subject"], std::string(kEvil));  // JSON keeps it verbatim
  EXPECT_EQ(one["actions"][6]["state"], "failed");
  EXPECT_EQ(one["actions"][6]["exit_code"], 2);
  EXPECT_EQ(one["actions"][4]["phases"].size(), 3u);
  EXPECT_EQ(one["actions"][4]["phases"][1]["name"], "execute");
  EXPECT_EQ(one["actions"][0]["duration_us"], 1'900'000);
  EXPECT_EQ(one["critical"], json({0, 4}));
  EXPECT_EQ(one["critical_us"], 3'850'000);
  EXPECT_EQ(one["workers"], json({"w1", "w2"}));

  std::vector<InvocationSummary> list(2, d.summary);
  list[1].id = "older";
  const json many = json::parse(invocations_json(list));
  ASSERT_EQ(many["invocations"].size(), 2u);
  EXPECT_EQ(many["invocations"][1]["id"], "older");

  StatusView view;
  view.workers = {{"w1", 8, 2, "os=linux", 10, 0}};
  view.cache_hits = 1;
  view.cache_misses = 3;
  view.in_flight = {d.actions[7]};
  view.in_flight_invocations = {"ci-42.build"};
  view.store_known = true;
  view.store_bytes = 5;
  const json status = json::parse(status_json(view));
  EXPECT_EQ(status["workers"][0]["id"], "w1");
  EXPECT_EQ(status["workers"][0]["slots"], 8);
  EXPECT_DOUBLE_EQ(status["hit_rate"].get<double>(), 0.25);
  EXPECT_EQ(status["in_flight"][0]["invocation"], "ci-42.build");
  EXPECT_EQ(status["in_flight"][0]["state"], "queued");
  EXPECT_EQ(status["store_bytes"], 5);

  // Invalid UTF-8 from a client is replaced, not thrown.
  StatusView bad;
  bad.workers = {{"w\xff\xfe", 1, 0, "", 0, 0}};
  json parsed;
  ASSERT_NO_THROW(parsed = json::parse(status_json(bad)));
  EXPECT_EQ(parsed["workers"][0]["id"], "w\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(json::parse(status_json(StatusView{}))["hit_rate"], 0.0);
}

}  // namespace
}  // namespace kiln::scheduler
