// `kiln up` and `kiln status`; see grid_commands.h.
#include "client/grid/commands.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "base/files.h"
#include "base/process.h"
#include "base/size.h"
#include "cas/store.h"
#include "client/grid/known_grid.h"
#include "client/local_sandbox.h"
#include "client/signing_files.h"
#include "exec/sandbox.h"
#include "proto/curve.h"
#include "proto/key_files.h"
#include "proto/transport.h"

namespace kiln::client::grid {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

pid_t spawn(const std::vector<std::string>& args) {
  auto pid = base::spawn({.argv = args});
  if (!pid.ok()) throw CommandError(kExitFailure, pid.error().message);
  return *pid;
}

// Stops every child: SIGTERM, a grace period, then SIGKILL.
void stop_all(std::vector<pid_t>& children) {
  for (pid_t pid : children) ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (pid_t pid : children) {
    while (::waitpid(pid, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  children.clear();
}

// Kills the children if the command ends by an exception.
struct ChildGuard {
  std::vector<pid_t> pids;
  ~ChildGuard() { stop_all(pids); }
};

}  // namespace

namespace {

// kiln up's keys (docs/security.md): in `dir`, made the first time and kept
// after, so a client key handed out stays good across restarts.
struct UpKeys {
  std::string scheduler_public;
  fs::path scheduler_key;
  fs::path worker_key;
  fs::path client_key;
  fs::path authorized_keys;
};

proto::CurveKeyPair key_pair(const fs::path& base, std::string_view comment) {
  const std::string secret = base.string() + ".key";
  if (::access(secret.c_str(), F_OK) == 0) {
    auto keys = proto::read_secret_key_file(secret);
    if (!keys.ok()) throw CommandError(kExitFailure, keys.error().message);
    return std::move(keys).value();
  }
  auto keys = proto::generate_curve_keypair();
  if (!keys.ok()) throw CommandError(kExitFailure, keys.error().message);
  check(proto::write_key_files(base.string(), *keys, comment), "kiln up's keys");
  return std::move(keys).value();
}

UpKeys up_keys(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  UpKeys keys;
  keys.scheduler_key = dir / "scheduler.key";
  keys.worker_key = dir / "worker.key";
  keys.client_key = dir / "client.key";
  keys.authorized_keys = dir / "authorized_keys";
  keys.scheduler_public = key_pair(dir / "scheduler", "kiln up's scheduler").public_key;
  proto::AuthorizedKeys authorized;
  authorized[key_pair(dir / "worker", "kiln up's workers").public_key] =
      proto::AuthorizedKey{proto::Role::kWorker, "kiln-up-worker"};
  authorized[key_pair(dir / "client", "kiln up's clients").public_key] =
      proto::AuthorizedKey{proto::Role::kClient, "kiln-up-client"};
  check(base::write_file_atomically(keys.authorized_keys.string(),
                                    proto::format_authorized_keys(authorized), {.mode = 0600}),
        "kiln up's authorized keys");
  return keys;
}

struct ReadyScheduler {
  std::string client_endpoint;
  std::string worker_endpoint;
  std::string http;  // "http://127.0.0.1:PORT", or "" without HTTP
};

// Waits for the scheduler's ready file: its client and worker endpoints
// (and its HTTP address on the third line, when it serves HTTP).
ReadyScheduler wait_until_ready(pid_t scheduler, const fs::path& ready, int port, bool http,
                                std::vector<pid_t>& children) {
  std::string client_endpoint;
  std::string worker_endpoint;
  std::string http_address;
  for (auto waited = 0ms; client_endpoint.empty(); waited += 20ms) {
    if (::waitpid(scheduler, nullptr, WNOHANG) == scheduler) {
      children.clear();
      throw CommandError(kExitFailure, "kiln-scheduler exited at start (is port " +
                                           std::to_string(port) + " in use? try --port 0)");
    }
    if (waited > 15s) throw CommandError(kExitFailure, "kiln-scheduler did not start within 15 s");
    std::ifstream in(ready);
    if (in) {
      std::getline(in, client_endpoint) && std::getline(in, worker_endpoint) &&
          std::getline(in, http_address);
    }
    // The file is written whole (renamed into place), so a short one is not
    // this scheduler's.
    if (worker_endpoint.empty() || (http && http_address.empty())) client_endpoint.clear();
    if (client_endpoint.empty()) std::this_thread::sleep_for(20ms);
  }
  return {client_endpoint, worker_endpoint, http_address};
}

// Waits for kiln-reapi's ready file (its HOST:PORT).
std::string wait_for_reapi(pid_t reapi, const fs::path& ready) {
  for (auto waited = 0ms;; waited += 20ms) {
    if (::waitpid(reapi, nullptr, WNOHANG) == reapi) {
      throw CommandError(kExitFailure,
                         "kiln-reapi exited at start (is its port in use? try --reapi-port 0)");
    }
    if (waited > 15s) throw CommandError(kExitFailure, "kiln-reapi did not start within 15 s");
    std::ifstream in(ready);
    std::string address;
    if (in && std::getline(in, address) && !address.empty()) return address;
    std::this_thread::sleep_for(20ms);
  }
}

// Until SIGINT or SIGTERM, or the scheduler's exit (then kExitFailure).
int supervise(const sigset_t& signals, pid_t scheduler, pid_t reapi, std::vector<pid_t>& children,
              std::ostream& err) {
  for (;;) {
    int sig = 0;
    if (::sigwait(&signals, &sig) != 0) continue;
    if (sig != SIGCHLD) return kExitOk;
    pid_t pid = 0;
    int status = 0;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      std::erase(children, pid);
      if (pid == scheduler) {
        err << "kiln: error: kiln-scheduler exited; stopping the workers\n";
        return kExitFailure;
      }
      err << "kiln: warning: " << (pid == reapi ? "kiln-reapi" : "a kiln-worker") << " (pid " << pid
          << ") exited\n";
    }
  }
}

}  // namespace

int run_up(Context& ctx, const UpOptions& opts) {
  if (opts.workers < 1) throw CommandError(kExitUsage, "--workers must be at least 1");
  const fs::path bin = fs::read_symlink("/proc/self/exe").parent_path();
  const fs::path scheduler_bin = bin / "kiln-scheduler";
  const fs::path worker_bin = bin / "kiln-worker";
  const fs::path reapi_bin = bin / "kiln-reapi";
  const bool reapi = opts.reapi_port >= 0;
  for (const auto& p : {scheduler_bin, worker_bin, reapi_bin}) {
    if (p == reapi_bin && !reapi) continue;
    if (::access(p.c_str(), X_OK) != 0)
      throw CommandError(kExitFailure, p.string() + " not found next to kiln");
  }
  if (opts.reapi_allow_updates && !reapi) {
    throw CommandError(kExitUsage, "--reapi-allow-updates needs --reapi-port");
  }
  // The API's digest function is SHA-256: a grid that serves it keeps its
  // stores in SHA-256 (apart from the default grid's XXH3 stores).
  const std::string store_suffix = reapi ? "-sha256" : "";
  const char* digest_function = reapi ? "sha256" : "xxh3-128";
  const fs::path state = ctx.config.dir() / "up";
  std::error_code ec;
  fs::create_directories(state, ec);
  const fs::path ready = state / "scheduler.ready";
  fs::remove(ready, ec);
  const std::optional<UpKeys> keys =
      opts.no_auth ? std::nullopt : std::optional<UpKeys>(up_keys(state / "keys"));

  // Signals are taken synchronously (sigwait) so no handler or global is needed.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ChildGuard children;
  std::vector<std::string> scheduler_args = {scheduler_bin.string(),
                                             "--client-endpoint",
                                             "tcp://127.0.0.1:" + std::to_string(opts.port),
                                             "--worker-endpoint",
                                             "tcp://127.0.0.1:0",
                                             "--store",
                                             (state / ("scheduler" + store_suffix)).string(),
                                             "--digest-function",
                                             digest_function,
                                             "--ready-file",
                                             ready.string()};
  if (opts.http_port >= 0) {
    scheduler_args.insert(scheduler_args.end(),
                          {"--http-endpoint", "127.0.0.1:" + std::to_string(opts.http_port)});
  }
  if (keys) {
    scheduler_args.insert(scheduler_args.end(),
                          {"--key", keys->scheduler_key.string(), "--authorized-keys",
                           keys->authorized_keys.string()});
  } else {
    scheduler_args.push_back("--no-auth");
  }
  const pid_t scheduler = spawn(scheduler_args);
  children.pids.push_back(scheduler);
  const auto [client_endpoint, worker_endpoint, http_address] =
      wait_until_ready(scheduler, ready, opts.port, opts.http_port >= 0, children.pids);

  // The workers' sandbox, as the `sandbox` setting says (auto: bubblewrap
  // where it works here).
  const std::string sandbox(exec::to_string(make_local_sandbox(ctx)->kind()));
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int slots =
      opts.slots > 0 ? opts.slots : static_cast<int>((cores + opts.workers - 1) / opts.workers);
  for (int i = 0; i < opts.workers; ++i) {
    const std::string id = "up-" + std::to_string(i + 1);
    std::vector<std::string> worker_args = {worker_bin.string(),
                                            "--scheduler",
                                            worker_endpoint,
                                            "--id",
                                            id,
                                            "--slots",
                                            std::to_string(slots),
                                            "--store",
                                            (state / id / ("store" + store_suffix)).string(),
                                            "--digest-function",
                                            digest_function,
                                            "--work-dir",
                                            (state / id / "work").string(),
                                            "--sandbox",
                                            sandbox};
    if (keys) {
      worker_args.insert(worker_args.end(), {"--key", keys->worker_key.string(), "--scheduler-key",
                                             keys->scheduler_public});
    } else {
      worker_args.push_back("--no-auth");
    }
    children.pids.push_back(spawn(worker_args));
  }
  // Clients on this machine find the keys by the endpoint (known_grid.h);
  // a later kiln up on the same endpoint rewrites the record.
  if (keys) {
    const fs::path record = known_grid_path(ctx.config.config_dir(), client_endpoint);
    fs::create_directories(record.parent_path(), ec);
    check(base::write_file_atomically(
              record.string(), format_known_grid(KnownGrid{client_endpoint, keys->scheduler_public,
                                                           keys->client_key.string()})),
          "kiln up's record of the grid");
  }

  std::string reapi_address;
  pid_t reapi_pid = -1;
  if (reapi) {
    const fs::path reapi_ready = state / "reapi.ready";
    fs::remove(reapi_ready, ec);
    std::vector<std::string> reapi_args = {reapi_bin.string(),
                                           "--endpoint",
                                           "127.0.0.1:" + std::to_string(opts.reapi_port),
                                           "--scheduler",
                                           client_endpoint,
                                           "--store",
                                           (state / ("scheduler" + store_suffix)).string(),
                                           "--ready-file",
                                           reapi_ready.string()};
    if (keys) {
      reapi_args.insert(reapi_args.end(), {"--key", keys->client_key.string(), "--scheduler-key",
                                           keys->scheduler_public});
    } else {
      reapi_args.push_back("--no-auth");
    }
    if (opts.reapi_allow_updates) reapi_args.push_back("--allow-updates");
    reapi_pid = spawn(reapi_args);
    children.pids.push_back(reapi_pid);
    reapi_address = wait_for_reapi(reapi_pid, reapi_ready);
  }

  ctx.out << "KILN_SCHEDULER=" << client_endpoint << '\n';
  if (reapi) ctx.out << "KILN_REAPI=grpc://" << reapi_address << '\n';
  ctx.out.flush();
  ctx.err << "kiln: grid up: scheduler " << client_endpoint << ", " << opts.workers << " worker"
          << (opts.workers == 1 ? "" : "s") << " with " << slots << " slot"
          << (slots == 1 ? "" : "s") << " each"
          << ", sandbox " << sandbox
          << (keys ? ", CURVE keys in " + (state / "keys").string() : ", no authentication")
          << (http_address.empty() ? "" : "\nkiln: status page " + http_address + "/")
          << "\nkiln: use it with: export KILN_SCHEDULER=" << client_endpoint
          << (reapi ? " KILN_DIGEST_FUNCTION=sha256" : "")
          << (reapi ? "\nkiln: Remote Execution API on grpc://" + reapi_address +
                          " (bazel --remote_executor=grpc://" + reapi_address + ")"
                    : "")
          << "\nkiln: Ctrl-C stops it\n";

  const int exit_code = supervise(signals, scheduler, reapi_pid, children.pids, ctx.err);
  ctx.err << "kiln: stopping the grid\n";
  stop_all(children.pids);
  // The record stays: the keys outlive this run, so a client that still
  // names this endpoint is told the grid is down, not that it has no key.
  return exit_code;
}

namespace {

// `kiln keygen --signing`: the key `kiln provenance` signs with.
int run_signing_keygen(Context& ctx, const std::string& base, const std::string& comment) {
  const SigningKey key = generate_signing_key();
  check(write_signing_key_files(base, key, comment));
  ctx.out << base << ".sign.pub\n";
  ctx.err << "kiln: wrote " << base << ".sign.key (secret, mode 0600) and " << base
          << ".sign.pub (key id " << key_id(key.public_key).substr(0, 16)
          << ")\nkiln: to sign provenance with it: signing_key = " << base
          << ".sign.key in the config file (or KILN_SIGNING_KEY); verifiers need only " << base
          << ".sign.pub\n";
  return kExitOk;
}

}  // namespace

int run_keygen(Context& ctx, const KeygenOptions& opts) {
  const std::string base =
      opts.output.empty()
          ? (ctx.config.config_dir() / (opts.signing ? "provenance" : "client")).string()
          : opts.output;
  std::error_code ec;
  fs::create_directories(fs::path(base).parent_path(), ec);
  const std::string comment =
      opts.comment.empty() ? fs::path(base).filename().string() : opts.comment;
  if (opts.signing) return run_signing_keygen(ctx, base, comment);
  auto keys = proto::generate_curve_keypair();
  if (!keys.ok()) throw CommandError(kExitFailure, keys.error().message);
  check(proto::write_key_files(base, *keys, comment));
  ctx.out << keys->public_key << '\n';
  ctx.err << "kiln: wrote " << base << ".key (secret, mode 0600) and " << base
          << ".pub\nkiln: to admit it, add this line to the scheduler's authorized keys (then "
             "send it SIGHUP):\n  "
          << opts.role << " " << keys->public_key << " " << comment << '\n';
  return kExitOk;
}

namespace {

std::string ago(std::uint64_t ms) { return std::to_string(ms) + " ms ago"; }

// The scheduler's statusResponse; CommandError (failure) when it does not
// answer with one.
std::unique_ptr<proto::Decoded> fetch_status(zmq::context_t& context, const GridOptions& options) {
  const std::string& endpoint = options.endpoint;
  auto connection =
      proto::Connection::open(context, endpoint, {}, {}, options.curve ? &*options.curve : nullptr);
  if (!connection.ok()) throw CommandError(kExitFailure, connection.error().message);
  auto reply =
      (*connection)
          ->call([](schema::Envelope::Builder e) { e.getBody().initStatusRequest(); }, 5000ms);
  if (!reply.ok()) {
    // A CURVE server says nothing to a key it refuses: that looks the same.
    throw CommandError(kExitFailure,
                       "scheduler " + endpoint + " did not answer: " + reply.error().message +
                           (options.curve ? " (or it does not accept this client's key)"
                                          : " (or it requires keys: docs/security.md)"));
  }
  if (auto error = proto::error_of(**reply))
    throw CommandError(kExitFailure, "scheduler: " + error->message);
  if ((*reply)->envelope().getBody().which() != schema::Envelope::Body::STATUS_RESPONSE) {
    throw CommandError(kExitFailure,
                       "scheduler answered statusRequest with another kind of message");
  }
  return std::move(reply).value();
}

}  // namespace

Result<std::size_t> grid_slots(const GridOptions& options) {
  try {
    zmq::context_t context(1);
    const auto reply = fetch_status(context, options);
    std::size_t slots = 0;
    for (auto w : reply->envelope().getBody().getStatusResponse().getWorkers())
      slots += w.getSlots();
    return slots;
  } catch (const CommandError& e) {
    return make_error(Errc::kUnavailable, e.what());
  }
}

int run_status(Context& ctx, const StatusOptions& opts) {
  const std::string& endpoint = ctx.config.scheduler();
  if (endpoint.empty()) {
    throw CommandError(kExitUsage,
                       "no scheduler configured: set KILN_SCHEDULER (kiln up prints it)");
  }
  const GridOptions options = check(grid_options(ctx.config, GridUse::kAction), "the grid");
  zmq::context_t context(1);
  const auto reply = fetch_status(context, options);
  const auto s = reply->envelope().getBody().getStatusResponse();
  const std::uint64_t lookups = s.getActionCacheHits() + s.getActionCacheMisses();
  const double hit_rate =
      lookups == 0 ? 0.0 : 100.0 * static_cast<double>(s.getActionCacheHits()) / lookups;
  if (opts.json) {
    nlohmann::json workers = nlohmann::json::array();
    for (auto w : s.getWorkers()) {
      nlohmann::json platform = nlohmann::json::object();
      for (auto p : w.getPlatform()) platform[p.getName().cStr()] = p.getValue().cStr();
      workers.push_back({{"id", w.getWorkerId().cStr()},
                         {"slots", w.getSlots()},
                         {"busy", w.getBusy()},
                         {"last_heartbeat_ms_ago", w.getLastHeardMsAgo()},
                         {"quarantined_ms_left", w.getQuarantinedMsLeft()},
                         {"platform", platform}});
    }
    nlohmann::json j = {{"scheduler", endpoint},
                        {"workers", workers},
                        {"queued", s.getQueued()},
                        {"running", s.getRunning()},
                        {"waiting_requests", s.getWaitingRequests()},
                        {"cache_blobs", s.getCacheBlobs()},
                        {"cache_bytes", s.getCacheBytes()},
                        {"cache_max_bytes", s.getCacheMaxBytes()},
                        {"action_cache_hits", s.getActionCacheHits()},
                        {"action_cache_misses", s.getActionCacheMisses()},
                        {"executed", s.getExecuted()},
                        {"uptime_ms", s.getUptimeMs()},
                        {"draining", s.getDraining()},
                        {"authenticated", s.getAuthenticated()},
                        {"refused_connections", s.getRefusedConnections()},
                        {"refused_messages", s.getRefusedMessages()},
                        {"require_sha256", s.getRequireSha256()},
                        {"backups", s.getBackups()},
                        {"backups_won", s.getBackupsWon()}};
    ctx.out << j.dump(2) << '\n';
    return kExitOk;
  }
  ctx.out << "scheduler  " << endpoint << (s.getDraining() ? " (draining)" : "") << ", up "
          << s.getUptimeMs() / 1000 << " s\n";
  ctx.out << "workers    " << s.getWorkers().size() << '\n';
  for (auto w : s.getWorkers()) {
    std::string sandbox = "?";
    for (auto p : w.getPlatform()) {
      if (std::string_view(p.getName().cStr()) == "sandbox") sandbox = p.getValue().cStr();
    }
    ctx.out << "  " << w.getWorkerId().cStr() << "  " << w.getBusy() << "/" << w.getSlots()
            << " slots busy, heard " << ago(w.getLastHeardMsAgo()) << ", sandbox " << sandbox;
    if (w.getQuarantinedMsLeft() > 0) {
      ctx.out << ", quarantined " << (w.getQuarantinedMsLeft() + 999) / 1000
              << " s more (its leases kept failing)";
    }
    ctx.out << '\n';
  }
  ctx.out << "queue      " << s.getQueued() << " queued, " << s.getRunning() << " running, "
          << s.getWaitingRequests() << " requests waiting; " << s.getBackups() << " backups ("
          << s.getBackupsWon() << " first)\n";
  ctx.out << "cache      " << s.getCacheBlobs() << " blobs, "
          << base::format_size(s.getCacheBytes());
  if (s.getCacheMaxBytes() != 0) ctx.out << " of " << base::format_size(s.getCacheMaxBytes());
  ctx.out << "; " << s.getActionCacheHits() << " hits / " << lookups << " lookups ("
          << static_cast<int>(hit_rate) << "%); " << s.getExecuted() << " executed\n";
  ctx.out << "trust      "
          << (s.getAuthenticated() ? "CURVE keys required" : "no authentication (loopback only)")
          << (s.getRequireSha256() ? ", sha256 required of clients" : "") << "; refused "
          << s.getRefusedConnections() << " connections, " << s.getRefusedMessages()
          << " messages\n";
  return kExitOk;
}

}  // namespace kiln::client::grid
