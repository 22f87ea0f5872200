// kiln-worker: the worker daemon. main() parses the command line, wires
// spdlog into the agent's Logger, turns SIGTERM/SIGINT into
// Agent::request_stop() and runs the agent until it has drained.
//
// Signals without globals: SIGTERM and SIGINT are blocked in main() before
// any thread exists, so every thread (ZeroMQ's included) inherits the mask;
// one thread sigtimedwait()s for them and calls request_stop(). Children get
// a clean mask from the runner (posix_spawn).
//
// Exit codes:
//   0  stopped by SIGTERM/SIGINT (the first drains, a second kills the
//      running actions at once)
//   1  failure: the local store cannot be opened, the sandbox cannot work
//      here (bubblewrap missing, no user namespaces: --sandbox=none says
//      to run without), ZeroMQ failed
//   2  usage or configuration error
// Errors are one line on stderr: "kiln-worker: error: <what>".
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "base/log_spdlog.h"
#include "base/program_path.h"
#include "base/size.h"
#include "cas/store.h"
#include "exec/sandbox.h"
#include "exec/toolchain.h"
#include "proto/curve.h"
#include "proto/key_files.h"
#include "worker/agent.h"

namespace kiln::worker {
namespace {

enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// $XDG_CACHE_HOME/kiln or ~/.cache/kiln, as the client's cache directory.
std::filesystem::path cache_root() {
  const std::string xdg = env_or("XDG_CACHE_HOME", "");
  if (!xdg.empty()) return std::filesystem::path(xdg) / "kiln";
  return std::filesystem::path(env_or("HOME", "/tmp")) / ".cache" / "kiln";
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "worker";
  return name;
}

cas::Property parse_property(const std::string& text) {
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw UsageError("--platform wants NAME=VALUE, not '" + text + "'");
  }
  return {text.substr(0, equals), text.substr(equals + 1)};
}

// Calls request_stop() on each SIGTERM/SIGINT (the second one kills the
// running leases at once); returns when `done`.
void watch_signals(const sigset_t& signals, Agent& agent, const std::atomic<bool>& done,
                   spdlog::logger& log) {
  int seen = 0;
  const timespec tick{0, 200'000'000L};
  while (!done.load()) {
    siginfo_t info{};
    const int signal = ::sigtimedwait(&signals, &info, &tick);
    if (signal <= 0) continue;
    if (seen++ == 0) {
      log.info("signal {}: stopping (running leases may finish)", signal);
    } else {
      log.warn("signal {}: stopping now (running leases are killed)", signal);
    }
    agent.request_stop();
  }
}

std::optional<proto::CurveClientKeys> curve_keys(const std::string& key_file,
                                                 const std::string& scheduler_key, bool no_auth) {
  auto keys = proto::scheduler_client_keys(key_file, scheduler_key, no_auth);
  if (!keys.ok()) throw UsageError(keys.error().message);
  return *keys;
}

int run(int argc, char** argv) {
  CLI::App app{"kiln-worker: runs kiln actions leased by a kiln-scheduler"};
  app.set_version_flag("--version", "kiln-worker 0.1.0");
  app.footer(
      "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 failure, 2 usage error.\n"
      "SIGTERM/SIGINT: drain (finish running actions), a second one: stop now.\n"
      "The scheduler endpoint may also come from KILN_SCHEDULER_WORKER.\n");
  AgentOptions options;
  std::vector<std::string> platform;
  std::string store_dir;
  std::string work_dir;
  std::string max_size = "0";
  std::string file_cache_size = "4G";
  std::uint64_t heartbeat_ms = 1000;
  std::uint64_t drain_ms = 30000;
  std::string log_level = "info";
  std::string key_file;
  std::string scheduler_key;
  bool no_auth = false;
  std::string digest_function = "xxh3-128";
  std::string sandbox = "bubblewrap";
  std::vector<std::string> sandbox_paths;
  bool no_network = false;
  app.add_option("--scheduler", options.scheduler_endpoint,
                 "The scheduler's worker endpoint, e.g. tcp://host:7071")
      ->envname("KILN_SCHEDULER_WORKER")
      ->required();
  app.add_option("--id", options.worker_id, "Worker id (default: hostname-pid)");
  app.add_option("--slots", options.slots, "Actions run at once (default: number of cores)");
  app.add_option("--platform", platform,
                 "Extra platform property NAME=VALUE (repeatable; os and arch are automatic)");
  bool no_toolchains = false;
  app.add_flag("--no-toolchains", no_toolchains,
               "Do not advertise the compilers found on PATH (toolchain:PATH=IDENTITY)");
  app.add_option("--store", store_dir,
                 "Local store directory (default: ~/.cache/kiln/worker-<id>, or "
                 "worker-<hostname> without --id)");
  app.add_option("--work-dir", work_dir, "Where sandboxes are made (default: <store>/sandbox)");
  app.add_option("--max-size", max_size, "Local store size limit, e.g. 10G (0: none)");
  app.add_option("--file-cache-size", file_cache_size,
                 "Bound of <work dir>/.files, the shipped toolchains' and headers' files "
                 "(emptied past it; default 4G)");
  app.add_option("--heartbeat-ms", heartbeat_ms,
                 "Heartbeat interval in milliseconds (not longer than the scheduler's)")
      ->check(CLI::Range(std::uint64_t{10}, std::uint64_t{600000}));
  app.add_option("--drain-timeout-ms", drain_ms,
                 "On SIGTERM, how long running actions may finish before they are killed");
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  app.add_option("--key", key_file, "This worker's CURVE key file (kiln keygen)");
  app.add_option("--scheduler-key", scheduler_key,
                 "The scheduler's public key: Z85 text or its .pub file");
  app.add_flag("--no-auth", no_auth, "Plain TCP to a scheduler started with --no-auth");
  app.add_option("--digest-function", digest_function,
                 "Digest function of a new local store: the scheduler's (xxh3-128 or sha256)")
      ->check(CLI::IsMember({"xxh3-128", "sha256"}));
  app.add_option("--sandbox", sandbox,
                 "Where actions run: bubblewrap (own namespaces, the system read-only, no "
                 "network) or none (straight in their directory; only where bubblewrap cannot "
                 "work)")
      ->check(CLI::IsMember({"bubblewrap", "none"}));
  app.add_option("--sandbox-path", sandbox_paths,
                 "A host path the sandbox shows read-only besides /usr, /etc, /opt, ... "
                 "(repeatable; e.g. a compiler outside /usr)");
  app.add_option("--action-user", options.sandbox.action_user,
                 "Started as root: the user actions run as (default nobody)");
  app.add_flag("--no-network", no_network,
               "Refuse actions that ask for the network (platform network=on)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    throw UsageError(std::string(e.what()) + " (see kiln-worker --help)");
  }

  for (const std::string& text : platform) options.platform.push_back(parse_property(text));
  if (!no_toolchains) {
    // Compilers on PATH, by identity, so compiles run only where the same
    // compiler is (exec/toolchain.h).
    const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): before threads
    for (auto& property : exec::detect_toolchains(path != nullptr ? path : "/usr/bin:/bin",
                                                  cas::DigestFunction::kXxh3_128)) {
      options.platform.push_back(std::move(property));
    }
  }
  auto size = base::parse_size(max_size);
  if (!size.ok()) throw UsageError("--max-size: " + size.error().message);
  options.max_store_bytes = *size;
  auto cache_size = base::parse_size(file_cache_size);
  if (!cache_size.ok()) throw UsageError("--file-cache-size: " + cache_size.error().message);
  options.file_cache_bytes = *cache_size;
  options.curve = curve_keys(key_file, scheduler_key, no_auth);
  options.digest_function = *cas::parse_digest_function(digest_function);
  options.sandbox.kind = *exec::parse_sandbox_kind(sandbox);
  options.sandbox.read_only_paths.assign(sandbox_paths.begin(), sandbox_paths.end());
  options.sandbox.allow_network = !no_network;
  options.sandbox.search_path = env_or("PATH", std::string(base::kDefaultPath));
  options.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.drain_timeout = std::chrono::milliseconds(drain_ms);
  options.store_dir =
      !store_dir.empty()
          ? std::filesystem::path(store_dir)
          : cache_root() /
                ("worker-" + (options.worker_id.empty() ? host_name() : options.worker_id));
  if (!work_dir.empty()) options.work_root = work_dir;

