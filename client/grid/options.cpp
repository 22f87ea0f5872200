// options.h: GridOptions from the configuration.
#include "client/grid/options.h"

#include <algorithm>

#include "base/files.h"
#include "client/grid/known_grid.h"
#include "proto/key_files.h"

namespace kiln::client::grid {

Result<std::optional<proto::CurveClientKeys>> grid_keys(const Config& config) {
  using Keys = std::optional<proto::CurveClientKeys>;
  // Config refuses "none" for a scheduler on another machine.
  if (config.scheduler_key() == "none") return Keys();
  std::string server_key = config.scheduler_key();
  std::string client_key = config.client_key();
  if (server_key.empty() || client_key.empty()) {
    const std::filesystem::path record = known_grid_path(config.config_dir(), config.scheduler());
    auto text = base::read_file_if_exists(record.string(), {.max_bytes = 65536});
    if (!text.ok()) return text.error();
    if (*text) {
      auto grid = parse_known_grid(**text, record.string());
      if (!grid.ok()) return grid.error();
      if (server_key.empty()) server_key = grid->scheduler_key;
      if (client_key.empty()) client_key = grid->client_key;
    }
  }
  if (server_key.empty()) {
    return make_error(Errc::kInvalidArgument,
                      "no key for scheduler " + config.scheduler() +
                          ": set KILN_SCHEDULER_KEY to its public key (its .pub file), or start "
                          "it with kiln up on this machine (docs/security.md)");
  }
  if (client_key.empty()) client_key = (config.config_dir() / "client.key").string();
  auto server = proto::read_public_key(server_key);
  if (!server.ok())
    return make_error(Errc::kInvalidArgument, "scheduler_key: " + server.error().message);
  auto own = proto::read_secret_key_file(client_key);
  if (!own.ok()) {
    return make_error(Errc::kInvalidArgument,
                      "client_key: " + own.error().message +
                          " (make one with kiln keygen and have it authorized, or set "
                          "KILN_CLIENT_KEY)");
  }
  return Keys(proto::CurveClientKeys{*server, *own});
}

Result<GridOptions> grid_options(const Config& config, GridUse use) {
  GridOptions options;
  options.endpoint = config.scheduler();
  if (config.has_scheduler()) {
    auto keys = grid_keys(config);
    if (!keys.ok()) return keys.error();
    options.curve = std::move(keys).value();
  }
  // A scheduler that is gone is waited for as long as the user said.
  options.reconnect_wait = std::max(std::chrono::milliseconds(std::chrono::seconds(1)),
                                    std::chrono::milliseconds(config.remote_timeout()));
  if (use == GridUse::kCompile) {
    const std::chrono::milliseconds wait =
        std::max(std::chrono::seconds(1), config.remote_timeout());
    options.request_timeout = wait;
    options.resubmit_interval = wait;
    options.default_action_timeout = std::chrono::minutes(10);
    options.grace = wait;
  }
  return options;
}

}  // namespace kiln::client::grid
