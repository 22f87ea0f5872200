// Dispatch policy; see dispatch.h for the rules.
//
// Data layout. Every distinct action in the system is one Job, keyed by its
// action digest, with the list of requests waiting for it. A queued job sits
// in exactly one client queue: the queue of the client that first asked for
// it, in the bucket of its platform requirements, ordered by (priority desc,
// arrival). `rotation_` holds the clients with queued work in round-robin
// order. Free capacity is `free_` ordered by free slots, most first, so load
// spreads across workers.
//
// Matching, after every event: take the client at the front of the
// rotation; in each of its buckets, the first entry (of the first
// kScanDepth) that some free worker may run; lease the best of them to the
// least-loaded such worker; move the client to the back. A worker may run
// an entry when it satisfies the platform, is not quarantined, holds no
// lease of it already, and has not failed it (unless every connected worker
// that could has). A client with nothing that can run now is skipped for
// the rest of the pass; the pass ends when a whole rotation assigns
// nothing.
//
// A running job holds one lease, or two while a backup runs. Backups are
// looked for in tick() (once a heartbeat interval), not on every event:
// they are for the tail of a build, not its latency.
#include "scheduler/dispatch.h"

#include <algorithm>
#include <tuple>

namespace kiln::scheduler {

bool platform_satisfies(const Platform& offered, const Platform& required) {
  return std::all_of(required.begin(), required.end(), [&](const cas::Property& want) {
    return std::find(offered.begin(), offered.end(), want) != offered.end();
  });
}

namespace {

std::string platform_key(const Platform& platform) {
  Platform sorted = platform;
  std::sort(sorted.begin(), sorted.end());
  std::string key;
  for (const auto& p : sorted) {
    key += std::to_string(p.name.size()) + ":" + p.name + std::to_string(p.value.size()) + ":" +
           p.value;
  }
  return key;
}

struct Waiter {
  ClientId client;
  std::uint64_t request_id = 0;
};

// (−priority, sequence): std::set order = dispatch order.
using QueueEntry = std::tuple<int, std::uint64_t, cas::Digest>;

// How deep matching looks into a bucket past entries no free worker may run
// (retries avoiding the workers they failed on).
constexpr std::size_t kScanDepth = 16;
// How many recent lease durations the backup threshold is the median of.
constexpr std::size_t kDurationWindow = 64;

struct Lease {
  WorkerId worker;
  Millis started{0};
  Millis deadline{0};
};

struct Job {
  cas::Digest digest;
  Payload action;
  std::string base_dir;
  Platform platform;
  std::string key;
  Millis timeout{0};
  std::vector<Waiter> waiters;
  int attempts = 0;
  Millis queued_at{0};
  ClientId owner;
  int priority = 0;
  std::uint64_t sequence = 0;
  std::map<std::uint64_t, Lease> leases;  // running: one, or two with a backup
  std::set<WorkerId> failed_on;
  bool running() const { return !leases.empty(); }
};

struct Worker {
  std::uint32_t slots = 0;
  Platform platform;
  Millis last_heard{0};
  std::set<std::uint64_t> leases;
  std::unordered_map<std::string, bool> satisfies;  // by platform key
  int failures_in_a_row = 0;
  Millis quarantined_until{0};

  std::uint32_t busy() const { return static_cast<std::uint32_t>(leases.size()); }
  std::uint32_t free() const { return slots > busy() ? slots - busy() : 0; }
  bool quarantined(Millis now) const { return now < quarantined_until; }
};

struct ClientQueue {
  std::map<std::string, std::set<QueueEntry>> buckets;  // by platform key
  std::map<std::string, Platform> platforms;            // key -> platform
  bool empty() const { return buckets.empty(); }
};

}  // namespace

struct DispatchPolicy::State {
  Options options;
  std::unordered_map<cas::Digest, Job, cas::DigestHash> jobs;
  std::map<std::pair<ClientId, std::uint64_t>, cas::Digest> requests;
  std::map<ClientId, ClientQueue> queues;
  std::deque<ClientId> rotation;
  std::map<WorkerId, Worker> workers;
  std::set<std::pair<std::uint32_t, WorkerId>, std::greater<>> free;  // (free slots, id)
  std::unordered_map<std::uint64_t, cas::Digest> leases;
  std::deque<Millis> durations;  // of the last kDurationWindow successful leases
  std::vector<Command> out;
  std::uint64_t next_sequence = 1;
  std::uint64_t next_lease = 1;
  std::size_t queued = 0;
  std::uint64_t backups = 0;
  std::uint64_t backups_won = 0;
  std::uint64_t retries = 0;
  Millis clock{0};  // the latest `now` seen, for stats()
  bool draining = false;