  auto log = spdlog::stderr_color_mt("kiln-worker");
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%t] %v");
  log->set_level(spdlog::level::from_str(log_level == "warn" ? "warning" : log_level));

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const exec::SandboxKind sandbox_kind = options.sandbox.kind;
  auto agent = Agent::create(std::move(options), [log](LogLevel level, const std::string& text) {
    log->log(to_spdlog(level), text);
  });
  if (!agent.ok()) {
    if (agent.error().code == Errc::kInvalidArgument) throw UsageError(agent.error().message);
    if (agent.error().code == Errc::kUnavailable &&
        sandbox_kind == exec::SandboxKind::kBubblewrap) {
      throw std::runtime_error(agent.error().message +
                               "; start with --sandbox=none to run actions without a sandbox "
                               "(docs/security.md)");
    }
    throw std::runtime_error(agent.error().message);
  }
  std::atomic<bool> done{false};
  std::thread watcher([&] { watch_signals(signals, **agent, done, *log); });
  const Status status = (*agent)->run();
  done.store(true);
  watcher.join();
  if (!status.ok()) throw std::runtime_error(status.error().message);
  return kExitOk;
}

}  // namespace
}  // namespace kiln::worker

int main(int argc, char** argv) {
  try {
    return kiln::worker::run(argc, argv);
  } catch (const kiln::worker::UsageError& e) {
    std::cerr << "kiln-worker: error: " << e.what() << '\n';
    return kiln::worker::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "kiln-worker: error: " << e.what() << '\n';
    return kiln::worker::kExitFailure;
  }
}
