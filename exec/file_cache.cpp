// FileCache: see file_cache.h. A cache file is named "<digest hex>" or
// "<digest hex>.x" (executable), written under a temporary name and renamed
// into place, so a reader never links a half-written file; two slots
// writing the same blob at once both succeed, the second rename replacing
// the first's identical file.
#include "exec/file_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "base/os_error.h"
#include "base/unique_fd.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

std::string cache_name(const cas::Digest& digest, bool executable) {
  return digest.hex() + (executable ? ".x" : "");
}

// The bytes of the regular files directly in `dir_fd`.
std::uint64_t bytes_in(int dir_fd) {
  const int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return 0;
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    ::close(dup_fd);
    return 0;
  }
  ::rewinddir(dir);  // the duplicate shares the original's offset
  std::uint64_t total = 0;
  while (const dirent* entry = ::readdir(dir)) {
    struct stat st {};
    if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<std::uint64_t>(st.st_size);
    }
  }
  ::closedir(dir);
  return total;
}

// Removes every file directly in `dir_fd`.
void empty_dir(int dir_fd) {
  const int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return;
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    ::close(dup_fd);
    return;
  }
  ::rewinddir(dir);  // the duplicate shares the original's offset
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  for (const std::string& name : names) (void)::unlinkat(dir_fd, name.c_str(), 0);
}

Status copy_over(int dir_fd, const std::string& name, const struct stat& st) {
  base::UniqueFd in(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) return base::os_error(errno, "cannot open " + name);
  const std::string temp = "." + name + ".kiln-copy";
  base::UniqueFd out(
      ::openat(dir_fd, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid()) return base::os_error(errno, "cannot copy " + name);
  std::vector<char> buffer(1 << 16);
  for (;;) {
    const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::os_error(errno, "cannot read " + name);
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w =
          ::write(out.get(), buffer.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return base::os_error(errno, "cannot copy " + name);
      done += w;
    }
  }
  // Writable, as every input of an action's own directory is.
  const mode_t mode = (st.st_mode & S_IXUSR) != 0 ? 0755 : 0644;
  if (::fchmod(out.get(), mode) != 0 ||
      ::renameat(dir_fd, temp.c_str(), dir_fd, name.c_str()) != 0) {
    const int err = errno;
    (void)::unlinkat(dir_fd, temp.c_str(), 0);
    return base::os_error(err, "cannot copy " + name);
  }
  return {};
}

Status unshare_below(int dir_fd, const std::string& where, int depth) {
  if (depth > 256) return make_error(Errc::kInvalidArgument, where + " is too deep");
  const int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return base::os_error(errno, "cannot list " + where);
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    const int err = errno;
    ::close(dup_fd);
    return base::os_error(err, "cannot list " + where);
  }
  ::rewinddir(dir);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(dir);
  for (const std::string& name : names) {
    struct stat st {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      if (auto s = copy_over(dir_fd, name, st); !s.ok()) return s;
    } else if (S_ISDIR(st.st_mode)) {
      base::UniqueFd sub(
          ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub.valid()) return base::os_error(errno, "cannot open " + where + "/" + name);
      if (auto s = unshare_below(sub.get(), where + "/" + name, depth + 1); !s.ok()) return s;
    }
  }
  return {};
}

}  // namespace

class FileCache::Linking final : public cas::BlobSource {
 public:
  Linking(FileCache& cache, cas::BlobSource& store) : cache_(cache), store_(store) {}
  Result<std::optional<std::string>> read_blob(const cas::Digest& digest) override {
    return store_.read_blob(digest);
  }
  Result<bool> write_blob_to(const cas::Digest& digest, int dir_fd, const std::string& name,
                             bool executable) override {
    return cache_.link(store_, digest, dir_fd, name, executable);
  }

 private:
  FileCache& cache_;
  cas::BlobSource& store_;
};

Result<std::unique_ptr<FileCache>> FileCache::open(const fs::path& dir, std::uint64_t max_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + dir.string() + ": " + ec.message());
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return base::os_error(errno, "cannot open " + dir.string());
  return std::unique_ptr<FileCache>(new FileCache(dir, fd, max_bytes, bytes_in(fd)));
}

FileCache::FileCache(fs::path dir, int dir_fd, std::uint64_t max_bytes, std::uint64_t bytes)
    : dir_(std::move(dir)), dir_fd_(dir_fd), max_bytes_(max_bytes), bytes_(bytes) {
  flush_if_full();
}

FileCache::~FileCache() { ::close(dir_fd_); }

std::unique_ptr<cas::BlobSource> FileCache::linking(cas::BlobSource& store) {
  return std::make_unique<Linking>(*this, store);
}

Result<bool> FileCache::link(cas::BlobSource& store, const cas::Digest& digest, int dir_fd,
                             const std::string& name, bool executable) {
  const std::string cached = cache_name(digest, executable);
  if (::linkat(dir_fd_, cached.c_str(), dir_fd, name.c_str(), 0) == 0) return true;
  if (errno != ENOENT) return store.write_blob_to(digest, dir_fd, name, executable);
  const std::string temp =
      ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter_.fetch_add(1));
  auto written = store.write_blob_to(digest, dir_fd_, temp, executable);
  if (!written.ok() || !*written) {
    (void)::unlinkat(dir_fd_, temp.c_str(), 0);
    return written;
  }
  struct stat st {};
  if (::fchmodat(dir_fd_, temp.c_str(), executable ? 0555 : 0444, 0) != 0 ||
      ::fstatat(dir_fd_, temp.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      ::renameat(dir_fd_, temp.c_str(), dir_fd_, cached.c_str()) != 0) {
    (void)::unlinkat(dir_fd_, temp.c_str(), 0);
    return store.write_blob_to(digest, dir_fd, name, executable);
  }
  bytes_ += static_cast<std::uint64_t>(st.st_size);
  if (::linkat(dir_fd_, cached.c_str(), dir_fd, name.c_str(), 0) != 0) {
    return store.write_blob_to(digest, dir_fd, name, executable);
  }
  flush_if_full();
  return true;
}

void FileCache::flush_if_full() {
  if (bytes_.load() <= max_bytes_) return;
  const std::lock_guard<std::mutex> lock(flush_mutex_);
  if (bytes_.load() <= max_bytes_) return;
  empty_dir(dir_fd_);
  bytes_ = 0;
}

Status unshare_links(const fs::path& dir) {
  base::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return base::os_error(errno, "cannot open " + dir.string());
  return unshare_below(fd.get(), dir.string(), 0);
}

}  // namespace kiln::exec
