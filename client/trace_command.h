// `kiln trace [INVOCATION] [-o FILE]` and `kiln trace --list`: an
// invocation's journal (journal.h) as Chrome trace events (trace.h), for
// chrome://tracing, ui.perfetto.dev or any viewer of Bazel's
// --generate_json_trace_profile output; or the invocations the journal
// knows. docs/insight.md is the user's description.
//
// Exit codes: 0 written or listed; 1 the file cannot be written (nothing
// half-written is left: the trace is written atomically); 2 an invocation
// id that is not one; 3 no such invocation (or none recorded yet).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "client/cli.h"

namespace kiln::client {

std::function<int(Context&)> add_trace_command(CLI::App& app);

}  // namespace kiln::client
