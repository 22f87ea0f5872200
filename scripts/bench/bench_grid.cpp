// Grid benchmarks, everything real but in one process: a kiln Server (the
// scheduler core) on loopback TCP, workers as real DEALER sockets, clients
// as real proto::Connections.
//
//   dispatch W   no-op actions through the scheduler with W connected
//                workers (fake executors that answer each lease at once):
//                actions/s, every action distinct (no cache hits)
//   hold W       W workers connected and heartbeating for a few seconds:
//                does the scheduler keep all of them (status count)?
//   latency      one trivial action (`true`) at a time through the grid to a
//                real worker Agent (real executor, real process), against the
//                same executor called locally and a bare posix_spawn: p50/p99
//   transfer     a 256 MiB tree uploaded to and fetched back from the
//                scheduler's store, against `cp -r` of the same tree
//   trust        dispatch with 50 fake workers, and the trivial action's
//                latency through the grid, with CURVE keys on every socket
//                against plain TCP, alternating rounds (issue "Trust")
//   sandbox      the trivial action through the executor in the bubblewrap
//                sandbox against the same executor running it straight,
//                alternating: p50/p99 and the time added
//   http         dispatch with 50 fake workers with the scheduler's HTTP
//                endpoint on (recording the invocation for its pages) and
//                its pages and /metrics polled every 100 ms, against HTTP
//                off, alternating rounds (issues "Metrics", "Insight")
//
// Prints tab-separated lines "name<TAB>value<TAB>unit"; scripts/bench/grid.sh
// turns them into the table.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "cas/remote_cas.h"
#include "cas/store.h"
#include "cas/tree.h"
#include "cas/wire_model.h"
#include "exec/executor.h"
#include "exec/runner.h"
#include "exec/sandbox.h"
#include "proto/curve.h"
#include "proto/transport.h"
#include "scheduler/server.h"
#include "scripts/bench/bench_util.h"
#include "worker/agent.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using kiln::cas::Digest;
constexpr auto kFn = kiln::cas::DigestFunction::kXxh3_128;

using kiln::bench::die;
using kiln::bench::must;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CURVE keys for a scheduler, its workers and a client, and the
// authorized-keys file that admits them.
struct Keys {
  kiln::proto::CurveKeyPair scheduler, worker, client;
  fs::path authorized;
  explicit Keys(const fs::path& dir) {
    scheduler = must(kiln::proto::generate_curve_keypair(), "keypair");
    worker = must(kiln::proto::generate_curve_keypair(), "keypair");
    client = must(kiln::proto::generate_curve_keypair(), "keypair");
    fs::create_directories(dir);
    authorized = dir / "authorized_keys";
    std::ofstream(authorized) << "worker " << worker.public_key << " bench-worker\nclient "
                              << client.public_key << " bench-client\n";
  }
  kiln::proto::CurveClientKeys as_worker() const { return {scheduler.public_key, worker}; }
  kiln::proto::CurveClientKeys as_client() const { return {scheduler.public_key, client}; }
};

// The keys a peer connects with: none (plain TCP) or its pair.
struct PeerKeys {
  std::optional<kiln::proto::CurveClientKeys> worker, client;
  const kiln::proto::CurveClientKeys* for_worker() const { return worker ? &*worker : nullptr; }
  const kiln::proto::CurveClientKeys* for_client() const { return client ? &*client : nullptr; }
};

struct Grid {
  std::unique_ptr<kiln::scheduler::Server> server;
  std::thread thread;
  std::string client_ep, worker_ep, http_ep;
  PeerKeys peers;
  explicit Grid(const fs::path& dir, const Keys* keys = nullptr, bool http = false) {
    kiln::scheduler::ServerOptions o;
    o.store_dir = dir / "central";
    o.policy.heartbeat_interval = 1000ms;
    if (http) o.http_endpoint = "127.0.0.1:0";
    if (keys != nullptr) {
      o.secret_key = keys->scheduler.secret_key;
      o.authorized_keys_file = keys->authorized;
      peers = {keys->as_worker(), keys->as_client()};
    }
    server = must(kiln::scheduler::Server::create(o, [](auto, const std::string&) {}), "server");
    client_ep = server->client_endpoint();
    worker_ep = server->worker_endpoint();
    http_ep = server->http_endpoint();
    thread = std::thread([this] { (void)server->run(); });
  }
  ~Grid() {
    server->request_stop();
    thread.join();
  }
};

