// trace.h: records to Chrome trace events.
#include "client/trace.h"

#include <algorithm>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

namespace kiln::client {
namespace {

using nlohmann::json;

// An action as it will be drawn: its span, widened over its phases, and
// its phases put in order without overlap.
struct Placed {
  const ActionRecord* record = nullptr;
  std::string lane;
  std::int64_t start = 0;
  std::int64_t end = 0;
  std::vector<Phase> phases;
  int tid = 0;
};

Placed place(const ActionRecord& r) {
  Placed p;
  p.record = &r;
  p.lane = r.cached || r.where.empty() ? "local" : r.where;
  p.start = r.start_us;
  p.end = std::max(r.end_us, r.start_us);
  p.phases = r.phases;
  std::stable_sort(p.phases.begin(), p.phases.end(),
                   [](const Phase& a, const Phase& b) { return a.start_us < b.start_us; });
  std::int64_t previous_end = std::numeric_limits<std::int64_t>::min();
  for (Phase& phase : p.phases) {
    phase.start_us = std::max(phase.start_us, previous_end);
    phase.end_us = std::max(phase.end_us, phase.start_us);
    previous_end = phase.end_us;
    p.start = std::min(p.start, phase.start_us);
    p.end = std::max(p.end, phase.end_us);
  }
  return p;
}

// Slots per lane: by start (the longer first on a tie), each action to the
// lowest slot that is free by then.
void assign_threads(std::vector<Placed>& placed) {
  std::vector<std::size_t> order(placed.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (placed[a].start != placed[b].start) return placed[a].start < placed[b].start;
    return placed[a].end > placed[b].end;
  });
  std::map<std::string, std::vector<std::int64_t>> free_at;  // lane -> each slot's last end
  for (const std::size_t i : order) {
    std::vector<std::int64_t>& slots = free_at[placed[i].lane];
    std::size_t slot = 0;
    while (slot < slots.size() && slots[slot] > placed[i].start) ++slot;
    if (slot == slots.size()) slots.push_back(0);
    slots[slot] = placed[i].end;
    placed[i].tid = static_cast<int>(slot) + 1;
  }
}

json labels_object(const Labels& labels) {
  json out = json::object();
  for (const auto& [name, value] : labels) out[name] = value;
  return out;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

}  // namespace

std::string chrome_trace(const InvocationInfo& info, const std::vector<ActionRecord>& records) {
  std::vector<Placed> placed;
  placed.reserve(records.size());
  for (const ActionRecord& r : records) placed.push_back(place(r));
  assign_threads(placed);

  // Time zero: the earliest time anything says.
  std::int64_t t0 =
      info.started_us > 0 ? info.started_us : std::numeric_limits<std::int64_t>::max();
  for (const Placed& p : placed) t0 = std::min(t0, p.start);
  if (t0 == std::numeric_limits<std::int64_t>::max()) t0 = 0;

  // Process ids: local first, then the workers by name.
  std::map<std::string, int> pids;
  std::map<std::string, int> threads;  // lane -> slots used
  for (const Placed& p : placed) {
    pids.emplace(p.lane, 0);
    threads[p.lane] = std::max(threads[p.lane], p.tid);
  }
  int next_pid = 2;
  for (auto& [lane, pid] : pids) pid = lane == "local" ? 1 : next_pid++;

  json events = json::array();
  for (const auto& [lane, pid] : pids) {
    const std::string name = lane == "local" ? "local" : "worker " + lane;
    events.push_back({{"ph", "M"},
                      {"name", "process_name"},
                      {"pid", pid},
                      {"tid", 0},
                      {"args", {{"name", name}}}});
    events.push_back({{"ph", "M"},
                      {"name", "process_sort_index"},
                      {"pid", pid},
                      {"tid", 0},
                      {"args", {{"sort_index", pid}}}});
    for (int tid = 1; tid <= threads[lane]; ++tid) {
      events.push_back({{"ph", "M"},
                        {"name", "thread_name"},
                        {"pid", pid},
                        {"tid", tid},
                        {"args", {{"name", "slot " + std::to_string(tid)}}}});
    }
  }

  struct Timed {
    std::int64_t ts;
    std::int64_t dur;
    json event;
  };
  std::vector<Timed> timed;
  for (const Placed& p : placed) {
    const ActionRecord& r = *p.record;
    const int pid = pids.at(p.lane);
    json args = {{"subject", r.subject},    {"kind", r.kind},   {"outcome", r.outcome},
                 {"cached", r.cached},      {"where", r.where}, {"action_digest", r.action_digest},
                 {"exit_code", r.exit_code}};
    const std::int64_t ts = p.start - t0;
    const std::int64_t dur = p.end - p.start;
    timed.push_back({ts, dur,
                     json{{"ph", "X"},
                          {"name", r.subject.empty() ? r.kind : r.subject},
                          {"cat", r.kind},
                          {"ts", ts},
                          {"dur", dur},
                          {"pid", pid},
                          {"tid", p.tid},
                          {"args", std::move(args)}}});
    for (const Phase& phase : p.phases) {
      const std::int64_t phase_ts = phase.start_us - t0;
      const std::int64_t phase_dur = phase.end_us - phase.start_us;
      timed.push_back({phase_ts, phase_dur,
                       json{{"ph", "X"},
                            {"name", phase.name},
                            {"cat", "phase"},
                            {"ts", phase_ts},
                            {"dur", phase_dur},
                            {"pid", pid},
                            {"tid", p.tid},
                            {"args", {{"subject", r.subject}}}}});
    }
  }
  // By start; on a tie the longer first, so an action precedes its phases.
  std::stable_sort(timed.begin(), timed.end(), [](const Timed& a, const Timed& b) {
    if (a.ts != b.ts) return a.ts < b.ts;
    return a.dur > b.dur;
  });
  for (Timed& t : timed) events.push_back(std::move(t.event));

  const json out = {{"traceEvents", std::move(events)},
                    {"displayTimeUnit", "ms"},
                    {"otherData",
                     {{"invocation", info.invocation.id},
                      {"labels", labels_object(info.invocation.labels)},
                      {"started_us", t0},
                      {"cwd", info.cwd},
                      {"command", joined(info.command)},
                      {"actions", records.size()}}}};
  return out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace kiln::client
