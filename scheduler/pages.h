// The scheduler's pages for people (HTML) and for programs (JSON), made
// from plain values: the status page at /, the invocations at
// /invocations with their trends, one invocation at /invocations/ID. The
// HTTP threads call these with what the loop published (server_http.cpp),
// so they are pure: values in, a document out.
//
// The HTML is self-contained — inline CSS, inline SVG for the timeline and
// the trend charts, no script, no CDN — so a page works on an air-gapped
// network and in a screenshot. Every text from a client or a worker (ids,
// labels, subjects, messages) is escaped.
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
};

std::string render_status_page(const StatusView& view);
// `newest_first` is what the log keeps; the trends chart them oldest to newest.
std::string render_invocations_page(const std::vector<InvocationSummary>& newest_first,
                                    std::int64_t now_us);
std::string render_invocation_page(const InvocationDetail& detail, std::int64_t now_us);
// A 404 page in the same style, naming what was not found.
std::string render_not_found_page(std::string_view what);

// The same as JSON (for scripts and tests): /api/status, /api/invocations,
// /api/invocations/ID.
std::string status_json(const StatusView& view);
std::string invocations_json(const std::vector<InvocationSummary>& newest_first);
std::string invocation_json(const InvocationDetail& detail);

}  // namespace kiln::scheduler
