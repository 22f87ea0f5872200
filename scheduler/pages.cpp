// See pages.h. The pages are built as strings, top to bottom, by small
// helpers that each emit one piece (a card, a table, a chart). Nothing here
// calls the log's own derived values (ActionEntry::duration_us(),
// InvocationSummary::hit_rate(), to_string(ActionState)): the pages compute
// what they show from the fields, so this library stands on its own.
#include "scheduler/pages.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace kiln::scheduler {

// ---------------------------------------------------------------- formats

std::string escape_html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string num(std::uint64_t value) { return std::to_string(value); }

// A coordinate in an SVG: two decimals are finer than any screen.
std::string px(double value) { return fixed(value, 2); }

std::string percent(double ratio) { return fixed(ratio * 100, ratio >= 0.9995 ? 0 : 1) + "%"; }

}  // namespace

std::string format_duration(std::int64_t us) {
  if (us <= 0) {
    return "0 ms";
  }
  if (us < 1000) {
    return fixed(static_cast<double>(us) / 1000, 1) + " ms";
  }
  if (us < 1'000'000) {
    return std::to_string(us / 1000) + " ms";
  }
  const std::int64_t seconds = us / 1'000'000;
  if (seconds < 60) {
    // Truncated to tenths, so 59.99 s reads "59.9 s", never "60.0 s".
    const std::int64_t tenths = us / 100'000;
    return std::to_string(tenths / 10) + "." + std::to_string(tenths % 10) + " s";
  }
  if (seconds < 3600) {
    return std::to_string(seconds / 60) + " min " + std::to_string(seconds % 60) + " s";
  }
  return std::to_string(seconds / 3600) + " h " + std::to_string(seconds % 3600 / 60) + " min";
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  const char* const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  return fixed(value, value < 10 ? 1 : 0) + " " + units[unit];
}

std::string format_utc(std::int64_t us) {
  using namespace std::chrono;
  const sys_time<microseconds> t{microseconds{us}};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> hms{floor<seconds>(t - day)};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02ld:%02ld:%02ld UTC",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()), static_cast<long>(hms.seconds().count()));
  return buf;
}

std::vector<std::size_t> pack_rows(const std::vector<LaneSpan>& spans) {
  std::vector<std::size_t> order(spans.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return spans[a].begin_us < spans[b].begin_us;
  });
  std::vector<std::size_t> rows(spans.size(), 0);
  std::vector<std::int64_t> row_end;  // where each row's last span ends
  for (const std::size_t i : order) {
    const LaneSpan& s = spans[i];
    const std::int64_t end = std::max(s.end_us, s.begin_us);
    std::size_t row = 0;
    while (row < row_end.size() && row_end[row] > s.begin_us) {
      ++row;
    }
    if (row == row_end.size()) {
      row_end.push_back(end);
    } else {
      row_end[row] = end;
    }
    rows[i] = row;
  }
  return rows;
}

