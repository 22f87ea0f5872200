// `kiln up` and `kiln status`: a one-machine grid, and a look at any grid.
//
//   kiln up [--workers N] [--port P]   start kiln-scheduler and N kiln-worker
//                                     processes on 127.0.0.1 (found next to
//                                     the kiln executable), print the address
//                                     to export, run until Ctrl-C, then stop
//                                     them all
//   kiln status [--json]              workers, queue, in-flight actions, cache
//                                     size and hit rate of KILN_SCHEDULER
//
// Declaring the subcommands (grid_commands_cli.cpp) is apart from running
// them (grid_commands.cpp, which speaks ZeroMQ): both executables declare
// them, so help and parse errors are the same, and only kiln-grid runs them
// (client/grid_link.h).
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <functional>
#include <string>

#include "base/result.h"
#include "client/cli.h"

namespace kiln::client::grid {

struct UpOptions {
  int workers = 2;
  int port = 7010;
  int slots = 0;
};

struct StatusOptions {
  bool json = false;
};

using UpRunner = std::function<int(Context&, const UpOptions&)>;
using StatusRunner = std::function<int(Context&, const StatusOptions&)>;

// Adds the subcommand and its options to `app`; the returned function, once
// parsed, calls `run` with the options given.
std::function<int(Context&)> add_up_command(CLI::App& app, UpRunner run);
std::function<int(Context&)> add_status_command(CLI::App& app, StatusRunner run);

// What they do (kiln-grid only).
int run_up(Context& ctx, const UpOptions& opts);
int run_status(Context& ctx, const StatusOptions& opts);

// The slots of every worker the scheduler at `endpoint` knows now
// (kUnavailable when it does not answer within 5 s). kiln-grid only.
Result<std::size_t> grid_slots(const std::string& endpoint);

}  // namespace kiln::client::grid
