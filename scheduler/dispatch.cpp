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
// rotation; among its buckets whose platform some free worker satisfies,
// take the best entry; lease it to the least-loaded satisfying worker; move
// the client to the back. A client none of whose buckets can run now is
// skipped for the rest of the pass. The pass ends when a whole rotation
// assigns nothing.
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

struct Job {
  cas::Digest digest;
  Payload action;
  Platform platform;
  std::string key;
  Millis timeout{0};
  std::vector<Waiter> waiters;
  int attempts = 0;
  Millis queued_at{0};
  ClientId owner;
  int priority = 0;
  std::uint64_t sequence = 0;
  bool running = false;
  std::uint64_t lease_id = 0;
  WorkerId worker;
  Millis lease_deadline{0};
};

struct Worker {
  std::uint32_t slots = 0;
  Platform platform;
  Millis last_heard{0};
  std::set<std::uint64_t> leases;
  std::unordered_map<std::string, bool> satisfies;  // by platform key

  std::uint32_t busy() const { return static_cast<std::uint32_t>(leases.size()); }
  std::uint32_t free() const { return slots > busy() ? slots - busy() : 0; }
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
  std::vector<Command> out;
  std::uint64_t next_sequence = 1;
  std::uint64_t next_lease = 1;
  std::size_t queued = 0;
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
    job.running = false;
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
    for (const Waiter& w : job.waiters)
      out.push_back(Fail{w.client, w.request_id, job.digest, reason, message});
    forget_requests(job);
    jobs.erase(job.digest);  // invalidates `job`
  }

  // Ends the current lease of a running job (the job stays).
  void release_lease(Job& job) {
    leases.erase(job.lease_id);
    if (auto wit = workers.find(job.worker); wit != workers.end()) {
      const std::uint32_t old_free = wit->second.free();
      wit->second.leases.erase(job.lease_id);
      set_free(wit->first, wit->second, old_free);
    }
    job.running = false;
    job.lease_id = 0;
    job.worker.clear();
  }

  // A lease ended without a result: retry, or give up.
  void attempt_failed(Job& job, const std::string& why) {
    release_lease(job);
    if (job.waiters.empty()) {
      jobs.erase(job.digest);
    } else if (job.attempts >= options.max_attempts) {
      fail_job(job, FailReason::kRetriesExhausted,
               "action failed " + std::to_string(job.attempts) + " times; last: " + why);
    } else if (draining) {
      fail_job(job, FailReason::kDraining, "scheduler is shutting down; last attempt: " + why);
    } else {
      enqueue(job);
    }
  }

  void start(Millis now, Job& job, const WorkerId& id, Worker& w) {
    dequeue(job);
    const std::uint32_t old_free = w.free();
    job.running = true;
    job.lease_id = next_lease++;
    job.worker = id;
    job.attempts += 1;
    const Millis timeout = job.timeout.count() > 0 ? job.timeout : options.default_timeout;
    job.lease_deadline = now + timeout + options.lease_grace;
    w.leases.insert(job.lease_id);
    leases.emplace(job.lease_id, job.digest);
    set_free(id, w, old_free);
    out.push_back(
        StartLease{id, job.lease_id, job.digest, job.action, job.queued_at, job.attempts});
  }

  // Finds a free worker for `key`, most free slots first.
  std::optional<WorkerId> find_worker(const std::string& key, const Platform& platform) {
    for (const auto& [free_slots, id] : free) {
      if (worker_satisfies(workers.at(id), key, platform)) return id;
    }
    return std::nullopt;
  }

  void match(Millis now) {
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
        if (best != nullptr && !(*bucket.begin() < *best)) continue;
        if (auto worker = find_worker(key, q.platforms.at(key))) {
          best = &*bucket.begin();
          best_worker = *worker;
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

  void requeue_worker_leases(const WorkerId& id, const std::string& why) {
    auto wit = workers.find(id);
    if (wit == workers.end()) return;
    const std::set<std::uint64_t> held = wit->second.leases;
    for (std::uint64_t lease : held) {
      auto lit = leases.find(lease);
      if (lit == leases.end()) continue;
      attempt_failed(jobs.at(lit->second), why);
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
  if (job.running) {
    st.out.push_back(CancelLease{job.worker, job.lease_id});
    st.release_lease(job);
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
  st.requeue_worker_leases(id, "worker " + id + " lost: " + reason);
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
  st.release_lease(job);
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
    st.attempt_failed(job, error);
  } else {
    st.release_lease(job);
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
    if (now > st.jobs.at(digest).lease_deadline) overdue.push_back(lease);
  }
  for (std::uint64_t lease : overdue) {
    Job& job = st.jobs.at(st.leases.at(lease));
    st.out.push_back(CancelLease{job.worker, lease});
    st.attempt_failed(job, "lease expired on worker " + job.worker);
  }
  st.fail_unmatchable(now);
  st.match(now);
}

void DispatchPolicy::drain(Millis now) {
  State& st = *state_;
  st.draining = true;
  std::vector<cas::Digest> queued;
  for (const auto& [digest, job] : st.jobs) {
    if (!job.running) queued.push_back(digest);
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
  s.running = st.leases.size();
  s.waiting_requests = st.requests.size();
  return s;
}

std::vector<WorkerView> DispatchPolicy::workers() const {
  std::vector<WorkerView> views;
  for (const auto& [id, w] : state_->workers) {
    views.push_back(WorkerView{id, w.slots, w.busy(), w.last_heard, w.platform});
  }
  return views;
}

}  // namespace kiln::scheduler
