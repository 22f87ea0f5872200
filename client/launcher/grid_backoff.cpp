// grid_backoff.h: the window, the record and its text.
#include "client/launcher/grid_backoff.h"

#include <algorithm>
#include <charconv>

namespace kiln::client::launcher {
namespace {

constexpr std::chrono::seconds kFirstWindow{5};
constexpr std::chrono::seconds kLongestWindow{60};

template <typename T>
std::optional<T> number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::chrono::seconds backoff_window(unsigned failures) {
  if (failures == 0) return std::chrono::seconds(0);
  const unsigned doublings = std::min(failures - 1, 4u);
  return std::min(kLongestWindow, kFirstWindow * (1 << doublings));
}

bool backing_off(const GridBackoff& backoff, std::string_view scheduler, std::int64_t now) {
  if (backoff.scheduler != scheduler || backoff.failures == 0) return false;
  const std::int64_t age = now - backoff.since;
  return age >= 0 && age < backoff_window(backoff.failures).count();
}

GridBackoff after_failure(const std::optional<GridBackoff>& previous, std::string_view scheduler,
                          std::int64_t now) {
  unsigned failures = 1;
  // Failures are "in a row" while each comes within twice the window of
  // the one before (a compile after the window tried the grid, and failed).
  if (previous && previous->scheduler == scheduler && previous->failures > 0 &&
      now - previous->since < 2 * backoff_window(previous->failures).count()) {
    failures = previous->failures + 1;
  }
  return GridBackoff{std::string(scheduler), failures, now};
}

std::string format_backoff(const GridBackoff& backoff) {
  return std::to_string(backoff.failures) + " " + std::to_string(backoff.since) + " " +
         backoff.scheduler;
}

std::optional<GridBackoff> parse_backoff(std::string_view text) {
  const std::size_t first = text.find(' ');
  if (first == std::string_view::npos) return std::nullopt;
  const std::size_t second = text.find(' ', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  const auto failures = number<unsigned>(text.substr(0, first));
  const auto since = number<std::int64_t>(text.substr(first + 1, second - first - 1));
  std::string_view scheduler = text.substr(second + 1);
  while (!scheduler.empty() && (scheduler.back() == '\n' || scheduler.back() == ' ')) {
    scheduler.remove_suffix(1);
  }
  if (!failures || !since || scheduler.empty()) return std::nullopt;
  return GridBackoff{std::string(scheduler), *failures, *since};
}

}  // namespace kiln::client::launcher
