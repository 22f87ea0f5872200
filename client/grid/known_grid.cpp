// known_grid.h: the record's name and text.
#include "client/grid/known_grid.h"

#include <cctype>

#include "proto/keys.h"

namespace kiln::client::grid {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

}  // namespace

std::filesystem::path known_grid_path(const std::filesystem::path& config_dir,
                                      std::string_view endpoint) {
  std::string name;
  for (const char c : endpoint) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
    name += keep ? c : '_';
  }
  return config_dir / "grids" / (name + ".conf");
}

std::string format_known_grid(const KnownGrid& grid) {
  return "# written by kiln up: how this machine's clients reach its grid\nendpoint = " +
         grid.endpoint + "\nscheduler_key = " + grid.scheduler_key +
         "\nclient_key = " + grid.client_key + "\n";
}

Result<KnownGrid> parse_known_grid(std::string_view text, std::string_view file_name) {
  KnownGrid grid;
  int number = 0;
  const auto bad = [&](const std::string& why) {
    return make_error(Errc::kInvalidArgument,
                      std::string(file_name) + ":" + std::to_string(number) + ": " + why);
  };
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const std::string_view line = trim(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++number;
    if (line.empty() || line.front() == '#') continue;
    const auto equals = line.find('=');
    if (equals == std::string_view::npos) return bad("expected 'key = value'");
    const std::string_view name = trim(line.substr(0, equals));
    const std::string value(trim(line.substr(equals + 1)));
    std::string* slot = name == "endpoint"        ? &grid.endpoint
                        : name == "scheduler_key" ? &grid.scheduler_key
                        : name == "client_key"    ? &grid.client_key
                                                  : nullptr;
    if (slot == nullptr) return bad("unknown entry '" + std::string(name) + "'");
    if (!slot->empty()) return bad(std::string(name) + " given twice");
    *slot = value;
  }
  if (grid.endpoint.empty() || grid.client_key.empty() ||
      !proto::is_curve_key(grid.scheduler_key)) {
    return make_error(
        Errc::kInvalidArgument,
        std::string(file_name) + ": needs endpoint, a Z85 scheduler_key and client_key");
  }
  return grid;
}

}  // namespace kiln::client::grid
