// kiln's configuration: one key table, four sources, read once.
//
// Every setting has one row in the key table (config.cpp): its name in the
// config file, its KILN_* environment variable, its default and a one-line
// description. Precedence, highest first: command line > environment >
// config file > default. Config::load layers the sources and checks every
// value against its key's type, so a bad value is an error that names the
// key and where it was set, never a silent default; the rest of kiln reads
// the typed getters.
//
// Pure: the caller reads the environment and the file and passes their
// contents in, so this is tested without touching the process.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cas/digest.h"

namespace kiln::client {

struct ConfigKey {
  std::string_view name;      // in the config file and for --set NAME=VALUE
  std::string_view env;       // environment variable
  std::string_view fallback;  // default, before expansion ("" = unset)
  std::string_view help;
};

// Every key kiln understands.
std::span<const ConfigKey> config_keys();

// Where actions run without a grid (exec/sandbox.h): bubblewrap where it
// works (kAuto), bubblewrap or else an error, or straight in their
// directory.
enum class SandboxChoice { kAuto, kBubblewrap, kNone };

// How the launcher sends a compile to the grid: the compiler and every file
// it reads, run at their own paths (kHeaders, any -g), the preprocessed
// text (kPreprocessed, no -g), or the launcher's choice (kAuto).
enum class RemoteMode { kAuto, kHeaders, kPreprocessed };

// Where a value came from, for `kiln config` and error messages.
enum class ConfigSource { kDefault, kFile, kEnvironment, kCommandLine };

struct ConfigValue {
  std::string value;
  ConfigSource source = ConfigSource::kDefault;
  // Where exactly, in words: "default", "kiln.conf:3", "KILN_DIR",
  // "the command line".
  std::string origin = "default";
};

class Config {
 public:
  // Layers the sources. `environment` maps variable names to values (pass
  // what the process has); `file_text` is the config file's contents (may be
  // empty); `file_name` is used in error messages; `overrides` holds
  // command-line settings by key name. Fails with kInvalidArgument on an
  // unknown key, a malformed line in the file (naming file and line), or a
  // value its key cannot take ("remote_timeout: 'abc' is not a whole number
  // of seconds (set by KILN_REMOTE_TIMEOUT)").
  static Result<Config> load(const std::map<std::string, std::string>& environment,
                             std::string_view file_text, std::string_view file_name,
                             const std::map<std::string, std::string>& overrides);

  // The text of a key and where it came from, for `kiln config` (aborts on
  // a key not in the table: that is a bug, not input).
  const ConfigValue& entry(std::string_view name) const;

  // The typed settings, each checked by load().
  const std::filesystem::path& dir() const { return dir_; }    // the cache directory
  std::uint64_t max_size() const { return max_size_; }         // bytes; 0 = unlimited
  const std::string& scheduler() const { return scheduler_; }  // "" = run everything here
  bool has_scheduler() const { return !scheduler_.empty(); }
  cas::DigestFunction digest_function() const { return digest_function_; }
  const std::string& basedir() const { return basedir_; }  // "" = no rewriting
  bool disable() const { return disable_; }
  bool recache() const { return recache_; }
  bool readonly() const { return readonly_; }
  const std::string& logfile() const { return logfile_; }  // "" = no log
  std::chrono::seconds remote_timeout() const { return remote_timeout_; }
  // How a compile goes to the grid (docs/launcher.md, "Remote compiles").
  RemoteMode remote_mode() const { return remote_mode_; }
  // Trust (docs/security.md): how to find the scheduler's public key and
  // this client's key file; "" = as `kiln up` recorded them
  // (client/grid/known_grid.h). scheduler_key "none" is plain TCP.
  const std::string& scheduler_key() const { return scheduler_key_; }
  const std::string& client_key() const { return client_key_; }
  SandboxChoice sandbox() const { return sandbox_; }
  // Host paths the sandbox shows read-only besides the system's (absolute).
  const std::vector<std::filesystem::path>& sandbox_paths() const { return sandbox_paths_; }
  // The invocation this process belongs to, when given (client/invocation.h):
  // "" = derive it.
  const std::string& invocation_id() const { return invocation_id_; }
  // Checked NAME=VALUE pairs, in the order given.
  const std::vector<std::pair<std::string, std::string>>& labels() const { return labels_; }
  // How many invocations' journals the cache keeps (client/journal.h).
  std::size_t keep_invocations() const { return keep_invocations_; }
  // How many bytes those journals may take together; 0 = no limit.
  std::uint64_t journal_max_size() const { return journal_max_size_; }
  // Whether kiln processes record what they did in the journal
  // (client/journal.h).
  bool journal() const { return journal_; }
  // The Ed25519 key that signs provenance statements; "" = unsigned.
  const std::string& signing_key() const { return signing_key_; }
  // The directory of the config file (where `kiln up` records its grids).
  const std::filesystem::path& config_dir() const { return config_dir_; }

 private:
  Status check_values();

  std::map<std::string, ConfigValue, std::less<>> values_;
  std::filesystem::path dir_;
  std::uint64_t max_size_ = 0;
  std::string scheduler_;
  cas::DigestFunction digest_function_ = cas::DigestFunction::kXxh3_128;
  std::string basedir_;
  bool disable_ = false;
  bool recache_ = false;
  bool readonly_ = false;
  std::string logfile_;
  std::chrono::seconds remote_timeout_{10};
  RemoteMode remote_mode_ = RemoteMode::kAuto;
  std::string scheduler_key_;
  std::string client_key_;
  SandboxChoice sandbox_ = SandboxChoice::kAuto;
  std::vector<std::filesystem::path> sandbox_paths_;
  std::filesystem::path config_dir_;
  std::string invocation_id_;
  std::vector<std::pair<std::string, std::string>> labels_;
  std::size_t keep_invocations_ = 100;
  std::uint64_t journal_max_size_ = 0;
  bool journal_ = true;
  std::string signing_key_;
};

// `file_text` with `name = value` set: the last line setting `name` is
// replaced, or a line is appended. Comments and other lines are kept.
std::string with_config_value(std::string_view file_text, std::string_view name,
                              std::string_view value);

// The default cache directory: $XDG_CACHE_HOME/kiln or $HOME/.cache/kiln.
std::string default_cache_dir(const std::map<std::string, std::string>& environment);
// The config file: $KILN_CONFIG, or $XDG_CONFIG_HOME/kiln/kiln.conf, or
// $HOME/.config/kiln/kiln.conf.
std::string config_file_path(const std::map<std::string, std::string>& environment);

}  // namespace kiln::client
