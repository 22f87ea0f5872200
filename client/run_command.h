// `kiln run [--input PATH]... [--output PATH]... [--output-dir PATH]...
//           [--platform K=V]... [--env NAME[=VALUE]]... [--timeout S]
//           [--no-cache] -- COMMAND ARGS...`
//
// Any command as a cached action: builds the input root from the declared
// inputs (paths relative to, and inside, the current directory), looks the
// action up in the cache, runs it on a miss (here or on the grid), writes
// the declared outputs back, replays stdout/stderr, and exits with the
// command's exit code. The journal (client/journal.h) gets one record of
// kind "run".
//
// Exit codes beyond the command's own (docs/cli.md): 124 timed out, 125
// kiln itself failed, 126 the program could not be run, 127 not found.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>

#include "cas/store.h"
#include "client/cli.h"
#include "client/grid/options.h"
#include "exec/action_executor.h"

namespace kiln::client {

// Makes the executor once the store is open (main.cpp decides which);
// `tag` is what the grid is told of the action (its invocation).
using ExecutorFactory = std::function<std::unique_ptr<exec::ActionExecutor>(
    Context&, cas::Store&, const grid::ActionTag& tag)>;

std::function<int(Context&)> add_run_command(CLI::App& app, ExecutorFactory make_executor);

}  // namespace kiln::client
