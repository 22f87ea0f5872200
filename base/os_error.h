// The one mapping of an errno value onto kiln's error categories, so every
// layer reports a full disk or a missing file the same way.
#pragma once

#include <string_view>

#include "base/result.h"

namespace kiln::base {

// "<what>: <strerror(err)>", categorized: ENOENT/ENOTDIR -> kNotFound;
// EACCES/EPERM/EROFS -> kPermissionDenied; ENOSPC/EDQUOT/EFBIG ->
// kResourceExhausted; anything else -> kIo.
Error os_error(int err, std::string_view what);

}  // namespace kiln::base
