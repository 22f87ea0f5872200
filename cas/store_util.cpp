// Key encoding, error mapping and file operations for the LMDB store; see
// store_util.h. Every OS call here reports failures as kiln errors with the
// path involved, so store.cpp never looks at errno.
#include "cas/store_util.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "base/files.h"
#include "base/unique_fd.h"
#include "cas/store.h"

namespace kiln::cas::store_detail {

std::size_t key_size(DigestFunction fn) { return hash_size(fn) + 8; }

std::string blob_key(const Digest& d) {
  std::string key(reinterpret_cast<const char*>(d.hash.data()), hash_size(d.function));
  put_be64(key, d.size);
  return key;
}

void put_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::uint64_t get_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void put_le64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

std::uint64_t get_le64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

Error os_error(int err, std::string_view what) {
  std::string msg(what);
  switch (err) {
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
      return make_error(Errc::kResourceExhausted,
                        "store is full: " + msg + ": " + std::strerror(err));
    case EACCES:
    case EPERM:
    case EROFS:
      return make_error(Errc::kPermissionDenied, msg + ": " + std::strerror(err));
    default:
      return make_error(Errc::kIo, msg + ": " + std::strerror(err));
  }
}

Error lmdb_error(int rc, std::string_view what) {
  std::string msg(what);
  switch (rc) {
    case MDB_MAP_FULL:
      return make_error(
          Errc::kResourceExhausted,
          "store is full: " + msg + ": the LMDB map is full (raise map_size or lower max_size)");
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return make_error(Errc::kInvalidArgument,
                        msg + ": not a kiln store (" + mdb_strerror(rc) + ")");
    case MDB_READERS_FULL:
      return make_error(Errc::kResourceExhausted, msg + ": " + mdb_strerror(rc));
    default:
      break;
  }
  if (rc > 0) return os_error(rc, what);
  return make_error(Errc::kIo, msg + ": " + mdb_strerror(rc));
}

Error prefixed(const Error& e, std::string_view what) {
  constexpr std::string_view kFull = "store is full: ";
  if (e.message.starts_with(kFull)) {
    return Error{e.code,
                 std::string(kFull) + std::string(what) + ": " + e.message.substr(kFull.size())};
  }
  return Error{e.code, std::string(what) + ": " + e.message};
}

std::uint64_t now_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
      duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

namespace {

Status write_all(int fd, const char* data, std::size_t size, const std::string& name) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "cannot write " + name);
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Result<int> make_temp(const std::string& dir, std::string& path) {
  path = dir + "/blob.XXXXXX";
  const int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return os_error(errno, "cannot create a temporary file in " + dir);
  return fd;
}

Status finish_temp(int fd, const std::string& path, bool durable) {
  if (durable && ::fsync(fd) != 0) return os_error(errno, "cannot fsync " + path);
  if (::fchmod(fd, 0444) != 0) return os_error(errno, "cannot chmod " + path);
  return {};
}

}  // namespace

Result<std::string> write_temp(const std::string& dir, std::string_view data, bool durable) {
  std::string path;
  auto fd_or = make_temp(dir, path);
  if (!fd_or.ok()) return fd_or.error();
  base::UniqueFd fd(*fd_or);
  Status st = write_all(fd.get(), data.data(), data.size(), path);
  if (st.ok()) st = finish_temp(fd.get(), path, durable);
  if (st.ok() && ::close(fd.release()) != 0) st = os_error(errno, "cannot write " + path);
  if (!st.ok()) {
    ::unlink(path.c_str());
    return st.error();
  }
  return path;
}

