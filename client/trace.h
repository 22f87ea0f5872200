// An invocation's journal (journal.h) as Chrome trace events, the JSON
// that chrome://tracing, Perfetto (ui.perfetto.dev) and Bazel's
// --generate_json_trace_profile share:
//
//   {"traceEvents": [...], "displayTimeUnit": "ms",
//    "otherData": {"invocation": ID, "labels": {...}, ...}}
//
// Lanes: one process per place where an action's time was spent: "local"
// (this machine: its compiles, links, lookups and every cache hit, since
// a hit's time is the lookup here even when another machine once made the
// result) and one per grid worker that executed an action. Within a
// process, actions go greedily to threads ("slot 1", "slot 2", ...): by
// start time, each to the lowest slot whose last action has ended, so the
// events of one thread never overlap.
//
// Events: each action is a complete ("X") event named by its subject,
// category its kind, with args subject, kind, outcome, cached, where,
// action_digest, exit_code; its phases (lookup, queue, input_fetch,
// execute, upload) are X events of category "phase" on the same thread,
// nested inside it. A grid phase is timed by the worker's clock and the
// action by the client's, so before nesting: phases are put in order and
// made not to overlap (each starts no earlier than the previous ends),
// and the action's span is widened to cover them. Times are microseconds
// from the invocation's start (the earliest time recorded). "M" events
// name the processes and threads. X events are sorted by start, an
// enclosing event before what it encloses.
//
// Pure: records in, text out.
#pragma once

#include <string>
#include <vector>

#include "client/journal.h"

namespace kiln::client {

std::string chrome_trace(const InvocationInfo& info, const std::vector<ActionRecord>& records);

}  // namespace kiln::client
