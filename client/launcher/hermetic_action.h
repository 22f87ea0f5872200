// The hermetic remote compile ("headers" mode, docs/launcher.md): the
// action ships the compiler, the programs it runs, their shared libraries,
// the source and every header at their absolute paths, and a worker runs
// the original compile command in a sandbox whose whole file system is that
// tree (platform input-root=filesystem, exec/sandbox.h). Because the
// compiler sees the same bytes at the same paths in the same working
// directory, the object is byte-identical to a local compile, `-g`
// included, and the diagnostics are the local compiler's, source excerpts
// and all. No worker needs the compiler installed.
//
// Pure, so every byte that enters the key is pinned by unit tests:
//   command    = the compiler as invoked, the preprocessor arguments, the
//                compiler arguments (each group in command-line order; GCC
//                and Clang record neither their relative order nor -o nor
//                the dependency-file options in the object), -x LANG when
//                given, -c SOURCE -o /.kiln-out/out.o; environment PATH
//                (the toolchain's) and the compile_environment_names()
//                that are set; working directory = the client's;
//                output .kiln-out/out.o; platform input-root=filesystem
//                plus the given properties (os, arch)
//   input root = every entry (files with their digests, directories,
//                symlinks) at its absolute path, and /.kiln-out
//   action     = the command's and the input root's digests
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/model.h"
#include "cas/tree.h"
#include "client/launcher/compiler_args.h"

namespace kiln::client::launcher {

// The object's path in a hermetic action's file system (as an output:
// without the leading '/').
inline constexpr const char* kHermeticObject = ".kiln-out/out.o";

// One entry of the shipped file system.
struct HermeticEntry {
  enum class Kind { kFile, kDirectory, kSymlink };
  Kind kind = Kind::kFile;
  std::string path;    // absolute and normalized
  cas::Digest digest;  // kFile
  bool executable = false;
  std::string target;  // kSymlink: relative
  bool operator==(const HermeticEntry&) const = default;
};

struct HermeticInput {
  std::string compiler;               // absolute, as invoked (argv[0] of the command)
  const CompileArgs* args = nullptr;  // source, language and the argument groups are used
  std::string cwd;                    // absolute
  std::string path_env;               // the PATH the driver finds its programs with
  // The whole environment (filtered here); may be null: none.
  const std::map<std::string, std::string>* environment = nullptr;
  std::vector<HermeticEntry> entries;   // the working directory among them
  std::vector<cas::Property> platform;  // besides input-root=filesystem
  cas::DigestFunction fn = cas::DigestFunction::kXxh3_128;
  // A directory (relocation_root()) whose paths enter the action as
  // /.kiln-base/...: in the entries, the arguments, the working directory.
  // The worker puts them back under the directory the request names
  // (wire.capnp ExecuteRequest.baseDir). Empty: none.
  std::string relocate{};
};

struct HermeticAction {
  std::string encoded_command;
  // Every Directory of the input root, encoded, by digest.
  cas::BuiltTree input_root;
  cas::Action action;
  std::string encoded_action;
  cas::Digest digest;  // the key of its result, locally and on the grid
};

// The toolchain's entries (the compiler, its programs and libraries) and
// the PATH it runs with, as the launcher keeps them per toolchain identity
// (<dir>/toolchains/<identity>.hermetic): a text file, one entry a line.
struct ToolchainEntries {
  std::string path_env;
  std::vector<HermeticEntry> entries;
  bool operator==(const ToolchainEntries&) const = default;
};
std::string format_toolchain_entries(const ToolchainEntries& toolchain);
// nullopt for anything but what format_toolchain_entries() writes (with
// digests of `fn`).
std::optional<ToolchainEntries> parse_toolchain_entries(std::string_view text,
                                                        cas::DigestFunction fn);

// Any checkout path (KILN_BASEDIR): the directory a hermetic compile's
// checkout is keyed relative to, so that a copy of the tree elsewhere makes
// the same action — the deepest directory holding the working directory
// and every path under `basedir` the compile names (entries and
// arguments), as the local cache's keys are relative to the working
// directory (compile_key.h). "" when nothing is to be relocated: no
// basedir, a working directory outside it, a compile whose object records
// a directory under it (-g whose DW_AT_comp_dir, after the prefix maps, is
// there: `comp_dir`), an environment variable naming a path there, or a
// symlink that points out of it.
std::string relocation_root(const HermeticInput& input, std::string_view basedir,
                            std::string_view comp_dir);

// Fails (kInvalidArgument) for an entry that is not absolute and
// normalized, two different entries at one path or one beneath a file or
// symlink, a relative working directory, a value that cannot be encoded.
Result<HermeticAction> hermetic_action(const HermeticInput& input);

}  // namespace kiln::client::launcher
