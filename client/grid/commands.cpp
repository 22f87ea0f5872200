// `kiln up` and `kiln status`; see grid_commands.h.
#include "client/grid/commands.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "base/process.h"
#include "base/size.h"
#include "cas/store.h"
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

int run_up(Context& ctx, const UpOptions& opts) {
  if (opts.workers < 1) throw CommandError(kExitUsage, "--workers must be at least 1");
  const fs::path bin = fs::read_symlink("/proc/self/exe").parent_path();
  const fs::path scheduler_bin = bin / "kiln-scheduler";
  const fs::path worker_bin = bin / "kiln-worker";
  for (const auto& p : {scheduler_bin, worker_bin}) {
    if (::access(p.c_str(), X_OK) != 0)
      throw CommandError(kExitFailure, p.string() + " not found next to kiln");
  }
  const fs::path state = ctx.config.dir() / "up";
  std::error_code ec;
  fs::create_directories(state, ec);
  const fs::path ready = state / "scheduler.ready";
  fs::remove(ready, ec);

  // Signals are taken synchronously (sigwait) so no handler or global is needed.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ChildGuard children;
  const pid_t scheduler = spawn({scheduler_bin.string(), "--client-endpoint",
                                 "tcp://127.0.0.1:" + std::to_string(opts.port),
                                 "--worker-endpoint", "tcp://127.0.0.1:0", "--store",
                                 (state / "scheduler").string(), "--ready-file", ready.string()});
  children.pids.push_back(scheduler);

  std::string client_endpoint;
  std::string worker_endpoint;
  for (auto waited = 0ms; client_endpoint.empty(); waited += 20ms) {
    if (::waitpid(scheduler, nullptr, WNOHANG) == scheduler) {
      children.pids.clear();
      throw CommandError(kExitFailure, "kiln-scheduler exited at start (is port " +
                                           std::to_string(opts.port) + " in use? try --port 0)");
    }
    if (waited > 15s) throw CommandError(kExitFailure, "kiln-scheduler did not start within 15 s");
    std::ifstream in(ready);
    if (in) std::getline(in, client_endpoint) && std::getline(in, worker_endpoint);
    if (worker_endpoint.empty()) client_endpoint.clear();
    std::this_thread::sleep_for(20ms);
  }

  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int slots =
      opts.slots > 0 ? opts.slots : static_cast<int>((cores + opts.workers - 1) / opts.workers);
  for (int i = 0; i < opts.workers; ++i) {
    const std::string id = "up-" + std::to_string(i + 1);
    children.pids.push_back(
        spawn({worker_bin.string(), "--scheduler", worker_endpoint, "--id", id, "--slots",
               std::to_string(slots), "--store", (state / id / "store").string(), "--work-dir",
               (state / id / "work").string()}));
  }

  ctx.out << "KILN_SCHEDULER=" << client_endpoint << '\n';
  ctx.out.flush();
  ctx.err << "kiln: grid up: scheduler " << client_endpoint << ", " << opts.workers << " worker"
          << (opts.workers == 1 ? "" : "s") << " with " << slots << " slot"
          << (slots == 1 ? "" : "s")
          << " each\nkiln: use it with: export KILN_SCHEDULER=" << client_endpoint
          << "\nkiln: Ctrl-C stops it\n";

  int exit_code = kExitOk;
  for (bool running = true; running;) {
    int sig = 0;
    if (::sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGCHLD) {
      pid_t pid = 0;
      int status = 0;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        std::erase(children.pids, pid);
        if (pid == scheduler) {
          ctx.err << "kiln: error: kiln-scheduler exited; stopping the workers\n";
          exit_code = kExitFailure;
          running = false;
        } else {
          ctx.err << "kiln: warning: a kiln-worker (pid " << pid << ") exited\n";
        }
      }
    } else {
      running = false;
    }
  }
  ctx.err << "kiln: stopping the grid\n";
  stop_all(children.pids);
  return exit_code;
}

namespace {

std::string ago(std::uint64_t ms) { return std::to_string(ms) + " ms ago"; }

// The scheduler's statusResponse; CommandError (failure) when it does not
// answer with one.
std::unique_ptr<proto::Decoded> fetch_status(zmq::context_t& context, const std::string& endpoint) {
  auto connection = proto::Connection::open(context, endpoint);
  if (!connection.ok()) throw CommandError(kExitFailure, connection.error().message);
  auto reply =
      (*connection)
          ->call([](schema::Envelope::Builder e) { e.getBody().initStatusRequest(); }, 5000ms);
  if (!reply.ok())
    throw CommandError(kExitFailure,
                       "scheduler " + endpoint + " did not answer: " + reply.error().message);
  if (auto error = proto::error_of(**reply))
    throw CommandError(kExitFailure, "scheduler: " + error->message);
  if ((*reply)->envelope().getBody().which() != schema::Envelope::Body::STATUS_RESPONSE) {
    throw CommandError(kExitFailure,
                       "scheduler answered statusRequest with another kind of message");
  }
  return std::move(reply).value();
}

}  // namespace

Result<std::size_t> grid_slots(const std::string& endpoint) {
  try {
    zmq::context_t context(1);
    const auto reply = fetch_status(context, endpoint);
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
  zmq::context_t context(1);
  const auto reply = fetch_status(context, endpoint);
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
                        {"draining", s.getDraining()}};
    ctx.out << j.dump(2) << '\n';
    return kExitOk;
  }
  ctx.out << "scheduler  " << endpoint << (s.getDraining() ? " (draining)" : "") << ", up "
          << s.getUptimeMs() / 1000 << " s\n";
  ctx.out << "workers    " << s.getWorkers().size() << '\n';
  for (auto w : s.getWorkers()) {
    ctx.out << "  " << w.getWorkerId().cStr() << "  " << w.getBusy() << "/" << w.getSlots()
            << " slots busy, heard " << ago(w.getLastHeardMsAgo()) << '\n';
  }
  ctx.out << "queue      " << s.getQueued() << " queued, " << s.getRunning() << " running, "
          << s.getWaitingRequests() << " requests waiting\n";
  ctx.out << "cache      " << s.getCacheBlobs() << " blobs, "
          << base::format_size(s.getCacheBytes());
  if (s.getCacheMaxBytes() != 0) ctx.out << " of " << base::format_size(s.getCacheMaxBytes());
  ctx.out << "; " << s.getActionCacheHits() << " hits / " << lookups << " lookups ("
          << static_cast<int>(hit_rate) << "%); " << s.getExecuted() << " executed\n";
  return kExitOk;
}

}  // namespace kiln::client::grid
