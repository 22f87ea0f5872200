// The host files a compiler needs to run `COMPILER -c` besides the sources
// and headers: what a hermetic sandbox, which shows nothing of the host but
// an input tree, must hold for the compile to come out as it does here.
//
//   - the compiler as invoked (a symlink chain is kept: RootedFiles
//     reproduces it) and the programs it runs for -c, where
//     -print-prog-name names them (driver_program(), shared with the
//     toolchain identity): GCC's cc1, cc1plus and as; Clang compiles and
//     assembles itself, and names only as (for -fno-integrated-as);
//   - for each of them, its ELF interpreter and every shared library it
//     loads, transitively, as the loader finds them;
//   - for Clang, the selected GCC installation's crtbegin.o (`clang -v`,
//     "Selected GCC installation: DIR"): Clang picks a GCC installation,
//     and with it the libstdc++ headers, only where that file exists.
//
// Libraries are listed by each program's own ELF interpreter (PT_INTERP),
// run as `LD_TRACE_LOADED_OBJECTS=1 INTERP --inhibit-cache PROGRAM`: what
// ldd does, without ldd's shell script. The loader itself applies
// DT_NEEDED, RPATH/RUNPATH with $ORIGIN, the glibc-hwcaps subdirectories
// and its default directories, which parsing DT_NEEDED here would only
// approximate. The cache is inhibited because the sandbox has no
// /etc/ld.so.cache: the answer is the one the loader will give there. When
// a library is found only through the cache, the listing is taken with it
// and /etc/ld.so.cache joins the files (not always: that file changes
// whenever a library is installed on the machine, and would change every
// compile's input root with it). The listing is the loader's only: what a
// program dlopen()s (GCC's iconv modules for -finput-charset, plugins) is
// not in it. The loader must be glibc's.
//
// Only the compiler's path is an input: options that pick other programs
// or another GCC installation (-B, --gcc-toolchain, --target, -m32) are
// not taken into account.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"

namespace kiln::exec {

struct ToolchainFiles {
  // Absolute paths as the host names them, each once, the compiler first:
  // for RootedFiles::add_file.
  std::vector<std::string> paths;
  // The PATH the compile must run with in the sandbox for the driver to
  // find its programs: "/usr/local/bin:/usr/bin:/bin", preceded by the
  // directory of any program found on PATH elsewhere.
  std::string path_env;

  bool operator==(const ToolchainFiles&) const = default;
};

// What `compiler` (an absolute path, maybe a symlink) needs to compile with
// -c. Runs the driver (-print-prog-name, -v) and each program's ELF
// interpreter, so it takes tens of milliseconds: see
// cached_toolchain_files(). Fails with kInvalidArgument for a relative path
// or a program that is not ELF (a script), kNotFound when the compiler is
// missing or a library cannot be found, kIo when a listing fails.
Result<ToolchainFiles> toolchain_files(const std::string& compiler);

// The same, kept in `cache_dir` under the toolchain identity (identity
// hex + the compiler path's digest + ".files": two names of one compiler
// differ in their symlinks and Clang's GCC installation path). A cached
// answer is used while every file it lists has the device, inode, size and
// mtime it had (a library upgrade replaces files); a missing, stale or
// corrupt one is computed again and written atomically. A cache that cannot
// be written is ignored. Fails as toolchain_files().
Result<ToolchainFiles> cached_toolchain_files(const std::string& compiler,
                                              const cas::Digest& identity,
                                              const std::filesystem::path& cache_dir);

// The pure parts, for the tests.

// What a loader's listing (ldd, or `ld.so --list`) names: `paths`, each
// absolute or as the loader gave it, in order ("NAME => PATH (ADDR)" and
// "PATH (ADDR)" lines; the vDSO, which has no file, is left out), and the
// names it could not find ("NAME => not found").
struct LoaderListing {
  std::vector<std::string> paths;
  std::vector<std::string> missing;
};
LoaderListing parse_loader_listing(std::string_view text);

// The directory after "Selected GCC installation: " in a driver's -v
// output (Clang's), or nullopt.
std::optional<std::string> selected_gcc_installation(std::string_view verbose_output);

// The PT_INTERP of the ELF image that starts with `head` (its first bytes:
// the headers and the interpreter's name must lie in them), nullopt for a
// static program. 32- and 64-bit, either byte order. kInvalidArgument when
// it is not ELF or is cut short.
Result<std::optional<std::string>> elf_interpreter(std::string_view head);

// base::kDefaultPath preceded by each of `dirs` not already in it, once.
std::string sandbox_path_env(const std::vector<std::string>& dirs);

}  // namespace kiln::exec
