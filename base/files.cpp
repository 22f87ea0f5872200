// files.h: whole-file reads and atomic writes.
#include "base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/os_error.h"
#include "base/unique_fd.h"

namespace kiln::base {

Result<std::string> read_file(const std::string& path, const ReadFileOptions& options) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return os_error(errno, "cannot open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return os_error(errno, "cannot stat " + path);
  if (!S_ISREG(st.st_mode)) return make_error(Errc::kInvalidArgument, path + " is not a file");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size > options.max_bytes) {
    return make_error(Errc::kResourceExhausted,
                      path + " is larger than " + std::to_string(options.max_bytes) + " bytes");
  }
  std::string data(size, '\0');
  const std::size_t step = options.on_chunk ? std::max<std::size_t>(1, options.chunk_bytes) : size;
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd.get(), data.data() + done, std::min(data.size() - done, step));
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "cannot read " + path);
    }
    if (n == 0) break;  // it shrank meanwhile
    if (options.on_chunk) options.on_chunk({data.data() + done, static_cast<std::size_t>(n)});
    done += static_cast<std::size_t>(n);
  }
  data.resize(done);
  return data;
}

Result<std::optional<std::string>> read_file_if_exists(const std::string& path,
                                                       const ReadFileOptions& options) {
  auto data = read_file(path, options);
  if (data.ok()) return std::optional<std::string>(std::move(data).value());
  if (data.error().code == Errc::kNotFound) return std::optional<std::string>();
  return data.error();
}

Result<std::string> read_fd(int fd, std::string_view what) {
  std::string data;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "cannot read " + std::string(what));
    }
    if (n == 0) return data;
    data.append(buffer, static_cast<std::size_t>(n));
  }
}

Status write_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno, "cannot write " + std::string(what));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Status write_file_atomically(const std::string& path, std::string_view data,
                             const WriteFileOptions& options) {
  const std::string tmp = path + ".kiln-tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, options.mode));
  if (!fd.valid()) return os_error(errno, "cannot write " + path);
  const auto fail = [&](int err) {
    ::unlink(tmp.c_str());
    return os_error(err, "cannot write " + path);
  };
  if (auto written = write_all(fd.get(), data, path); !written.ok()) {
    ::unlink(tmp.c_str());
    return written;
  }
  if (options.durable && ::fsync(fd.get()) != 0) return fail(errno);
  if (::close(fd.release()) != 0) return fail(errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno);
  return {};
}

}  // namespace kiln::base