  void set_free(const WorkerId& id, Worker& w, std::uint32_t old_free) {
    free.erase({old_free, id});
    if (w.free() > 0) free.insert({w.free(), id});
  }

  bool worker_satisfies(Worker& w, const std::string& key, const Platform& platform) {
    auto [it, inserted] = w.satisfies.try_emplace(key, false);
    if (inserted) it->second = platform_satisfies(w.platform, platform);
    return it->second;
  }

  void enqueue(Job& job) {
    ClientQueue& q = queues[job.owner];
    if (q.empty()) rotation.push_back(job.owner);
    q.buckets[job.key].insert({-job.priority, job.sequence, job.digest});
    q.platforms.try_emplace(job.key, job.platform);
    ++queued;
  }

  void dequeue(const Job& job) {
    auto qit = queues.find(job.owner);
    if (qit == queues.end()) return;
    ClientQueue& q = qit->second;
    auto bit = q.buckets.find(job.key);
    if (bit == q.buckets.end()) return;
    if (bit->second.erase({-job.priority, job.sequence, job.digest}) == 0) return;
    --queued;
    if (bit->second.empty()) {
      q.buckets.erase(bit);
      q.platforms.erase(job.key);
    }
    if (q.empty()) {
      queues.erase(qit);
      rotation.erase(std::remove(rotation.begin(), rotation.end(), job.owner), rotation.end());
    }
  }

  void forget_requests(const Job& job) {
    for (const Waiter& w : job.waiters) requests.erase({w.client, w.request_id});
  }

  void fail_job(Job& job, FailReason reason, const std::string& message) {
    cancel_leases(job);
    for (const Waiter& w : job.waiters)
      out.push_back(Fail{w.client, w.request_id, job.digest, reason, message});
    forget_requests(job);
    jobs.erase(job.digest);  // invalidates `job`
  }

  // Ends one lease of a running job (the job stays).
  void release_lease(Job& job, std::uint64_t lease_id) {
    auto it = job.leases.find(lease_id);
    if (it == job.leases.end()) return;
    leases.erase(lease_id);
    if (auto wit = workers.find(it->second.worker); wit != workers.end()) {
      const std::uint32_t old_free = wit->second.free();
      wit->second.leases.erase(lease_id);
      set_free(wit->first, wit->second, old_free);
    }
    job.leases.erase(it);
  }

  // Tells the workers to stop every lease of the job, and ends them.
  void cancel_leases(Job& job) {
    while (!job.leases.empty()) {
      const auto [lease_id, lease] = *job.leases.begin();
      out.push_back(CancelLease{lease.worker, lease_id});
      release_lease(job, lease_id);
    }
  }

  // Counts a failed lease against its worker: enough in a row quarantine it.
  void worker_failed(Millis now, const WorkerId& id) {
    auto wit = workers.find(id);
    if (wit == workers.end()) return;
    Worker& w = wit->second;
    if (++w.failures_in_a_row >= options.quarantine_after && options.quarantine_after > 0) {
      w.quarantined_until = now + options.quarantine;
      w.failures_in_a_row = 0;
    }
  }