namespace {

// ---------------------------------------------------------------- values

// What an action took: from its lease (or, never leased — a hit, a
// failure before a lease — its submission) to its answer; 0 until answered.
std::int64_t action_us(const ActionEntry& a) {
  if (a.finished_us == 0) {
    return 0;
  }
  const std::int64_t from = a.started_us != 0 ? a.started_us : a.submitted_us;
  return std::max<std::int64_t>(0, a.finished_us - from);
}

// How long it waited for a slot: submission to lease (or to now, still
// waiting; or to its answer, never leased).
std::int64_t queue_us(const ActionEntry& a, std::int64_t now_us) {
  const std::int64_t until =
      a.started_us != 0 ? a.started_us : (a.finished_us != 0 ? a.finished_us : now_us);
  return std::max<std::int64_t>(0, until - a.submitted_us);
}

bool is_failure(const ActionEntry& a) {
  return a.state == ActionState::kFailed || (a.finished_us != 0 && a.exit_code != 0);
}

double ratio(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

double summary_hit_rate(const InvocationSummary& s) { return ratio(s.hits, s.actions); }

// Invocation ids go into URLs unescaped, so only ids that need no escaping
// (what sanitize_tag keeps) become links.
bool linkable_id(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string invocation_link(std::string_view id) {
  if (!linkable_id(id)) {
    return "<span class=\"muted\">" + escape_html(id.empty() ? "—" : id) + "</span>";
  }
  return "<a class=\"mono\" href=\"/invocations/" + std::string(id) + "\">" + std::string(id) +
         "</a>";
}

std::string short_digest(std::string_view digest) {
  const auto slash = digest.find('/');
  const std::string_view hex = digest.substr(0, slash);
  return std::string(hex.substr(0, std::min<std::size_t>(hex.size(), 12)));
}

// Long texts (subjects are up to 512 bytes) are cut for a table cell, with
// the whole in the cell's title. Cut on a UTF-8 character boundary.
std::string cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) {
    return std::string(text);
  }
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return std::string(text.substr(0, end)) + "…";
}

std::string text_cell(std::string_view text, std::size_t max, std::string_view cls = "") {
  std::string out = "<td";
  if (!cls.empty()) {
    out += " class=\"" + std::string(cls) + "\"";
  }
  if (text.size() > max) {
    out += " title=\"" + escape_html(text) + "\"";
  }
  out += ">" + escape_html(cut(text, max)) + "</td>";
  return out;
}

// Label chips: "ticket" and "commit" first and prominent (they link a build
// to its work item and its code), the others as name=value.
std::string chips(const TagLabels& labels) {
  std::string out;
  for (const std::string_view key : {"ticket", "commit"}) {
    for (const auto& [name, value] : labels) {
      if (name != key) {
        continue;
      }
      const std::string shown = key == "commit" ? cut(value, 10) : cut(value, 40);
      out += "<span class=\"chip key\" data-label=\"" + escape_html(name) + "\" title=\"" +
             escape_html(name + "=" + value) + "\"><b>" + escape_html(name) + "</b> " +
             escape_html(shown) + "</span>";
    }
  }
  for (const auto& [name, value] : labels) {
    if (name == "ticket" || name == "commit") {
      continue;
    }
    out += "<span class=\"chip\" data-label=\"" + escape_html(name) + "\" title=\"" +
           escape_html(name + "=" + value) + "\">" + escape_html(name) + "=" +
           escape_html(cut(value, 32)) + "</span>";
  }
  return out;
}

// ---------------------------------------------------------------- the page shell

constexpr std::string_view kStyle = R"css(
:root{--bg:#f5f6f8;--surface:#fff;--text:#1d232b;--muted:#5f6b7a;--line:#e1e5ea;--zebra:#f8f9fb;
--accent:#2563eb;--ok:#16803c;--warn:#a15c00;--bad:#c9252d;--chip:#eef2f7;--chipkey:#dbe8ff;
--queue:#cfd8e3;--fetch:#8b5cf6;--exec:#2563eb;--upload:#0d9488;--other:#60a5fa;--hit:#22a559;
--fail:#dc2626;--cancel:#9aa4b2;--crit:#f59e0b;--bar:#e6eaf0}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--surface:#1a1f26;--text:#e5e9ef;
--muted:#95a1b0;--line:#2b323c;--zebra:#1e242c;--accent:#6ea8ff;--ok:#4ade80;--warn:#fbbf24;
--bad:#f87171;--chip:#262d37;--chipkey:#1e3a66;--queue:#3a4552;--bar:#2b323c;--other:#3b82f6}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
nav{display:flex;align-items:center;gap:20px;padding:10px 28px;background:var(--surface);
border-bottom:1px solid var(--line)}
nav .brand{font-weight:700;font-size:16px;color:var(--text);letter-spacing:.02em}
nav .brand span{color:var(--crit)}
nav a.here{color:var(--text);font-weight:600}
main{max-width:1400px;margin:0 auto;padding:20px 28px 40px}
h1{font-size:22px;margin:4px 0 12px;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
h2{font-size:15px;margin:26px 0 10px;color:var(--text);display:flex;gap:10px;align-items:baseline}
h2 small,.muted{color:var(--muted);font-weight:400}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.badge{display:inline-block;padding:2px 9px;border-radius:999px;font-size:12px;font-weight:600;
background:var(--chip);color:var(--muted);vertical-align:middle}
.badge.draining,.badge.quarantined{background:#fff1d6;color:var(--warn)}
.badge.auth{background:#dcf5e4;color:var(--ok)}.badge.open{background:#fde4e4;color:var(--bad)}
@media (prefers-color-scheme:dark){.badge.draining,.badge.quarantined{background:#3d2e0c}
.badge.auth{background:#12351f}.badge.open{background:#3d1717}}
.chip{display:inline-block;padding:1px 8px;margin:1px 4px 1px 0;border-radius:6px;
background:var(--chip);font-size:12px;white-space:nowrap;max-width:24em;overflow:hidden;
text-overflow:ellipsis;vertical-align:middle}
.chip.key{background:var(--chipkey);font-weight:500}
h1 .chip{font-size:14px;padding:3px 10px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:var(--surface);border:1px solid var(--line);border-radius:10px;padding:12px 16px}
.card .name{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.card .value{font-size:26px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums}
.card .sub{color:var(--muted);font-size:12px;margin-top:2px}
.card.good .value{color:var(--ok)}.card.bad .value{color:var(--bad)}
.meter{height:6px;border-radius:3px;background:var(--bar);overflow:hidden;margin-top:8px;display:flex}
.meter i{display:block;height:100%;background:var(--accent)}
.meter i.hit{background:var(--hit)}.meter i.miss{background:var(--exec)}
.meter i.full{background:var(--warn)}
.panel{background:var(--surface);border:1px solid var(--line);border-radius:10px;overflow:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:6px 12px;white-space:nowrap}
th{font-size:12px;color:var(--muted);font-weight:600;border-bottom:1px solid var(--line);
background:var(--surface);position:sticky;top:0}
td.num,th.num{text-align:right}
td.wrap{white-space:normal;word-break:break-all;min-width:16em}
tbody tr:nth-child(even){background:var(--zebra)}
tbody tr:hover{background:var(--chip)}
tfoot td{border-top:1px solid var(--line);font-weight:600}
tr.action.failed td,tr.step.failed td,tr.failure td.bad,td.bad,.bad{color:var(--bad)}
tr.invocation.failed td:first-child{box-shadow:inset 3px 0 0 var(--bad)}
td.labels{white-space:normal;min-width:14em}
tr.quarantined td{color:var(--warn)}
.busy{display:inline-block;width:70px;height:8px;border-radius:4px;background:var(--bar);
overflow:hidden;vertical-align:middle;margin-right:6px}
.busy i{display:block;height:100%;background:var(--accent)}
.busy i.full{background:var(--warn)}
.empty{color:var(--muted);padding:18px;margin:0;text-align:center;background:var(--surface);
border:1px dashed var(--line);border-radius:10px}
.cols{display:grid;grid-template-columns:1fr 2fr;gap:16px}
.cols>div{min-width:0}
@media (max-width:1000px){.cols{grid-template-columns:1fr}}
.state{font-size:12px;font-weight:600;padding:1px 7px;border-radius:5px;background:var(--chip)}
.state.running{color:var(--accent)}.state.failed{color:var(--bad)}.state.done{color:var(--ok)}
.state.queued,.state.cancelled{color:var(--muted)}
.trends{display:grid;grid-template-columns:repeat(3,1fr);gap:12px}
.trends .card{padding:10px 14px 6px}
.trends .head{display:flex;justify-content:space-between;align-items:baseline}
.trends .last{font-size:18px;font-weight:650}
svg text{fill:var(--muted);font-size:11px;font-family:system-ui,sans-serif}
svg .grid{stroke:var(--line);stroke-width:1}
svg .axis{stroke:var(--muted);stroke-width:1}
svg .line{fill:none;stroke:var(--accent);stroke-width:2}
svg .area{fill:var(--accent);opacity:.12}
svg circle.point{fill:var(--surface);stroke:var(--accent);stroke-width:2}
svg rect.point{fill:var(--exec)}svg rect.point.failed{fill:var(--fail)}
svg rect.point.flaky{fill:var(--warn)}
svg .lane-bg{fill:var(--zebra)}
svg .lane-name{fill:var(--text);font-size:12px;font-weight:600}
svg .q{fill:var(--queue)}svg .ex{fill:var(--other)}
svg .ph-input_fetch{fill:var(--fetch)}svg .ph-execute{fill:var(--exec)}
svg .ph-upload{fill:var(--upload)}svg .ph-other{fill:var(--other)}
svg .hit{fill:var(--hit)}svg .ex.failed,svg .ph.failed{fill:var(--fail)}
svg .ex.cancelled{fill:var(--cancel)}svg .ex.running{fill:var(--other);opacity:.6}
svg rect.action{fill:transparent;stroke:none}
svg rect.action[data-critical=true]{stroke:var(--crit);stroke-width:2}
svg g.bar:hover rect.action{stroke:var(--text);stroke-width:1}
.legend{display:flex;gap:16px;flex-wrap:wrap;color:var(--muted);font-size:12px;padding:8px 14px;
border-top:1px solid var(--line)}
.legend i{display:inline-block;width:12px;height:10px;border-radius:2px;margin-right:5px;
vertical-align:-1px}
.timeline{padding:4px 0 0}
)css";

struct Shell {
  std::string title;
  std::string here;  // "status", "invocations", ""
  bool refresh = false;
};

std::string page(const Shell& shell, const std::string& body) {
  std::string out;
  out.reserve(body.size() + 8192);
  out += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">";
  out += "<meta name=\"color-scheme\" content=\"light dark\">";
  if (shell.refresh) {
    out += "<meta http-equiv=\"refresh\" content=\"5\">";
  }
  out += "<title>" + escape_html(shell.title) + " · kiln</title><style>";
  out += kStyle;
  out += "</style></head><body><nav id=\"nav\"><span class=\"brand\">kiln<span>●</span></span>";
  out += std::string("<a href=\"/\"") + (shell.here == "status" ? " class=\"here\"" : "") +
         ">Status</a>";
  out += std::string("<a href=\"/invocations\"") +
         (shell.here == "invocations" ? " class=\"here\"" : "") + ">Invocations</a>";
  out += "<a href=\"/metrics\">Metrics</a></nav>\n";
  out += body;
  out += "</body></html>\n";
  return out;
}

struct Card {
  std::string key;  // data-card
  std::string name;
  std::string value;
  std::string sub;    // HTML
  std::string extra;  // HTML below (a meter)
  std::string cls;    // "good", "bad"
};

std::string card(const Card& c) {
  std::string out = "<div class=\"card";
  if (!c.cls.empty()) {
    out += " " + c.cls;
  }
  out += "\" data-card=\"" + c.key + "\"><div class=\"name\">" + escape_html(c.name) +
         "</div><span class=\"value\">" + escape_html(c.value) + "</span>";
  if (!c.sub.empty()) {
    out += "<div class=\"sub\">" + c.sub + "</div>";
  }
  out += c.extra + "</div>";
  return out;
}

std::string meter_hits(std::uint64_t hits, std::uint64_t misses) {
  if (hits + misses == 0) {
    return "<div class=\"meter\"></div>";  // nothing looked up: no colour to show
  }
  const double r = ratio(hits, hits + misses);
  return "<div class=\"meter\"><i class=\"hit\" style=\"width:" + fixed(r * 100, 2) +
         "%\"></i><i class=\"miss\" style=\"width:" + fixed((1 - r) * 100, 2) + "%\"></i></div>";
}

std::string empty(std::string_view id, std::string_view text) {
  return "<p class=\"empty\" id=\"" + std::string(id) + "\">" + std::string(text) + "</p>";
}

std::string state_chip(const ActionEntry& a) {
  const std::string_view name = is_failure(a) ? "failed" : to_string(a.state);
  return "<span class=\"state " + std::string(name) + "\">" + std::string(name) + "</span>";
}

// ---------------------------------------------------------------- status page

std::string workers_table(const StatusView& view) {
  if (view.workers.empty()) {
    return empty("workers-empty", "no workers yet");
  }
  std::string out =
      "<div class=\"panel\"><table id=\"workers\"><thead><tr><th>worker</th>"
      "<th class=\"num\">slots</th><th>busy</th><th>platform</th><th>last heard</th><th></th>"
      "</tr></thead><tbody>";
  for (const WorkerRow& w : view.workers) {
    const bool quarantined = w.quarantined_ms_left > 0;
    const double load = ratio(w.busy, w.slots);
    out += "<tr class=\"worker";
    out += quarantined ? " quarantined" : "";
    out += "\" data-worker=\"" + escape_html(w.id) + "\" data-slots=\"" + num(w.slots) +
           "\" data-busy=\"" + num(w.busy) + "\">";
    out += text_cell(w.id, 48, "mono");
    out += "<td class=\"num\">" + num(w.slots) + "</td>";
    out += "<td><span class=\"busy\"><i" + std::string(load >= 1 ? " class=\"full\"" : "") +
           " style=\"width:" + fixed(std::min(load, 1.0) * 100, 1) + "%\"></i></span>" +
           num(w.busy) + " / " + num(w.slots) + "</td>";
    out += text_cell(w.platform, 60, "platform mono");
    out += "<td class=\"heard\">" + format_duration(w.last_heard_ms_ago * 1000) + " ago</td><td>";
    if (quarantined) {
      out += "<span class=\"badge quarantined\">quarantined " +
             format_duration(w.quarantined_ms_left * 1000) + "</span>";
    }
    out += "</td></tr>";
  }
  return out + "</tbody></table></div>";
}

std::string queue_by_client(const StatusView& view) {
  struct Counts {
    std::uint64_t queued = 0;
    std::uint64_t running = 0;
    std::int64_t oldest_us = 0;
  };
  std::map<std::string, Counts> clients;
  for (const ActionEntry& a : view.in_flight) {
    Counts& c = clients[a.client];
    (a.state == ActionState::kRunning ? c.running : c.queued) += 1;
    if (c.oldest_us == 0 || (a.submitted_us != 0 && a.submitted_us < c.oldest_us)) {
      c.oldest_us = a.submitted_us;
    }
  }
  if (clients.empty()) {
    return empty("queue-by-client-empty", "nobody waiting");
  }
  std::string out =
      "<div class=\"panel\"><table id=\"queue-by-client\"><thead><tr><th>client</th>"
      "<th class=\"num\">queued</th><th class=\"num\">running</th><th>oldest</th></tr></thead>"
      "<tbody>";
  for (const auto& [client, c] : clients) {
    out += "<tr class=\"client\" data-client=\"" + escape_html(client) + "\" data-queued=\"" +
           num(c.queued) + "\" data-running=\"" + num(c.running) + "\">";
    out += text_cell(client.empty() ? "(unnamed)" : client, 32, "mono");
    out += "<td class=\"num\">" + num(c.queued) + "</td><td class=\"num\">" + num(c.running) +
           "</td><td>" + format_duration(view.now_us - c.oldest_us) + "</td></tr>";
  }
  return out + "</tbody></table></div>";
}

std::string in_flight_table(const StatusView& view) {
  if (view.in_flight.empty()) {
    return empty("in-flight-empty", "nothing in flight");
  }
  std::string out =
      "<div class=\"panel\"><table id=\"in-flight\"><thead><tr><th>kind</th><th>subject</th>"
      "<th>client</th><th>state</th><th>worker</th><th class=\"num\">for</th>"
      "<th>invocation</th></tr></thead><tbody>";
  for (std::size_t i = 0; i < view.in_flight.size(); ++i) {
    const ActionEntry& a = view.in_flight[i];
    const std::string inv =
        i < view.in_flight_invocations.size() ? view.in_flight_invocations[i] : "";
    const bool running = a.state == ActionState::kRunning;
    const std::int64_t since = running && a.started_us != 0 ? a.started_us : a.submitted_us;
    out += "<tr class=\"action\" data-state=\"" + std::string(to_string(a.state)) +
           "\" data-subject=\"" + escape_html(a.subject) + "\" data-worker=\"" +
           escape_html(a.worker) + "\"";
    if (linkable_id(inv)) {
      out += " data-invocation=\"" + inv + "\"";
    }
    out += ">";
    out += text_cell(a.kind, 16);
    out += text_cell(a.subject.empty() ? short_digest(a.digest) : a.subject, 70, "mono");
    out += text_cell(a.client, 24, "mono");
    out += "<td>" + state_chip(a) + "</td>";
    out += text_cell(a.worker.empty() ? "—" : a.worker, 24, "mono");
    out += "<td class=\"num\">" + std::string(running ? "running " : "waiting ") +
           format_duration(view.now_us - since) + "</td>";
    out += "<td>" + (inv.empty() ? std::string("—") : invocation_link(inv)) + "</td></tr>";
  }
  return out + "</tbody></table></div>";
}

std::string failures_table(const StatusView& view) {
  if (view.failures.empty()) {
    return empty("failures-empty", "no failures");
  }
  std::string out =
      "<div class=\"panel\"><table id=\"failures\"><thead><tr><th>when</th><th>subject</th>"
      "<th>worker</th><th>exit / why</th><th>invocation</th></tr></thead><tbody>";
  for (std::size_t i = 0; i < view.failures.size(); ++i) {
    const ActionEntry& a = view.failures[i];
    const std::string inv = i < view.failure_invocations.size() ? view.failure_invocations[i] : "";
    const std::int64_t when = a.finished_us != 0 ? a.finished_us : a.submitted_us;
    out += "<tr class=\"failure\" data-subject=\"" + escape_html(a.subject) + "\" data-worker=\"" +
           escape_html(a.worker) + "\" data-exit-code=\"" + std::to_string(a.exit_code) + "\"";
    if (linkable_id(inv)) {
      out += " data-invocation=\"" + inv + "\"";
    }
    out += "><td title=\"" + format_utc(when) + "\">" + format_duration(view.now_us - when) +
           " ago</td>";
    out += text_cell(a.subject.empty() ? short_digest(a.digest) : a.subject, 60, "mono");
    out += text_cell(a.worker.empty() ? "—" : a.worker, 24, "mono");
    std::string why = a.exit_code != 0 ? "exit " + std::to_string(a.exit_code) : "";
    if (!a.message.empty()) {
      why += (why.empty() ? "" : ": ") + a.message;
    }
    out += text_cell(why.empty() ? "failed" : why, 60, "bad");
    out += "<td>" + (inv.empty() ? std::string("—") : invocation_link(inv)) + "</td></tr>";
  }
  return out + "</tbody></table></div>";
}

// The invocations table of /invocations; `compact` (the status page) leaves
// out the columns a glance does not need.
std::string invocations_table(const std::vector<InvocationSummary>& rows, std::string_view id,
                              bool compact) {
  std::string out = "<div class=\"panel\"><table id=\"" + std::string(id) +
                    "\"><thead><tr><th>invocation</th><th>labels</th><th>started (UTC)</th>"
                    "<th class=\"num\">duration</th><th class=\"num\">actions</th>"
                    "<th class=\"num\">hit rate</th>";
  if (!compact) {
    out += "<th class=\"num\">hits</th><th class=\"num\">executed</th>";
  }
  out += "<th class=\"num\">failed</th>";
  if (!compact) {
    out += "<th class=\"num\">flaky</th><th>clients</th>";
  }
  out += "</tr></thead><tbody>";
  for (const InvocationSummary& s : rows) {
    out += "<tr class=\"invocation";
    out += s.failed > 0 ? " failed" : "";
    out += "\"";
    if (linkable_id(s.id)) {
      out += " data-invocation=\"" + s.id + "\"";
    }
    out += "><td>" + invocation_link(s.id);
    if (s.in_flight > 0) {
      out += " <span class=\"badge\">running</span>";
    }
    out += "</td><td class=\"labels\">" + chips(s.labels) + "</td>";
    // The date and time without the " UTC" the header names.
    const std::string utc = format_utc(s.first_us);
    out += "<td class=\"muted\">" + utc.substr(0, utc.size() - 4) + "</td>";
    out += "<td class=\"num\">" + format_duration(s.last_us - s.first_us) + "</td>";
    out += "<td class=\"num\">" + num(s.actions) + "</td>";
    out += "<td class=\"num\">" + percent(summary_hit_rate(s)) + "</td>";
    if (!compact) {
      out += "<td class=\"num\">" + num(s.hits) + "</td><td class=\"num\">" + num(s.executed) +
             "</td>";
    }
    out += "<td class=\"num" + std::string(s.failed > 0 ? " bad" : "") + "\">" + num(s.failed) +
           "</td>";
    if (!compact) {
      out += "<td class=\"num\">" + num(s.flaky) + "</td>";
      std::string clients;
      for (const std::string& c : s.clients) {
        clients += (clients.empty() ? "" : ", ") + c;
      }
      out += text_cell(clients, 40, "mono muted");
    }
    out += "</tr>";
  }
  return out + "</tbody></table></div>";
}

}  // namespace

std::string render_status_page(const StatusView& view) {
  std::string body = "<main id=\"status\"><h1>Scheduler <span id=\"badges\">";
  body += "<span class=\"badge\">up " +
          format_duration(static_cast<std::int64_t>(view.uptime_seconds * 1e6)) + "</span> ";
  if (view.draining) {
    body += "<span class=\"badge draining\">draining</span> ";
  }
  body += view.authenticated ? "<span class=\"badge auth\">authenticated</span>"
                             : "<span class=\"badge open\">no authentication</span>";
  body += "</span></h1>";

  std::uint64_t slots = 0;
  std::uint64_t busy = 0;
  for (const WorkerRow& w : view.workers) {
    slots += w.slots;
    busy += w.busy;
  }
  const std::uint64_t lookups = view.cache_hits + view.cache_misses;
  body += "<div class=\"cards\" id=\"cards\">";
  body += card({"hit-rate", "cache hit rate",
                lookups == 0 ? "—" : percent(ratio(view.cache_hits, lookups)),
                num(view.cache_hits) + " hits · " + num(view.cache_misses) + " misses",
                meter_hits(view.cache_hits, view.cache_misses), ""});
  body += card({"executed", "executed", num(view.executed), "actions run on workers", "", ""});
  body += card({"queued", "queued", num(view.queued), "waiting for a slot", "", ""});
  body += card({"running", "running", num(view.running), "under lease", "", ""});
  body += card({"workers", "workers", num(view.workers.size()),
                num(busy) + " of " + num(slots) + " slots busy",
                "<div class=\"meter\"><i style=\"width:" +
                    fixed(std::min(ratio(busy, slots), 1.0) * 100, 1) + "%\"></i></div>",
                ""});
  if (view.store_known) {
    const double use = ratio(view.store_bytes, view.store_max_bytes);
    // A store without a size limit (max 0) has no fill to show.
    const std::string limit = view.store_max_bytes == 0
                                  ? std::string("no size limit")
                                  : "of " + format_bytes(view.store_max_bytes);
    const std::string meter =
        view.store_max_bytes == 0
            ? std::string()
            : "<div class=\"meter\"><i" + std::string(use >= 0.9 ? " class=\"full\"" : "") +
                  " style=\"width:" + fixed(std::min(use, 1.0) * 100, 1) + "%\"></i></div>";
    body += card({"store", "store", format_bytes(view.store_bytes),
                  limit + " · " + num(view.store_blobs) + " blobs", meter, ""});
  } else {
    body += card({"store", "store", "—", "not known", "", ""});
  }
  body += "</div>";

  body += "<h2>Workers <small>" + num(view.workers.size()) + "</small></h2>";
  body += workers_table(view);
  body += "<div class=\"cols\"><div><h2>Queue by client</h2>" + queue_by_client(view) +
          "</div><div><h2>Recent failures <small>" + num(view.failures.size()) + "</small></h2>" +
          failures_table(view) + "</div></div>";
  body += "<h2>In flight <small>" + num(view.in_flight.size()) + "</small></h2>";
  body += in_flight_table(view);
  body +=
      "<h2>Recent invocations <small><a href=\"/invocations\">all and trends →</a></small></h2>";
  body += view.recent.empty() ? empty("recent-invocations-empty", "no invocations yet")
                              : invocations_table(view.recent, "recent-invocations", true);
  body += "</main>";
  return page({"Status", "status", true}, body);
}

// ---------------------------------------------------------------- trends

namespace {

struct TrendPoint {
  std::string id;
  double value = 0;
  std::string shown;  // the value, formatted
  bool failed = false;
};

// A small chart: bars (durations, flaky counts) or a line (hit rate), the
// points evenly spaced oldest to newest, each a link to its invocation.
std::string trend_chart(std::string_view metric, std::string_view title,
                        const std::vector<TrendPoint>& points, bool line, double y_max,
                        std::string_view y_max_label) {
  constexpr double kW = 400;
  constexpr double kH = 130;
  constexpr double kLeft = 8;
  constexpr double kRight = 8;
  constexpr double kTop = 16;
  constexpr double kBottom = 8;
  const double plot_w = kW - kLeft - kRight;
  const double plot_h = kH - kTop - kBottom;
  const std::size_t n = points.size();
  const double top = y_max > 0 ? y_max : 1;

  std::string out = "<div class=\"card\"><div class=\"head\"><span class=\"name\">" +
                    std::string(title) + "</span><span class=\"last\">" +
                    (n == 0 ? std::string("—") : escape_html(points.back().shown)) +
                    "</span></div>";
  out += "<svg class=\"trend\" data-metric=\"" + std::string(metric) + "\" data-points=\"" +
         num(n) + "\" viewBox=\"0 0 " + px(kW) + " " + px(kH) +
         "\" width=\"100%\" role=\"img\" aria-label=\"" + std::string(title) + "\">";
  // Gridlines at 0, half and the top, the top labelled.
  for (const double f : {0.0, 0.5, 1.0}) {
    const double y = kTop + plot_h * (1 - f);
    out += "<line class=\"grid\" x1=\"" + px(kLeft) + "\" x2=\"" + px(kW - kRight) + "\" y1=\"" +
           px(y) + "\" y2=\"" + px(y) + "\"/>";
  }
  out += "<text x=\"" + px(kLeft) + "\" y=\"11\">" + escape_html(y_max_label) + "</text>";
  const double step = n == 0 ? 0 : plot_w / static_cast<double>(n);
  auto x_of = [&](std::size_t i) { return kLeft + step * (static_cast<double>(i) + 0.5); };
  auto y_of = [&](double v) { return kTop + plot_h * (1 - std::clamp(v / top, 0.0, 1.0)); };
  if (line && n > 0) {
    std::string path;
    for (std::size_t i = 0; i < n; ++i) {
      path += (i == 0 ? "M" : "L") + px(x_of(i)) + "," + px(y_of(points[i].value));
    }
    out += "<path class=\"area\" d=\"" + path + "L" + px(x_of(n - 1)) + "," + px(kTop + plot_h) +
           "L" + px(x_of(0)) + "," + px(kTop + plot_h) + "Z\"/>";
    out += "<path class=\"line\" d=\"" + path + "\"/>";
  }
  const double bar_w = std::max(1.0, std::min(step * 0.7, 28.0));
  for (std::size_t i = 0; i < n; ++i) {
    const TrendPoint& p = points[i];
    const bool link = linkable_id(p.id);
    if (link) {
      out += "<a href=\"/invocations/" + p.id + "\">";
    }
    const std::string tip =
        "<title>" + escape_html(p.id) + ": " + escape_html(p.shown) + "</title>";
    if (line) {
      out += "<circle class=\"point\" cx=\"" + px(x_of(i)) + "\" cy=\"" + px(y_of(p.value)) +
             "\" r=\"" + px(n > 40 ? 2 : 3.5) + "\">" + tip + "</circle>";
    } else {
      const double y = y_of(p.value);
      // A zero still gets a sliver, so every invocation has a visible point.
      const double h = std::max(1.5, kTop + plot_h - y);
      out += "<rect class=\"point" + std::string(p.failed ? " failed" : "") +
             (metric == "flaky" && p.value > 0 ? " flaky" : "") + "\" x=\"" +
             px(x_of(i) - bar_w / 2) + "\" y=\"" + px(kTop + plot_h - h) + "\" width=\"" +
             px(bar_w) + "\" height=\"" + px(h) + "\" rx=\"2\">" + tip + "</rect>";
    }
    if (link) {
      out += "</a>";
    }
  }
  out += "</svg></div>";
  return out;
}

}  // namespace

std::string render_invocations_page(const std::vector<InvocationSummary>& newest_first,
                                    std::int64_t now_us) {
  (void)now_us;  // every time shown is absolute (UTC) or a duration
  std::string body = "<main id=\"invocations-page\"><h1>Invocations <span class=\"badge\">" +
                     num(newest_first.size()) + "</span></h1>";
  if (newest_first.empty()) {
    body += "<div id=\"trends\"></div>";
    body += empty("invocations-empty", "no invocations yet");
    body += "</main>";
    return page({"Invocations", "invocations", false}, body);
  }

  std::vector<TrendPoint> duration;
  std::vector<TrendPoint> hit_rate;
  std::vector<TrendPoint> flaky;
  double max_duration = 0;
  double max_flaky = 0;
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    const InvocationSummary& s = *it;
    const std::int64_t d = std::max<std::int64_t>(0, s.last_us - s.first_us);
    duration.push_back({s.id, static_cast<double>(d), format_duration(d), s.failed > 0});
    max_duration = std::max(max_duration, static_cast<double>(d));
    const double r = summary_hit_rate(s);
    hit_rate.push_back({s.id, r, percent(r), false});
    flaky.push_back({s.id, static_cast<double>(s.flaky), num(s.flaky) + " flaky", false});
    max_flaky = std::max(max_flaky, static_cast<double>(s.flaky));
  }
  // The flaky chart's top is a whole number of tests, at least 1, so a run
  // of zeros stays flat instead of filling the chart.
  max_flaky = std::max(1.0, max_flaky);
  const std::string n = num(newest_first.size());
  body += "<h2>Trends <small>the last " + n + ", oldest to newest</small></h2>";
  body += "<div class=\"trends\" id=\"trends\">";
  body += trend_chart("duration", "Build time", duration, false, max_duration,
                      format_duration(static_cast<std::int64_t>(max_duration)));
  body += trend_chart("hit-rate", "Cache hit rate", hit_rate, true, 1.0, "100%");
  body += trend_chart("flaky", "Flaky tests", flaky, false, max_flaky,
                      fixed(max_flaky, 0) + (max_flaky == 1 ? " test" : " tests"));
  body += "</div>";
  body += "<h2>All invocations <small>newest first</small></h2>";
  body += invocations_table(newest_first, "invocations", false);
  body += "</main>";
  return page({"Invocations", "invocations", false}, body);
}

// ---------------------------------------------------------------- one invocation

namespace {

// Ticks at 1, 2 or 5 times a power of ten, about `target` of them.
std::int64_t tick_step(std::int64_t total_us, int target) {
  const double raw = static_cast<double>(total_us) / target;
  double base = std::pow(10.0, std::floor(std::log10(std::max(raw, 1.0))));
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {
    if (base * m >= raw) {
      base *= m;
      break;
    }
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(base));
}

std::string tick_label(std::int64_t us, std::int64_t step) {
  if (us == 0) {
    return "0";
  }
  if (step < 1'000'000) {
    return std::to_string(us / 1000) + " ms";
  }
  if (step < 60'000'000 && us < 60'000'000) {
    return std::to_string(us / 1'000'000) + " s";
  }
  return format_duration(us);
}

constexpr std::string_view kHitLane = "(cache hits)";
constexpr std::string_view kQueuedLane = "(queued)";

std::string timeline(const InvocationDetail& d, std::int64_t now_us,
                     const std::set<std::size_t>& critical) {
  const std::vector<ActionEntry>& actions = d.actions;
  if (actions.empty()) {
    return empty("timeline-empty", "no actions recorded");
  }
  // The lanes: the workers in the order the log gives, then workers only
  // the actions name, then the hits and what has no worker yet.
  std::vector<std::string> lanes = d.workers;
  std::vector<std::size_t> lane_of(actions.size());
  auto lane_index = [&](const std::string& name) {
    const auto it = std::find(lanes.begin(), lanes.end(), name);
    if (it != lanes.end()) {
      return static_cast<std::size_t>(it - lanes.begin());
    }
    lanes.push_back(name);
    return lanes.size() - 1;
  };
  bool any_hit = false;
  bool any_unassigned = false;
  for (const ActionEntry& a : actions) {
    if (a.cached) {
      any_hit = true;
    } else if (a.worker.empty()) {
      any_unassigned = true;
    } else {
      lane_index(a.worker);
    }
  }
  // Pseudo-lanes go last, after every real worker.
  if (any_hit) {
    lane_index(std::string(kHitLane));
  }
  if (any_unassigned) {
    lane_index(std::string(kQueuedLane));
  }
  std::int64_t t0 = 0;
  std::int64_t t1 = 0;
  std::vector<std::int64_t> end_of(actions.size());
  for (std::size_t i = 0; i < actions.size(); ++i) {
    const ActionEntry& a = actions[i];
    lane_of[i] = a.cached ? lane_index(std::string(kHitLane))
                          : lane_index(a.worker.empty() ? std::string(kQueuedLane) : a.worker);
    const std::int64_t begin = a.submitted_us != 0 ? a.submitted_us : a.started_us;
    const std::int64_t end = a.finished_us != 0 ? a.finished_us : std::max(now_us, begin);
    end_of[i] = std::max(end, begin);
    t0 = (i == 0 || begin < t0) ? begin : t0;
    t1 = std::max(t1, end_of[i]);
  }
  const std::int64_t total = std::max<std::int64_t>(t1 - t0, 1000);

  constexpr double kLabelW = 170;
  constexpr double kPlotW = 1020;
  constexpr double kRightPad = 20;
  constexpr double kAxisH = 24;
  constexpr double kLanePad = 6;
  constexpr double kMinBarPx = 3;
  constexpr double kMinLaneH = 36;  // room for the lane's two lines of name
  // Thin rows when there are many, so a big build stays on a few screens.
  std::size_t rows_total = 0;
  std::vector<std::vector<std::size_t>> members(lanes.size());
  for (std::size_t i = 0; i < actions.size(); ++i) {
    members[lane_of[i]].push_back(i);
  }
  // Pack in time, with each bar at least kMinBarPx wide on the screen.
  // (Back-to-back actions of a slot share a row; the bars' paint stops a
  // little short of their end, so they do not merge.)
  const double us_per_px = static_cast<double>(total) / kPlotW;
  const auto min_us = static_cast<std::int64_t>(std::ceil(us_per_px * kMinBarPx));
  std::vector<std::size_t> row_of(actions.size());
  std::vector<std::int64_t> begin_of(actions.size());
  std::vector<std::size_t> lane_rows(lanes.size(), 0);
  std::vector<bool> queue_shown(lanes.size(), true);
  auto pack = [&](std::size_t l, bool with_queue) {
    std::vector<LaneSpan> spans;
    for (const std::size_t i : members[l]) {
      const ActionEntry& a = actions[i];
      const std::int64_t begin =
          (with_queue || a.started_us == 0) && a.submitted_us != 0 ? a.submitted_us : a.started_us;
      begin_of[i] = begin;
      spans.push_back({begin, std::max(end_of[i], begin + min_us)});
    }
    return pack_rows(spans);
  };
  for (std::size_t l = 0; l < lanes.size(); ++l) {
    std::vector<std::size_t> rows = pack(l, true);
    // A burst of submissions (a test run queues everything at once) would
    // stack every waiting action of a worker into rows of its own. When
    // the waits would more than double a worker's rows, its lane shows
    // what ran there, from the lease, and leaves the waits to the tooltips
    // and the tables.
    const std::size_t with_queue = rows.empty() ? 0 : *std::max_element(rows.begin(), rows.end());
    if (with_queue >= 8) {
      std::vector<std::size_t> compact = pack(l, false);
      const std::size_t without =
          compact.empty() ? 0 : *std::max_element(compact.begin(), compact.end());
      if (with_queue > 2 * without + 2) {
        rows = std::move(compact);
        queue_shown[l] = false;
      } else {
        pack(l, true);  // begin_of back to the submissions
      }
    }
    for (std::size_t k = 0; k < rows.size(); ++k) {
      row_of[members[l][k]] = rows[k];
      lane_rows[l] = std::max(lane_rows[l], rows[k] + 1);
    }
    rows_total += std::max<std::size_t>(lane_rows[l], 1);
  }
  const double row_h = rows_total > 120 ? 6 : rows_total > 50 ? 10 : 16;
  const double bar_h = row_h - (row_h >= 10 ? 4 : 1);
  double height = kAxisH;
  for (std::size_t l = 0; l < lanes.size(); ++l) {
    height += std::max(kMinLaneH, static_cast<double>(lane_rows[l]) * row_h + 2 * kLanePad);
  }
  height += 4;
  const double width = kLabelW + kPlotW + kRightPad;
  auto x_of = [&](std::int64_t t) {
    return kLabelW + static_cast<double>(t - t0) / static_cast<double>(total) * kPlotW;
  };

  std::string out = "<svg id=\"timeline\" viewBox=\"0 0 " + px(width) + " " + px(height) +
                    "\" width=\"100%\" role=\"img\" aria-label=\"timeline\" data-start-us=\"" +
                    std::to_string(t0) + "\" data-total-us=\"" + std::to_string(total) + "\">";
  // Lane backgrounds and names first, the grid over them, the bars on top.
  std::vector<double> lane_y(lanes.size());
  double y = kAxisH;
  for (std::size_t l = 0; l < lanes.size(); ++l) {
    const double h = std::max(kMinLaneH, static_cast<double>(lane_rows[l]) * row_h + 2 * kLanePad);
    lane_y[l] = y;
    if (l % 2 == 0) {
      out += "<rect class=\"lane-bg\" x=\"0\" y=\"" + px(y) + "\" width=\"" + px(width) +
             "\" height=\"" + px(h) + "\"/>";
    }
    const std::string& name = lanes[l];
    out += "<text class=\"lane-name\" x=\"8\" y=\"" + px(y + kLanePad + 11) + "\">" +
           escape_html(cut(name, 22)) + "<title>" + escape_html(name) + "</title></text>";
    out += "<text x=\"8\" y=\"" + px(y + kLanePad + 24) + "\">" + num(members[l].size()) +
           (members[l].size() == 1 ? " action" : " actions") +
           (queue_shown[l] ? "" : " · waits hidden") + "</text>";
    y += h;
  }
  const std::int64_t step = tick_step(total, 10);
  for (std::int64_t t = 0; t <= total; t += step) {
    const double x = x_of(t0 + t);
    out += "<line class=\"grid\" x1=\"" + px(x) + "\" x2=\"" + px(x) + "\" y1=\"" + px(kAxisH - 4) +
           "\" y2=\"" + px(height) + "\"/>";
    out += "<text x=\"" + px(x + 3) + "\" y=\"14\">" + tick_label(t, step) + "</text>";
  }
  out += "<line class=\"axis\" x1=\"" + px(kLabelW) + "\" x2=\"" + px(kLabelW + kPlotW) +
         "\" y1=\"" + px(kAxisH - 4) + "\" y2=\"" + px(kAxisH - 4) + "\"/>";

  for (std::size_t l = 0; l < lanes.size(); ++l) {
    out += "<g class=\"lane\" data-worker=\"" + escape_html(lanes[l]) + "\" data-queue=\"" +
           (queue_shown[l] ? "shown" : "hidden") + "\">";
    for (const std::size_t i : members[l]) {
      const ActionEntry& a = actions[i];
      const bool failed = is_failure(a);
      const bool crit = critical.count(i) != 0;
      const std::int64_t begin = begin_of[i];
      const std::int64_t end = end_of[i];
      const double bx = x_of(begin);
      const double bw = std::max(kMinBarPx, x_of(end) - bx);
      const double by = lane_y[l] + kLanePad + static_cast<double>(row_of[i]) * row_h;
      const std::string geo = "y=\"" + px(by) + "\" height=\"" + px(bar_h) + "\"";
      const double paint_end = bw > 2 ? bx + bw - 0.8 : bx + bw;
      auto rect = [&](std::string_view cls, double x0, double x1) {
        const double w = std::max(1.0, std::min(x1, paint_end) - x0);
        return "<rect class=\"" + std::string(cls) + "\" x=\"" + px(x0) + "\" width=\"" + px(w) +
               "\" " + geo + "/>";
      };
      const std::string_view state = failed ? "failed" : to_string(a.state);
      out += "<g class=\"bar\"><title>" + escape_html(a.subject.empty() ? a.kind : a.subject);
      out += "\n" + escape_html(a.kind) + " · " + std::string(state);
      out += a.cached ? " · cache hit" : "";
      out += a.exit_code != 0 ? " · exit " + std::to_string(a.exit_code) : "";
      out += "\nqueued " + format_duration(queue_us(a, now_us));
      if (a.started_us != 0) {
        out += " · ran " +
               format_duration((a.finished_us != 0 ? a.finished_us : now_us) - a.started_us);
      }
      for (const PhaseSpan& p : a.phases) {
        out += "\n  " + escape_html(p.name) + " " + format_duration(p.end_us - p.start_us);
      }
      if (!a.worker.empty()) {
        out += "\nworker " + escape_html(a.worker);
      }
      if (!a.message.empty()) {
        out += "\n" + escape_html(cut(a.message, 200));
      }
      out += "\n" + escape_html(a.digest);
      out += crit ? "\non the critical path" : "";
      out += "</title>";
      if (a.cached) {
        out += rect("hit", bx, bx + bw);
      } else {
        const std::int64_t run_from = a.started_us != 0 ? a.started_us : end;
        if (run_from > begin) {
          out += rect("q", bx, x_of(run_from));
        }
        if (a.started_us != 0) {
          const std::string ex_cls = std::string("ex") + (failed ? " failed" : "") +
                                     (a.state == ActionState::kCancelled ? " cancelled" : "") +
                                     (a.state == ActionState::kRunning ? " running" : "");
          // Not left of the bar, should clocks disagree (a lease before the request).
          const double ex0 = std::max(bx, x_of(a.started_us));
          const double ex1 = std::max(ex0 + 1, x_of(end));
          out += rect(ex_cls, ex0, ex1);
          // The worker's phases by its own clock: placed by their offsets
          // from its first phase, from the lease on, inside the bar.
          std::int64_t first = 0;
          for (std::size_t k = 0; k < a.phases.size(); ++k) {
            first = k == 0 ? a.phases[k].start_us : std::min(first, a.phases[k].start_us);
          }
          for (const PhaseSpan& p : a.phases) {
            const std::string_view n = p.name;
            const std::string cls =
                std::string("ph ") +
                (n == "input_fetch" || n == "execute" || n == "upload" ? "ph-" + std::string(n)
                                                                       : "ph-other") +
                (failed && n == "execute" ? " failed" : "");
            const double p0 = std::clamp(x_of(a.started_us + (p.start_us - first)), ex0, ex1);
            const double p1 = std::clamp(x_of(a.started_us + (p.end_us - first)), ex0, ex1);
            if (p1 > p0) {
              out += rect(cls, p0, p1);
            }
          }
        } else if (a.state == ActionState::kFailed || a.state == ActionState::kCancelled) {
          // Answered without a lease: a red (grey) tick at the answer.
          out += rect(a.state == ActionState::kFailed ? "ex failed" : "ex cancelled", x_of(end) - 2,
                      x_of(end));
        }
      }
      out += "<rect class=\"action\" x=\"" + px(bx) + "\" width=\"" + px(bw) + "\" " + geo +
             " rx=\"1\" data-index=\"" + num(i) + "\" data-subject=\"" + escape_html(a.subject) +
             "\" data-worker=\"" + escape_html(a.worker) + "\" data-lane=\"" +
             escape_html(lanes[l]) + "\" data-row=\"" + num(row_of[i]) + "\" data-state=\"" +
             std::string(to_string(a.state)) + "\" data-cached=\"" + (a.cached ? "true" : "false") +
             "\" data-critical=\"" + (crit ? "true" : "false") + "\"/></g>";
    }
    out += "</g>";
  }
  out += "</svg>";
  out +=
      "<div class=\"legend\"><span><i style=\"background:var(--queue)\"></i>queued</span>"
      "<span><i style=\"background:var(--fetch)\"></i>input fetch</span>"
      "<span><i style=\"background:var(--exec)\"></i>execute</span>"
      "<span><i style=\"background:var(--upload)\"></i>upload</span>"
      "<span><i style=\"background:var(--other)\"></i>on the worker</span>"
      "<span><i style=\"background:var(--hit)\"></i>cache hit</span>"
      "<span><i style=\"background:var(--fail)\"></i>failed</span>"
      "<span><i style=\"border:2px solid var(--crit)\"></i>critical path</span></div>";
  return out;
}

std::string step_rows(const InvocationDetail& d, const std::vector<std::size_t>& indices,
                      std::int64_t now_us) {
  std::string out;
  std::size_t n = 0;
  for (const std::size_t i : indices) {
    if (i >= d.actions.size()) {
      continue;  // a stale index must not take the page down
    }
    const ActionEntry& a = d.actions[i];
    out += "<tr class=\"step" + std::string(is_failure(a) ? " failed" : "") + "\" data-index=\"" +
           num(i) + "\"><td class=\"num muted\">" + num(++n) + "</td>";
    out += text_cell(a.kind, 16);
    out += text_cell(a.subject.empty() ? short_digest(a.digest) : a.subject, 80, "mono");
    out += text_cell(a.cached ? "cache hit" : (a.worker.empty() ? "—" : a.worker), 24, "mono");
    out += "<td class=\"num\">" + format_duration(queue_us(a, now_us)) + "</td>";
    out += "<td class=\"num\"><b>" + format_duration(action_us(a)) + "</b></td></tr>";
  }
  return out;
}

constexpr std::string_view kStepHead =
    "<thead><tr><th class=\"num\">#</th><th>kind</th><th>subject</th><th>worker</th>"
    "<th class=\"num\">queued</th><th class=\"num\">took</th></tr></thead>";

std::string actions_table(const InvocationDetail& d, std::int64_t now_us,
                          const std::set<std::size_t>& critical) {
  std::string out =
      "<div class=\"panel\"><table id=\"actions\"><thead><tr><th class=\"num\">#</th>"
      "<th>kind</th><th>subject</th><th>state</th><th>cached</th><th>worker</th>"
      "<th class=\"num\">queue wait</th><th class=\"num\">execution</th><th class=\"num\">exit</th>"
      "<th>digest</th></tr></thead><tbody>";
  for (std::size_t i = 0; i < d.actions.size(); ++i) {
    const ActionEntry& a = d.actions[i];
    const bool failed = is_failure(a);
    out += "<tr class=\"action" + std::string(failed ? " failed" : "") +
           (critical.count(i) != 0 ? " critical" : "") + "\" data-index=\"" + num(i) +
           "\" data-state=\"" + std::string(to_string(a.state)) + "\" data-cached=\"" +
           (a.cached ? "true" : "false") + "\">";
    out += "<td class=\"num muted\">" + num(i + 1) + "</td>";
    out += text_cell(a.kind, 16);
    out += text_cell(a.subject, 80, "mono");
    out += "<td>" + state_chip(a) + "</td>";
    out += std::string("<td>") + (a.cached ? "hit" : "miss") + "</td>";
    out += text_cell(a.worker.empty() ? "—" : a.worker, 24, "mono");
    out += "<td class=\"num\">" +
           (a.cached ? std::string("—") : format_duration(queue_us(a, now_us))) + "</td>";
    std::string exec = "—";
    if (a.started_us != 0) {
      exec = format_duration((a.finished_us != 0 ? a.finished_us : now_us) - a.started_us);
    }
    out += "<td class=\"num\">" + exec + "</td>";
    out += "<td class=\"num\">" +
           (a.finished_us != 0 || a.exit_code != 0 ? std::to_string(a.exit_code) : "—") + "</td>";
    const std::string message = a.message.empty() ? "" : " " + a.message;
    out += "<td class=\"mono muted\" title=\"" + escape_html(a.digest + message) + "\">" +
           escape_html(short_digest(a.digest)) + "</td></tr>";
  }
  return out + "</tbody></table></div>";
}

}  // namespace

std::string render_invocation_page(const InvocationDetail& detail, std::int64_t now_us) {
  const InvocationSummary& s = detail.summary;
  const std::set<std::size_t> critical(detail.critical.begin(), detail.critical.end());
  std::string body = "<main id=\"invocation\"><section id=\"summary\"";
  if (linkable_id(s.id)) {
    body += " data-invocation=\"" + s.id + "\"";
  }
  body += "><h1>Invocation <span class=\"mono\" style=\"font-size:18px\">" + escape_html(s.id) +
          "</span>";
  if (s.in_flight > 0) {
    body += "<span class=\"badge\">running · " + num(s.in_flight) + " in flight</span>";
  } else if (s.failed > 0) {
    body += "<span class=\"badge open\">failed</span>";
  } else {
    body += "<span class=\"badge auth\">succeeded</span>";
  }
  body += "<span id=\"labels\">" + chips(s.labels) + "</span></h1>";
  body += "<p class=\"muted\">" + format_utc(s.first_us) + " → " + format_utc(s.last_us);
  if (!s.clients.empty()) {
    body += " · clients: ";
    for (std::size_t i = 0; i < s.clients.size(); ++i) {
      body += (i == 0 ? "" : ", ") + escape_html(s.clients[i]);
    }
  }
  body += "</p>";
  if (detail.omitted > 0) {
    body += "<p class=\"muted\" id=\"omitted\">" + num(detail.omitted) + " of " +
            num(detail.omitted + detail.actions.size()) +
            " actions are not drawn: shown are the critical path, the slowest and the newest " +
            num(detail.actions.size()) + ". The counts above include them all.</p>";
  }

  const std::size_t misses = s.actions >= s.hits ? s.actions - s.hits : 0;
  body += "<div class=\"cards\">";
  body += card({"duration", "duration", format_duration(s.last_us - s.first_us),
                "first request → last answer", "", ""});
  body += card(
      {"actions", "actions", num(s.actions),
       num(s.executed) + " executed" + (s.dropped > 0 ? " · " + num(s.dropped) + " not kept" : ""),
       "", ""});
  body +=
      card({"hit-rate", "cache hit rate", s.actions == 0 ? "—" : percent(summary_hit_rate(s)),
            num(s.hits) + " hits · " + num(misses) + " misses", meter_hits(s.hits, misses), ""});
  body += card({"failed", "failed", num(s.failed), "non-zero exits and failures", "",
                s.failed > 0 ? "bad" : "good"});
  body += card(
      {"flaky", "flaky tests", num(s.flaky), "failed, then passed", "", s.flaky > 0 ? "bad" : ""});
  body += card({"critical-path", "critical path", format_duration(detail.critical_us),
                num(detail.critical.size()) + " actions in a chain", "", ""});
  body += "</div></section>";

  body += "<h2>Timeline <small>by worker; hover a bar for details</small></h2>";
  body += "<div class=\"panel timeline\">" + timeline(detail, now_us, critical) + "</div>";

  body += "<div class=\"cols\" style=\"grid-template-columns:1fr 1fr\"><div>";
  body += "<h2>Critical path <small>" + format_duration(detail.critical_us) + " in " +
          num(detail.critical.size()) + " actions</small></h2>";
  if (detail.critical.empty()) {
    body += empty("critical-path-empty", "no critical path yet");
  } else {
    body += "<div class=\"panel\"><table id=\"critical-path\" data-critical-us=\"" +
            std::to_string(detail.critical_us) + "\">" + std::string(kStepHead) + "<tbody>" +
            step_rows(detail, detail.critical, now_us) +
            "</tbody><tfoot><tr><td></td><td colspan=\"4\">total</td><td class=\"num\">" +
            format_duration(detail.critical_us) + "</td></tr></tfoot></table></div>";
  }
  body += "</div><div><h2>Slowest actions</h2>";
  if (detail.slowest.empty()) {
    body += empty("slowest-empty", "nothing finished yet");
  } else {
    body += "<div class=\"panel\"><table id=\"slowest\">" + std::string(kStepHead) + "<tbody>" +
            step_rows(detail, detail.slowest, now_us) + "</tbody></table></div>";
  }
  body += "</div></div>";

  body += "<h2>All actions <small>" + num(detail.actions.size()) + " in request order";
  if (s.dropped > 0) {
    body += "; " + num(s.dropped) + " more counted, not kept";
  }
  body += "</small></h2>";
  body += detail.actions.empty() ? empty("actions-empty", "no actions recorded")
                                 : actions_table(detail, now_us, critical);
  body += "</main>";
  return page({"Invocation " + s.id, "invocations", false}, body);
}

std::string render_not_found_page(std::string_view what) {
  const std::string body = "<main id=\"not-found\"><h1>Not found</h1><p class=\"empty\">" +
                           escape_html(what) +
                           " is not here.</p>"
                           "<p><a href=\"/\">status</a> · <a href=\"/invocations\">invocations"
                           "</a></p></main>";
  return page({"Not found", "", false}, body);
}

// ---------------------------------------------------------------- JSON

namespace {

using nlohmann::json;

// Invalid UTF-8 from a client becomes U+FFFD instead of an exception.
std::string dump(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

json labels_json(const TagLabels& labels) {
  json out = json::array();
  for (const auto& [name, value] : labels) {
    out.push_back({{"name", name}, {"value", value}});
  }
  return out;
}

json action_json(const ActionEntry& a) {
  json phases = json::array();
  for (const PhaseSpan& p : a.phases) {
    phases.push_back({{"name", p.name}, {"start_us", p.start_us}, {"end_us", p.end_us}});
  }
  return {{"digest", a.digest},
          {"kind", a.kind},
          {"subject", a.subject},
          {"client", a.client},
          {"cached", a.cached},
          {"state", to_string(a.state)},
          {"worker", a.worker},
          {"submitted_us", a.submitted_us},
          {"started_us", a.started_us},
          {"finished_us", a.finished_us},
          {"duration_us", action_us(a)},
          {"exit_code", a.exit_code},
          {"message", a.message},
          {"phases", phases},
          // Up to kMaxInputDigests each: the count, not the list.
          {"deps", a.deps}};
}

json summary_json(const InvocationSummary& s) {
  return {{"id", s.id},
          {"labels", labels_json(s.labels)},
          {"first_us", s.first_us},
          {"last_us", s.last_us},
          {"duration_us", s.last_us - s.first_us},
          {"actions", s.actions},
          {"hits", s.hits},
          {"executed", s.executed},
          {"failed", s.failed},
          {"in_flight", s.in_flight},
          {"dropped", s.dropped},
          {"flaky", s.flaky},
          {"hit_rate", summary_hit_rate(s)},
          {"clients", s.clients}};
}

json actions_with_invocations(const std::vector<ActionEntry>& actions,
                              const std::vector<std::string>& invocations) {
  json out = json::array();
  for (std::size_t i = 0; i < actions.size(); ++i) {
    json a = action_json(actions[i]);
    a["invocation"] = i < invocations.size() ? invocations[i] : "";
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

std::string status_json(const StatusView& view) {
  json workers = json::array();
  for (const WorkerRow& w : view.workers) {
    workers.push_back({{"id", w.id},
                       {"slots", w.slots},
                       {"busy", w.busy},
                       {"platform", w.platform},
                       {"last_heard_ms_ago", w.last_heard_ms_ago},
                       {"quarantined_ms_left", w.quarantined_ms_left}});
  }
  json recent = json::array();
  for (const InvocationSummary& s : view.recent) {
    recent.push_back(summary_json(s));
  }
  const json j = {
      {"now_us", view.now_us},
      {"uptime_seconds", view.uptime_seconds},
      {"draining", view.draining},
      {"authenticated", view.authenticated},
      {"workers", workers},
      {"queued", view.queued},
      {"running", view.running},
      {"cache_hits", view.cache_hits},
      {"cache_misses", view.cache_misses},
      {"hit_rate", ratio(view.cache_hits, view.cache_hits + view.cache_misses)},
      {"executed", view.executed},
      {"store_known", view.store_known},
      {"store_bytes", view.store_bytes},
      {"store_max_bytes", view.store_max_bytes},
      {"store_blobs", view.store_blobs},
      {"in_flight", actions_with_invocations(view.in_flight, view.in_flight_invocations)},
      {"failures", actions_with_invocations(view.failures, view.failure_invocations)},
      {"recent", recent}};
  return dump(j);
}

std::string invocations_json(const std::vector<InvocationSummary>& newest_first) {
  json list = json::array();
  for (const InvocationSummary& s : newest_first) {
    list.push_back(summary_json(s));
  }
  return dump(json{{"invocations", list}});
}

std::string invocation_json(const InvocationDetail& detail) {
  json actions = json::array();
  for (const ActionEntry& a : detail.actions) {
    actions.push_back(action_json(a));
  }
  const json j = {{"summary", summary_json(detail.summary)},
                  {"actions", actions},
                  {"slowest", detail.slowest},
                  {"critical", detail.critical},
                  {"critical_us", detail.critical_us},
                  {"omitted", detail.omitted},
                  {"workers", detail.workers}};
  return dump(j);
}

}  // namespace kiln::scheduler
