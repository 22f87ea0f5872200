// Toolchain identity: what a compile's output depends on besides its inputs
// and arguments, as a digest that two machines can compare.
//
// A compiler's identity is the digest of its driver's bytes (the file the
// path resolves to) and of the programs it runs that shape the output: for
// GCC the compiler proper (cc1, cc1plus), and the assembler and linker (as,
// ld), each found with -print-prog-name (on PATH when it answers a bare
// name). Clang's driver is its own compiler. Headers and libraries are not
// part of it: the launcher covers them by content.
//
// The launcher looks the identity up on every compile, so it is cached in a
// directory, one small file per compiler path, valid while the driver's
// device, inode, size and mtime are unchanged. Workers advertise the
// identities of the compilers on their PATH as platform properties
// ("toolchain:/usr/bin/g++" = identity), so an action that names a compiler
// only runs where the same bytes sit at the same path.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/model.h"
#include "exec/runner.h"

namespace kiln::exec {

// The identity of the compiler at `compiler` (an absolute path). With a
// non-empty `cache_dir`, reuses and refreshes the cached answer there (a
// cache that cannot be written is ignored). kNotFound when the compiler does
// not exist.
Result<cas::Digest> toolchain_identity(const std::string& compiler, cas::DigestFunction fn,
                                       const std::filesystem::path& cache_dir);

// The platform property name under which a worker advertises `compiler`.
std::string toolchain_property(std::string_view compiler);

// The compilers found on `path_env` (a PATH value): gcc, g++, cc, c++, clang,
// clang++, with an optional target prefix and version suffix (e.g.
// x86_64-linux-gnu-g++-12), each as toolchain_property(path) = identity.
std::vector<cas::Property> detect_toolchains(std::string_view path_env, cas::DigestFunction fn);

// Whether a file name is one detect_toolchains() takes for a compiler.
bool is_compiler_name(std::string_view name);

// Runs `compiler ARGS...` the way kiln asks a driver about itself: this
// process's PATH, LC_ALL=C, from "/", for at most 10 s. Fails only when the
// driver cannot be started (run_command()).
Result<RunOutcome> run_driver(const std::string& compiler, const std::vector<std::string>& args);

// A program the driver at `compiler` runs, where `compiler
// -print-prog-name=PROGRAM` names it; a bare name (GCC's answer for the
// assembler and linker) is looked up on this process's PATH, as the driver
// itself would.
struct DriverProgram {
  std::string path;      // absolute and executable; empty when there is no such program
  bool on_path = false;  // found on PATH, not named by the driver with a directory
};
DriverProgram driver_program(const std::string& compiler, const std::string& program);

// The directories the compiler searches for <...> includes by default for
// `language` ("c", "c++"), from `compiler -x LANG -E -v /dev/null`; cached
// beside the identity. Headers found there are "system headers" (-MMD).
Result<std::vector<std::string>> system_include_dirs(const std::string& compiler,
                                                     const cas::Digest& identity,
                                                     const std::string& language,
                                                     const std::filesystem::path& cache_dir);

}  // namespace kiln::exec
