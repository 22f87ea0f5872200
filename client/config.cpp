// Layering of kiln's settings; see config.h. The file format is ccache's:
// one "key = value" per line, '#' starts a comment line, blank lines ignored.
#include "client/config.h"

#include <array>
#include <charconv>
#include <cstdlib>
#include <vector>

#include "base/size.h"
#include "client/invocation.h"
#include "proto/keys.h"

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
    ConfigKey{"basedir", "KILN_BASEDIR", "",
              "launcher: absolute paths under this directory enter cache keys relative to the "
              "working directory, so copies of a tree at other paths share hits"},
    ConfigKey{"disable", "KILN_DISABLE", "false",
              "launcher: run the compiler straight, never touching the cache"},
    ConfigKey{"recache", "KILN_RECACHE", "false",
              "launcher: never look up; compile and store the result again"},
    ConfigKey{"readonly", "KILN_READONLY", "false",
              "launcher: look up only; a miss compiles but stores nothing"},
    ConfigKey{"logfile", "KILN_LOGFILE", "",
              "launcher: append one line per compile (what happened and why) to this file"},
    ConfigKey{"remote_timeout", "KILN_REMOTE_TIMEOUT", "10",
              "seconds to wait for an unreachable scheduler (and, for a compile, for each "
              "answer) before running here"},
    ConfigKey{"remote_mode", "KILN_REMOTE_MODE", "auto",
              "launcher: how a compile goes to the grid: headers (the compiler and every file it "
              "reads shipped, run at their own paths), preprocessed (preprocessed here), or auto "
              "(headers where a worker runs them; docs/launcher.md)"},
    ConfigKey{"scheduler_key", "KILN_SCHEDULER_KEY", "",
              "the scheduler's CURVE public key (Z85, or its .pub file); empty = the one kiln up "
              "recorded for this scheduler; 'none' = plain TCP (loopback only)"},
    ConfigKey{"client_key", "KILN_CLIENT_KEY", "",
              "this client's CURVE key file (kiln keygen); empty = the one kiln up recorded, "
              "else <config dir>/client.key"},
    ConfigKey{"sandbox", "KILN_SANDBOX", "auto",
              "where kiln run and kiln test run actions without a grid: bubblewrap, none, or "
              "auto (bubblewrap where it works)"},
    ConfigKey{"sandbox_paths", "KILN_SANDBOX_PATHS", "",
              "':'-separated host paths the sandbox shows read-only besides /usr, /etc, /opt, ..."},
    ConfigKey{"invocation_id", "KILN_INVOCATION_ID", "",
              "the build or test run this process belongs to (CI: its job id); empty = derived "
              "from the build tool above (client/invocation.h)"},
    ConfigKey{"labels", "KILN_LABELS", "",
              "NAME=VALUE,... linking the invocation to a work item and a commit, e.g. "
              "ticket=BANK-123,commit=4f2a9c1"},
    ConfigKey{"keep_invocations", "KILN_KEEP_INVOCATIONS", "100",
              "how many invocations' journals (kiln trace, kiln explain) the cache keeps"},
    ConfigKey{"journal", "KILN_JOURNAL", "true",
              "record every compile, link, test shard and kiln run in the local journal "
              "(kiln trace); false = write nothing"},
    ConfigKey{"journal_max_size", "KILN_JOURNAL_MAX_SIZE", "256M",
              "how much the journals of the kept invocations may take together (the oldest go "
              "first); 0 = no limit"},
    ConfigKey{"signing_key", "KILN_SIGNING_KEY", "",
              "Ed25519 key file (kiln keygen --signing) that signs kiln provenance; empty = "
              "unsigned statements"},
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

