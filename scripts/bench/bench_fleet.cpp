// The fleet simulation (issue "The fleet"): a real kiln-scheduler process,
// and in this one process W fake workers and C fake clients on real
// sockets, so that the scheduler's memory and CPU can be read alone from
// /proc/PID.
//
//   workers  W DEALERs that speak the worker protocol (PROTOCOL.md section
//            5): workerHello with S slots and the platform os/arch,
//            heartbeats every second, and each lease answered after an
//            execution time drawn from a log-normal distribution, with an
//            empty stdout/stderr and, like a real worker's successful
//            action, `cacheable` (so the scheduler writes the action cache).
//   clients  C DEALERs submitting N distinct actions in total (the smallest
//            real action: `true` on an empty input root, made distinct by
//            its salt), each keeping up to its window outstanding. Sizes
//            and start times differ on purpose: a fifth of the clients
//            submit 70% of the actions from the start, two fifths 24%
//            (staggered starts), the last two fifths 6% and start late.
//
// Everything runs on one thread around epoll over the sockets' ZMQ_FDs
// (zmq_poll walks every item on every call, too slow for a thousand), plus
// the context's I/O threads.
//
// Phases, each measured on the scheduler (VmRSS, RssAnon, VmHWM from
// /proc/PID/status; utime+stime from /proc/PID/stat):
//   idle     the scheduler started, inputs uploaded, nothing connected
//   workers  W workers joined and heartbeating for --settle-ms
//   load     the clients' N actions, start to last answer
//   after    one second after the load
// The queue wait of each action is what the worker sees: the lease's
// arrival against its queuedUs (the scheduler's clock at submission).
//
// Usage: bench_fleet DIR [--workers W] [--slots S] [--clients C]
//   [--actions N] [--exec-ms MEDIAN] [--exec-sigma SIGMA] [--late-pct P]
//   [--settle-ms T] [--seed N] [--cacheable 0|1] [--scheduler PATH]
// Prints "name<TAB>value<TAB>unit" lines and one "client<TAB>..." line per
// client; scripts/bench/scale.sh turns them into the table.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <numeric>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/process.h"
#include "base/unique_fd.h"
#include "cas/remote_cas.h"
#include "cas/store.h"
#include "cas/wire_model.h"
#include "proto/transport.h"
#include "scripts/bench/bench_util.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using kiln::cas::Digest;
using Which = kiln::schema::Envelope::Body::Which;
constexpr auto kFn = kiln::cas::DigestFunction::kXxh3_128;
constexpr auto kHeartbeat = 1000ms;  // the protocol's default interval

using kiln::bench::die;
using kiln::bench::must;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::uint64_t wall_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void emit(const std::string& name, double value, const char* unit) {
  std::printf("%s\t%.3f\t%s\n", name.c_str(), value, unit);
  std::fflush(stdout);
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

// Jain's fairness index: 1 when all shares are equal, 1/n when one takes all.
double jain(const std::vector<double>& x) {
  double sum = 0, squares = 0;
  for (double v : x) {
    sum += v;
    squares += v * v;
  }
  return squares > 0 ? sum * sum / (static_cast<double>(x.size()) * squares) : 1;
}

struct Options {
  fs::path dir;
  fs::path scheduler;
  int workers = 1000;
  unsigned slots = 1;
  int clients = 20;
  int actions = 100000;
  double exec_ms = 3;
  double exec_sigma = 0.5;
  int late_pct = 20;
  int settle_ms = 3000;
  unsigned seed = 1;
  bool cacheable = true;
};

Options parse(int argc, char** argv) {
  if (argc < 2) die("usage: bench_fleet DIR [--workers W] [--slots S] ... (see the source)");
  Options o;
  o.dir = argv[1];
  o.scheduler = fs::path(argv[0]).parent_path() / "kiln-scheduler";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--workers")
      o.workers = std::stoi(value);
    else if (key == "--slots")
      o.slots = static_cast<unsigned>(std::stoul(value));
    else if (key == "--clients")
      o.clients = std::stoi(value);
    else if (key == "--actions")
      o.actions = std::stoi(value);
    else if (key == "--exec-ms")
      o.exec_ms = std::stod(value);
    else if (key == "--exec-sigma")
      o.exec_sigma = std::stod(value);
    else if (key == "--late-pct")
      o.late_pct = std::stoi(value);
    else if (key == "--settle-ms")
      o.settle_ms = std::stoi(value);
    else if (key == "--seed")
      o.seed = static_cast<unsigned>(std::stoul(value));
    else if (key == "--scheduler")
      o.scheduler = value;
    else if (key == "--cacheable")
      o.cacheable = value != "0";
    else
      die("unknown option " + key);
  }
  return o;
}

