// The scheduler's pages for people (HTML) and for programs (JSON), made
// from plain values: the status page at /, the invocations at
// /invocations with their trends, one invocation at /invocations/ID. The
// HTTP threads call these with what the loop published (server_http.cpp),
// so they are pure: values in, a document out.
//
// The HTML is self-contained — inline CSS, inline SVG for the timeline and
// the trend charts, no script, no CDN — so a page works on an air-gapped
// network and in a screenshot. Every text from a client or a worker (ids,
// labels, subjects, messages) is escaped; links carry only invocation ids,
// which sanitize_tag() keeps to [A-Za-z0-9._-] (and which are checked again
// here: an id with anything else gets no link).
//
// The DOM is an interface: the browser test (and anyone scraping the pages)
// finds things by these ids, classes and data attributes, so they stay put.
//
//   every page      <nav id="nav">; <main>; the 404 page <main id="not-found">
//   status (/)      <meta http-equiv="refresh" content="5"> (this page only)
//                   #badges: <span class="badge draining"> when draining,
//                     <span class="badge auth"> or <span class="badge open">
//                   #cards: <div class="card" data-card="hit-rate|executed|queued|running|
//                     workers|store"> each with its <span class="value">
//                   <table id="workers">: one <tr class="worker" data-worker="ID"
//                     data-slots="N" data-busy="N"> per worker, with <td class="platform">,
//                     <td class="heard">; a quarantined worker's row also has class
//                     "quarantined" and a <span class="badge quarantined">; no workers:
//                     <p class="empty" id="workers-empty">no workers yet</p> instead
//   status          <table id="queue-by-client">: <tr class="client" data-client="NAME"
//                     data-queued="N" data-running="N">
//                   <table id="in-flight">: <tr class="action" data-state="queued|running"
//                     data-subject="S" data-worker="W" [data-invocation="ID"]>
//                   <table id="failures">: <tr class="failure" data-subject="S"
//                     data-worker="W" data-exit-code="N" [data-invocation="ID"]>
//                   <table id="recent-invocations">: rows as in #invocations
//                   (an empty table is replaced by <p class="empty">, as for workers)
//   /invocations    <div id="trends"> with three <svg class="trend"
//                     data-metric="duration|hit-rate|flaky" data-points="N">, each
//                     with N elements of class "point" (oldest to newest, left to right)
//                   <table id="invocations">: one <tr class="invocation"
//                     data-invocation="ID"> per invocation, newest first, its id cell a
//                     link to /invocations/ID; label chips <span class="chip"
//                     data-label="NAME">, "ticket" and "commit" also class "key"
//                   none: <p class="empty" id="invocations-empty">no invocations yet</p>
//   /invocations/ID <section id="summary" data-invocation="ID"> with #labels chips and
//                     <div class="card" data-card="duration|actions|hit-rate|failed|flaky|
//                     critical-path">
//                   <svg id="timeline">: one <g class="lane" data-worker="W"> per worker of
//                     detail.workers (in that order), then data-worker="(cache hits)" and
//                     "(queued)" lanes when they have actions; one <rect class="action"
//                     data-index="I" data-subject="S" data-worker="W" data-lane="W"
//                     data-row="R" data-state="queued|running|done|failed|cancelled"
//                     data-cached="true|false" data-critical="true|false"> per action
//                     (I: its index in detail.actions), spanning submission to answer
//                     (from the lease instead in a lane with data-queue="hidden": one
//                     whose waiting actions would more than double its rows),
//                     inside a <g class="bar"> with a <title> tooltip; within a lane,
//                     two rects with the same data-row never overlap
//                   <table id="critical-path">: <tr class="step" data-index="I"> in path
//                     order, the total in <tfoot> (data-critical-us on the table)
//                   <table id="slowest">: <tr class="step" data-index="I">, slowest first
//                   <table id="actions">: <tr class="action" data-index="I"
//                     data-state="..." data-cached="true|false">, failed ones also class
//                     "failed"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/invocations.h"

