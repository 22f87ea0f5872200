// The `kiln` command. main() wires configuration, the command-line parser
// and the subcommands together, and is the one place that turns a failure
// into "kiln: error: <what>" and an exit code (client/cli.h).
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "client/cas_command.h"
#include "client/cli.h"
#include "client/config.h"

extern char** environ;  // NOLINT: POSIX's name for the process environment

namespace kiln::client {
namespace {

std::map<std::string, std::string> read_environment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    if (equals != std::string_view::npos) {
      env.emplace(text.substr(0, equals), text.substr(equals + 1));
    }
  }
  return env;
}

// The config file's text; a missing file is an empty configuration.
std::string read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return {};
    throw CommandError(kExitUsage, "cannot read config file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const char* source_name(ConfigSource source) {
  switch (source) {
    case ConfigSource::kDefault:
      return "default";
    case ConfigSource::kFile:
      return "config file";
    case ConfigSource::kEnvironment:
      return "environment";
    case ConfigSource::kCommandLine:
      return "command line";
  }
  return "?";
}

int run(int argc, char** argv) {
  CLI::App app{"kiln: content-addressed build and test execution"};
  app.set_version_flag("--version", "kiln 0.1.0");
  app.require_subcommand(1);
  std::string dir;
  app.add_option("-d,--dir", dir, "Cache directory (overrides KILN_DIR and the config file)");

  auto run_cas = add_cas_command(app);
  CLI::App* config_cmd =
      app.add_subcommand("config", "Show every setting, its value and where it came from");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    throw CommandError(kExitUsage, std::string(e.what()) + " (see kiln --help)");
  }

  const auto environment = read_environment();
  const std::string config_path = config_file_path(environment);
  std::map<std::string, std::string> overrides;
  if (!dir.empty()) overrides["dir"] = dir;
  auto config = Config::load(environment, read_config_file(config_path), config_path, overrides);
  if (!config.ok()) throw CommandError(kExitUsage, config.error().message);

  Context ctx{environment, std::move(config).value(), std::cout, std::cerr};
  if (config_cmd->parsed()) {
    ctx.out << "# config file: " << config_path << '\n';
    for (const ConfigKey& key : config_keys()) {
      const ConfigValue& value = ctx.config.entry(key.name);
      ctx.out << key.name << " = " << value.value << "    # " << source_name(value.source) << "; "
              << key.env << "; " << key.help << '\n';
    }
    return kExitOk;
  }
  return run_cas(ctx);
}

}  // namespace
}  // namespace kiln::client

int main(int argc, char** argv) {
  try {
    return kiln::client::run(argc, argv);
  } catch (const kiln::client::CommandError& e) {
    std::cerr << "kiln: error: " << e.what() << '\n';
    return e.code();
  } catch (const std::exception& e) {
    std::cerr << "kiln: error: " << e.what() << '\n';
    return kiln::client::kExitFailure;
  }
}
