// Whole files, read and written the one way kiln does it: a read is an
// open, an fstat and reads into a buffer of the file's size; a write goes
// to a temporary name beside the target and is renamed over it, so a
// reader never sees half a file and a writer killed midway leaves the old
// one in place.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kiln::base {

struct ReadFileOptions {
  // Larger files are refused (kResourceExhausted) before they are read.
  std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
  // When set, called with each piece as it arrives (at most chunk_bytes),
  // while it is still in the CPU's cache: the store hashes what it reads.
  std::function<void(std::string_view)> on_chunk{};
  std::size_t chunk_bytes = std::size_t{256} << 10;
};

// The contents of the regular file at `path` (symlinks followed). Fails
// with kNotFound when it does not exist, kInvalidArgument when it is not a
// regular file (a directory, a fifo), kResourceExhausted over max_bytes,
// and os_error()'s categories otherwise.
Result<std::string> read_file(const std::string& path, const ReadFileOptions& options = {});

// The same, with a missing file as nullopt instead of an error.
Result<std::optional<std::string>> read_file_if_exists(const std::string& path,
                                                       const ReadFileOptions& options = {});

// Everything `fd` holds from its current offset to its end (pipes and
// memfds alike).
Result<std::string> read_fd(int fd, std::string_view what);

struct WriteFileOptions {
  mode_t mode = 0666;    // before the umask, as for open(2)
  bool durable = false;  // fsync the file before the rename
};

// Replaces `path` with `data` atomically: writes `path` + ".kiln-tmp.<pid>"
// in the same directory and renames it over `path`. The directory must
// exist. On failure the temporary file is removed and `path` is untouched;
// the error names `path`.
Status write_file_atomically(const std::string& path, std::string_view data,
                             const WriteFileOptions& options = {});

// Writes all of `data` to `fd`, retrying short writes and EINTR.
Status write_all(int fd, std::string_view data, std::string_view what);

}  // namespace kiln::base
