// `kiln up`, `kiln status` and `kiln keygen`: a one-machine grid, a look at
// any grid, and a key to join one.
//
//   kiln up [--workers N] [--port P] [--no-auth]
//                         start kiln-scheduler and N kiln-worker processes on
//                         127.0.0.1 (found next to the kiln executable), with
//                         CURVE keys made and wired (and recorded for this
//                         machine's clients, known_grid.h), print the address
//                         to export, run until Ctrl-C, then stop them all
//   kiln status [--json]  workers, queue, in-flight actions, cache size, hit
//                         rate and trust of KILN_SCHEDULER
//   kiln keygen [-o NAME] [--comment TEXT] [--role ROLE]
//                         a CURVE key pair, NAME.key (0600) and NAME.pub, and
//                         the line that admits it
//   kiln keygen --signing [-o NAME] [--comment TEXT]
//                         an Ed25519 key pair that signs provenance,
//                         NAME.sign.key (0600) and NAME.sign.pub
//                         (client/signing.h)
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
#include "client/grid/options.h"

namespace kiln::client::grid {

struct UpOptions {
  int workers = 2;
  int port = 7010;
  int slots = 0;
  bool no_auth = false;  // plain TCP instead of CURVE keys
  // The scheduler's pages and /metrics on 127.0.0.1:http_port (0: any free
  // port); -1: none.
  int http_port = 0;
  // kiln-reapi, the Remote Execution API front-end (docs/reapi.md), on
  // 127.0.0.1:reapi_port (0: any free port); -1: none. With it, the grid's
  // stores use SHA-256, the API's digest function.
  int reapi_port = -1;
  bool reapi_allow_updates = false;  // kiln-reapi --allow-updates
};

struct KeygenOptions {
  std::string output;           // NAME for NAME.key/NAME.pub; "" = <config dir>/client
  std::string comment;          // names the key in the files and the authorized keys
  std::string role = "client";  // what the printed authorized-keys line says
  bool signing = false;  // an Ed25519 provenance signing key instead; "" = <config dir>/provenance
};

struct StatusOptions {
  bool json = false;
};

using UpRunner = std::function<int(Context&, const UpOptions&)>;
using StatusRunner = std::function<int(Context&, const StatusOptions&)>;
using KeygenRunner = std::function<int(Context&, const KeygenOptions&)>;

// Adds the subcommand and its options to `app`; the returned function, once
// parsed, calls `run` with the options given.
std::function<int(Context&)> add_up_command(CLI::App& app, UpRunner run);
std::function<int(Context&)> add_status_command(CLI::App& app, StatusRunner run);
std::function<int(Context&)> add_keygen_command(CLI::App& app, KeygenRunner run);

// What they do (kiln-grid only).
int run_up(Context& ctx, const UpOptions& opts);
int run_status(Context& ctx, const StatusOptions& opts);
int run_keygen(Context& ctx, const KeygenOptions& opts);

// The slots of every worker the scheduler at `endpoint` knows now
// (kUnavailable when it does not answer within 5 s). kiln-grid only.
Result<std::size_t> grid_slots(const GridOptions& options);

}  // namespace kiln::client::grid