// A local store holding one Command (`true`) and an empty input root,
// uploaded to the grid; returns the action template.
kiln::cas::Action prepare(const fs::path& dir, zmq::context_t& ctx, const Grid& grid,
                          std::unique_ptr<kiln::cas::Store>& local) {
  kiln::cas::StoreOptions so;
  so.dir = dir / "client";
  so.durable = false;
  local = must(kiln::cas::Store::open(so), "client store");
  kiln::cas::Command command;
  command.arguments = {"true"};
  command.environment = {{"PATH", "/usr/bin:/bin"}};
  kiln::cas::Action action;
  action.command_digest =
      must(local->put(must(kiln::cas::encode_command(command), "command")), "put");
  const std::string empty_dir = must(kiln::cas::encode_directory({}, kFn), "dir");
  action.input_root_digest = must(local->put(empty_dir), "put");
  const Digest empty_blob = must(local->put(std::string_view()), "put");
  auto conn =
      must(kiln::proto::Connection::open(ctx, grid.client_ep, {}, {}, grid.peers.for_client()),
           "connect");
  kiln::cas::RemoteCas remote(*conn, kFn);
  std::vector<Digest> all{action.command_digest, action.input_root_digest, empty_blob};
  must(remote.upload(*local, all), "upload");
  return action;
}

void send_hello(zmq::socket_t& s, const std::string& id, unsigned slots) {
  capnp::MallocMessageBuilder m;
  auto hello = kiln::proto::init_envelope(m, 0).getBody().initWorkerHello();
  hello.setWorkerId(id);
  hello.setSlots(slots);
  hello.setHeartbeatIntervalMs(1000);
  kiln::proto::send(s, "", m);
}

void send_heartbeat(zmq::socket_t& s) {
  capnp::MallocMessageBuilder m;
  kiln::proto::init_envelope(m, 0).getBody().initHeartbeat();
  kiln::proto::send(s, "", m);
}

// W fake workers on one thread: each lease is answered at once.
struct FakeWorkers {
  std::vector<zmq::socket_t> sockets;
  std::atomic<bool> stop{false};
  std::thread thread;
  Digest empty;
  FakeWorkers(zmq::context_t& ctx, const Grid& grid, int count, unsigned slots) {
    empty = kiln::cas::digest_of(kFn, std::string_view());
    for (int i = 0; i < count; ++i) {
      sockets.push_back(
          must(kiln::proto::make_dealer(ctx, grid.worker_ep, "fake-" + std::to_string(i), {},
                                        grid.peers.for_worker()),
               "dealer"));
      send_hello(sockets.back(), "fake-" + std::to_string(i), slots);
    }
    thread = std::thread([this] { loop(); });
  }
  ~FakeWorkers() {
    stop = true;
    thread.join();
  }
  void loop() {
    std::vector<zmq::pollitem_t> items;
    for (auto& s : sockets) items.push_back({s.handle(), 0, ZMQ_POLLIN, 0});
    auto next_beat = Clock::now();
    while (!stop) {
      zmq::poll(items.data(), items.size(), 50ms);
      for (std::size_t i = 0; i < sockets.size(); ++i) {
        if ((items[i].revents & ZMQ_POLLIN) == 0) continue;
        while (auto in = kiln::proto::receive(sockets[i], false)) {
          if (!in->message.ok()) continue;
          auto body = (*in->message)->envelope().getBody();
          if (body.which() != kiln::schema::Envelope::Body::LEASE) continue;
          auto lease = body.getLease();
          capnp::MallocMessageBuilder m;
          auto r = kiln::proto::init_envelope(m, 0).getBody().initLeaseResult();
          r.setLeaseId(lease.getLeaseId());
          r.setActionDigest(lease.getActionDigest());
          kiln::cas::ActionResult result;
          result.stdout_digest = empty;
          result.stderr_digest = empty;
          kiln::cas::to_wire(result, r.initResult());
          kiln::proto::send(sockets[i], "", m);
        }
      }
      if (Clock::now() >= next_beat) {
        for (auto& s : sockets) send_heartbeat(s);
        next_beat = Clock::now() + 300ms;
      }
    }
  }
};

std::size_t worker_count(zmq::context_t& ctx, const Grid& grid) {
  auto conn =
      must(kiln::proto::Connection::open(ctx, grid.client_ep, {}, {}, grid.peers.for_client()),
           "connect");
  auto reply = must(conn->call([](auto e) { e.getBody().initStatusRequest(); }, 5000ms), "status");
  return reply->envelope().getBody().getStatusResponse().getWorkers().size();
}

