// The grids `kiln up` starts on this machine, as their clients find them:
// for each scheduler endpoint it starts, kiln up records the scheduler's
// public key and a client key it authorized in
// <config dir>/grids/<endpoint>.conf, and a client whose configuration
// names no key for that endpoint uses them. So the one-machine grid stays
// zero-config with CURVE on (docs/security.md).
//
//   # written by kiln up
//   endpoint = tcp://127.0.0.1:7010
//   scheduler_key = <Z85>
//   client_key = /home/u/.cache/kiln/up/keys/client.key
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kiln::client::grid {

struct KnownGrid {
  std::string endpoint;
  std::string scheduler_key;  // Z85
  std::string client_key;     // a key file's path
};

// Where the record for `endpoint` lives: its characters other than letters,
// digits, '.' and '-' become '_'.
std::filesystem::path known_grid_path(const std::filesystem::path& config_dir,
                                      std::string_view endpoint);

std::string format_known_grid(const KnownGrid& grid);
// kInvalidArgument naming the file and line for anything but the three
// entries, each once.
Result<KnownGrid> parse_known_grid(std::string_view text, std::string_view file_name);

}  // namespace kiln::client::grid
