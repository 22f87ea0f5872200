// `kiln up` and `kiln status`: a one-machine grid, and a look at any grid.
//
//   kiln up [--workers N] [--port P]   start kiln-scheduler and N kiln-worker
//                                     processes on 127.0.0.1 (found next to
//                                     the kiln executable), print the address
//                                     to export, run until Ctrl-C, then stop
//                                     them all
//   kiln status [--json]              workers, queue, in-flight actions, cache
//                                     size and hit rate of KILN_SCHEDULER
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "client/cli.h"

namespace kiln::client {

std::function<int(Context&)> add_up_command(CLI::App& app);
std::function<int(Context&)> add_status_command(CLI::App& app);

}  // namespace kiln::client
