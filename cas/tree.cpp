// placeholder; being written (build_tree, materialize_tree)
#include "cas/tree.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kiln::cas {

Result<bool> BlobSource::write_blob_to(const Digest& digest, int dir_fd, const std::string& name,
                                       bool executable) {
  auto blob = read_blob(digest);
  if (!blob.ok()) return blob.error();
  if (!blob->has_value()) return false;
  const std::string& bytes = **blob;
  const int fd = ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          executable ? 0755 : 0644);
  if (fd < 0) {
    return make_error(Errc::kIo, "cannot create " + name + ": " + std::strerror(errno));
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return make_error(Errc::kIo, "cannot write " + name + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    return make_error(Errc::kIo, "cannot write " + name + ": " + std::strerror(errno));
  }
  return true;
}

}  // namespace kiln::cas
