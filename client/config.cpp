// Layering of kiln's settings; see config.h. The file format is ccache's:
// one "key = value" per line, '#' starts a comment line, blank lines ignored.
#include "client/config.h"

#include <array>
#include <cstdlib>

namespace kiln::client {
namespace {

constexpr std::array kKeys = {
    ConfigKey{"dir", "KILN_DIR", "",
              "cache directory (default: $XDG_CACHE_HOME/kiln or ~/.cache/kiln)"},
    ConfigKey{"max_size", "KILN_MAXSIZE", "5G", "local cache size limit; 0 = unlimited"},
    ConfigKey{"scheduler", "KILN_SCHEDULER", "",
              "scheduler client endpoint, e.g. tcp://host:7010; empty = run everything here"},
    ConfigKey{"digest_function", "KILN_DIGEST_FUNCTION", "xxh3-128",
              "digest function of a new local store: xxh3-128 or sha256"},
};

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

const ConfigKey* find_key(std::string_view name) {
  for (const auto& key : kKeys) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::string lookup(const std::map<std::string, std::string>& env, const std::string& name) {
  const auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

}  // namespace

std::span<const ConfigKey> config_keys() { return kKeys; }

Result<Config> Config::load(const std::map<std::string, std::string>& environment,
                            std::string_view file_text, std::string_view file_name,
                            const std::map<std::string, std::string>& overrides) {
  Config config;
  for (const auto& key : kKeys) {
    config.values_[std::string(key.name)] =
        ConfigValue{std::string(key.fallback), ConfigSource::kDefault};
  }

  int line_number = 0;
  while (!file_text.empty()) {
    const auto newline = file_text.find('\n');
    const std::string_view raw = file_text.substr(0, newline);
    file_text =
        newline == std::string_view::npos ? std::string_view() : file_text.substr(newline + 1);
    ++line_number;
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const auto equals = line.find('=');
    const std::string where = std::string(file_name) + ":" + std::to_string(line_number);
    if (equals == std::string_view::npos) {
      return make_error(Errc::kInvalidArgument, where + ": expected 'key = value'");
    }
    const std::string_view name = trim(line.substr(0, equals));
    if (find_key(name) == nullptr) {
      return make_error(Errc::kInvalidArgument,
                        where + ": unknown key '" + std::string(name) + "'");
    }
    config.values_[std::string(name)] =
        ConfigValue{std::string(trim(line.substr(equals + 1))), ConfigSource::kFile};
  }

  for (const auto& key : kKeys) {
    const auto it = environment.find(std::string(key.env));
    if (it != environment.end()) {
      config.values_[std::string(key.name)] = ConfigValue{it->second, ConfigSource::kEnvironment};
    }
  }

  for (const auto& [name, value] : overrides) {
    if (find_key(name) == nullptr) {
      return make_error(Errc::kInvalidArgument, "unknown setting '" + name + "'");
    }
    config.values_[name] = ConfigValue{value, ConfigSource::kCommandLine};
  }

  if (config.values_["dir"].value.empty()) {
    config.values_["dir"].value = default_cache_dir(environment);
  }
  return config;
}

const ConfigValue& Config::entry(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) std::abort();  // a key missing from kKeys is a bug
  return it->second;
}

const std::string& Config::get(std::string_view name) const { return entry(name).value; }

std::string default_cache_dir(const std::map<std::string, std::string>& environment) {
  const std::string xdg = lookup(environment, "XDG_CACHE_HOME");
  if (!xdg.empty()) return xdg + "/kiln";
  const std::string home = lookup(environment, "HOME");
  return (home.empty() ? std::string("/tmp") : home) + "/.cache/kiln";
}

std::string config_file_path(const std::map<std::string, std::string>& environment) {
  const std::string explicit_path = lookup(environment, "KILN_CONFIG");
  if (!explicit_path.empty()) return explicit_path;
  const std::string xdg = lookup(environment, "XDG_CONFIG_HOME");
  if (!xdg.empty()) return xdg + "/kiln/kiln.conf";
  const std::string home = lookup(environment, "HOME");
  return (home.empty() ? std::string("/tmp") : home) + "/.config/kiln/kiln.conf";
}

}  // namespace kiln::client
