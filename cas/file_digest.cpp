// file_digest.h: hashing files in 1 MiB blocks.
#include "cas/file_digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/os_error.h"
#include "base/unique_fd.h"

namespace kiln::cas {

Result<Digest> digest_fd(DigestFunction fn, int fd, const std::string& what) {
  Hasher hasher(fn);
  std::vector<std::byte> buffer(1u << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const Error error = base::os_error(errno, "cannot read " + what);
      return make_error(Errc::kIo, error.message);
    }
    hasher.update(std::span(buffer.data(), static_cast<std::size_t>(n)));
  }
  return hasher.finish();
}

Result<Digest> digest_file(DigestFunction fn, const std::string& path) {
  const base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const Error error = base::os_error(errno, "cannot open " + path);
    return make_error(error.code == Errc::kNotFound ? Errc::kNotFound : Errc::kIo, error.message);
  }
  return digest_fd(fn, fd.get(), path);
}

}  // namespace kiln::cas
