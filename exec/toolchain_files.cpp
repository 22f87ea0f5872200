// toolchain_files.h: the files under a compile, from the driver and the
// ELF loader's own answers.
#include "exec/toolchain_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>

#include "base/files.h"
#include "base/os_error.h"
#include "base/program_path.h"
#include "base/unique_fd.h"
#include "exec/runner.h"
#include "exec/toolchain.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

// ELF headers and the interpreter's name sit at the start of the file
// (binutils and lld put them in the first page).
constexpr std::size_t kElfHeadBytes = std::size_t{64} << 10;
constexpr std::string_view kLoaderCache = "/etc/ld.so.cache";
constexpr std::string_view kCacheMagic = "kiln-toolchain-files-v1";

void add_unique(std::vector<std::string>& paths, std::string path) {
  if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(std::move(path));
}

// An unsigned field of `size` bytes at `offset`, in the image's byte order.
std::optional<std::uint64_t> read_uint(std::string_view image, std::uint64_t offset,
                                       std::size_t size, bool big_endian) {
  if (offset > image.size() || image.size() - offset < size) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < size; ++i) {
    const auto byte = static_cast<unsigned char>(
        image[static_cast<std::size_t>(offset) + (big_endian ? i : size - 1 - i)]);
    value = (value << 8) | byte;
  }
  return value;
}

// The first kElfHeadBytes of a file.
Result<std::string> read_head(const std::string& path) {
  const base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return base::os_error(errno, "open " + path);
  std::string head(kElfHeadBytes, '\0');
  std::size_t got = 0;
  while (got < head.size()) {
    const ssize_t n = ::read(fd.get(), head.data() + got, head.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::os_error(errno, "read " + path);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  head.resize(got);
  return head;
}

// The libraries the loader at `interpreter` maps for `program`, listed the
// way ldd has it list them: LD_TRACE_LOADED_OBJECTS (unlike --list, it
// reports a missing library instead of failing); the program does not run.
Result<LoaderListing> list_libraries(const std::string& interpreter, const std::string& program,
                                     bool use_loader_cache) {
  RunSpec spec;
  spec.argv = {interpreter};
  if (!use_loader_cache) spec.argv.emplace_back("--inhibit-cache");
  spec.argv.push_back(program);
  spec.env = {"LD_TRACE_LOADED_OBJECTS=1", "LC_ALL=C"};
  spec.cwd = "/";
  spec.timeout = std::chrono::milliseconds(10000);
  auto outcome = run_command(spec);
  if (!outcome.ok()) return outcome.error();
  if (outcome->exit_code != 0) {
    return make_error(Errc::kIo, "cannot list the libraries of " + program + " with " +
                                     interpreter + ": " + outcome->stderr_data);
  }
  return parse_loader_listing(outcome->stdout_data);
}

// The ELF interpreter of `program` and the libraries it loads. Sets
// `needs_loader_cache` when one is found only through /etc/ld.so.cache.
Result<std::vector<std::string>> loaded_files(const std::string& program,
                                              bool& needs_loader_cache) {
  auto head = read_head(program);
  if (!head.ok()) return head.error();
  auto interpreter = elf_interpreter(*head);
  if (!interpreter.ok()) {
    return make_error(interpreter.error().code, program + ": " + interpreter.error().message);
  }
  if (!interpreter->has_value()) return std::vector<std::string>{};  // static
  const std::string& loader = **interpreter;
  auto listing = list_libraries(loader, program, false);
  if (listing.ok() && !listing->missing.empty()) {
    listing = list_libraries(loader, program, true);
    if (listing.ok() && !listing->missing.empty()) {
      return make_error(Errc::kNotFound, program + " needs " + listing->missing.front() +
                                             ", which " + loader + " does not find");
    }
    needs_loader_cache = true;
  }
  if (!listing.ok()) return listing.error();
  std::vector<std::string> files = {loader};
  for (std::string& path : listing->paths) {
    if (path.empty() || path.front() != '/') {
      return make_error(Errc::kInvalidArgument,
                        program + " loads " + path + ", relative to the working directory");
    }
    add_unique(files, std::move(path));
  }
  return files;
}

// A file's device, inode, size and mtime (symlinks followed), or "" when
// it cannot be read.
std::string file_signature(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + " " +
         std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// The cache file's text, or "" when some path cannot be written in it.
std::string format_cache(const std::string& compiler, const ToolchainFiles& files) {
  std::string text =
      std::string(kCacheMagic) + "\ncompiler " + compiler + "\npath " + files.path_env + "\n";
  for (const std::string& path : files.paths) {
    const std::string signature = file_signature(path);
    if (signature.empty() || path.find('\n') != std::string::npos) return {};
    text += "file " + signature + " " + path + "\n";
  }
  if (compiler.find('\n') != std::string::npos || files.path_env.find('\n') != std::string::npos) {
    return {};
  }
  return text + "end\n";
}

// The files a cache text records for `compiler`, when it is whole and every
// file is still the one it was.
std::optional<ToolchainFiles> parse_cache(std::string_view text, const std::string& compiler) {
  ToolchainFiles files;
  std::size_t line_number = 0;
  bool ended = false;
  while (!text.empty() && !ended) {
    const std::size_t newline = text.find('\n');
    if (newline == std::string_view::npos) return std::nullopt;  // cut short
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline + 1);
    const std::size_t space = line.find(' ');
    const std::string_view key = line.substr(0, space);
    const std::string_view value =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    switch (line_number++) {
      case 0:
        if (line != kCacheMagic) return std::nullopt;
        continue;
      case 1:
        if (key != "compiler" || value != compiler) return std::nullopt;
        continue;
      case 2:
        if (key != "path" || value.empty()) return std::nullopt;
        files.path_env = value;
        continue;
      default:
        break;
    }
    if (line == "end") {
      ended = true;
      continue;
    }
    // "file DEV INO SIZE MTIME PATH"
    std::size_t path_start = 0;
    for (int field = 0; field < 4 && path_start != std::string_view::npos; ++field) {
      path_start = value.find(' ', field == 0 ? 0 : path_start + 1);
    }
    if (key != "file" || path_start == std::string_view::npos) return std::nullopt;
    std::string path(value.substr(path_start + 1));
    if (path.empty() || path.front() != '/' ||
        file_signature(path) != value.substr(0, path_start)) {
      return std::nullopt;
    }
    files.paths.push_back(std::move(path));
  }
  if (!ended || !text.empty() || files.paths.empty()) return std::nullopt;
  return files;
}

}  // namespace

LoaderListing parse_loader_listing(std::string_view text) {
  LoaderListing listing;
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    if (newline == std::string_view::npos) newline = text.size();
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(std::min(newline + 1, text.size()));
    while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    // "NAME => PATH (0xADDR)", "NAME => not found", "PATH (0xADDR)",
    // "NAME (0xADDR)" (the vDSO), "statically linked".
    std::string_view path = line;
    if (const std::size_t arrow = line.find(" => "); arrow != std::string_view::npos) {
      path = line.substr(arrow + 4);
      if (path == "not found") {
        listing.missing.emplace_back(line.substr(0, arrow));
        continue;
      }
    } else if (line.empty() || line.front() != '/') {
      continue;
    }
    if (const std::size_t address = path.rfind(" (0x"); address != std::string_view::npos) {
      path = path.substr(0, address);
    }
    while (!path.empty() && path.front() == ' ') path.remove_prefix(1);
    if (!path.empty()) listing.paths.emplace_back(path);
  }
  return listing;
}