void wait_workers(zmq::context_t& ctx, const Grid& grid, std::size_t n) {
  const auto deadline = Clock::now() + 30s;
  while (worker_count(ctx, grid) < n) {
    if (Clock::now() > deadline) die("workers did not all connect");
    std::this_thread::sleep_for(50ms);
  }
}

// Submits `count` distinct actions with `window` outstanding; returns actions/s.
// With `invocation`, every request carries that invocation's tag, as kiln's
// clients send it.
double pump(zmq::context_t& ctx, const Grid& grid, kiln::cas::Action action, int count, int window,
            std::vector<double>* latencies = nullptr, const std::string& invocation = {}) {
  auto conn =
      must(kiln::proto::Connection::open(ctx, grid.client_ep, {}, {}, grid.peers.for_client()),
           "connect");
  std::vector<std::pair<std::uint64_t, Clock::time_point>> outstanding;
  int sent = 0, done = 0;
  std::uint64_t salt = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  const auto start = Clock::now();
  std::size_t head = 0;
  while (done < count) {
    while (sent < count && sent - done < window) {
      action.salt = std::to_string(salt++);
      const std::string bytes = must(kiln::cas::encode_action(action, kFn), "action");
      const Digest digest = kiln::cas::digest_of(kFn, bytes);
      const auto id = must(conn->send([&](kiln::schema::Envelope::Builder e) {
        auto req = e.getBody().initExecuteRequest();
        req.setDigestFunction(kiln::cas::to_wire(kFn));
        kiln::cas::to_wire(digest, req.initActionDigest());
        kiln::cas::to_wire(action, kFn, req.initAction());
        if (!invocation.empty()) {
          auto tag = req.initInvocation();
          tag.setId(invocation);
          auto labels = tag.initLabels(2);
          labels[0].setName("ticket");
          labels[0].setValue("BENCH-1");
          labels[1].setName("commit");
          labels[1].setValue("0123456789abcdef");
          tag.setKind("compile");
          tag.setSubject("src/unit" + std::to_string(sent) + ".cc");
        }
      }),
                           "send");
      outstanding.emplace_back(id, Clock::now());
      ++sent;
    }
    auto reply = must(conn->wait(outstanding[head].first, 60000ms), "execute");
    auto body = reply->envelope().getBody();
    if (body.which() != kiln::schema::Envelope::Body::EXECUTE_RESPONSE ||
        body.getExecuteResponse().getHasStatus()) {
      die("an action failed");
    }
    if (latencies) latencies->push_back(seconds_since(outstanding[head].second) * 1e6);
    ++head;
    ++done;
  }
  return count / seconds_since(start);
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

void emit(const std::string& name, double value, const char* unit) {
  std::printf("%s\t%.3f\t%s\n", name.c_str(), value, unit);
  std::fflush(stdout);
}

void bench_dispatch(const fs::path& dir, zmq::context_t& ctx, int workers, int actions) {
  fs::remove_all(dir);
  Grid grid(dir);
  std::unique_ptr<kiln::cas::Store> local;
  const auto action = prepare(dir, ctx, grid, local);
  FakeWorkers fake(ctx, grid, workers, std::max(1, 256 / workers));
  wait_workers(ctx, grid, workers);
  (void)pump(ctx, grid, action, 200, 200);  // warm up
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) rates.push_back(pump(ctx, grid, action, actions, 512));
  emit("dispatch_" + std::to_string(workers), percentile(rates, 0.5), "actions/s");
}

void bench_hold(const fs::path& dir, zmq::context_t& ctx, int workers) {
  fs::remove_all(dir);
  Grid grid(dir);
  FakeWorkers fake(ctx, grid, workers, 1);
  wait_workers(ctx, grid, workers);
  std::this_thread::sleep_for(5s);  // > 3 heartbeat intervals
  emit("hold_" + std::to_string(workers), static_cast<double>(worker_count(ctx, grid)), "workers");
}

