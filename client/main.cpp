// The `kiln` command. main() wires configuration, the command-line parser
// and the subcommands together, and is the one place that turns a failure
// into "kiln: error: <what>" and an exit code (client/cli.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "base/files.h"
#include "cas/model.h"
#include "client/cas_command.h"
#include "client/cli.h"
#include "client/config.h"
#include "client/grid/options.h"
#include "client/grid_link.h"
#include "client/insight_command.h"
#include "client/launcher/launcher.h"
#include "client/launcher/stats_command.h"
#include "client/local_sandbox.h"
#include "client/run_command.h"
#include "client/testing/command.h"
#include "client/trace_command.h"
#include "exec/fallback_executor.h"
#include "exec/local_executor.h"

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
  auto text = base::read_file_if_exists(path, {.max_bytes = 1 << 20});
  if (!text.ok()) {
    throw CommandError(kExitUsage, "config file: " + text.error().message);
  }
  return std::move(*text).value_or("");
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

Context load_context(std::vector<std::string> after_dashes, const std::string& dir,
                     const std::string& scheduler, std::string* config_path_out) {
  auto environment = read_environment();
  const std::string config_path = config_file_path(environment);
  std::map<std::string, std::string> overrides;
  if (!dir.empty()) overrides["dir"] = dir;
  if (!scheduler.empty()) overrides["scheduler"] = scheduler;
  auto config = Config::load(environment, read_config_file(config_path), config_path, overrides);
  if (!config.ok()) throw CommandError(kExitUsage, config.error().message);
  if (config_path_out != nullptr) *config_path_out = config_path;
  return Context{std::move(environment), std::move(after_dashes), std::move(config).value(),
                 std::cout, std::cerr};
}

bool is_subcommand(std::string_view word) {
  return word == "cas" || word == "run" || word == "test" || word == "up" || word == "status" ||
         word == "config" || word == "keygen" || word == "explain" || word == "provenance" ||
         word == "trace";
}

// `kiln gcc …`, kiln under another name (a symlink called gcc), and
// ccache's options -s, -z, -C, -M SIZE (with --json): nullopt when argv is
// none of those, a subcommand instead.
std::optional<int> run_launcher_forms(int argc, char** argv, const GridLink& grid) {
  // The compiler launcher takes every argument as the compiler's.
  const std::string self = std::filesystem::path(argv[0]).filename().string();
  if (self.rfind("kiln", 0) != 0) {
    std::vector<std::string> compile(argv, argv + argc);
    compile[0] = self;
    Context ctx = load_context({}, {}, {}, nullptr);
    return launcher::run_launcher(ctx, compile, grid.access);
  }
  if (argc > 1 && argv[1][0] != '-' && !is_subcommand(argv[1])) {
    Context ctx = load_context({}, {}, {}, nullptr);
    return launcher::run_launcher(ctx, std::vector<std::string>(argv + 1, argv + argc),
                                  grid.access);
  }
  if (argc > 1 && launcher::is_cache_option(argv[1])) {
    std::string config_path;
    Context ctx = load_context({}, {}, {}, &config_path);
    return launcher::run_cache_options(ctx, std::vector<std::string>(argv + 1, argv + argc),
                                       config_path);
  }
  return std::nullopt;
}

// `kiln config`: every key, its value and where it came from.
int show_config(Context& ctx, const std::string& config_path) {
  ctx.out << "# config file: " << config_path << '\n';
  for (const ConfigKey& key : config_keys()) {
    const ConfigValue& value = ctx.config.entry(key.name);
    ctx.out << key.name << " = " << value.value << "    # " << source_name(value.source) << "; "
            << key.env << "; " << key.help << '\n';
  }
  return kExitOk;
}

