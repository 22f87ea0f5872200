// The counters file. Locking: every writer takes an exclusive flock on a
// separate `file` + ".lock", reads `file`, and replaces it atomically
// (base::write_file_atomically: a temporary name beside it, renamed over
// it). The lock cannot be on `file` itself, because the rename swaps in a new inode: a process
// waiting on the old one's lock would then hold a lock nobody else takes. Renaming (rather than
// rewriting in place with ftruncate) means a reader never needs the lock and never sees a
// half-written file, and a writer killed midway leaves the previous counters intact. There is no
// fsync: the counters are advisory and every compile would pay for it.
#include "client/launcher/stats.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "base/files.h"
#include "base/os_error.h"
#include "base/size.h"
#include "base/unique_fd.h"
#include "cas/store.h"

namespace kiln::client::launcher {
namespace {

namespace fs = std::filesystem;
using base::UniqueFd;

constexpr std::string_view kFixedStats[] = {
    kStatDirectHit,  kStatPreprocessedHit,    kStatRemoteHit,         kStatMissLocal,
    kStatMissRemote, kStatMissRemoteFallback, kStatCompileFailed,     kStatError,
    kStatLinkHit,    kStatLinkMiss,           kStatMissRemoteHeaders,
};

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return b > std::numeric_limits<std::uint64_t>::max() - a
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

Error errno_error(const std::string& what, int err) { return base::os_error(err, what); }

fs::path with_suffix(const fs::path& file, const char* suffix) {
  fs::path p = file;
  p += suffix;
  return p;
}

// The file's contents, or nullopt when it does not exist.
Result<std::optional<std::string>> read_whole(const fs::path& file) {
  return base::read_file_if_exists(file.string(), {.max_bytes = 1 << 20});
}

// Applies `change` to the counters in `file` under the lock.
Status update_stats(const fs::path& file, const std::function<void(StatsCounters&)>& change) {
  if (const fs::path parent = file.parent_path(); !parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) return errno_error("cannot create " + parent.string(), ec.value());
  }
  const fs::path lock_path = with_suffix(file, ".lock");
  const UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return errno_error("cannot create " + lock_path.string(), errno);
  while (::flock(lock.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return errno_error("cannot lock " + lock_path.string(), errno);
  }

  auto text = read_whole(file);
  if (!text) return text.error();
  StatsCounters counters;
  if (*text) {
    // Unparseable: start again from zeros (the counters are advisory).
    counters = parse_stats_file(**text).value_or(StatsCounters{});
  }
  change(counters);

  if (Status st =
          base::write_file_atomically(file.string(), format_stats_file(counters), {.mode = 0644});
      !st) {
    return st;
  }
  return {};  // the lock goes with its descriptor
}

std::uint64_t get(const StatsCounters& counters, std::string_view name) {
  const auto it = counters.find(std::string(name));
  return it == counters.end() ? 0 : it->second;
}

struct Totals {
  std::uint64_t direct, preprocessed, remote, hits;
  std::uint64_t miss_local, miss_remote, miss_headers, miss_preprocessed, miss_fallback, misses;
  std::uint64_t uncacheable;
  std::vector<std::pair<std::string, std::uint64_t>> reasons;  // most first
};

Totals totals_of(const StatsCounters& c) {
  Totals t{};
  t.direct = get(c, kStatDirectHit);
  t.preprocessed = get(c, kStatPreprocessedHit);
  t.remote = get(c, kStatRemoteHit);
  t.hits = saturating_add(saturating_add(t.direct, t.preprocessed), t.remote);
  t.miss_local = get(c, kStatMissLocal);
  t.miss_preprocessed = get(c, kStatMissRemote);
  t.miss_headers = get(c, kStatMissRemoteHeaders);
  t.miss_remote = saturating_add(t.miss_preprocessed, t.miss_headers);
  t.miss_fallback = get(c, kStatMissRemoteFallback);
  t.misses = saturating_add(saturating_add(t.miss_local, t.miss_remote), t.miss_fallback);
  for (const auto& [name, value] : c) {
    if (name.compare(0, kStatUncacheablePrefix.size(), kStatUncacheablePrefix) != 0) continue;
    if (value == 0) continue;
    t.reasons.emplace_back(name.substr(kStatUncacheablePrefix.size()), value);
    t.uncacheable = saturating_add(t.uncacheable, value);
  }
  std::stable_sort(t.reasons.begin(), t.reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return t;
}

}  // namespace

std::string uncacheable_stat(std::string_view reason) {
  std::string name(kStatUncacheablePrefix);
  name += reason;
  return name;
}

std::optional<StatsCounters> parse_stats_file(std::string_view text) {
  StatsCounters counters;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t space = line.rfind(' ');
    if (space == std::string_view::npos || space == 0) return std::nullopt;
    const std::string_view digits = line.substr(space + 1);
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      return std::nullopt;
    }
    std::uint64_t& slot = counters[std::string(line.substr(0, space))];
    slot = saturating_add(slot, value);
  }
  return counters;
}

std::string format_stats_file(const StatsCounters& counters) {
  // Names with control characters are cleaned first; two names that become
  // the same are added together.
  StatsCounters clean;
  for (const auto& [name, value] : counters) {
    if (name.empty()) continue;
    std::string n = name;
    for (char& c : n) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    }
    std::uint64_t& slot = clean[n];
    slot = saturating_add(slot, value);
  }
  std::string out;
  for (const auto& [name, value] : clean) {
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
  }
  return out;
}

