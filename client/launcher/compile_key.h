// The compiler launcher's cache keys and manifests: pure functions over
// strings, so every rule about what a key covers is unit-tested.
//
// Direct mode (a hit runs no preprocessor):
//   manifest key  = H(compiler identity, language, arguments that affect the
//                   output, source path and content, the environment
//                   variables that change compilation, and - only when the
//                   output embeds it - the working directory or the date)
//   manifest      = entries {every file the compile read, with its digest}
//                   -> result key; an entry matches when every file still
//                   has that digest
//   result key    = H(manifest key, the entry's files and digests) for a
//                   local compile, or the digest of the grid action that
//                   compiled the preprocessed source (remote and
//                   preprocessor mode), which any machine can compute.
//
// Base directory (KILN_BASEDIR): absolute paths under it enter keys and
// manifests relative to the working directory, so two checkouts of a tree
// hit each other's entries. What this means for -g is in docs/launcher.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cas/digest.h"
#include "cas/model.h"
#include "client/launcher/compiler_args.h"

namespace kiln::client::launcher {

// Environment variables that change what a compile produces (include paths,
// reproducibility dates, the language of diagnostics, the driver's search
// paths). Their values are part of every key.
const std::vector<std::string_view>& compile_environment_names();

// Appends the compile_environment_names() set in `environment` (may be
// null: none) to a Command's `out`, and sorts it by name, as a Command's
// environment must be.
void add_compile_environment(const std::map<std::string, std::string>* environment,
                             std::vector<cas::Property>& out);

// Base-directory rewriting. Both `basedir` and `cwd` are absolute and
// lexically normal; an empty basedir disables rewriting.
struct PathRewrite {
  std::string basedir;
  std::string cwd;

  // "/base/x/y" -> "<cwd to base>/x/y" (e.g. "../x/y"); other paths as given.
  // Sets *rewritten when it changed the path.
  std::string to_key(std::string_view path, bool* rewritten = nullptr) const;
  // The inverse for this cwd: a rewritten relative path back to an absolute
  // one (only the leading "../" steps are resolved, so "a/../b" survives).
  std::string from_key(std::string_view path) const;
  // An argument with paths in it: "/abs", "-I/abs", "-fdebug-prefix-map=/abs=x".
  std::string arg_to_key(std::string_view arg) const;
};

// `arg` with the path in it ("/abs", "-I/abs", "-fdebug-prefix-map=/abs=x")
// replaced by map(path); other arguments as they are.
std::string map_arg_paths(std::string_view arg,
                          const std::function<std::string(std::string_view)>& map);

// The directory GCC records as DW_AT_comp_dir for `cwd` under the
// -fdebug-prefix-map / -ffile-prefix-map options in `compiler_args` (the last
// matching map wins, as in GCC).
std::string mapped_directory(const std::string& cwd, const std::vector<std::string>& compiler_args);

struct TimeMacros {
  bool date = false;  // __DATE__
  bool time = false;  // __TIME__ or __TIMESTAMP__
};
TimeMacros scan_time_macros(std::string_view text);

// A header a source asks about with __has_include / __has_include_next
// ("x.h" or <x.h>, written literally; a macro argument is not seen).
struct HeaderProbe {
  std::string name;
  bool angled = false;
  bool operator==(const HeaderProbe&) const = default;
};
// Every literal probe in `text`. GCC's dependency list leaves out a header
// that is only probed, and a hermetic compile must still find it where the
// local one does (docs/launcher.md).
std::vector<HeaderProbe> scan_has_include(std::string_view text);

// The directories -I, -iquote, -isystem and -idirafter name in
// `preprocessor_args` (joined or separate), in order.
std::vector<std::string> include_dirs(const std::vector<std::string>& preprocessor_args);

struct DirectKeyInput {
  cas::Digest identity;
  const CompileArgs* args = nullptr;
  PathRewrite rewrite;
  // The whole environment (filtered here), not copied; may be null: none.
  const std::map<std::string, std::string>* environment = nullptr;
  cas::Digest source_digest;
  std::string date;  // "YYYY-MM-DD" when the source uses __DATE__, else ""
};
// The bytes whose digest is the manifest key.
std::string direct_key_material(const DirectKeyInput& input);

// One file a compile read: its path as it enters the manifest (after base
// directory rewriting; `rewritten` remembers that) and its digest.
// The file's identity on this machine when it was hashed, if it was then
// old enough to trust (see the launcher): a lookup that finds the same
// stat skips reading the file. All zero: unknown, always hash.
struct FileStat {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  bool known() const { return inode != 0 || mtime_ns != 0 || ctime_ns != 0; }
  bool operator==(const FileStat&) const = default;
};

struct ManifestFile {
  std::string path;
  bool rewritten = false;
  cas::Digest digest;
  FileStat stat;
  bool operator==(const ManifestFile&) const = default;
};

struct ManifestEntry {
  std::vector<ManifestFile> files;  // in the order the compiler listed them
  cas::Digest result;               // the action-cache key of the result
  bool operator==(const ManifestEntry&) const = default;
};

struct Manifest {
  std::vector<ManifestEntry> entries;  // newest first
  bool operator==(const Manifest&) const = default;
};

// At most this many entries are kept per manifest; the oldest go first.
inline constexpr std::size_t kMaxManifestEntries = 32;

std::string encode_manifest(const Manifest& manifest);
// nullopt for bytes that are not a manifest of this version (treated as a
// miss by the caller, never trusted).
std::optional<Manifest> decode_manifest(std::string_view text, cas::DigestFunction fn);

// Adds `entry` as the newest, dropping an older entry with the same files
// and trimming to kMaxManifestEntries.
void add_manifest_entry(Manifest& manifest, ManifestEntry entry);

// The result key of a local (depend-mode) compile.
std::string depend_result_material(const cas::Digest& manifest_key,
                                   const std::vector<ManifestFile>& files);

}  // namespace kiln::client::launcher
