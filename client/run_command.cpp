// `kiln run`: see run_command.h. The pipeline, top to bottom:
//   describe inputs → compose the input root → store Command and Action
//   → action-cache lookup → (miss) execute → write outputs → replay output.
#include "client/run_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>

#include "cas/tree.h"
#include "client/input_files.h"
#include "client/local_store.h"
#include "client/recorder.h"

namespace kiln::client {
namespace {

namespace fs = std::filesystem;

enum RunExit : int {
  kExitTimedOut = 124,
  kExitKilnFailed = 125,
  kExitCannotRun = 126,
  kExitCommandNotFound = 127
};

struct RunOptions {
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<std::string> output_dirs;
  std::vector<std::string> platform;
  std::vector<std::string> env;
  double timeout_s = 0;
  bool no_cache = false;
  std::vector<std::string> command;
};

std::vector<std::string> sorted_paths(const fs::path& cwd, const std::vector<std::string>& given,
                                      const char* what) {
  std::set<std::string> paths;
  for (const std::string& g : given) paths.insert(path_inside(cwd, g, what));
  return {paths.begin(), paths.end()};
}

std::string blob_text(cas::Store& store, const cas::Digest& digest) {
  if (digest.size == 0) return {};
  auto blob = check(store.get(digest));
  if (!blob)
    throw CommandError(kExitKilnFailed,
                       "output blob " + digest.to_string() + " is missing from the store");
  return *blob;
}

// Replaces `path` (relative to cwd) with a file from the store, atomically.
void write_output_file(cas::Store& store, const fs::path& cwd, const cas::OutputFile& output) {
  const fs::path target = cwd / output.path;
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  const int dir_fd = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    throw CommandError(kExitKilnFailed, "cannot open " + target.parent_path().string());
  const std::string temp =
      "." + target.filename().string() + ".kiln-tmp." + std::to_string(::getpid());
  ::unlinkat(dir_fd, temp.c_str(), 0);
  auto written = store.write_blob_to(output.digest, dir_fd, temp, output.executable);
  const bool ok = written.ok() && *written &&
                  ::renameat(dir_fd, temp.c_str(), dir_fd, target.filename().c_str()) == 0;
  if (!ok) ::unlinkat(dir_fd, temp.c_str(), 0);
  ::close(dir_fd);
  if (!ok) throw CommandError(kExitKilnFailed, "cannot write output " + output.path);
}

// Replaces the directory at `path` with the stored tree.
void write_output_directory(cas::Store& store, const fs::path& cwd,
                            const cas::OutputDirectory& output) {
  const fs::path target = cwd / output.path;
  const fs::path temp = target.parent_path() / ("." + target.filename().string() + ".kiln-tmp." +
                                                std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(temp, ec);
  fs::create_directories(temp, ec);
  check(cas::materialize_tree(store, output.tree_digest, temp), "output directory " + output.path);
  fs::remove_all(target, ec);
  fs::rename(temp, target, ec);
  if (ec)
    throw CommandError(kExitKilnFailed,
                       "cannot write output directory " + output.path + ": " + ec.message());
}

// The journal's record of the action: kind "run", the program as subject.
void record_run(Context& ctx, Recorder& recorder, const RunOptions& opts, const fs::path& cwd,
                const cas::Digest& action_digest, const exec::ExecutedAction& executed, bool hit,
                std::int64_t started, std::int64_t looked_up) {
  if (!recorder.enabled()) return;
  ActionRecord r;
  r.kind = "run";
  r.subject = opts.command.front();
  r.cached = hit || executed.cached;
  r.outcome = r.cached ? "cached" : executed.result.exit_code == 0 ? "executed" : "failed";
  const std::string& worker = executed.result.metadata.worker_id;
  r.where = worker.empty() ? "local" : worker;
  r.scheduler = ctx.config.scheduler();
  r.digest_function = std::string(cas::to_string(action_digest.function));
  r.action_digest = action_digest.to_string();
  r.command = opts.command;
  r.cwd = cwd.string();
  for (const auto& output : executed.result.output_files) {
    r.outputs.push_back({output.path, output.digest.to_string()});
  }
  r.exit_code = executed.result.exit_code;
  r.start_us = started;
  r.end_us = wall_clock_us();
  r.phases.push_back({"lookup", started, looked_up});
  // A cached result's times are of the run that made it, not this one.
  if (!r.cached) {
    for (Phase& p : executed_phases(executed.result.metadata)) r.phases.push_back(std::move(p));
  }
  recorder.record(std::move(r));
}

int run(Context& ctx, const RunOptions& opts, const ExecutorFactory& make_executor) {
  const std::int64_t started = wall_clock_us();
  Recorder recorder(ctx.config, {}, [&ctx](const std::string& line) {
    ctx.err << "kiln: warning: " << line << '\n';
  });
  const fs::path cwd = fs::current_path();
  auto store = open_local_store(ctx);
  const cas::DigestFunction fn = store->digest_function();

  cas::Command command;
  command.arguments = opts.command;
  command.environment = command_environment(ctx, opts.env);
  command.output_files = sorted_paths(cwd, opts.outputs, "output");
  command.output_directories = sorted_paths(cwd, opts.output_dirs, "output directory");
  command.platform = command_platform(opts.platform);
  const std::string command_bytes = check(cas::encode_command(command), "command");

  cas::Action action;
  action.command_digest = check(store->put(command_bytes));
  action.input_root_digest = build_input_root(*store, cwd, opts.inputs);
  action.timeout_ms = static_cast<std::uint64_t>(std::llround(opts.timeout_s * 1000));
  action.do_not_cache = opts.no_cache;
  const std::string action_bytes = check(cas::encode_action(action, fn), "action");
  const cas::Digest action_digest = check(store->put(action_bytes));

  exec::ExecutedAction executed;
  bool hit = false;
  if (!opts.no_cache) {
    if (auto cached = check(store->get_action_result(action_digest))) {
      auto decoded =
          cas::decode_action_result(std::as_bytes(std::span(cached->data(), cached->size())), fn);
      if (decoded.ok()) {
        executed.result = std::move(decoded).value();
        hit = true;
      } else {
        ctx.err << "kiln: warning: ignoring a malformed cached result: " << decoded.error().message
                << '\n';
      }
    }
  }
  const std::int64_t looked_up = wall_clock_us();
  if (!hit) {
    const Invocation& invocation = recorder.invocation();
    auto executor = make_executor(
        ctx, *store,
        grid::ActionTag{invocation.id, invocation.labels, "run", opts.command.front()});
    auto outcome = executor->execute(action_digest, action);
    if (!outcome.ok()) {
      const Error& e = outcome.error();
      const int code = e.code == Errc::kNotFound           ? kExitCommandNotFound
                       : e.code == Errc::kPermissionDenied ? kExitCannotRun
                                                           : kExitKilnFailed;
      throw CommandError(code, e.message);
    }
    executed = std::move(outcome).value();
  }

  record_run(ctx, recorder, opts, cwd, action_digest, executed, hit, started, looked_up);
  for (const auto& output : executed.result.output_files) write_output_file(*store, cwd, output);
  for (const auto& output : executed.result.output_directories)
    write_output_directory(*store, cwd, output);
  const std::string out = blob_text(*store, executed.result.stdout_digest);
  const std::string err = blob_text(*store, executed.result.stderr_digest);
  ctx.out.write(out.data(), static_cast<std::streamsize>(out.size()));
  ctx.out.flush();
  ctx.err.write(err.data(), static_cast<std::streamsize>(err.size()));
  ctx.err.flush();

  if (executed.timed_out) {
    throw CommandError(kExitTimedOut,
                       "command timed out after " + std::to_string(opts.timeout_s) + " s");
  }
  if (!executed.missing_outputs.empty() && executed.result.exit_code == 0) {
    throw CommandError(kExitFailure, "declared output '" + executed.missing_outputs.front() +
                                         "' was not produced");
  }
  return executed.result.exit_code;
}

}  // namespace

std::function<int(Context&)> add_run_command(CLI::App& app, ExecutorFactory make_executor) {
  auto opts = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run any command as a cached action");
  cmd->add_option("-i,--input", opts->inputs, "An input file or directory (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", opts->outputs, "An output file the command writes (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--output-dir", opts->output_dirs,
                  "An output directory the command writes (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--platform", opts->platform,
                  "A required worker property NAME=VALUE (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--env", opts->env,
                  "Pass NAME (from here) or NAME=VALUE to the command (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--timeout", opts->timeout_s, "Kill the command after this many seconds")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-cache", opts->no_cache, "Neither look up nor store the result");
  // Everything from the first non-option argument (or after "--") is the
  // command, options included.
  cmd->prefix_command();
  cmd->footer("The command follows the options, after an optional '--'.");
  return [opts, make_executor, cmd](Context& ctx) {
    opts->command = cmd->remaining();
    if (!ctx.after_dashes.empty()) {
      if (!opts->command.empty()) {
        throw CommandError(kExitUsage,
                           "kiln run: unexpected '" + opts->command.front() + "' before '--'");
      }
      opts->command = ctx.after_dashes;
    }
    if (opts->command.empty())
      throw CommandError(kExitUsage,
                         "kiln run: no command given (kiln run [OPTIONS] -- COMMAND ARGS...)");
    return run(ctx, *opts, make_executor);
  };
}

}  // namespace kiln::client