namespace {

// "remote_timeout: 'abc' is not a whole number of seconds (set by
// KILN_REMOTE_TIMEOUT)".
Error bad_value(std::string_view name, const ConfigValue& value, std::string_view why) {
  return make_error(Errc::kInvalidArgument, std::string(name) + ": '" + value.value + "' " +
                                                std::string(why) + " (set by " + value.origin +
                                                ")");
}

Result<bool> boolean(std::string_view name, const ConfigValue& value) {
  const std::string& v = value.value;
  if (v.empty() || v == "0" || v == "false" || v == "no" || v == "off") return false;
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  return bad_value(name, value, "is not a boolean (true/false, 1/0, yes/no)");
}

}  // namespace

Result<Config> Config::load(const std::map<std::string, std::string>& environment,
                            std::string_view file_text, std::string_view file_name,
                            const std::map<std::string, std::string>& overrides) {
  Config config;
  for (const auto& key : kKeys) {
    config.values_[std::string(key.name)] =
        ConfigValue{std::string(key.fallback), ConfigSource::kDefault, "default"};
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
        ConfigValue{std::string(trim(line.substr(equals + 1))), ConfigSource::kFile, where};
  }

  for (const auto& key : kKeys) {
    const auto it = environment.find(std::string(key.env));
    if (it != environment.end()) {
      config.values_[std::string(key.name)] =
          ConfigValue{it->second, ConfigSource::kEnvironment, std::string(key.env)};
    }
  }

  for (const auto& [name, value] : overrides) {
    if (find_key(name) == nullptr) {
      return make_error(Errc::kInvalidArgument, "unknown setting '" + name + "'");
    }
    config.values_[name] = ConfigValue{value, ConfigSource::kCommandLine, "the command line"};
  }

  if (config.values_["dir"].value.empty()) {
    config.values_["dir"].value = default_cache_dir(environment);
  }
  config.config_dir_ = std::filesystem::path(file_name).parent_path();
  if (auto checked = config.check_values(); !checked.ok()) return checked.error();
  return config;
}

