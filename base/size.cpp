// size.h: byte counts as people write them.
#include "base/size.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace kiln::base {

// Sizes: a decimal number, optionally with a fraction ("1.5G"), optionally
// followed by a binary unit K, M, G, T or P (case-insensitive, with optional
// "iB" or "B"; spaces allowed before the unit). Fractions round down to
// whole bytes. Plain digits are bytes.
Result<std::uint64_t> parse_size(std::string_view text) {
  const std::string original(text);
  auto bad = [&] {
    return make_error(Errc::kInvalidArgument,
                      "invalid size '" + original + "' (expected e.g. 512M, 10G, 1.5G, 4096)");
  };
  std::size_t i = 0;
  std::uint64_t whole = 0;
  std::size_t digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (whole > (UINT64_MAX - 9) / 10) return bad();
    whole = whole * 10 + static_cast<std::uint64_t>(text[i++] - '0');
    ++digits;
  }
  double fraction = 0;
  const bool has_fraction = i < text.size() && text[i] == '.';
  if (has_fraction) {
    double scale = 0.1;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, scale /= 10) {
      fraction += (text[i] - '0') * scale;
      ++digits;
    }
  }
  if (digits == 0) return bad();
  while (i < text.size() && text[i] == ' ') ++i;
  std::string unit;
  for (; i < text.size(); ++i) unit.push_back(static_cast<char>(std::toupper(text[i])));
  static constexpr std::string_view kUnits = "KMGTP";
  unsigned shift = 0;
  if (!unit.empty() && unit != "B") {
    const auto pos = kUnits.find(unit[0]);
    const std::string_view rest = std::string_view(unit).substr(1);
    if (pos == std::string_view::npos || !(rest.empty() || rest == "B" || rest == "IB")) {
      return bad();
    }
    shift = 10 * static_cast<unsigned>(pos + 1);
  }
  if (shift > 0 && whole > (UINT64_MAX >> shift)) return bad();
  const std::uint64_t frac_bytes =
      static_cast<std::uint64_t>(std::floor(fraction * static_cast<double>(1ull << shift)));
  if (has_fraction && shift == 0) return bad();  // "1.5" bytes
  return (whole << shift) + frac_bytes;
}

// "512 B", "64 KiB", "1.5 GiB": one decimal at most; parse_size reads it back
// (exactly for whole units).
std::string format_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  int unit = 0;
  double value = static_cast<double>(bytes) / 1024;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  const double tenths = std::floor(value * 10) / 10;
  if (tenths == std::floor(tenths)) {
    std::snprintf(buf, sizeof buf, "%.0f %s", tenths, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", tenths, kUnits[unit]);
  }
  return buf;
}

}  // namespace kiln::base