  // A lease ended without a result: while another lease of the job runs it
  // carries on; else retry, or give up.
  void attempt_failed(Millis now, Job& job, std::uint64_t lease_id, const std::string& why) {
    if (auto it = job.leases.find(lease_id); it != job.leases.end()) {
      job.failed_on.insert(it->second.worker);
      worker_failed(now, it->second.worker);
    }
    release_lease(job, lease_id);
    if (job.running()) return;
    if (job.waiters.empty()) {
      jobs.erase(job.digest);
    } else if (job.attempts >= options.max_attempts) {
      fail_job(job, FailReason::kRetriesExhausted,
               "action failed " + std::to_string(job.attempts) + " times; last: " + why);
    } else if (draining) {
      fail_job(job, FailReason::kDraining, "scheduler is shutting down; last attempt: " + why);
    } else {
      ++retries;
      enqueue(job);
    }
  }

  void start(Millis now, Job& job, const WorkerId& id, Worker& w) {
    if (!job.running()) dequeue(job);
    const std::uint32_t old_free = w.free();
    const std::uint64_t lease_id = next_lease++;
    job.attempts += 1;
    const Millis timeout = job.timeout.count() > 0 ? job.timeout : options.default_timeout;
    job.leases.emplace(lease_id, Lease{id, now, now + timeout + options.lease_grace});
    w.leases.insert(lease_id);
    leases.emplace(lease_id, job.digest);
    set_free(id, w, old_free);
    out.push_back(StartLease{id, lease_id, job.digest, job.action, job.queued_at, job.attempts,
                             job.base_dir});
  }

  bool holds_lease_of(const WorkerId& id, const Job& job) const {
    return std::any_of(job.leases.begin(), job.leases.end(),
                       [&](const auto& lease) { return lease.second.worker == id; });
  }

  // Whether a connected, unquarantined worker that has not failed the job
  // could run it (then the job waits for one rather than go back to a
  // worker it failed on).
  bool untried_worker_exists(Millis now, Job& job) {
    return std::any_of(workers.begin(), workers.end(), [&](auto& entry) {
      return !entry.second.quarantined(now) && job.failed_on.count(entry.first) == 0 &&
             worker_satisfies(entry.second, job.key, job.platform);
    });
  }

  // A free worker that may run the job, most free slots first.
  std::optional<WorkerId> choose_worker(Millis now, Job& job) {
    const bool avoid_failed = !job.failed_on.empty() && untried_worker_exists(now, job);
    for (const auto& [free_slots, id] : free) {
      Worker& w = workers.at(id);
      if (w.quarantined(now) || !worker_satisfies(w, job.key, job.platform)) continue;
      if (holds_lease_of(id, job)) continue;
      if (avoid_failed && job.failed_on.count(id) != 0) continue;
      return id;
    }
    return std::nullopt;
  }

  void match(Millis now) {
    clock = std::max(clock, now);
    if (draining) return;
    std::size_t idle_turns = 0;
    while (!free.empty() && !rotation.empty() && idle_turns < rotation.size()) {
      const ClientId client = rotation.front();
      rotation.pop_front();
      rotation.push_back(client);
      ClientQueue& q = queues.at(client);
      const QueueEntry* best = nullptr;
      WorkerId best_worker;
      for (auto& [key, bucket] : q.buckets) {
        std::size_t depth = 0;
        for (auto it = bucket.begin(); it != bucket.end() && depth < kScanDepth; ++it, ++depth) {
          if (best != nullptr && !(*it < *best)) break;
          if (auto worker = choose_worker(now, jobs.at(std::get<2>(*it)))) {
            best = &*it;
            best_worker = *worker;
            break;
          }
        }
      }
      if (best == nullptr) {
        ++idle_turns;
        continue;
      }
      idle_turns = 0;
      Job& job = jobs.at(std::get<2>(*best));
      start(now, job, best_worker, workers.at(best_worker));
    }
  }

  // How long a lease may run before a free worker starts a backup of it.
  Millis backup_threshold() const {
    Millis median{0};
    if (!durations.empty()) {
      std::vector<Millis> sorted(durations.begin(), durations.end());
      std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(sorted.size() / 2),
                       sorted.end());
      median = sorted[sorted.size() / 2];
    }
    const auto scaled = Millis(
        static_cast<std::int64_t>(static_cast<double>(median.count()) * options.backup_factor));
    return std::max(options.backup_min, scaled);
  }

