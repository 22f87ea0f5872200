// toolchain.h: identities of compilers, cached by the driver's stat.
#include "exec/toolchain.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

#include "base/files.h"
#include "base/program_path.h"
#include "cas/file_digest.h"
#include "exec/runner.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

std::string stat_key(const struct stat& st) {
  return std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + " " +
         std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// A cache file's text; "" when it is missing or unreadable (then the
// answer is computed again).
std::string read_cache_file(const fs::path& path) {
  auto text = base::read_file(path.string(), {.max_bytes = 1 << 20});
  return text.ok() ? std::move(text).value() : std::string();
}

// Writes a cache file so that readers never see half of it. Failures are
// ignored: this is a cache.
void write_cache_file(const fs::path& path, const std::string& text) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  (void)base::write_file_atomically(path.string(), text);
}

Result<cas::Digest> compute_identity(const std::string& compiler, cas::DigestFunction fn) {
  std::error_code ec;
  const fs::path driver = fs::canonical(compiler, ec);
  if (ec) return make_error(Errc::kNotFound, "compiler " + compiler + ": " + ec.message());
  auto driver_digest = cas::digest_file(fn, driver.string());
  if (!driver_digest.ok()) return driver_digest.error();
  std::string material = "kiln-toolchain-v2\n" + driver_digest->to_string() + "\n";
  // GCC's driver runs a separate compiler proper (Clang answers with the
  // bare name of a program it does not have, and there is nothing more to
  // hash); both run the assembler and the linker, which shape the output.
  for (const char* program : {"cc1", "cc1plus", "as", "ld"}) {
    const std::string path = driver_program(compiler, program).path;
    if (path.empty()) continue;
    auto digest = cas::digest_file(fn, path);
    if (!digest.ok()) return digest.error();
    material += std::string(program) + " " + digest->to_string() + "\n";
  }
  return cas::digest_of(fn, material);
}

fs::path cache_file(const fs::path& cache_dir, const std::string& compiler, cas::DigestFunction fn,
                    std::string_view suffix) {
  return cache_dir / (cas::digest_of(fn, compiler).hex() + std::string(suffix));
}

}  // namespace