// --- the scheduler process -------------------------------------------------

struct ProcMemory {
  double rss_kib = 0, anon_kib = 0, hwm_kib = 0;
};

ProcMemory read_memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  ProcMemory m;
  std::string key;
  double value = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    if (!(fields >> key >> value)) continue;
    if (key == "VmRSS:") m.rss_kib = value;
    if (key == "RssAnon:") m.anon_kib = value;
    if (key == "VmHWM:") m.hwm_kib = value;
  }
  return m;
}

// utime + stime of the process, in seconds.
double read_cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which may hold spaces: state is field 3,
  // utime 14 and stime 15.
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::vector<std::string> f((std::istream_iterator<std::string>(rest)),
                             std::istream_iterator<std::string>());
  if (f.size() < 13) die("cannot read /proc/" + std::to_string(pid) + "/stat");
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

// kiln-scheduler on loopback, plain TCP (--no-auth): CURVE's cost is
// trust.sh's subject; this one is the scheduler's own.
class Scheduler {
 public:
  explicit Scheduler(const Options& o) {
    const fs::path ready = o.dir / "scheduler.ready";
    kiln::base::UniqueFd log(
        ::open((o.dir / "scheduler.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!log.valid()) die("cannot create scheduler.log");
    kiln::base::SpawnSpec spec;
    spec.argv = {o.scheduler.string(), "--client-endpoint",
                 "tcp://127.0.0.1:0",  "--worker-endpoint",
                 "tcp://127.0.0.1:0",  "--store",
                 (o.dir / "central"),  "--ready-file",
                 ready.string(),       "--no-auth",
                 "--log-level",        "warn",
                 "--drain-timeout-ms", "2000"};
    spec.stdin_null = true;
    spec.stderr_fd = log.get();
    pid_ = must(kiln::base::spawn(spec), "start kiln-scheduler");
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      std::ifstream in(ready);
      std::getline(in, client_ep);
      std::getline(in, worker_ep);
      if (!worker_ep.empty()) return;
      std::this_thread::sleep_for(10ms);
    }
    die("kiln-scheduler did not write its ready file; see " + (o.dir / "scheduler.log").string());
  }
  ~Scheduler() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    (void)kiln::base::wait_exit_code(pid_);
  }
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;
  pid_t pid() const { return pid_; }

  std::string client_ep, worker_ep;

 private:
  pid_t pid_ = -1;
};

// Uploads a Command (`true`) and an empty input root; returns the action
// every client varies by its salt.
kiln::cas::Action prepare(const Options& o, zmq::context_t& ctx, const Scheduler& s) {
  kiln::cas::StoreOptions so;
  so.dir = o.dir / "client";
  so.durable = false;
  auto local = must(kiln::cas::Store::open(so), "client store");
  kiln::cas::Command command;
  command.arguments = {"true"};
  command.environment = {{"PATH", "/usr/bin:/bin"}};
  kiln::cas::Action action;
  action.command_digest =
      must(local->put(must(kiln::cas::encode_command(command), "command")), "put");
  action.input_root_digest =
      must(local->put(must(kiln::cas::encode_directory({}, kFn), "dir")), "put");
  const Digest empty_blob = must(local->put(std::string_view()), "put");
  auto conn = must(kiln::proto::Connection::open(ctx, s.client_ep), "connect");
  kiln::cas::RemoteCas remote(*conn, kFn);
  std::vector<Digest> all{action.command_digest, action.input_root_digest, empty_blob};
  must(remote.upload(*local, all), "upload");
  return action;
}

// --- the simulation --------------------------------------------------------

struct ClientPlan {
  int actions = 0;
  int window = 0;
  int start_after = 0;  // actions answered (all clients) before it starts
};

// A fifth of the clients: 70% of the actions, from the start; two fifths:
// 24%, one starting after each further 1% of the actions is answered; the
// rest: 6%, starting likewise once `late_pct`% are. Starts count answers,
// not seconds, so the shape of the run is the same at any speed.
std::vector<ClientPlan> plan_clients(const Options& o) {
  std::vector<ClientPlan> plans(static_cast<std::size_t>(o.clients));
  const int big = std::max(1, o.clients / 5);
  const int medium = std::max(0, std::min(o.clients - big, 2 * o.clients / 5));
  const int small = o.clients - big - medium;
  int assigned = 0;
  for (int i = 0; i < o.clients; ++i) {
    ClientPlan& p = plans[static_cast<std::size_t>(i)];
    if (i < big) {
      p.actions = static_cast<int>(0.70 * o.actions / big);
      p.window = 800;
    } else if (i < big + medium) {
      p.actions = static_cast<int>(0.24 * o.actions / medium);
      p.window = 400;
      p.start_after = o.actions / 100 * (i - big);
    } else {
      p.actions = static_cast<int>(0.06 * o.actions / small);
      p.window = 100;
      p.start_after = o.actions / 100 * (o.late_pct + i - big - medium);
    }
    assigned += p.actions;
  }
  plans[0].actions += o.actions - assigned;  // rounding
  return plans;
}

struct Worker {
  zmq::socket_t socket;
  unsigned busy = 0;
  bool joined = false;
};

struct Client {
  zmq::socket_t socket;
  ClientPlan plan;
  int sent = 0;
  int done = 0;
  Clock::time_point first_sent{}, last_done{};
  std::unordered_map<std::uint64_t, Clock::time_point> outstanding;
  std::vector<double> done_at;     // seconds since the load started
  std::vector<double> queue_ms;    // as the workers saw it
  std::vector<double> latency_ms;  // submit to answer
};

struct Finish {
  Clock::time_point due;
  std::uint32_t worker = 0;
  std::uint64_t lease = 0;
  Digest digest;
  bool operator>(const Finish& other) const { return due > other.due; }
};

class Fleet {
 public:
  Fleet(const Options& o, zmq::context_t& ctx, const Scheduler& s, kiln::cas::Action action)
      : options_(o),
        action_(std::move(action)),
        rng_(o.seed),
        exec_(std::log(o.exec_ms), o.exec_sigma),
        empty_(kiln::cas::digest_of(kFn, std::string_view())) {
    epoll_ = kiln::base::UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_.valid()) die("epoll_create1");
    workers_.resize(static_cast<std::size_t>(o.workers));
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      workers_[i].socket =
          must(kiln::proto::make_dealer(ctx, s.worker_ep, "fleet-" + std::to_string(i)), "dealer");
      watch(workers_[i].socket, i);
      hello(i);
    }
    const auto plans = plan_clients(o);
    clients_.resize(plans.size());
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      clients_[i].socket =
          must(kiln::proto::make_dealer(ctx, s.client_ep, "client-" + std::to_string(i)), "dealer");
      clients_[i].plan = plans[i];
      watch(clients_[i].socket, workers_.size() + i);
    }
    heartbeat_epoch_ = Clock::now();
  }

  // Runs the loop until `until` returns true (checked every turn).
  template <typename Until>
  void run(Until until) {
    std::vector<epoll_event> events(512);
    auto next_sweep = Clock::now();
    while (!until()) {
      auto now = Clock::now();
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_sweep - now);
      if (!finishes_.empty()) {
        wait = std::min(
            wait, std::chrono::duration_cast<std::chrono::milliseconds>(finishes_.top().due - now));
      }
      const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(std::clamp<long>(wait.count(), 0, 10)));
      for (int i = 0; i < n; ++i) drain(events[static_cast<std::size_t>(i)].data.u64);
      now = Clock::now();
      while (!finishes_.empty() && finishes_.top().due <= now) {
        const Finish f = finishes_.top();
        finishes_.pop();
        answer(f);
      }
      heartbeats(now);
      if (now >= next_sweep) {
        // ZMQ_FD only signals changes, and a send on a socket may consume
        // the signal of a message that arrived meanwhile: sweep now and then.
        for (std::size_t i = 0; i < workers_.size() + clients_.size(); ++i) drain(i);
        if (loading_) {
          for (std::size_t i = 0; i < clients_.size(); ++i) top_up(i, now);
        }
        if (on_sweep_) on_sweep_();
        next_sweep = now + 50ms;
      }
    }
  }

  std::size_t joined() const { return joined_; }
  int dropped() const { return dropped_; }
  bool finished() const { return finished_clients_ == clients_.size(); }
  void set_on_sweep(std::function<void()> f) { on_sweep_ = std::move(f); }

  void start_load() {
    loading_ = true;
    load_start_ = Clock::now();
    for (std::size_t i = 0; i < clients_.size(); ++i) top_up(i, load_start_);
  }
  Clock::time_point load_start() const { return load_start_; }
  const std::vector<Client>& clients() const { return clients_; }

 private:
  void watch(zmq::socket_t& socket, std::size_t index) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = index;
    const int fd = socket.get(zmq::sockopt::fd);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  }

  void hello(std::size_t i) {
    capnp::MallocMessageBuilder m;
    auto h = kiln::proto::init_envelope(m, 0).getBody().initWorkerHello();
    h.setWorkerId("fleet-" + std::to_string(i));
    h.setSlots(options_.slots);
    h.setHeartbeatIntervalMs(static_cast<std::uint32_t>(kHeartbeat.count()));
    kiln::cas::to_wire(std::vector<kiln::cas::Property>{{"arch", "x86_64"}, {"os", "linux"}},
                       h.initPlatform(2));
    (void)kiln::proto::send(workers_[i].socket, "", m);
  }

  // Heartbeats spread evenly over the interval: W per interval in a ring.
  void heartbeats(Clock::time_point now) {
    const auto due =
        static_cast<std::uint64_t>(seconds(now - heartbeat_epoch_) / seconds(kHeartbeat) *
                                   static_cast<double>(workers_.size()));
    for (; heartbeats_sent_ < due; ++heartbeats_sent_) {
      const std::size_t i = heartbeats_sent_ % workers_.size();
      capnp::MallocMessageBuilder m;
      kiln::proto::init_envelope(m, 0).getBody().initHeartbeat().setBusySlots(workers_[i].busy);
      (void)kiln::proto::send(workers_[i].socket, "", m);
      drain(i);
    }
  }

  // Reads everything waiting on a socket (a client then refills its
  // window) until ZMQ_EVENTS says nothing is left: a send may have taken
  // the ZMQ_FD signal of a message that arrived meanwhile.
  void drain(std::size_t index) {
    const bool worker = index < workers_.size();
    zmq::socket_t& socket =
        worker ? workers_[index].socket : clients_[index - workers_.size()].socket;
    do {
      while (auto in = kiln::proto::receive(socket, false)) {
        if (!in->message.ok()) continue;
        if (worker) {
          on_worker_message(index, **in->message);
        } else {
          on_client_message(index - workers_.size(), **in->message);
        }
      }
      if (!worker && loading_) top_up(index - workers_.size(), Clock::now());
    } while ((socket.get(zmq::sockopt::events) & ZMQ_POLLIN) != 0);
  }

  void on_worker_message(std::size_t i, const kiln::proto::Decoded& message) {
    Worker& w = workers_[i];
    const auto body = message.envelope().getBody();
    switch (body.which()) {
      case Which::HEARTBEAT:
        if (!w.joined) {
          w.joined = true;
          ++joined_;
        }
        return;
      case Which::DISCONNECT:
        ++dropped_;
        if (w.joined) --joined_;
        w.joined = false;
        hello(i);
        return;
      case Which::LEASE: {
        const auto lease = body.getLease();
        const std::uint64_t waited = wall_us() - std::min(wall_us(), lease.getQueuedUs());
        const auto salt = lease.getAction().getSalt();
        const auto client = static_cast<std::size_t>(salt.size() > 0 ? salt[0] : 0);
        if (client < clients_.size()) {
          clients_[client].queue_ms.push_back(static_cast<double>(waited) / 1000.0);
        }
        ++w.busy;
        const double ms = std::min(exec_(rng_), 50 * options_.exec_ms);
        finishes_.push(
            Finish{Clock::now() + std::chrono::microseconds(static_cast<long>(ms * 1000)),
                   static_cast<std::uint32_t>(i), lease.getLeaseId(),
                   must(kiln::cas::from_wire(lease.getActionDigest(), kFn), "digest")});
        return;
      }
      default:
        return;  // cancelLease (a backup lost): its answer is ignored anyway
    }
  }

  // A successful, cacheable result with empty stdout and stderr (the blob
  // the clients uploaded), as a real worker sends for `true`.
  void answer(const Finish& f) {
    Worker& w = workers_[f.worker];
    capnp::MallocMessageBuilder m;
    auto r = kiln::proto::init_envelope(m, f.lease).getBody().initLeaseResult();
    r.setLeaseId(f.lease);
    kiln::cas::to_wire(f.digest, r.initActionDigest());
    kiln::cas::ActionResult result;
    result.stdout_digest = empty_;
    result.stderr_digest = empty_;
    kiln::cas::to_wire(result, r.initResult());
    if (options_.cacheable) {
      r.setCacheable(true);
      kiln::cas::to_wire(std::vector<Digest>{empty_}, r.initReferenced(1));
    }
    (void)kiln::proto::send(w.socket, "", m);
    if (w.busy > 0) --w.busy;
    drain(f.worker);
  }

  void on_client_message(std::size_t c, const kiln::proto::Decoded& message) {
    Client& client = clients_[c];
    const auto envelope = message.envelope();
    const auto body = envelope.getBody();
    if (body.which() != Which::EXECUTE_RESPONSE || body.getExecuteResponse().getHasStatus()) {
      die("client " + std::to_string(c) + ": an action failed");
    }
    auto it = client.outstanding.find(envelope.getRequestId());
    if (it == client.outstanding.end()) return;
    const auto now = Clock::now();
    client.latency_ms.push_back(seconds(now - it->second) * 1000);
    client.outstanding.erase(it);
    client.done_at.push_back(seconds(now - load_start_));
    client.last_done = now;
    ++total_done_;
    if (++client.done == client.plan.actions) ++finished_clients_;
  }

  // Keeps the client's window full once it has started.
  void top_up(std::size_t c, Clock::time_point now) {
    Client& client = clients_[c];
    if (total_done_ < client.plan.start_after) return;
    while (client.sent < client.plan.actions &&
           static_cast<int>(client.outstanding.size()) < client.plan.window) {
      kiln::cas::Action action = action_;
      // The salt names the client (first byte) so that the workers can
      // attribute the queue wait, and makes every action distinct.
      action.salt = std::string(1, static_cast<char>(c)) + std::to_string(client.sent);
      const std::string bytes = must(kiln::cas::encode_action(action, kFn), "action");
      const Digest digest = kiln::cas::digest_of(kFn, bytes);
      const std::uint64_t id = static_cast<std::uint64_t>(client.sent) + 1;
      capnp::MallocMessageBuilder m;
      auto req = kiln::proto::init_envelope(m, id).getBody().initExecuteRequest();
      req.setDigestFunction(kiln::cas::to_wire(kFn));
      kiln::cas::to_wire(digest, req.initActionDigest());
      kiln::cas::to_wire(action, kFn, req.initAction());
      if (!kiln::proto::send(client.socket, "", m)) return;  // queue full: next turn
      if (client.sent == 0) client.first_sent = now;
      client.outstanding.emplace(id, Clock::now());
      ++client.sent;
    }
  }

  const Options& options_;
  kiln::cas::Action action_;
  std::mt19937_64 rng_;
  std::lognormal_distribution<double> exec_;
  Digest empty_;
  kiln::base::UniqueFd epoll_;
  std::vector<Worker> workers_;
  std::vector<Client> clients_;
  std::priority_queue<Finish, std::vector<Finish>, std::greater<>> finishes_;
  Clock::time_point heartbeat_epoch_;
  std::uint64_t heartbeats_sent_ = 0;
  std::size_t joined_ = 0;
  int dropped_ = 0;
  bool loading_ = false;
  Clock::time_point load_start_{};
  std::size_t finished_clients_ = 0;
  int total_done_ = 0;
  std::function<void()> on_sweep_;
};