namespace kiln::scheduler {

struct WorkerRow {
  std::string id;  // the worker's own name
  std::uint32_t slots = 0;
  std::uint32_t busy = 0;
  std::string platform;  // "os=linux,arch=x86_64"
  std::int64_t last_heard_ms_ago = 0;
  std::int64_t quarantined_ms_left = 0;  // > 0: quarantined
};

struct StatusView {
  std::int64_t now_us = 0;  // wall clock, for "N s ago"
  double uptime_seconds = 0;
  bool draining = false;
  bool authenticated = false;
  std::vector<WorkerRow> workers;
  std::uint64_t queued = 0;   // distinct actions waiting for a slot
  std::uint64_t running = 0;  // distinct actions under lease
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t executed = 0;
  bool store_known = false;
  std::uint64_t store_bytes = 0;
  std::uint64_t store_max_bytes = 0;
  std::uint64_t store_blobs = 0;
  // Queued and running actions of tagged requests (the queue by client is
  // grouped from these by ActionEntry::client), oldest first.
  std::vector<ActionEntry> in_flight;
  std::vector<ActionEntry> failures;      // newest first
  std::vector<InvocationSummary> recent;  // newest first
  // The invocation id of in_flight[i] and failures[i], for a link to its
  // page ("" or missing: no link). ActionEntry does not carry it.
  std::vector<std::string> in_flight_invocations;
  std::vector<std::string> failure_invocations;
};

std::string render_status_page(const StatusView& view);
// `newest_first` is what the log keeps; the trends chart them oldest to newest.
std::string render_invocations_page(const std::vector<InvocationSummary>& newest_first,
                                    std::int64_t now_us);
std::string render_invocation_page(const InvocationDetail& detail, std::int64_t now_us);
// A 404 page in the same style: "<what> is not here." (say why in `what`,
// e.g. "invocation X (the scheduler keeps the newest 100)").
std::string render_not_found_page(std::string_view what);

// The same as JSON (for scripts and tests): /api/status, /api/invocations,
// /api/invocations/ID. Field names are the structs' own (snake_case), plus:
// "hit_rate" (0..1; status: hits / (hits + misses), an invocation: hits /
// actions) and "duration_us" on summaries and actions (an action's: lease,
// or submission when never leased, to answer; 0 until answered). Labels are
// [{"name", "value"}] in the tag's order; an action's "state" is "queued",
// "running", "done", "failed" or "cancelled"; its "deps" are the indices of
// the actions whose outputs it read; the
// status's in_flight and failures carry "invocation" (from
// in_flight_invocations / failure_invocations, "" when unknown). Status:
// {fields of StatusView}; invocations: {"invocations": [summary...]}, newest
// first; one invocation: {"summary", "actions", "slowest", "critical",
// "critical_us", "workers"}. Invalid UTF-8 from clients becomes U+FFFD.
std::string status_json(const StatusView& view);
std::string invocations_json(const std::vector<InvocationSummary>& newest_first);
std::string invocation_json(const InvocationDetail& detail);

// --- the pieces, exposed for their tests ---

// `text` safe as HTML text and as a quoted attribute value: & < > " ' escaped.
std::string escape_html(std::string_view text);
// "850 ms", "12.4 s", "3 min 5 s", "2 h 5 min" (negative: "0 ms").
std::string format_duration(std::int64_t us);
// "512 B", "3.4 KiB", "1.2 GiB".
std::string format_bytes(std::uint64_t bytes);
// "2024-05-01 12:03:04 UTC" (microseconds since the Unix epoch).
std::string format_utc(std::int64_t us);

// A time span [begin_us, end_us) on a timeline lane.
struct LaneSpan {
  std::int64_t begin_us = 0;
  std::int64_t end_us = 0;
};
// The row of each span (parallel to `spans`) so that no two spans of a row
// overlap (a span may start where the previous one ends), in as few rows
// as there are spans at the busiest instant: first fit, by begin time.
std::vector<std::size_t> pack_rows(const std::vector<LaneSpan>& spans);

}  // namespace kiln::scheduler
