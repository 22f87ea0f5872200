#include "base/os_error.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace kiln::base {

Error os_error(int err, std::string_view what) {
  Errc code = Errc::kIo;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      code = Errc::kNotFound;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = Errc::kPermissionDenied;
      break;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      code = Errc::kResourceExhausted;
      break;
    default:
      break;
  }
  return make_error(code, std::string(what) + ": " + std::strerror(err));
}

}  // namespace kiln::base