  // Free workers that nothing queued can use take backups of the actions
  // running longest past the threshold, one backup per action.
  void start_backups(Millis now) {
    if (draining || options.backup_factor <= 0 || free.empty()) return;
    const Millis threshold = backup_threshold();
    std::vector<std::pair<Millis, cas::Digest>> overdue;  // (started, job)
    for (const auto& [digest, job] : jobs) {
      if (job.leases.size() != 1 || job.waiters.empty()) continue;
      const Lease& lease = job.leases.begin()->second;
      if (now - lease.started > threshold) overdue.emplace_back(lease.started, digest);
    }
    std::sort(overdue.begin(), overdue.end());
    for (const auto& [started, digest] : overdue) {
      if (free.empty()) break;
      Job& job = jobs.at(digest);
      if (auto worker = choose_worker(now, job)) {
        start(now, job, *worker, workers.at(*worker));
        ++backups;
      }
    }
  }

  void record_duration(Millis duration) {
    durations.push_back(duration);
    if (durations.size() > kDurationWindow) durations.pop_front();
  }

  bool any_worker_satisfies(const std::string& key, const Platform& platform) {
    return std::any_of(workers.begin(), workers.end(),
                       [&](auto& entry) { return worker_satisfies(entry.second, key, platform); });
  }

  // Fails queued actions that no connected worker can run and that have
  // waited longer than no_worker_timeout.
  void fail_unmatchable(Millis now) {
    std::vector<cas::Digest> expired;
    for (auto& [client, q] : queues) {
      for (auto& [key, bucket] : q.buckets) {
        if (any_worker_satisfies(key, q.platforms.at(key))) continue;
        for (const QueueEntry& entry : bucket) {
          const Job& job = jobs.at(std::get<2>(entry));
          if (now - job.queued_at > options.no_worker_timeout) expired.push_back(job.digest);
        }
      }
    }
    for (const cas::Digest& digest : expired) {
      Job& job = jobs.at(digest);
      dequeue(job);
      fail_job(job, FailReason::kNoMatchingWorker,
               "no connected worker has platform " + describe(job.platform));
    }
  }

  static std::string describe(const Platform& platform) {
    std::string text;
    for (const auto& p : platform) text += (text.empty() ? "" : ",") + p.name + "=" + p.value;
    return text.empty() ? "(any)" : text;
  }

  void requeue_worker_leases(Millis now, const WorkerId& id, const std::string& why) {
    auto wit = workers.find(id);
    if (wit == workers.end()) return;
    const std::set<std::uint64_t> held = wit->second.leases;
    for (std::uint64_t lease : held) {
      auto lit = leases.find(lease);
      if (lit == leases.end()) continue;
      attempt_failed(now, jobs.at(lit->second), lease, why);
    }
  }
};

DispatchPolicy::DispatchPolicy(Options options) : state_(std::make_unique<State>()) {
  state_->options = options;
}
DispatchPolicy::~DispatchPolicy() = default;

void DispatchPolicy::submit(Millis now, Submission s) {
  State& st = *state_;
  if (st.draining) {
    st.out.push_back(Fail{s.client, s.request_id, s.action_digest, FailReason::kDraining,
                          "scheduler is shutting down"});
    return;
  }
  const auto request = std::make_pair(s.client, s.request_id);
  if (st.requests.count(request) != 0) return;  // a resend of a request we hold
  st.requests.emplace(request, s.action_digest);
  auto [it, inserted] = st.jobs.try_emplace(s.action_digest);
  Job& job = it->second;
  job.waiters.push_back(Waiter{s.client, s.request_id});
  if (!inserted) return;  // joins the identical action already in flight
  job.digest = s.action_digest;
  job.action = std::move(s.action);
  job.base_dir = std::move(s.base_dir);
  job.key = platform_key(s.platform);
  job.platform = std::move(s.platform);
  job.timeout = s.timeout;
  job.queued_at = now;
  job.owner = s.client;
  job.priority = s.priority;
  job.sequence = st.next_sequence++;
  st.enqueue(job);
  st.match(now);
}