// Every key's text to its typed value; the first bad one is the error.
Status Config::check_values() {
  dir_ = entry("dir").value;
  if (auto size = base::parse_size(entry("max_size").value); size.ok()) {
    max_size_ = *size;
  } else {
    return bad_value("max_size", entry("max_size"),
                     "is not a size (e.g. 500M, 10G; 0 = unlimited)");
  }
  scheduler_ = entry("scheduler").value;
  if (!scheduler_.empty() && scheduler_.rfind("tcp://", 0) != 0 &&
      scheduler_.rfind("ipc://", 0) != 0) {
    return bad_value("scheduler", entry("scheduler"),
                     "is not a scheduler endpoint (tcp://HOST:PORT, as kiln up prints it)");
  }
  if (auto function = cas::parse_digest_function(entry("digest_function").value)) {
    digest_function_ = *function;
  } else {
    return bad_value("digest_function", entry("digest_function"), "is not xxh3-128 or sha256");
  }
  basedir_ = entry("basedir").value;
  for (auto [name, flag] : {std::pair{"disable", &disable_}, std::pair{"recache", &recache_},
                            std::pair{"readonly", &readonly_}, std::pair{"journal", &journal_}}) {
    auto value = boolean(name, entry(name));
    if (!value.ok()) return value.error();
    *flag = *value;
  }
  logfile_ = entry("logfile").value;
  scheduler_key_ = entry("scheduler_key").value;
  if (!scheduler_key_.empty() && scheduler_key_ == "none" && !scheduler_.empty() &&
      !proto::is_loopback_endpoint(scheduler_)) {
    return bad_value("scheduler_key", entry("scheduler_key"),
                     "(plain TCP) is for a scheduler on this machine only, not " + scheduler_);
  }
  client_key_ = entry("client_key").value;
  const ConfigValue& timeout = entry("remote_timeout");
  std::uint64_t seconds = 0;
  const auto [end, ec] =
      std::from_chars(timeout.value.data(), timeout.value.data() + timeout.value.size(), seconds);
  if (timeout.value.empty() || ec != std::errc() ||
      end != timeout.value.data() + timeout.value.size() || seconds > 86400) {
    return bad_value("remote_timeout", timeout, "is not a whole number of seconds (0 to 86400)");
  }
  remote_timeout_ = std::chrono::seconds(seconds);
  const ConfigValue& mode = entry("remote_mode");
  if (mode.value == "auto") {
    remote_mode_ = RemoteMode::kAuto;
  } else if (mode.value == "headers") {
    remote_mode_ = RemoteMode::kHeaders;
  } else if (mode.value == "preprocessed") {
    remote_mode_ = RemoteMode::kPreprocessed;
  } else {
    return bad_value("remote_mode", mode, "is not auto, headers or preprocessed");
  }
  invocation_id_ = entry("invocation_id").value;
  if (!invocation_id_.empty()) {
    if (auto checked = check_invocation_id(invocation_id_); !checked.ok()) {
      return bad_value("invocation_id", entry("invocation_id"), checked.error().message);
    }
  }
  if (auto labels = parse_labels(entry("labels").value); labels.ok()) {
    labels_ = std::move(labels).value();
  } else {
    return bad_value("labels", entry("labels"), labels.error().message);
  }
  const ConfigValue& keep = entry("keep_invocations");
  const auto [keep_end, keep_ec] =
      std::from_chars(keep.value.data(), keep.value.data() + keep.value.size(), keep_invocations_);
  if (keep.value.empty() || keep_ec != std::errc() ||
      keep_end != keep.value.data() + keep.value.size() || keep_invocations_ < 1 ||
      keep_invocations_ > 100000) {
    return bad_value("keep_invocations", keep, "is not a whole number from 1 to 100000");
  }
  signing_key_ = entry("signing_key").value;
  if (auto size = base::parse_size(entry("journal_max_size").value); size.ok()) {
    journal_max_size_ = *size;
  } else {
    return bad_value("journal_max_size", entry("journal_max_size"),
                     "is not a size (e.g. 256M, 1G; 0 = no limit)");
  }
  const std::string& sandbox = entry("sandbox").value;
  if (sandbox == "auto") {
    sandbox_ = SandboxChoice::kAuto;
  } else if (sandbox == "bubblewrap") {
    sandbox_ = SandboxChoice::kBubblewrap;
  } else if (sandbox == "none") {
    sandbox_ = SandboxChoice::kNone;
  } else {
    return bad_value("sandbox", entry("sandbox"), "is not auto, bubblewrap or none");
  }
  sandbox_paths_.clear();
  const std::string& paths = entry("sandbox_paths").value;
  for (std::size_t start = 0; start < paths.size();) {
    const std::size_t colon = std::min(paths.find(':', start), paths.size());
    const std::string path = paths.substr(start, colon - start);
    if (!path.empty()) {
      if (path.front() != '/') {
        return bad_value("sandbox_paths", entry("sandbox_paths"),
                         "holds '" + path + "', which is not an absolute path");
      }
      sandbox_paths_.emplace_back(path);
    }
    start = colon + 1;
  }
  return {};
}

const ConfigValue& Config::entry(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) std::abort();  // a key missing from kKeys is a bug
  return it->second;
}

std::string with_config_value(std::string_view file_text, std::string_view name,
                              std::string_view value) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < file_text.size()) {
    std::size_t end = file_text.find('\n', start);
    if (end == std::string_view::npos) end = file_text.size();
    lines.emplace_back(file_text.substr(start, end - start));
    start = end + 1;
  }
  const std::string line = std::string(name) + " = " + std::string(value);
  bool replaced = false;
  for (auto it = lines.rbegin(); it != lines.rend() && !replaced; ++it) {
    const std::string_view text = trim(*it);
    const auto equals = text.find('=');
    if (!text.empty() && text.front() != '#' && equals != std::string_view::npos &&
        trim(text.substr(0, equals)) == name) {
      *it = line;
      replaced = true;
    }
  }
  if (!replaced) lines.push_back(line);
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

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