Result<RunOutcome> run_driver(const std::string& compiler, const std::vector<std::string>& args) {
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read once, no setenv
  RunSpec spec;
  spec.argv.reserve(args.size() + 1);
  spec.argv.push_back(compiler);
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = {std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin"), "LC_ALL=C"};
  spec.cwd = "/";
  spec.timeout = std::chrono::milliseconds(10000);
  return run_command(spec);
}

DriverProgram driver_program(const std::string& compiler, const std::string& program) {
  auto outcome = run_driver(compiler, {"-print-prog-name=" + program});
  if (!outcome.ok() || outcome->exit_code != 0) return {};
  DriverProgram found;
  found.path = std::move(outcome->stdout_data);
  while (!found.path.empty() && (found.path.back() == '\n' || found.path.back() == '\r')) {
    found.path.pop_back();
  }
  if (found.path.empty()) return {};
  if (found.path.front() != '/') {
    // GCC names the assembler and linker without a directory: PATH finds them.
    const char* env_path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read only
    found.path =
        base::find_program(found.path, {.path = env_path != nullptr ? env_path : "/usr/bin:/bin"})
            .value_or("");
    found.on_path = true;
  }
  if (found.path.empty() || ::access(found.path.c_str(), X_OK) != 0) return {};
  return found;
}

bool is_compiler_name(std::string_view name) {
  if (const auto dash = name.rfind('-'); dash != std::string_view::npos) {
    const std::string_view version = name.substr(dash + 1);
    if (!version.empty() && version.front() >= '0' && version.front() <= '9' &&
        version.find_first_not_of("0123456789.") == std::string_view::npos) {
      name = name.substr(0, dash);
    }
  }
  for (const std::string_view base : {"gcc", "g++", "cc", "c++", "clang", "clang++"}) {
    if (name == base) return true;
    if (name.size() > base.size() + 1 && name.substr(name.size() - base.size()) == base &&
        name[name.size() - base.size() - 1] == '-') {
      // A target prefix: letters, digits, '_' and '-'.
      const std::string_view prefix = name.substr(0, name.size() - base.size() - 1);
      return prefix.find_first_not_of(
                 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
             std::string_view::npos;
    }
  }
  return false;
}

std::string toolchain_property(std::string_view compiler) {
  return "toolchain:" + std::string(compiler);
}

Result<cas::Digest> toolchain_identity(const std::string& compiler, cas::DigestFunction fn,
                                       const fs::path& cache_dir) {
  struct stat st {};
  if (::stat(compiler.c_str(), &st) != 0) {
    return make_error(Errc::kNotFound, "compiler " + compiler + ": " + std::strerror(errno));
  }
  const std::string key = stat_key(st);
  fs::path file;
  if (!cache_dir.empty()) {
    file = cache_file(cache_dir, compiler, fn, ".id");
    const std::string cached = read_cache_file(file);
    const auto newline = cached.find('\n');
    if (newline != std::string::npos && cached.substr(0, newline) == key) {
      std::string text = cached.substr(newline + 1);
      while (!text.empty() && text.back() == '\n') text.pop_back();
      if (auto digest = cas::parse_digest(text); digest.ok() && digest->function == fn) {
        return digest;
      }
    }
  }
  auto identity = compute_identity(compiler, fn);
  if (identity.ok() && !file.empty()) {
    write_cache_file(file, key + "\n" + identity->to_string() + "\n");
  }
  return identity;
}

std::vector<cas::Property> detect_toolchains(std::string_view path_env, cas::DigestFunction fn) {
  std::vector<cas::Property> found;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (start <= path_env.size()) {
    std::size_t end = path_env.find(':', start);
    if (end == std::string_view::npos) end = path_env.size();
    const std::string dir(path_env.substr(start, end - start));
    start = end + 1;
    if (dir.empty() || dir.front() != '/') continue;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), last; !ec && it != last; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!is_compiler_name(name)) continue;
      const std::string path = it->path().string();
      if (!seen.insert(path).second || ::access(path.c_str(), X_OK) != 0) continue;
      auto identity = toolchain_identity(path, fn, {});
      if (identity.ok()) found.push_back({toolchain_property(path), identity->to_string()});
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

Result<std::vector<std::string>> system_include_dirs(const std::string& compiler,
                                                     const cas::Digest& identity,
                                                     const std::string& language,
                                                     const fs::path& cache_dir) {
  fs::path file;
  if (!cache_dir.empty()) {
    file = cache_dir /
           (identity.hex() + "." + cas::digest_of(identity.function, language).hex() + ".sysdirs");
    const std::string cached = read_cache_file(file);
    if (!cached.empty() && cached.rfind("kiln-sysdirs\n", 0) == 0) {
      std::vector<std::string> dirs;
      std::istringstream lines(cached.substr(13));
      for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) dirs.push_back(line);
      }
      return dirs;
    }
  }
  auto outcome = run_driver(compiler, {"-x", language, "-E", "-v", "/dev/null", "-o", "/dev/null"});
  if (!outcome.ok()) return outcome.error();
  if (outcome->exit_code != 0) {
    return make_error(Errc::kIo, "cannot list the include directories of " + compiler);
  }
  std::vector<std::string> dirs;
  bool in_list = false;
  std::istringstream lines(outcome->stderr_data);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#include <...> search starts here:", 0) == 0) {
      in_list = true;
    } else if (line.rfind("End of search list.", 0) == 0) {
      in_list = false;
    } else if (in_list && !line.empty() && line.front() == ' ') {
      std::string dir = line.substr(line.find_first_not_of(' '));
      if (const auto framework = dir.find(" (framework directory)");
          framework != std::string::npos) {
        dir.resize(framework);
      }
      std::error_code ec;
      const fs::path normal = fs::weakly_canonical(dir, ec);
      dirs.push_back(ec ? dir : normal.string());
      if (!ec && normal.string() != dir) dirs.push_back(dir);
    }
  }
  if (!file.empty()) {
    std::string text = "kiln-sysdirs\n";
    for (const auto& d : dirs) text += d + "\n";
    write_cache_file(file, text);
  }
  return dirs;
}

}  // namespace kiln::exec
