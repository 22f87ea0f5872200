// The logging seam of kiln's daemons: libraries report through a Logger
// callback, and each main() decides where lines go (spdlog, see
// base/log_spdlog.h). Libraries never log to a global.
#pragma once

#include <functional>
#include <string>

namespace kiln {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Called with one line; may be called from several threads at once, so a
// Logger must be thread-safe.
using Logger = std::function<void(LogLevel, const std::string&)>;

}  // namespace kiln