Status add_stats(const fs::path& file, const StatsCounters& deltas) {
  return update_stats(file, [&deltas](StatsCounters& counters) {
    for (const auto& [name, delta] : deltas) {
      std::uint64_t& slot = counters[name];
      slot = saturating_add(slot, delta);
    }
  });
}

Result<StatsCounters> read_stats(const fs::path& file) {
  auto text = read_whole(file);
  if (!text) return text.error();
  StatsCounters counters;
  if (*text) counters = parse_stats_file(**text).value_or(StatsCounters{});
  for (const std::string_view name : kFixedStats) counters.try_emplace(std::string(name), 0);
  return counters;
}

Status zero_stats(const fs::path& file) {
  return update_stats(file, [](StatsCounters& counters) {
    counters.clear();
    for (const std::string_view name : kFixedStats) counters.emplace(std::string(name), 0);
  });
}

std::string render_stats_text(const StatsCounters& counters, const StatsView& view) {
  const Totals t = totals_of(counters);

  // Each counter line: label, then the number right-aligned at a column
  // wide enough for the longest label (28 at least), then any suffix.
  struct Line {
    std::string label;
    std::uint64_t number;
    std::string suffix;
  };
  const std::uint64_t calls = saturating_add(t.hits, t.misses);
  std::string hit_suffix = " / " + std::to_string(calls);
  if (calls != 0) {
    char pct[32];
    const int n = std::snprintf(pct, sizeof pct, " (%.2f %%)",
                                100.0 * static_cast<double>(t.hits) /
                                    (static_cast<double>(t.hits) + static_cast<double>(t.misses)));
    if (n > 0) hit_suffix += pct;
  }
  std::vector<Line> lines = {
      {"Hits", t.hits, hit_suffix},
      {"  direct", t.direct, ""},
      {"  preprocessed", t.preprocessed, ""},
      {"  remote", t.remote, ""},
      {"Misses", t.misses, ""},
      {"  compiled locally", t.miss_local, ""},
      {"  compiled remotely", t.miss_remote, ""},
      {"    headers", t.miss_headers, ""},
      {"    preprocessed", t.miss_preprocessed, ""},
      {"  remote fallback", t.miss_fallback, ""},
      {"Uncacheable", t.uncacheable, ""},
  };
  for (const auto& [reason, n] : t.reasons) lines.push_back({"  " + reason, n, ""});
  lines.push_back({"Compile failed", get(counters, kStatCompileFailed), ""});
  lines.push_back({"Errors", get(counters, kStatError), ""});
  lines.push_back({"Links cached", get(counters, kStatLinkHit) + get(counters, kStatLinkMiss), ""});
  lines.push_back({"  hits", get(counters, kStatLinkHit), ""});
  lines.push_back({"  misses", get(counters, kStatLinkMiss), ""});

  std::size_t width = 28;
  for (const Line& line : lines) {
    width = std::max(width, line.label.size() + 1 + std::to_string(line.number).size());
  }
  constexpr std::size_t kLabelWidth = 20;
  auto label = [](const std::string& text) {
    return text + std::string(text.size() < kLabelWidth ? kLabelWidth - text.size() : 1, ' ');
  };

  std::string out = label("Cache directory") + view.cache_dir + '\n';
  for (const Line& line : lines) {
    const std::string number = std::to_string(line.number);
    out += line.label;
    out.append(width - line.label.size() - number.size(), ' ');
    out += number;
    out += line.suffix;
    out += '\n';
  }
  out += label("Cache size") + base::format_size(view.cache_size);
  if (view.max_size != 0) {
    // The house rule (as `kiln cas stats`): whole percent, rounded down.
    const auto pct = static_cast<std::uint64_t>(100.0 * static_cast<double>(view.cache_size) /
                                                static_cast<double>(view.max_size));
    out += " / " + base::format_size(view.max_size) + " (" + std::to_string(pct) + " %)";
  }
  out += '\n';
  return out;
}

std::string render_stats_json(const StatsCounters& counters, const StatsView& view) {
  const Totals t = totals_of(counters);
  nlohmann::ordered_json uncacheable = nlohmann::ordered_json::object();
  for (const auto& [reason, n] : t.reasons) uncacheable[reason] = n;
  const nlohmann::ordered_json j = {
      {"cache_dir", view.cache_dir},
      {"hits",
       {{"direct", t.direct},
        {"preprocessed", t.preprocessed},
        {"remote", t.remote},
        {"total", t.hits}}},
      {"misses",
       {{"local", t.miss_local},
        {"remote", t.miss_remote},
        {"remote_by_mode", {{"headers", t.miss_headers}, {"preprocessed", t.miss_preprocessed}}},
        {"remote_fallback", t.miss_fallback},
        {"total", t.misses}}},
      {"uncacheable", uncacheable},
      {"uncacheable_total", t.uncacheable},
      {"compile_failed", get(counters, kStatCompileFailed)},
      {"errors", get(counters, kStatError)},
      {"links", {{"hits", get(counters, kStatLinkHit)}, {"misses", get(counters, kStatLinkMiss)}}},
      {"cache_size", view.cache_size},
      {"max_size", view.max_size},
  };
  // Reasons are free text: bytes that are not UTF-8 become U+FFFD instead
  // of an exception.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

}  // namespace kiln::client::launcher
