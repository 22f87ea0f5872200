// The compiler launcher's counters (what `kiln g++ …` did, like ccache's
// statistics): one small text file under the cache directory, updated by
// every launcher process.
//
// Counter names (kStat*): direct_hit, preprocessed_hit, remote_hit,
// miss_local, miss_remote (preprocessed), miss_remote_headers, miss_remote_fallback,
// compile_failed, error, and "uncacheable:<reason>" where the reason is free text ("linking",
// "preprocessing only (-E)", "unknown option -foo").
//
// File format: one "name value" line per counter, sorted by name; the name
// may hold spaces, so a line splits at its last space. The counters are
// advisory: a file that does not parse counts as all zeros and is
// rewritten, never an error. Errors are for I/O failures only.
//
// Rendering (render_stats_text / render_stats_json) is pure, on the map.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/size.h"

namespace kiln::client::launcher {

using StatsCounters = std::map<std::string, std::uint64_t>;

inline constexpr std::string_view kStatDirectHit = "direct_hit";
inline constexpr std::string_view kStatPreprocessedHit = "preprocessed_hit";
inline constexpr std::string_view kStatRemoteHit = "remote_hit";
inline constexpr std::string_view kStatMissLocal = "miss_local";
inline constexpr std::string_view kStatMissRemote = "miss_remote";  // preprocessed mode
inline constexpr std::string_view kStatMissRemoteHeaders = "miss_remote_headers";
inline constexpr std::string_view kStatMissRemoteFallback = "miss_remote_fallback";
inline constexpr std::string_view kStatCompileFailed = "compile_failed";
inline constexpr std::string_view kStatError = "error";
inline constexpr std::string_view kStatLinkHit = "link_hit";  // links (kept apart from compiles)
inline constexpr std::string_view kStatLinkMiss = "link_miss";
inline constexpr std::string_view kStatUncacheablePrefix = "uncacheable:";

// "uncacheable:" + reason.
std::string uncacheable_stat(std::string_view reason);

// Adds `deltas` to the counters in `file`, atomically with respect to every
// other process doing the same (an exclusive flock on `file` + ".lock"; the
// counters are then replaced by renaming `file` + ".tmp" over `file`).
// Creates the parent directories and the file as needed. Additions
// saturate at 2^64-1.
Status add_stats(const std::filesystem::path& file, const StatsCounters& deltas);

// The counters in `file`, with the eight fixed ones always present (0 when
// absent). A missing or unparseable file reads as all zeros. Lock-free:
// writers replace the file by rename, so a reader never sees half of one.
Result<StatsCounters> read_stats(const std::filesystem::path& file);

// Sets every counter to zero (and forgets the uncacheable reasons).
Status zero_stats(const std::filesystem::path& file);

// The file format, both ways. parse_stats_file() gives nullopt when any
// non-empty line is malformed (no space, empty name, value not a decimal
// uint64). format_stats_file() turns control characters in names into
// spaces, so each counter stays on one line.
std::optional<StatsCounters> parse_stats_file(std::string_view text);
std::string format_stats_file(const StatsCounters& counters);

// What `kiln stats` shows besides the counters.
struct StatsView {
  std::string cache_dir;
  std::uint64_t cache_size = 0;  // bytes
  std::uint64_t max_size = 0;    // bytes; 0 = no limit
};

// A ccache-like table, one counter per line, numbers right-aligned:
//
//   Cache directory     /home/u/.cache/kiln
//   Hits                     120 / 140 (85.71 %)
//     direct                 100
//     …
//   Uncacheable               12
//     linking                 10     (reasons by count, most first)
//   Compile failed             1
//   Errors                     0
//   Cache size          1.2 GiB / 5 GiB (24 %)
//
// The hit rate is hits / (hits + misses); sizes use base::format_size.
std::string render_stats_text(const StatsCounters& counters, const StatsView& view);

// {"cache_dir", "hits": {"direct", "preprocessed", "remote", "total"},
//  "misses": {"local", "remote", "remote_fallback", "total"},
//  "uncacheable": {reason: n, …}, "uncacheable_total", "compile_failed",
//  "errors", "cache_size", "max_size"}, indented by 2, newline-terminated.
std::string render_stats_json(const StatsCounters& counters, const StatsView& view);

}  // namespace kiln::client::launcher