// --- the report ------------------------------------------------------------

// Fairness among clients active at the same time: over the window in
// which every client was active (from the last first submission to the
// first last answer), and per half-second bucket among the clients active
// throughout it.
void report_fairness(const std::vector<Client>& clients, Clock::time_point load_start) {
  std::vector<double> from, to;
  for (const Client& c : clients) {
    from.push_back(seconds(c.first_sent - load_start));
    to.push_back(seconds(c.last_done - load_start));
  }
  const double all_from = *std::max_element(from.begin(), from.end());
  const double all_to = *std::min_element(to.begin(), to.end());
  std::vector<double> rates;
  for (const Client& c : clients) {
    const auto n = std::count_if(c.done_at.begin(), c.done_at.end(),
                                 [&](double t) { return t >= all_from && t < all_to; });
    rates.push_back(all_to > all_from ? static_cast<double>(n) / (all_to - all_from) : 0);
  }
  emit("all_active_s", std::max(0.0, all_to - all_from), "s");
  emit("jain_all_active", jain(rates), "index");
  emit("share_min_over_max",
       *std::min_element(rates.begin(), rates.end()) /
           std::max(1e-9, *std::max_element(rates.begin(), rates.end())),
       "ratio");
  // Per half-second bucket, among the clients active throughout it: Jain's
  // index, and each client's completions over the bucket's mean (1 is the
  // equal share dispatch.h promises a client with work queued).
  constexpr double kBucket = 0.5;
  std::vector<double> per_bucket;
  std::vector<std::vector<double>> share(clients.size());
  const double end = *std::max_element(to.begin(), to.end());
  for (double b = 0; b + kBucket <= end; b += kBucket) {
    std::vector<double> x;
    std::vector<std::size_t> who;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (from[i] > b || to[i] < b + kBucket) continue;
      const auto& d = clients[i].done_at;
      x.push_back(static_cast<double>(
          std::count_if(d.begin(), d.end(), [&](double t) { return t >= b && t < b + kBucket; })));
      who.push_back(i);
    }
    if (x.size() < 2) continue;
    per_bucket.push_back(jain(x));
    const double mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
    for (std::size_t k = 0; k < who.size(); ++k) {
      if (mean > 0) share[who[k]].push_back(x[k] / mean);
    }
  }
  emit("jain_bucket_median", percentile(per_bucket, 0.5), "index");
  emit("jain_bucket_min", percentile(per_bucket, 0), "index");
  // client, actions, window, first submission and last answer (s), actions/s
  // over its own active time, median share of the equal share, queue wait
  // p50 and p99 (ms).
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const Client& c = clients[i];
    std::printf("client\t%zu\t%d\t%d\t%.2f\t%.2f\t%.0f\t%.2f\t%.1f\t%.1f\n", i, c.plan.actions,
                c.plan.window, from[i], to[i], c.plan.actions / std::max(1e-9, to[i] - from[i]),
                percentile(share[i], 0.5), percentile(c.queue_ms, 0.5),
                percentile(c.queue_ms, 0.99));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  // A thousand workers are two thousand descriptors here (a socket's
  // mailbox and its connection): raise the soft limit to the hard one.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    files.rlim_cur = files.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &files);
  }
  fs::remove_all(o.dir);
  fs::create_directories(o.dir);
  zmq::context_t ctx(1);
  ctx.set(zmq::ctxopt::max_sockets, o.workers + o.clients + 64);  // default 1023
  {
    Scheduler sched(o);
    const auto action = prepare(o, ctx, sched);
    std::this_thread::sleep_for(1s);
    const ProcMemory idle = read_memory(sched.pid());

    Fleet fleet(o, ctx, sched, action);
    const auto join_deadline = Clock::now() + 60s;
    fleet.run([&] {
      if (Clock::now() > join_deadline) die("workers did not all join");
      return fleet.joined() == static_cast<std::size_t>(o.workers);
    });
    const double cpu_joined = read_cpu_seconds(sched.pid());
    const auto settle_end = Clock::now() + std::chrono::milliseconds(o.settle_ms);
    fleet.run([&] { return Clock::now() >= settle_end; });
    const double cpu_settled = read_cpu_seconds(sched.pid());
    const ProcMemory with_workers = read_memory(sched.pid());

    double peak_rss = with_workers.rss_kib, peak_anon = with_workers.anon_kib;
    fleet.set_on_sweep([&] {
      const ProcMemory m = read_memory(sched.pid());
      peak_rss = std::max(peak_rss, m.rss_kib);
      peak_anon = std::max(peak_anon, m.anon_kib);
    });
    fleet.start_load();
    fleet.run([&] { return fleet.finished(); });
    const double load_s = seconds(Clock::now() - fleet.load_start());
    const double cpu_loaded = read_cpu_seconds(sched.pid());
    fleet.set_on_sweep({});
    const auto after_end = Clock::now() + 1s;
    fleet.run([&] { return Clock::now() >= after_end; });
    const ProcMemory after = read_memory(sched.pid());

    emit("workers", o.workers, "workers");
    emit("slots", o.workers * o.slots, "slots");
    emit("actions", o.actions, "actions");
    emit("load_s", load_s, "s");
    emit("throughput", o.actions / load_s, "actions/s");
    emit("rss_idle", idle.rss_kib, "KiB");
    emit("anon_idle", idle.anon_kib, "KiB");
    emit("rss_workers", with_workers.rss_kib, "KiB");
    emit("anon_workers", with_workers.anon_kib, "KiB");
    emit("rss_peak", std::max(peak_rss, read_memory(sched.pid()).hwm_kib), "KiB");
    emit("anon_peak", peak_anon, "KiB");
    emit("rss_after", after.rss_kib, "KiB");
    emit("anon_after", after.anon_kib, "KiB");
    emit("cpu_idle_workers", (cpu_settled - cpu_joined) / (o.settle_ms / 1000.0) * 1000, "ms/s");
    emit("cpu_per_1000", (cpu_loaded - cpu_settled) / o.actions * 1000 * 1000, "ms");
    emit("workers_dropped", fleet.dropped(), "workers");
    std::vector<double> queue;
    for (const Client& c : fleet.clients())
      queue.insert(queue.end(), c.queue_ms.begin(), c.queue_ms.end());
    emit("queue_p50", percentile(queue, 0.5), "ms");
    emit("queue_p99", percentile(queue, 0.99), "ms");
    report_fairness(fleet.clients(), fleet.load_start());
  }
  fs::remove_all(o.dir);
  return 0;
}
