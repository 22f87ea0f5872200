// kiln-scheduler: the grid's broker as a daemon. main() wires the command
// line, logging (spdlog on stderr, through the Server's Logger) and signals
// (SIGTERM/SIGINT arrive on a signalfd the server polls: the first drains,
// a second stops at once) around scheduler::Server, and is the one place
// that turns a failure into "kiln-scheduler: error: <what>" and an exit
// code:
//   0  stopped cleanly (after a signal and the drain)
//   1  failed: the store could not be opened, an endpoint could not be
//      bound, the ready file could not be written, or the loop failed
//   2  usage: a bad option or value
//
// Default endpoints are loopback (tcp://127.0.0.1:7010 for clients, :7011
// for workers); serving a network is a choice made on the command line
// (--client-endpoint tcp://0.0.0.0:7010 --worker-endpoint
// tcp://0.0.0.0:7011). Every peer must present a CURVE key the authorized
// keys admit (--key, --authorized-keys; SIGHUP re-reads them); --no-auth is
// plain TCP, refused on anything but loopback (docs/security.md). Port 0
// picks a free port; --ready-file then tells the caller which (kiln up and
// the tests use it).
//
// --http-endpoint HOST:PORT serves the status pages, /metrics, /healthz and /ready (off by
// default: a second port is a choice, like a network is). Off loopback it
// needs --http-token-file, whose token clients send as a bearer token; the
// file is a secret like a key, so it must not be readable by others.
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include "base/files.h"
#include "base/log_spdlog.h"
#include "base/size.h"
#include "cas/store.h"
#include "proto/curve.h"
#include "proto/key_files.h"
#include "scheduler/server.h"

namespace kiln::scheduler {
namespace {

enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

class Failure : public std::runtime_error {
 public:
  Failure(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

std::string default_store_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/kiln/scheduler";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/tmp") + "/.cache/kiln/scheduler";
}

// Writes the two endpoints (and the HTTP address, when served) to `path`
// through a temporary file and a rename, so a reader never sees half of it.
void write_ready_file(const std::filesystem::path& path, const Server& server) {
  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << server.client_endpoint() << '\n' << server.worker_endpoint() << '\n';
    if (!server.http_endpoint().empty()) out << "http://" << server.http_endpoint() << '\n';
    out.flush();
    if (!out) {
      throw Failure(kExitFailure, "cannot write " + tmp.string() + ": " + std::strerror(errno));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Failure(kExitFailure,
                  "cannot write the ready file " + path.string() + ": " + ec.message());
  }
}

// The bearer token in `path`: its first line, without surrounding
// whitespace. Refused (usage) when empty, unreadable, or readable by group
// or others, as a secret key is.
std::string read_token_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Failure(kExitUsage,
                  "--http-token-file: cannot read " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0) {
    throw Failure(kExitUsage,
                  "--http-token-file: " + path + " may be read by others: chmod 600 it");
  }
  base::ReadFileOptions limit;
  limit.max_bytes = 4096;
  auto text = base::read_file(path, limit);
  if (!text.ok()) throw Failure(kExitUsage, "--http-token-file: " + text.error().message);
  std::string token = text->substr(0, text->find('\n'));
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!token.empty() && space(token.back())) token.pop_back();
  while (!token.empty() && space(token.front())) token.erase(0, 1);
  if (token.size() < 16) {
    throw Failure(kExitUsage, "--http-token-file: " + path +
                                  " holds no token of at least 16 characters (e.g. openssl rand "
                                  "-hex 32 > FILE)");
  }
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      throw Failure(kExitUsage,
                    "--http-token-file: the token must be printable ASCII without spaces");
    }
  }
  return token;
}

// Blocks SIGTERM, SIGINT and SIGHUP in this thread and every thread started
// after (ZeroMQ's among them) and returns a signalfd that receives them.
int stop_signal_fd() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (int rc = pthread_sigmask(SIG_BLOCK, &mask, nullptr); rc != 0) {
    throw Failure(kExitFailure, std::string("pthread_sigmask: ") + std::strerror(rc));
  }
  const int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw Failure(kExitFailure, std::string("signalfd: ") + std::strerror(errno));
  return fd;
}

