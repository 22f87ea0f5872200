// The declarations of `kiln up` and `kiln status`; see grid_commands.h.
#include <memory>
#include <utility>

#include "client/grid/commands.h"

namespace kiln::client::grid {

std::function<int(Context&)> add_up_command(CLI::App& app, UpRunner run) {
  auto opts = std::make_shared<UpOptions>();
  CLI::App* up =
      app.add_subcommand("up", "Start a scheduler and workers on this machine (Ctrl-C stops them)");
  up->add_option("-w,--workers", opts->workers, "Number of workers")->capture_default_str();
  up->add_option("-p,--port", opts->port, "Scheduler client port on 127.0.0.1 (0: any free port)")
      ->capture_default_str();
  up->add_option("--slots", opts->slots, "Slots per worker (default: cores / workers)");
  up->add_flag("--no-auth", opts->no_auth, "Plain TCP on loopback instead of CURVE keys");
  up->add_option("--http-port", opts->http_port,
                 "Port on 127.0.0.1 of the status pages and /metrics (0: any free port; -1: none)")
      ->check(CLI::Range(-1, 65535))
      ->capture_default_str();
  up->add_option("--reapi-port", opts->reapi_port,
                 "Serve the Remote Execution API (Bazel) on 127.0.0.1:PORT (0: any free port); the "
                 "grid then uses SHA-256 (docs/reapi.md)")
      ->check(CLI::Range(-1, 65535));
  up->add_flag(
      "--reapi-allow-updates", opts->reapi_allow_updates,
      "Let REAPI clients write the action cache (Bazel's --remote_cache with local builds)");
  return [opts, run = std::move(run)](Context& ctx) { return run(ctx, *opts); };
}

std::function<int(Context&)> add_status_command(CLI::App& app, StatusRunner run) {
  auto opts = std::make_shared<StatusOptions>();
  CLI::App* status = app.add_subcommand("status", "Show the grid: workers, queue, cache");
  status->add_flag("--json", opts->json, "Machine-readable output");
  return [opts, run = std::move(run)](Context& ctx) { return run(ctx, *opts); };
}

std::function<int(Context&)> add_keygen_command(CLI::App& app, KeygenRunner run) {
  auto opts = std::make_shared<KeygenOptions>();
  CLI::App* keygen = app.add_subcommand(
      "keygen", "Make a CURVE key pair for a client, worker or scheduler (docs/security.md)");
  keygen->add_option("-o,--output", opts->output,
                     "Write NAME.key and NAME.pub (default: <config dir>/client)");
  keygen->add_option("--comment", opts->comment, "What the key is for, in the files and logs");
  keygen->add_option("--role", opts->role, "The role the printed authorized-keys line gives it")
      ->check(CLI::IsMember({"client", "readonly", "worker"}))
      ->capture_default_str();
  keygen->add_flag("--signing", opts->signing,
                   "An Ed25519 key that signs provenance: NAME.sign.key and NAME.sign.pub "
                   "(default NAME: <config dir>/provenance)");
  return [opts, run = std::move(run)](Context& ctx) { return run(ctx, *opts); };
}

}  // namespace kiln::client::grid