// One trivial action at a time through `grid` to a real worker Agent
// (unsandboxed: this measures the grid's path), latencies in us.
std::vector<double> grid_latencies(const fs::path& dir, zmq::context_t& ctx, const Grid& grid,
                                   const kiln::cas::Action& action, int rounds) {
  kiln::worker::AgentOptions ao;
  ao.scheduler_endpoint = grid.worker_ep;
  ao.worker_id = "bench";
  ao.slots = 1;
  ao.store_dir = dir / "worker-store";
  ao.work_root = dir / "worker-sandboxes";
  ao.sandbox.kind = kiln::exec::SandboxKind::kNone;
  ao.curve = grid.peers.worker;
  auto agent = must(kiln::worker::Agent::create(ao, [](auto, const std::string&) {}), "agent");
  std::thread agent_thread([&] { (void)agent->run(); });
  wait_workers(ctx, grid, 1);
  std::vector<double> latencies;
  (void)pump(ctx, grid, action, 20, 1);  // warm up
  (void)pump(ctx, grid, action, rounds, 1, &latencies);
  agent->request_stop();
  agent_thread.join();
  return latencies;
}

void bench_latency(const fs::path& dir, zmq::context_t& ctx, int rounds) {
  fs::remove_all(dir);
  // Baselines: a bare posix_spawn of `true`, and the executor called here.
  std::vector<double> spawn, local_exec, grid_lat;
  kiln::exec::RunSpec spec;
  spec.argv = {"true"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.cwd = "/";
  for (int i = 0; i < rounds; ++i) {
    const auto t = Clock::now();
    must(kiln::exec::run_command(spec), "spawn");
    spawn.push_back(seconds_since(t) * 1e6);
  }
  {
    Grid grid(dir);
    std::unique_ptr<kiln::cas::Store> local;
    auto action = prepare(dir, ctx, grid, local);
    kiln::exec::ExecutorOptions eo;
    eo.work_root = dir / "local-sandboxes";
    for (int i = 0; i < rounds; ++i) {
      const auto t = Clock::now();
      must(kiln::exec::execute(*local, action, eo), "execute");
      local_exec.push_back(seconds_since(t) * 1e6);
    }
    grid_lat = grid_latencies(dir, ctx, grid, action, rounds);
  }
  emit("latency_spawn_p50", percentile(spawn, 0.5), "us");
  emit("latency_spawn_p99", percentile(spawn, 0.99), "us");
  emit("latency_local_p50", percentile(local_exec, 0.5), "us");
  emit("latency_local_p99", percentile(local_exec, 0.99), "us");
  emit("latency_grid_p50", percentile(grid_lat, 0.5), "us");
  emit("latency_grid_p99", percentile(grid_lat, 0.99), "us");
}

void bench_transfer(const fs::path& dir, zmq::context_t& ctx, std::uint64_t total_mib) {
  fs::remove_all(dir);
  const fs::path tree_dir = dir / "tree";
  fs::create_directories(tree_dir / "sub");
  std::mt19937_64 rng(7);
  const int files = static_cast<int>(total_mib / 4);
  std::vector<std::uint64_t> block((4u << 20) / 8);
  for (int i = 0; i < files; ++i) {
    for (auto& w : block) w = rng();
    std::ofstream(tree_dir / (i % 2 ? "sub" : ".") / ("f" + std::to_string(i)), std::ios::binary)
        .write(reinterpret_cast<const char*>(block.data()),
               static_cast<std::streamsize>(block.size() * 8));
  }
  std::system(("sync; cp -r " + tree_dir.string() + " " + (dir / "warm").string()).c_str());
  auto t = Clock::now();
  std::system(("cp -r " + tree_dir.string() + " " + (dir / "copy").string()).c_str());
  const double cp_s = seconds_since(t);

  Grid grid(dir);
  kiln::cas::StoreOptions so;
  so.durable = false;
  so.dir = dir / "from";
  auto from = must(kiln::cas::Store::open(so), "store");
  so.dir = dir / "to";
  auto to = must(kiln::cas::Store::open(so), "store");
  const auto built = must(kiln::cas::build_tree(tree_dir, kFn), "tree");
  for (const auto& [d, bytes] : built.directories)
    must(from->put(d, std::as_bytes(std::span(bytes.data(), bytes.size()))), "put");
  for (const auto& [d, path] : built.files) must(from->put_file(path), "put");
  auto conn = must(kiln::proto::Connection::open(ctx, grid.client_ep), "connect");
  kiln::cas::RemoteCas remote(*conn, kFn);
  const auto blobs = must(kiln::cas::RemoteCas::tree_blobs(*from, built.root), "blobs");
  t = Clock::now();
  must(remote.upload(*from, blobs), "upload");
  const double up_s = seconds_since(t);
  t = Clock::now();
  must(remote.fetch_tree(*to, built.root), "fetch");
  const fs::path out = dir / "out";
  fs::create_directories(out);
  must(kiln::cas::materialize_tree(*to, built.root, out), "materialize");
  const double down_s = seconds_since(t);
  emit("transfer_mib", static_cast<double>(files * 4), "MiB");
  emit("transfer_cp_s", cp_s, "s");
  emit("transfer_upload_s", up_s, "s");
  emit("transfer_fetch_checkout_s", down_s, "s");
}

// CURVE against plain TCP, in alternating rounds so that the machine's
// load falls on both alike: dispatch with 50 fake workers (actions/s) and
// the trivial action's latency to a real worker.
void bench_trust(const fs::path& dir, zmq::context_t& ctx, int rounds) {
  std::vector<double> rate[2], latency[2];
  for (int round = 0; round < rounds; ++round) {
    for (int curve : {round % 2, 1 - round % 2}) {
      const fs::path d = dir / ("r" + std::to_string(round) + "-" + std::to_string(curve));
      const Keys keys(d / "keys");
      {
        Grid grid(d / "dispatch", curve ? &keys : nullptr);
        std::unique_ptr<kiln::cas::Store> local;
        const auto action = prepare(d / "dispatch", ctx, grid, local);
        FakeWorkers fake(ctx, grid, 50, 5);
        wait_workers(ctx, grid, 50);
        (void)pump(ctx, grid, action, 200, 200);  // warm up
        rate[curve].push_back(pump(ctx, grid, action, 5000, 512));
      }
      Grid grid(d / "latency", curve ? &keys : nullptr);
      std::unique_ptr<kiln::cas::Store> local;
      const auto action = prepare(d / "latency", ctx, grid, local);
      const auto lat = grid_latencies(d / "latency", ctx, grid, action, 100);
      latency[curve].insert(latency[curve].end(), lat.begin(), lat.end());
    }
  }
  for (int curve : {0, 1}) {
    const std::string name = curve ? "curve" : "plain";
    emit("trust_dispatch_" + name, percentile(rate[curve], 0.5), "actions/s");
    emit("trust_latency_" + name + "_p50", percentile(latency[curve], 0.5), "us");
    emit("trust_latency_" + name + "_p99", percentile(latency[curve], 0.99), "us");
  }
}

// Polls the scheduler's HTTP endpoint every `period` on its own thread until
// destroyed, a fresh connection each time (as Prometheus and a browser
// would), in turn: /metrics, the status page, the invocations page and the
// page of `invocation` (the one being dispatched); checks each answer.
class Scraper {
 public:
  Scraper(const std::string& endpoint, std::chrono::milliseconds period, std::string invocation)
      : port_(std::stoi(endpoint.substr(endpoint.rfind(':') + 1))),
        invocation_(std::move(invocation)),
        thread_([this, period] {
          const std::pair<std::string, std::string> pages[] = {
              {"/metrics", "kiln_queued_actions "},
              {"/", "id=\"cards\""},
              {"/invocations", "id=\"trends\""},
              {"/invocations/" + invocation_, "id=\"timeline\""}};
          auto next = Clock::now();
          for (std::size_t turn = 0; !stop_.load(); ++turn) {
            const auto& [path, mark] = pages[turn % std::size(pages)];
            httplib::Client client("127.0.0.1", port_);
            auto reply = client.Get(path);
            if (!reply || reply->status != 200 || reply->body.find(mark) == std::string::npos) {
              die("a poll of " + path + " failed");
            }
            ++scrapes_;
            next += period;
            std::this_thread::sleep_until(next);
          }
        }) {}
  ~Scraper() {
    stop_.store(true);
    thread_.join();
  }
  int scrapes() const { return scrapes_.load(); }

 private:
  int port_;
  std::string invocation_;
  std::atomic<bool> stop_{false};
  std::atomic<int> scrapes_{0};
  std::thread thread_;
};

// Dispatch with HTTP on and scraped every 100 ms against HTTP off, in
// alternating rounds so that the machine's load falls on both alike. Each
// round pairs the two, and the median of the pairs' ratios is the answer:
// on a shared machine the rate drifts more between rounds than within a
// pair. NOSCRAPE=1 in the environment keeps HTTP on but unscraped (the
// cost of publishing snapshots alone).
void bench_http(const fs::path& dir, zmq::context_t& ctx, int rounds, int actions) {
  std::vector<double> rate[2];
  std::vector<double> ratios;  // time on / time off, per round
  int scrapes = 0;
  double scraping_s = 0;
  const bool scrape = std::getenv("NOSCRAPE") == nullptr;
  for (int round = 0; round < rounds; ++round) {
    for (int on : {round % 2, 1 - round % 2}) {
      const fs::path d = dir / ("r" + std::to_string(round) + "-" + std::to_string(on));
      Grid grid(d, nullptr, on != 0);
      std::unique_ptr<kiln::cas::Store> local;
      const auto action = prepare(d, ctx, grid, local);
      FakeWorkers fake(ctx, grid, 50, 5);
      wait_workers(ctx, grid, 50);
      (void)pump(ctx, grid, action, 200, 200);  // warm up
      // Tagged either way: without HTTP the scheduler ignores the tags.
      const std::string invocation = "bench-" + std::to_string(round);
      (void)pump(ctx, grid, action, 1, 1, nullptr, invocation);  // the page exists
      std::optional<Scraper> scraper;
      if (on && scrape) scraper.emplace(grid.http_ep, 100ms, invocation);
      const int scrapes_before = scraper ? scraper->scrapes() : 0;
      const auto t = Clock::now();
      rate[on].push_back(pump(ctx, grid, action, actions, 512, nullptr, invocation));
      if (scraper) {
        scraping_s += seconds_since(t);
        scrapes += scraper->scrapes() - scrapes_before;
      }
      fs::remove_all(d);
    }
    ratios.push_back(rate[0].back() / rate[1].back());
  }
  emit("http_dispatch_off", percentile(rate[0], 0.5), "actions/s");
  emit("http_dispatch_on", percentile(rate[1], 0.5), "actions/s");
  emit("http_time_ratio", percentile(ratios, 0.5), "x");
  emit("http_scrapes_per_s", scraping_s > 0 ? scrapes / scraping_s : 0, "1/s");
}

// The trivial action (`true`, empty input root) through the executor, in
// the bubblewrap sandbox and straight, alternating.
void bench_sandbox(const fs::path& dir, int rounds) {
  fs::create_directories(dir);
  kiln::cas::StoreOptions so;
  so.dir = dir / "store";
  so.durable = false;
  auto store = must(kiln::cas::Store::open(so), "store");
  kiln::cas::Command command;
  command.arguments = {"true"};
  command.environment = {{"PATH", "/usr/bin:/bin"}};
  kiln::cas::Action action;
  action.command_digest = must(store->put(must(kiln::cas::encode_command(command), "cmd")), "put");
  action.input_root_digest =
      must(store->put(must(kiln::cas::encode_directory({}, kFn), "dir")), "put");
  const auto sandbox = must(
      kiln::exec::Sandbox::create({.kind = kiln::exec::SandboxKind::kBubblewrap, .scratch = dir}),
      "bubblewrap");
  kiln::exec::ExecutorOptions straight;
  straight.work_root = dir / "work";
  kiln::exec::ExecutorOptions boxed = straight;
  boxed.sandbox = &sandbox;
  std::vector<double> times[2];
  for (int i = 0; i < rounds; ++i) {
    for (int boxed_first : {i % 2, 1 - i % 2}) {
      const auto t = Clock::now();
      must(kiln::exec::execute(*store, action, boxed_first ? boxed : straight), "execute");
      times[boxed_first].push_back(seconds_since(t) * 1e6);
    }
  }
  emit("sandbox_none_p50", percentile(times[0], 0.5), "us");
  emit("sandbox_none_p99", percentile(times[0], 0.99), "us");
  emit("sandbox_bwrap_p50", percentile(times[1], 0.5), "us");
  emit("sandbox_bwrap_p99", percentile(times[1], 0.99), "us");
  emit("sandbox_as_user", sandbox.describe().find("actions as") != std::string::npos ? 1 : 0,
       "bool");
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "kiln-bench-grid";
  const std::string only = argc > 2 ? argv[2] : "all";
  zmq::context_t ctx(2);
  if (only == "all" || only == "dispatch") {
    for (int w : {2, 50, 500}) bench_dispatch(dir / "d", ctx, w, 10000);
  }
  if (only == "all" || only == "hold") bench_hold(dir / "h", ctx, 1000);
  if (only == "all" || only == "latency") bench_latency(dir / "l", ctx, 300);
  if (only == "all" || only == "transfer") bench_transfer(dir / "t", ctx, 256);
  if (only == "trust") bench_trust(dir / "trust", ctx, 4);
  if (only == "sandbox") bench_sandbox(dir / "sandbox", 200);
  if (only == "http") bench_http(dir / "http", ctx, 6, 20000);
  fs::remove_all(dir);
  return 0;
}
