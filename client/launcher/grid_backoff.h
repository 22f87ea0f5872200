// When the launcher stops asking the grid for a while. A compile that
// finds no scheduler (no session within remote_timeout) compiles here; the
// compiles right after it would each wait remote_timeout again, so for a
// short window they go straight to this machine. The window is short
// because a scheduler that restarts is back in seconds: 5 s after the
// first failure, doubling with each failure in a row up to 60 s; a compile
// the grid runs ends it. Every compile is its own process, so the state
// is a small record in the cache directory (grid-backoff).
//
// Pure: times are seconds since the epoch, passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::client::launcher {

struct GridBackoff {
  std::string scheduler;   // whose failures these are
  unsigned failures = 0;   // in a row
  std::int64_t since = 0;  // the last failure, seconds since the epoch
};

// The window after `failures` failures in a row: 5 s, 10 s, 20 s, 40 s,
// then 60 s.
std::chrono::seconds backoff_window(unsigned failures);

// Whether a compile at `now` for `scheduler` should skip the grid.
bool backing_off(const GridBackoff& backoff, std::string_view scheduler, std::int64_t now);

// The record after a failure at `now`: one more in a row (or the first,
// for another scheduler or after a window long passed).
GridBackoff after_failure(const std::optional<GridBackoff>& previous, std::string_view scheduler,
                          std::int64_t now);

// The record's text ("<failures> <since> <scheduler>") and back; nullopt
// for anything else (then there is no backoff).
std::string format_backoff(const GridBackoff& backoff);
std::optional<GridBackoff> parse_backoff(std::string_view text);

}  // namespace kiln::client::launcher
