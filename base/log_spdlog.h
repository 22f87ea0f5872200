// LogLevel -> spdlog, for the main() functions that send a Logger's lines
// to spdlog. Header-only and included by executables only, so no library
// links spdlog through it.
#pragma once

#include <spdlog/spdlog.h>

#include "base/log.h"

namespace kiln {

inline spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarn:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

}  // namespace kiln