Result<TempCopy> copy_to_temp(const std::string& src, const std::string& dir, DigestFunction fn,
                              bool durable) {
  base::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return make_error(Errc::kNotFound, "cannot open " + src + ": no such file");
    return os_error(err, "cannot open " + src);
  }
  TempCopy out;
  auto fd_or = make_temp(dir, out.path);
  if (!fd_or.ok()) return fd_or.error();
  base::UniqueFd fd(*fd_or);
  Hasher hasher(fn);
  std::vector<char> buffer(1u << 20);
  Status st;
  for (;;) {
    const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      st = os_error(errno, "cannot read " + src);
      break;
    }
    const auto len = static_cast<std::size_t>(n);
    hasher.update(std::string_view(buffer.data(), len));
    st = write_all(fd.get(), buffer.data(), len, out.path);
    if (!st.ok()) break;
  }
  if (st.ok()) st = finish_temp(fd.get(), out.path, durable);
  if (st.ok() && ::close(fd.release()) != 0) st = os_error(errno, "cannot write " + out.path);
  if (!st.ok()) {
    ::unlink(out.path.c_str());
    return st.error();
  }
  out.digest = hasher.finish();
  return out;
}

namespace {

// Chunk size for hashing while copying: small enough to stay in L2.
constexpr std::size_t kHashChunk = 256u << 10;

}  // namespace

Result<std::string> read_file(const std::string& path, DigestFunction fn, Digest* digest) {
  std::optional<Hasher> hasher;
  base::ReadFileOptions options;
  if (digest != nullptr) {
    hasher.emplace(fn);
    options.chunk_bytes = kHashChunk;
    options.on_chunk = [&hasher](std::string_view piece) { hasher->update(piece); };
  }
  auto data = base::read_file(path, options);
  if (!data.ok()) {
    if (data.error().code == Errc::kNotFound) return make_error(Errc::kNotFound, path + " is gone");
    return data.error();
  }
  if (digest != nullptr) *digest = hasher->finish();
  return data;
}

std::string copy_hashed(std::string_view src, DigestFunction fn, Digest* digest) {
  if (src.size() <= kHashChunk) {
    std::string out(src);
    *digest = digest_of(fn, out);
    return out;
  }
  std::string out;
  out.reserve(src.size());  // append() below copies without zero-filling first
  Hasher hasher(fn);
  for (std::size_t done = 0; done < src.size(); done += kHashChunk) {
    const std::size_t n = std::min(kHashChunk, src.size() - done);
    out.append(src.data() + done, n);
    hasher.update(std::string_view(out.data() + done, n));
  }
  *digest = hasher.finish();
  return out;
}

Result<Digest> hash_file_fd(DigestFunction fn, int fd, const std::string& name) {
  Hasher hasher(fn);
  std::vector<char> buffer(1u << 20);
  off_t offset = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "cannot read " + name);
    }
    hasher.update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    offset += n;
  }
  return hasher.finish();
}

namespace {

// copy_file_range, then plain read/write where the kernel cannot.
Status copy_contents(int in, int out, const std::string& name) {
  bool kernel_copy = true;
  for (;;) {
    ssize_t n;
    if (kernel_copy) {
      n = ::copy_file_range(in, nullptr, out, nullptr, 1u << 30, 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
        kernel_copy = false;
        continue;
      }
    } else {
      static thread_local std::vector<char> buffer(1u << 20);
      n = ::read(in, buffer.data(), buffer.size());
      if (n > 0) {
        Status st = write_all(out, buffer.data(), static_cast<std::size_t>(n), name);
        if (!st.ok()) return st;
      }
    }
    if (n == 0) return {};
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "cannot copy to " + name);
    }
  }
}

}  // namespace

Result<int> copy_file_to(const std::string& src, int dir_fd, const std::string& name,
                         bool executable) {
  base::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return make_error(Errc::kNotFound, src + " is gone");
    return os_error(err, "cannot open " + src);
  }
  base::UniqueFd out(::openat(dir_fd, name.c_str(),
                              O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              executable ? 0755 : 0644));
  if (out.get() < 0) return os_error(errno, "cannot create " + name);
  if (::ioctl(out.get(), FICLONE, in.get()) != 0) {
    Status st = copy_contents(in.get(), out.get(), name);
    if (!st.ok()) {
      ::unlinkat(dir_fd, name.c_str(), 0);
      return st.error();
    }
  }
  return out.release();
}

Status fsync_dir(const std::string& dir) {
  base::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return os_error(errno, "cannot open " + dir);
  if (::fsync(fd.get()) != 0) return os_error(errno, "cannot fsync " + dir);
  return {};
}

}  // namespace kiln::cas::store_detail
