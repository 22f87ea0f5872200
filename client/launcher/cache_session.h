// One launcher invocation's use of the local cache, shared by the compile
// and the link paths (compile.cpp, link.cpp): the store, the compiler's
// identity, the base-directory rewrite, manifests, file digests, and the
// KILN_LOGFILE lines. The explicit context of ccache's `Context`, for one
// command: made by the job, set up once, used by its steps.
//
// Manifests (compile_key.h): a manifest key names a list of entries; an
// entry matches when every file it lists still has its digest, checked by
// stat first (a file whose recorded stat is unchanged, ctime included, has
// the content hashed then) and by hashing otherwise.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "cas/model.h"
#include "cas/store.h"
#include "client/cli.h"
#include "client/journal.h"
#include "client/launcher/compile_key.h"

namespace kiln::client::launcher {

// Appends "[pid] <line>" to KILN_LOGFILE; nothing when it is not set.
void append_log(const Config& config, std::string_view line);

// Passes what the compiler printed on to our stdout or stderr, as it was.
void write_output(int fd, std::string_view data);

// The file's contents; nullopt when it cannot be read (the caller falls
// back to something that reports the problem properly).
std::optional<std::string> read_file_or_none(const std::string& path);

// A file name under the cache's tmp/ for one invocation's scratch files
// (a dependency file, preprocessed text), removed on destruction.
class TempPath {
 public:
  TempPath(const std::filesystem::path& dir, const std::string& suffix);
  ~TempPath();
  TempPath(TempPath&& other) noexcept;
  TempPath& operator=(TempPath&&) = delete;
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

class CacheSession {
 public:
  // `compiler` is the resolved path; `subject` names the command in the
  // log (the source, or the linked output).
  CacheSession(Context& ctx, std::string compiler, std::string subject);

  // Opens the store, creates <dir>/tmp, and works out the compiler's
  // identity (or takes `known_identity`, which kiln worked out before
  // handing over), the working directory and the base-directory rewrite.
  // Fails with kInvalidArgument for a bad setting (a usage error), any
  // other code when the cache cannot be used (compile without it).
  Status setup(const std::optional<cas::Digest>& known_identity = std::nullopt);

  Context& ctx() { return ctx_; }
  const Config& config() const { return ctx_.config; }
  const std::string& compiler() const { return compiler_; }
  const std::filesystem::path& dir() const { return dir_; }
  cas::Store& store() { return *store_; }
  // Closes the store (before this process is replaced).
  void close_store() { store_.reset(); }
  cas::DigestFunction fn() const { return fn_; }
  const cas::Digest& identity() const { return identity_; }
  const PathRewrite& rewrite() const { return rewrite_; }
  // The journal record's fields a compile and a link share: the digest
  // function, the compiler and its identity, the working directory.
  void describe(ActionRecord& record) const;
  bool readonly() const { return readonly_; }
  bool recache() const { return recache_; }

  // "[pid] <subject>: <line>" in KILN_LOGFILE.
  void log(const std::string& line) const;

  // The digest of the file's contents (remembered per path; with `content`,
  // read again and returned too); nullopt when it cannot be read.
  std::optional<cas::Digest> file_digest(const std::string& path, std::string* content = nullptr);
  // Whether every file of `entry` still has its recorded digest.
  bool entry_matches(const ManifestEntry& entry);
  // The action result under `key`; nullopt when absent or undecodable.
  std::optional<cas::ActionResult> lookup(const cas::Digest& key);
  // The manifest under `key`; nullopt when there is none or it is not
  // readable (logged).
  std::optional<Manifest> load_manifest(const cas::Digest& key);
  // Adds `entry` as the newest of the manifest under `key` (failures are
  // logged: the compile is simply not reusable in direct mode).
  void store_manifest_entry(const cas::Digest& key, ManifestEntry entry);

  // Hashes every file a compile or link read (the prerequisites of its .d),
  // in order. Sets *untrusted when one was modified after this invocation
  // started (it may have changed while the compiler read it; ccache's "file
  // too new") or, with `scan_time_macros`, uses __TIME__/__DATE__/
  // __TIMESTAMP__ (the output depends on more than the text): such a result
  // is not recorded in a manifest. Fails when the .d does not parse or a
  // file cannot be read.
  Result<std::vector<ManifestFile>> hash_deps(const std::string& deps_text, bool* untrusted,
                                              bool scan_time_macros = true);

  // A scratch file name under <dir>/tmp.
  TempPath temp_path(const std::string& suffix) const { return TempPath(dir_ / "tmp", suffix); }

 private:
  Context& ctx_;
  std::string compiler_;
  std::string subject_;
  std::filesystem::path dir_;
  std::unique_ptr<cas::Store> store_;
  cas::DigestFunction fn_ = cas::DigestFunction::kXxh3_128;
  cas::Digest identity_;
  PathRewrite rewrite_;
  bool readonly_ = false;
  bool recache_ = false;
  std::unordered_map<std::string, std::optional<cas::Digest>> digests_;
  std::chrono::system_clock::time_point invoked_ = std::chrono::system_clock::now();
};

}  // namespace kiln::client::launcher
