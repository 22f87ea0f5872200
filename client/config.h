// kiln's configuration: one key table, four sources.
//
// Every setting has one row in kKeys: its name in the config file, its
// KILN_* environment variable, its default and a one-line description.
// Precedence, highest first: command line > environment > config file >
// default. Pure: the caller reads the environment and the file and passes
// their contents in, so this is tested without touching the process.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kiln::client {

struct ConfigKey {
  std::string_view name;      // in the config file and for --set NAME=VALUE
  std::string_view env;       // environment variable
  std::string_view fallback;  // default, before expansion ("" = unset)
  std::string_view help;
};

// Every key kiln understands.
std::span<const ConfigKey> config_keys();

// Where a value came from, for `kiln config` and error messages.
enum class ConfigSource { kDefault, kFile, kEnvironment, kCommandLine };

struct ConfigValue {
  std::string value;
  ConfigSource source = ConfigSource::kDefault;
};

class Config {
 public:
  // Layers the sources. `environment` maps variable names to values (pass
  // what the process has); `file_text` is the config file's contents (may be
  // empty); `file_name` is used in error messages; `overrides` holds
  // command-line settings by key name. Fails with kInvalidArgument on an
  // unknown key or a malformed line in the file, naming file and line.
  static Result<Config> load(const std::map<std::string, std::string>& environment,
                             std::string_view file_text, std::string_view file_name,
                             const std::map<std::string, std::string>& overrides);

  // The value of a key from kKeys (aborts on a key not in the table: that is
  // a bug, not input).
  const std::string& get(std::string_view name) const;
  const ConfigValue& entry(std::string_view name) const;
  // A boolean key: "1", "true", "yes", "on" / "0", "false", "no", "off", "".
  // kInvalidArgument on anything else, naming the key.
  Result<bool> flag(std::string_view name) const;

 private:
  std::map<std::string, ConfigValue, std::less<>> values_;
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