void DispatchPolicy::cancel(Millis now, const ClientId& client, std::uint64_t request_id) {
  State& st = *state_;
  auto rit = st.requests.find({client, request_id});
  if (rit == st.requests.end()) return;
  const cas::Digest digest = rit->second;
  st.requests.erase(rit);
  Job& job = st.jobs.at(digest);
  std::erase_if(job.waiters,
                [&](const Waiter& w) { return w.client == client && w.request_id == request_id; });
  if (!job.waiters.empty()) return;
  if (job.running()) {
    st.cancel_leases(job);
  } else {
    st.dequeue(job);
  }
  st.jobs.erase(digest);
  st.match(now);
}

void DispatchPolicy::client_gone(Millis now, const ClientId& client) {
  std::vector<std::uint64_t> ids;
  for (auto it = state_->requests.lower_bound({client, 0});
       it != state_->requests.end() && it->first.first == client; ++it) {
    ids.push_back(it->first.second);
  }
  for (std::uint64_t id : ids) cancel(now, client, id);
}

void DispatchPolicy::worker_ready(Millis now, const WorkerId& id, std::uint32_t slots,
                                  Platform platform) {
  State& st = *state_;
  if (st.workers.count(id) != 0) worker_gone(now, id, "worker announced itself again");
  Worker& w = st.workers[id];
  w.slots = slots;
  w.platform = std::move(platform);
  w.last_heard = now;
  st.set_free(id, w, 0);
  st.match(now);
}

void DispatchPolicy::worker_heard(Millis now, const WorkerId& id) {
  if (auto it = state_->workers.find(id); it != state_->workers.end()) it->second.last_heard = now;
}

void DispatchPolicy::worker_gone(Millis now, const WorkerId& id, const std::string& reason) {
  State& st = *state_;
  auto wit = st.workers.find(id);
  if (wit == st.workers.end()) return;
  st.requeue_worker_leases(now, id, "worker " + id + " lost: " + reason);
  st.free.erase({wit->second.free(), id});
  st.workers.erase(id);
  st.match(now);
}

bool DispatchPolicy::has_worker(const WorkerId& id) const { return state_->workers.count(id) != 0; }

namespace {

// Checks that `worker` holds `lease`; returns the job or a disposition.
std::variant<Job*, ResultDisposition> find_lease(
    std::map<WorkerId, Worker>& workers, std::unordered_map<std::uint64_t, cas::Digest>& leases,
    std::unordered_map<cas::Digest, Job, cas::DigestHash>& jobs, const WorkerId& worker,
    std::uint64_t lease_id) {
  auto wit = workers.find(worker);
  if (wit == workers.end()) return ResultDisposition::kUnknownWorker;
  auto lit = leases.find(lease_id);
  if (lit == leases.end()) return ResultDisposition::kUnknownLease;
  if (wit->second.leases.count(lease_id) == 0) return ResultDisposition::kNotYourLease;
  return &jobs.at(lit->second);
}

}  // namespace

ResultDisposition DispatchPolicy::lease_result(Millis now, const WorkerId& worker,
                                               std::uint64_t lease_id, Payload result) {
  State& st = *state_;
  worker_heard(now, worker);
  auto found = find_lease(st.workers, st.leases, st.jobs, worker, lease_id);
  if (auto* d = std::get_if<ResultDisposition>(&found)) return *d;
  Job& job = *std::get<Job*>(found);
  const Lease lease = job.leases.at(lease_id);
  st.record_duration(now - lease.started);
  if (job.leases.size() > 1 && job.leases.begin()->first != lease_id) ++st.backups_won;
  if (auto wit = st.workers.find(worker); wit != st.workers.end()) {
    wit->second.failures_in_a_row = 0;
  }
  st.release_lease(job, lease_id);
  st.cancel_leases(job);  // the backup (or the original) still running
  for (const Waiter& w : job.waiters)
    st.out.push_back(Complete{w.client, w.request_id, job.digest, result});
  st.forget_requests(job);
  st.jobs.erase(job.digest);
  st.match(now);
  return ResultDisposition::kAccepted;
}