int run(int argc, char** argv) {
  CLI::App app{"kiln-scheduler: the kiln grid's scheduler (queue, leases, central CAS)"};
  app.set_version_flag("--version", "kiln-scheduler 0.1.0");
  app.footer(
      "Exit codes: 0 stopped cleanly, 1 failure (store, bind, ready file), 2 usage.\n"
      "SIGTERM/SIGINT: drain (finish running actions), a second one: stop now.\n"
      "SIGHUP: re-read --authorized-keys.\n"
      "HTTP (--http-endpoint): GET / (status page), /invocations, /invocations/ID,\n"
      "/api/status, /api/invocations[/ID] (JSON), /metrics (Prometheus), /healthz, /ready.\n");
  ServerOptions options;
  options.client_endpoint = "tcp://127.0.0.1:7010";
  options.worker_endpoint = "tcp://127.0.0.1:7011";
  std::string store_dir = default_store_dir();
  std::string max_size = "0";
  int heartbeat_ms = 1000;
  int drain_timeout_ms = 30000;
  std::string log_level = "info";
  std::string ready_file;
  std::string key_file;
  std::string authorized_keys;
  bool no_auth = false;
  std::string digest_function = "xxh3-128";
  std::string token_file;
  app.add_option("--client-endpoint", options.client_endpoint,
                 "ZeroMQ endpoint for clients (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--worker-endpoint", options.worker_endpoint,
                 "ZeroMQ endpoint for workers (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--store", store_dir, "Directory of the central store")->capture_default_str();
  app.add_option("--max-size", max_size, "Central store size limit, e.g. 50G (0: unlimited)")
      ->capture_default_str();
  app.add_option("--heartbeat-ms", heartbeat_ms, "Heartbeat interval for worker sessions")
      ->check(CLI::Range(10, 60000))
      ->capture_default_str();
  app.add_option("--drain-timeout-ms", drain_timeout_ms,
                 "How long running actions may finish after SIGTERM")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option(
      "--ready-file", ready_file,
      "Once bound, write \"<client endpoint>\\n<worker endpoint>\\n\" here (atomically)");
  app.add_option("--key", key_file, "This scheduler's CURVE key file (kiln keygen)");
  app.add_option("--authorized-keys", authorized_keys,
                 "The keys admitted, one 'ROLE KEY NAME' per line (re-read on SIGHUP)");
  app.add_flag("--no-auth", no_auth,
               "Plain TCP, no keys: only on loopback endpoints (a one-machine grid, tests)");
  app.add_option("--digest-function", digest_function,
                 "Digest function of a new central store: xxh3-128 or sha256")
      ->check(CLI::IsMember({"xxh3-128", "sha256"}))
      ->capture_default_str();
  app.add_flag("--require-sha256", options.require_sha256,
               "Take work from clients this grid does not trust: SHA-256 only (a sha256 store)");
  app.add_option("--http-endpoint", options.http_endpoint,
                 "Serve HTTP (status pages, /metrics, /healthz, /ready) on HOST:PORT, e.g. "
                 "127.0.0.1:9090 (port 0: any free port; default: no HTTP)");
  app.add_option("--keep-invocations", options.keep_invocations,
                 "How many invocations the pages remember (with --http-endpoint)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  app.add_option("--http-token-file", token_file,
                 "A file holding the bearer token HTTP clients must send (required off loopback)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    throw Failure(kExitUsage, std::string(e.what()) + " (see kiln-scheduler --help)");
  }
  auto size = base::parse_size(max_size);
  if (!size.ok()) throw Failure(kExitUsage, "--max-size: " + size.error().message);
  options.max_store_bytes = *size;
  options.store_dir = store_dir;
  options.policy.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  options.digest_function = *cas::parse_digest_function(digest_function);
  if (no_auth && (!key_file.empty() || !authorized_keys.empty())) {
    throw Failure(kExitUsage, "--no-auth excludes --key and --authorized-keys");
  }
  if (!no_auth) {
    if (key_file.empty() || authorized_keys.empty()) {
      throw Failure(kExitUsage,
                    "give --key FILE and --authorized-keys FILE (kiln keygen makes keys), or "
                    "--no-auth for a loopback-only grid (docs/security.md)");
    }
    auto keys = proto::read_secret_key_file(key_file);
    if (!keys.ok()) throw Failure(kExitUsage, "--key: " + keys.error().message);
    if (auto pair = proto::check_key_pair(*keys, key_file); !pair.ok()) {
      throw Failure(kExitUsage, "--key: " + pair.error().message);
    }
    options.secret_key = keys->secret_key;
    options.authorized_keys_file = authorized_keys;
  }
  options.drain_timeout = std::chrono::milliseconds(drain_timeout_ms);
  if (!token_file.empty()) {
    if (options.http_endpoint.empty()) {
      throw Failure(kExitUsage, "--http-token-file needs --http-endpoint");
    }
    options.http_token = read_token_file(token_file);
  }

  auto logger = std::make_shared<spdlog::logger>("kiln-scheduler",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e kiln-scheduler %l: %v");
  logger->set_level(spdlog::level::from_str(log_level));
  Logger log = [logger](LogLevel level, const std::string& line) {
    logger->log(to_spdlog(level), "{}", line);
  };

  // Before the server exists: its ZeroMQ threads inherit the blocked mask.
  const int signal_fd = stop_signal_fd();
  options.signal_fd = signal_fd;
  auto created = Server::create(options, log);
  if (!created.ok()) {
    throw Failure(created.error().code == Errc::kInvalidArgument ? kExitUsage : kExitFailure,
                  created.error().message);
  }
  std::unique_ptr<Server> server = std::move(created).value();
  if (!ready_file.empty()) write_ready_file(ready_file, *server);
  const Status status = server->run();
  server.reset();  // closes the sockets and the store
  ::close(signal_fd);
  if (!status.ok()) throw Failure(kExitFailure, status.error().message);
  return kExitOk;
}

}  // namespace
}  // namespace kiln::scheduler

int main(int argc, char** argv) {
  try {
    return kiln::scheduler::run(argc, argv);
  } catch (const kiln::scheduler::Failure& e) {
    std::cerr << "kiln-scheduler: error: " << e.what() << '\n';
    return e.code();
  } catch (const std::exception& e) {
    std::cerr << "kiln-scheduler: error: " << e.what() << '\n';
    return kiln::scheduler::kExitFailure;
  }
}
