// program_path.h: execvp's search, with the candidate test left to the
// caller (the launcher must skip kiln itself when it looks for gcc).
#include "base/program_path.h"

#include <sys/stat.h>
#include <unistd.h>

namespace kiln::base {

namespace fs = std::filesystem;

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::vector<std::string_view> split_search_path(std::string_view path) {
  std::vector<std::string_view> entries;
  for (;;) {
    const auto colon = path.find(':');
    entries.push_back(path.substr(0, colon));
    if (colon == std::string_view::npos) return entries;
    path.remove_prefix(colon + 1);
  }
}

std::optional<std::string> find_program(std::string_view name, const ProgramSearch& search) {
  if (name.empty()) return std::nullopt;
  const auto absolute = [&](const fs::path& candidate) {
    if (candidate.is_absolute()) return candidate.lexically_normal().string();
    const fs::path base = search.cwd.empty() ? fs::current_path() : fs::absolute(search.cwd);
    return (base / candidate).lexically_normal().string();
  };
  const auto accepted = [&](const std::string& candidate) {
    return search.accept ? search.accept(candidate) : is_executable_file(candidate);
  };
  if (name.find('/') != std::string_view::npos) {
    std::string candidate = absolute(fs::path(name));
    if (accepted(candidate)) return candidate;
    return std::nullopt;
  }
  for (std::string_view dir : split_search_path(search.path)) {
    std::string candidate = absolute(fs::path(dir.empty() ? "." : dir) / name);
    if (accepted(candidate)) return candidate;
  }
  return std::nullopt;
}

}  // namespace kiln::base