std::optional<std::string> selected_gcc_installation(std::string_view verbose_output) {
  constexpr std::string_view kPrefix = "Selected GCC installation: ";
  while (!verbose_output.empty()) {
    std::size_t newline = verbose_output.find('\n');
    if (newline == std::string_view::npos) newline = verbose_output.size();
    std::string_view line = verbose_output.substr(0, newline);
    verbose_output.remove_prefix(std::min(newline + 1, verbose_output.size()));
    if (line.substr(0, kPrefix.size()) != kPrefix) continue;
    line.remove_prefix(kPrefix.size());
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty()) return std::string(line);
  }
  return std::nullopt;
}

Result<std::optional<std::string>> elf_interpreter(std::string_view head) {
  constexpr std::uint32_t kPtInterp = 3;
  if (head.size() < 16 || head.substr(0, 4) !=
                              "\x7f"
                              "ELF") {
    return make_error(Errc::kInvalidArgument, "not an ELF file");
  }
  const bool wide = head[4] == 2;        // EI_CLASS: ELFCLASS64
  const bool big_endian = head[5] == 2;  // EI_DATA: ELFDATA2MSB
  if ((head[4] != 1 && !wide) || (head[5] != 1 && !big_endian)) {
    return make_error(Errc::kInvalidArgument, "an ELF file of unknown class or byte order");
  }
  const std::size_t word = wide ? 8 : 4;
  const auto phoff = read_uint(head, wide ? 32 : 28, word, big_endian);
  const auto phentsize = read_uint(head, wide ? 54 : 42, 2, big_endian);
  const auto phnum = read_uint(head, wide ? 56 : 44, 2, big_endian);
  const std::uint64_t min_entry = wide ? 56 : 32;
  if (!phoff || !phentsize || !phnum || (*phnum > 0 && *phentsize < min_entry)) {
    return make_error(Errc::kInvalidArgument, "a cut-short or malformed ELF header");
  }
  for (std::uint64_t i = 0; i < *phnum; ++i) {
    const std::uint64_t entry = *phoff + i * *phentsize;
    const auto type = read_uint(head, entry, 4, big_endian);
    if (!type) return make_error(Errc::kInvalidArgument, "ELF program headers cut short");
    if (*type != kPtInterp) continue;
    const auto offset = read_uint(head, entry + (wide ? 8 : 4), word, big_endian);
    const auto size = read_uint(head, entry + (wide ? 32 : 16), word, big_endian);
    if (!offset || !size || *offset > head.size() || head.size() - *offset < *size) {
      return make_error(Errc::kInvalidArgument, "the ELF interpreter's name is cut short");
    }
    std::string_view name =
        head.substr(static_cast<std::size_t>(*offset), static_cast<std::size_t>(*size));
    name = name.substr(0, name.find('\0'));
    if (name.empty()) return make_error(Errc::kInvalidArgument, "an empty ELF interpreter");
    return std::optional<std::string>(name);
  }
  return std::optional<std::string>();
}