// The executor `kiln run` uses: the embedded default unless a scheduler is
// configured (then this is kiln-grid: kiln has handed over before opening
// the store), and this machine again when that grid is unavailable.
ExecutorFactory run_executor(const GridLink& grid) {
  return [&grid](Context& ctx, cas::Store& store,
                 const grid::ActionTag& tag) -> std::unique_ptr<exec::ActionExecutor> {
    auto local = [&ctx, &store]() -> std::unique_ptr<exec::ActionExecutor> {
      return std::make_unique<exec::LocalExecutor>(
          store, exec::LocalExecutorOptions{.work_root = ctx.config.dir() / "sandbox",
                                            .sandbox = make_local_sandbox(ctx)});
    };
    if (!ctx.config.has_scheduler()) return local();
    auto options = check(grid::grid_options(ctx.config, grid::GridUse::kAction), "the grid");
    options.tag = tag;
    return std::make_unique<exec::FallbackExecutor>(
        grid.access.make_executor(store, options), local, [&ctx](const std::string& why) {
          ctx.err << "kiln: warning: the grid is unavailable (" << why << "); running here\n";
        });
  };
}

// Everything after the first "--" is a command to run, never options: it
// goes to `after_dashes`, and the parser sees argv up to it.
int split_at_dashes(int argc, char** argv, std::vector<std::string>& after_dashes) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--") {
      after_dashes.assign(argv + i + 1, argv + argc);
      return i;
    }
  }
  return argc;
}

int run(int argc, char** argv) {
  // The grid client: in-process (kiln-grid), or a handover to it (kiln).
  // First: it takes the hand-over record out of the environment.
  const GridLink grid = grid_link(argv);
  if (auto code = run_launcher_forms(argc, argv, grid)) return *code;

  CLI::App app{"kiln: content-addressed build and test execution"};
  app.set_version_flag("--version", "kiln 0.1.0");
  app.require_subcommand(1);
  app.footer(
      "Compiler launcher: kiln COMPILER ARGS... (or a symlink named like the compiler).\n"
      "Cache statistics: kiln -s [--json] | -z | -C | -M SIZE (see docs/launcher.md).");
  std::string dir;
  std::string scheduler;
  app.add_option("-d,--dir", dir, "Cache directory (overrides KILN_DIR and the config file)");
  app.add_option("--scheduler", scheduler, "Scheduler endpoint (overrides KILN_SCHEDULER)");
  auto run_cas = add_cas_command(app);
  auto run_run = add_run_command(app, run_executor(grid));
  auto run_up = grid::add_up_command(app, grid.up);
  auto run_status = grid::add_status_command(app, grid.status);
  auto run_keygen = grid::add_keygen_command(app, grid.keygen);
  auto run_test_cmd = testing::add_test_command(app, grid.test);
  auto run_explain = add_explain_command(app);
  auto run_provenance_cmd = add_provenance_command(app, grid.provenance);
  auto run_trace = add_trace_command(app);
  CLI::App* config_cmd =
      app.add_subcommand("config", "Show every setting, its value and where it came from");

  std::vector<std::string> after_dashes;
  const int parsed_argc = split_at_dashes(argc, argv, after_dashes);
  try {
    app.parse(parsed_argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    throw CommandError(kExitUsage, std::string(e.what()) + " (see kiln --help)");
  }

  std::string config_path;
  Context ctx = load_context(std::move(after_dashes), dir, scheduler, &config_path);
  if (config_cmd->parsed()) return show_config(ctx, config_path);
  if (app.got_subcommand("run")) {
    if (ctx.config.has_scheduler() && !grid.access.make_executor) {
      grid.access.handoff(std::nullopt);  // before the store is opened
    }
    return run_run(ctx);
  }
  if (app.got_subcommand("up")) return run_up(ctx);
  if (app.got_subcommand("status")) return run_status(ctx);
  if (app.got_subcommand("keygen")) return run_keygen(ctx);
  if (app.got_subcommand("test")) return run_test_cmd(ctx);
  if (app.got_subcommand("explain")) return run_explain(ctx);
  if (app.got_subcommand("provenance")) return run_provenance_cmd(ctx);
  if (app.got_subcommand("trace")) return run_trace(ctx);
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
