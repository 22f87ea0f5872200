// Finding a program the way execvp(3) does: a name without a '/' is looked
// up in each directory of a PATH value in turn (an empty entry means the
// working directory); a name with a '/' is a path already.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::base {

// PATH when the environment has none (glibc's default without ".").
inline constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// Whether `path` is a regular file (after symlinks) this process may
// execute.
bool is_executable_file(const std::string& path);

struct ProgramSearch {
  std::string_view path = kDefaultPath;  // ':'-separated directories
  // Where relative entries (and a relative name with a '/') are resolved;
  // empty: this process's working directory.
  std::filesystem::path cwd{};
  // Which candidate counts as found; default: is_executable_file. Called
  // with the candidate as an absolute path.
  std::function<bool(const std::string&)> accept{};
};

// The first match of `name`, as an absolute, lexically normal path, or
// nullopt. A name with a '/' is not searched: it is the match if `accept`
// takes it.
std::optional<std::string> find_program(std::string_view name, const ProgramSearch& search = {});

// The entries of a ':'-separated list, in order, empty ones kept.
std::vector<std::string_view> split_search_path(std::string_view path);

}  // namespace kiln::base