ResultDisposition DispatchPolicy::lease_error(Millis now, const WorkerId& worker,
                                              std::uint64_t lease_id, const std::string& error,
                                              bool retryable) {
  State& st = *state_;
  worker_heard(now, worker);
  auto found = find_lease(st.workers, st.leases, st.jobs, worker, lease_id);
  if (auto* d = std::get_if<ResultDisposition>(&found)) return *d;
  Job& job = *std::get<Job*>(found);
  if (retryable) {
    st.attempt_failed(now, job, lease_id, error);
  } else {
    st.release_lease(job, lease_id);
    st.fail_job(job, FailReason::kWorkerError, error);
  }
  st.match(now);
  return ResultDisposition::kAccepted;
}

void DispatchPolicy::tick(Millis now) {
  State& st = *state_;
  const Millis silence_limit = st.options.heartbeat_interval * st.options.liveness;
  std::vector<WorkerId> dead;
  for (const auto& [id, w] : st.workers) {
    if (now - w.last_heard > silence_limit) dead.push_back(id);
  }
  for (const WorkerId& id : dead) {
    const std::string reason =
        "silent for " + std::to_string(st.options.liveness) + " heartbeat intervals";
    worker_gone(now, id, reason);
    st.out.push_back(DropWorker{id, reason});
  }
  std::vector<std::uint64_t> overdue;
  for (const auto& [lease, digest] : st.leases) {
    if (now > st.jobs.at(digest).leases.at(lease).deadline) overdue.push_back(lease);
  }
  for (std::uint64_t lease : overdue) {
    auto lit = st.leases.find(lease);
    if (lit == st.leases.end()) continue;  // ended with an earlier one
    Job& job = st.jobs.at(lit->second);
    const WorkerId worker = job.leases.at(lease).worker;
    st.out.push_back(CancelLease{worker, lease});
    st.attempt_failed(now, job, lease, "lease expired on worker " + worker);
  }
  st.fail_unmatchable(now);
  st.match(now);
  st.start_backups(now);
}

void DispatchPolicy::drain(Millis now) {
  State& st = *state_;
  st.draining = true;
  std::vector<cas::Digest> queued;
  for (const auto& [digest, job] : st.jobs) {
    if (!job.running()) queued.push_back(digest);
  }
  for (const cas::Digest& digest : queued) {
    Job& job = st.jobs.at(digest);
    st.dequeue(job);
    st.fail_job(job, FailReason::kDraining, "scheduler is shutting down");
  }
  (void)now;
}

bool DispatchPolicy::idle() const { return state_->jobs.empty(); }

std::vector<Command> DispatchPolicy::take_commands() {
  std::vector<Command> commands;
  commands.swap(state_->out);
  return commands;
}

DispatchStats DispatchPolicy::stats() const {
  const State& st = *state_;
  DispatchStats s;
  s.workers = st.workers.size();
  for (const auto& [id, w] : st.workers) {
    s.total_slots += w.slots;
    s.busy_slots += w.busy();
  }
  s.queued = st.queued;
  s.running = static_cast<std::size_t>(std::count_if(
      st.jobs.begin(), st.jobs.end(), [](const auto& entry) { return entry.second.running(); }));
  s.waiting_requests = st.requests.size();
  s.quarantined = static_cast<std::size_t>(
      std::count_if(st.workers.begin(), st.workers.end(),
                    [&](const auto& entry) { return entry.second.quarantined(st.clock); }));
  s.backups = st.backups;
  s.backups_won = st.backups_won;
  s.retries = st.retries;
  return s;
}

std::vector<WorkerView> DispatchPolicy::workers() const {
  std::vector<WorkerView> views;
  for (const auto& [id, w] : state_->workers) {
    views.push_back(
        WorkerView{id, w.slots, w.busy(), w.last_heard, w.platform, w.quarantined_until});
  }
  return views;
}

}  // namespace kiln::scheduler
