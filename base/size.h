// Byte counts as people write them ("10G", "512M", "1.5 GiB"), for size
// limits on the command line and in the config file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kiln::base {

// "10G", "512M", "64K", "1.5G", "2 GiB", "1000" -> bytes (binary units:
// K = 1024). kInvalidArgument on anything else, or on a size that does not
// fit in 64 bits.
Result<std::uint64_t> parse_size(std::string_view text);

// "512 B", "64 KiB", "1.5 GiB": one decimal at most, rounded down;
// parse_size() reads it back (exactly for whole units).
std::string format_size(std::uint64_t bytes);

}  // namespace kiln::base