std::string sandbox_path_env(const std::vector<std::string>& dirs) {
  const std::vector<std::string_view> defaults = base::split_search_path(base::kDefaultPath);
  std::vector<std::string_view> first;
  for (const std::string& dir : dirs) {
    if (std::find(defaults.begin(), defaults.end(), dir) == defaults.end() &&
        std::find(first.begin(), first.end(), dir) == first.end()) {
      first.emplace_back(dir);
    }
  }
  std::string path;
  for (const std::string_view dir : first) path.append(dir).append(":");
  return path.append(base::kDefaultPath);
}

Result<ToolchainFiles> toolchain_files(const std::string& compiler) {
  if (compiler.empty() || compiler.front() != '/') {
    return make_error(Errc::kInvalidArgument, "compiler " + compiler + ": not an absolute path");
  }
  if (::access(compiler.c_str(), X_OK) != 0) {
    return base::os_error(errno, "compiler " + compiler);
  }
  // The driver and what it runs for -c. Clang names only the assembler,
  // which it runs for -fno-integrated-as.
  std::vector<std::string> programs = {compiler};
  std::vector<std::string> path_dirs;
  for (const char* name : {"cc1", "cc1plus", "as"}) {
    const DriverProgram found = driver_program(compiler, name);
    if (found.path.empty()) continue;
    add_unique(programs, found.path);
    if (found.on_path) path_dirs.push_back(fs::path(found.path).parent_path().string());
  }
  ToolchainFiles files{.paths = programs, .path_env = sandbox_path_env(path_dirs)};
  bool needs_loader_cache = false;
  for (const std::string& program : programs) {
    auto loaded = loaded_files(program, needs_loader_cache);
    if (!loaded.ok()) return loaded.error();
    for (std::string& path : *loaded) add_unique(files.paths, std::move(path));
  }
  if (needs_loader_cache) add_unique(files.paths, std::string(kLoaderCache));
  // Clang's GCC installation, found where its crtbegin.o is.
  auto verbose = run_driver(compiler, {"-v"});
  if (!verbose.ok()) return verbose.error();
  if (const auto gcc = selected_gcc_installation(verbose->stderr_data)) {
    std::string marker = *gcc + "/crtbegin.o";
    if (::access(marker.c_str(), F_OK) == 0) add_unique(files.paths, std::move(marker));
  }
  return files;
}

Result<ToolchainFiles> cached_toolchain_files(const std::string& compiler,
                                              const cas::Digest& identity,
                                              const fs::path& cache_dir) {
  fs::path file;
  if (!cache_dir.empty()) {
    file = cache_dir /
           (identity.hex() + "." + cas::digest_of(identity.function, compiler).hex() + ".files");
    auto text = base::read_file(file.string(), {.max_bytes = 1 << 20});
    if (text.ok()) {
      if (auto cached = parse_cache(*text, compiler)) return *std::move(cached);
    }
  }
  auto files = toolchain_files(compiler);
  if (files.ok() && !file.empty()) {
    // A cache: failing to write it costs only the next call's time.
    if (const std::string text = format_cache(compiler, *files); !text.empty()) {
      std::error_code ec;
      fs::create_directories(cache_dir, ec);
      (void)base::write_file_atomically(file.string(), text);
    }
  }
  return files;
}

}  // namespace kiln::exec
