// invocations.h: the log of invocations, and what the pages derive from it.
#include "scheduler/invocations.h"

#include <algorithm>
#include <set>
#include <unordered_set>

namespace kiln::scheduler {

namespace {

constexpr std::size_t kMaxId = 128;
constexpr std::size_t kMaxLabels = 16;
constexpr std::size_t kMaxKind = 32;
constexpr std::size_t kMaxSubject = 512;

bool id_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool label_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

// Control characters (and DEL) become '?'; the text is cut to `max` bytes
// at a character boundary of UTF-8.
std::string clean(std::string text, std::size_t max) {
  if (text.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return text;
}

}  // namespace

InvocationTagValue sanitize_tag(InvocationTagValue tag) {
  if (tag.id.empty() || tag.id.size() > kMaxId || tag.id == "." || tag.id == ".." ||
      !std::all_of(tag.id.begin(), tag.id.end(), id_char)) {
    tag.id.clear();
  }
  TagLabels labels;
  for (auto& [name, value] : tag.labels) {
    if (labels.size() == kMaxLabels) break;
    if (name.empty() || name.size() > 64 ||
        !std::all_of(name.begin(), name.end(), label_name_char) || value.size() > 256) {
      continue;
    }
    labels.emplace_back(std::move(name), clean(std::move(value), 256));
  }
  tag.labels = std::move(labels);
  tag.kind = clean(std::move(tag.kind), kMaxKind);
  tag.subject = clean(std::move(tag.subject), kMaxSubject);
  return tag;
}

std::string_view to_string(ActionState state) {
  switch (state) {
    case ActionState::kQueued:
      return "queued";
    case ActionState::kRunning:
      return "running";
    case ActionState::kDone:
      return "done";
    case ActionState::kFailed:
      return "failed";
    case ActionState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::int64_t ActionEntry::duration_us() const {
  if (finished_us == 0) return 0;
  return std::max<std::int64_t>(0, finished_us - submitted_us);
}

double InvocationSummary::hit_rate() const {
  return actions == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(actions);
}

std::pair<std::vector<std::size_t>, std::int64_t> critical_path(
    const std::vector<ActionEntry>& actions) {
  const std::size_t n = actions.size();
  if (n == 0) return {{}, 0};
  // deps point to earlier entries only, so one pass in order sees every
  // predecessor first.
  std::vector<std::int64_t> best(n, 0);
  std::vector<std::size_t> prev(n, n);
  for (std::size_t i = 0; i < n; ++i) {
    std::int64_t before = 0;
    for (std::size_t d : actions[i].deps) {
      if (d < i && best[d] > before) {
        before = best[d];
        prev[i] = d;
      }
    }
    best[i] = before + actions[i].duration_us();
  }
  std::size_t last = 0;
  for (std::size_t i = 1; i < n; ++i) {
    if (best[i] > best[last]) last = i;
  }
  std::vector<std::size_t> path;
  for (std::size_t i = last; i != n; i = prev[i]) path.push_back(i);
  std::reverse(path.begin(), path.end());
  return {path, best[last]};
}

struct InvocationLog::Invocation {
  std::string id;
  TagLabels labels;
  std::int64_t first_us = 0;
  std::int64_t last_us = 0;
  std::vector<ActionEntry> actions;
  std::size_t dropped = 0;
  std::set<std::string> clients;
  // Output digest -> the entry that made it first (for deps).
  std::unordered_map<std::string, std::size_t> producers;
  void produced(std::size_t index, std::vector<std::string> outputs) {
    for (std::string& out : outputs) producers.emplace(std::move(out), index);
  }
  // The summary's counts, kept as entries change (a page asks for a
  // hundred summaries of up to 20,000 actions each: no walk per request).
  std::size_t hits = 0;
  std::size_t executed = 0;
  std::size_t failed = 0;
  std::size_t in_flight = 0;
  std::size_t flaky = 0;
  // Adds (sign 1) or removes (-1) what `e` counts in its current state.
  void count(const ActionEntry& e, int sign) {
    const auto add = [sign](std::size_t& n, bool counts) {
      if (counts) n = sign > 0 ? n + 1 : n - 1;
    };
    add(hits, e.cached);
    add(executed, !e.cached && (e.state == ActionState::kDone ||
                                (e.state == ActionState::kFailed && e.exit_code != 0)));
    add(failed, e.state == ActionState::kFailed);
    add(in_flight, e.state == ActionState::kQueued || e.state == ActionState::kRunning);
    // kiln test retries only tests that failed: a retry that passes is a
    // flaky test (client/testing/binary_root.h, WorkTag).
    add(flaky, e.kind == "test-retry" && e.state == ActionState::kDone && e.exit_code == 0);
  }
};

InvocationLog::InvocationLog(Options options) : options_(options) {
  options_.max_invocations = std::max<std::size_t>(options_.max_invocations, 1);
}

InvocationLog::~InvocationLog() = default;

InvocationLog::Invocation& InvocationLog::invocation_for(const InvocationTagValue& tag,
                                                         std::int64_t now_us) {
  if (last_ != nullptr && last_->id == tag.id) {
    if (last_->labels.empty() && !tag.labels.empty()) last_->labels = tag.labels;
    last_->last_us = std::max(last_->last_us, now_us);
    return *last_;
  }
  auto it = invocations_.find(tag.id);
  if (it == invocations_.end()) {
    while (invocations_.size() >= options_.max_invocations && !order_.empty()) {
      const std::string oldest = order_.front();
      order_.pop_front();
      auto gone = invocations_.find(oldest);
      // Waiting entries of a forgotten invocation are forgotten with it.
      for (auto w = waiting_.begin(); w != waiting_.end();) {
        std::erase_if(w->second,
                      [&](const Waiter& x) { return x.ref.invocation == gone->second.get(); });
        w = w->second.empty() ? waiting_.erase(w) : std::next(w);
      }
      if (last_ == gone->second.get()) last_ = nullptr;
      invocations_.erase(gone);
    }
    auto inv = std::make_unique<Invocation>();
    inv->id = tag.id;
    inv->labels = tag.labels;
    inv->first_us = now_us;
    order_.push_back(tag.id);
    it = invocations_.emplace(tag.id, std::move(inv)).first;
  } else if (it->second->labels.empty() && !tag.labels.empty()) {
    it->second->labels = tag.labels;  // a later process knew them
  }
  it->second->last_us = std::max(it->second->last_us, now_us);
  last_ = it->second.get();
  return *it->second;
}

template <typename Change>
void InvocationLog::update(const Ref& ref, Change change) {
  if (ref.invocation == nullptr || ref.index >= ref.invocation->actions.size()) return;
  ActionEntry& e = ref.invocation->actions[ref.index];
  ref.invocation->count(e, -1);
  change(e);
  ref.invocation->count(e, 1);
}

ActionEntry* InvocationLog::entry(const Ref& ref) {
  if (ref.invocation == nullptr || ref.index >= ref.invocation->actions.size()) return nullptr;
  return &ref.invocation->actions[ref.index];
}

void InvocationLog::note_failure(const ActionEntry& e) {
  failures_.push_front(e);
  failures_.front().deps.clear();
  while (failures_.size() > options_.max_failures) failures_.pop_back();
}

void InvocationLog::hit(const InvocationTagValue& tag, const std::string& client,
                        const std::string& digest, std::int64_t now_us, const std::string& worker,
                        int exit_code, std::vector<std::string> outputs) {
  if (tag.id.empty()) return;
  std::lock_guard lock(mutex_);
  Invocation& inv = invocation_for(tag, now_us);
  inv.clients.insert(client);
  if (inv.actions.size() >= options_.max_actions) {
    ++inv.dropped;
    return;
  }
  ActionEntry e;
  e.invocation = tag.id;
  e.digest = digest;
  e.kind = tag.kind;
  e.subject = tag.subject;
  e.client = client;
  e.cached = true;
  e.state = ActionState::kDone;
  e.worker = worker;
  e.submitted_us = now_us;
  e.finished_us = now_us;
  e.exit_code = exit_code;
  inv.count(e, 1);
  inv.actions.push_back(std::move(e));
  inv.produced(inv.actions.size() - 1, std::move(outputs));
}

void InvocationLog::submitted(const InvocationTagValue& tag, const std::string& peer,
                              const std::string& name, std::uint64_t request,
                              const std::string& digest, std::int64_t now_us,
                              std::vector<std::string> inputs) {
  if (tag.id.empty()) return;
  std::lock_guard lock(mutex_);
  Invocation& inv = invocation_for(tag, now_us);
  inv.clients.insert(name);
  // A resubmission: the same connection waiting for the same digest in
  // this invocation under an older request id takes the entry over.
  std::vector<Waiter>& waiters = waiting_[digest];
  for (Waiter& w : waiters) {
    if (w.peer != peer || w.ref.invocation != &inv) continue;
    w.request = request;
    update(w.ref, [](ActionEntry& e) {
      if (e.state != ActionState::kCancelled) return;
      // Cancelled just before this resubmission: waiting again.
      e.state = e.started_us != 0 ? ActionState::kRunning : ActionState::kQueued;
      e.finished_us = 0;
    });
    return;
  }
  if (inv.actions.size() >= options_.max_actions) {
    ++inv.dropped;
    if (waiters.empty()) waiting_.erase(digest);
    return;
  }
  ActionEntry e;
  e.invocation = tag.id;
  e.digest = digest;
  e.kind = tag.kind;
  e.subject = tag.subject;
  e.client = name;
  e.submitted_us = now_us;
  for (const std::string& in : inputs) {
    if (e.deps.size() == kMaxDeps) break;
    auto p = inv.producers.find(in);
    if (p != inv.producers.end() &&
        std::find(e.deps.begin(), e.deps.end(), p->second) == e.deps.end()) {
      e.deps.push_back(p->second);
    }
  }
  inv.count(e, 1);
  inv.actions.push_back(std::move(e));
  waiters.push_back(Waiter{peer, request, Ref{&inv, inv.actions.size() - 1}});
}

void InvocationLog::started(const std::string& digest, const std::string& worker,
                            std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = waiting_.find(digest);
  if (it == waiting_.end()) return;
  for (const Waiter& w : it->second) {
    update(w.ref, [&](ActionEntry& e) {
      if (e.state == ActionState::kQueued) e.started_us = now_us;
      e.state = ActionState::kRunning;
      e.worker = worker;  // a retry or a backup moves it
    });
  }
}

std::optional<InvocationLog::Ref> InvocationLog::take_waiting(const std::string& client,
                                                              std::uint64_t request,
                                                              const std::string& digest) {
  auto it = waiting_.find(digest);
  if (it == waiting_.end()) return std::nullopt;
  std::vector<Waiter>& waiters = it->second;
  for (std::size_t i = 0; i < waiters.size(); ++i) {
    if (waiters[i].peer != client || waiters[i].request != request) continue;
    const Ref ref = waiters[i].ref;
    waiters[i] = std::move(waiters.back());
    waiters.pop_back();
    if (waiters.empty()) waiting_.erase(it);
    if (entry(ref) == nullptr) return std::nullopt;
    return ref;
  }
  return std::nullopt;
}

void InvocationLog::finish(const Ref& ref, std::int64_t now_us) {
  if (ref.invocation != nullptr) {
    ref.invocation->last_us = std::max(ref.invocation->last_us, now_us);
  }
}

void InvocationLog::completed(const std::string& client, std::uint64_t request,
                              const std::string& digest, std::int64_t now_us,
                              const std::string& worker, int exit_code,
                              std::vector<PhaseSpan> phases, std::vector<std::string> outputs,
                              bool cached) {
  std::lock_guard lock(mutex_);
  const auto ref = take_waiting(client, request, digest);
  if (!ref) return;
  update(*ref, [&](ActionEntry& e) {
    e.finished_us = now_us;
    if (!worker.empty()) e.worker = worker;
    e.exit_code = exit_code;
    e.phases = std::move(phases);
    e.cached = cached;
    e.state = exit_code == 0 ? ActionState::kDone : ActionState::kFailed;
    if (e.state == ActionState::kFailed) e.message = "exit code " + std::to_string(exit_code);
  });
  if (exit_code == 0) {
    ref->invocation->produced(ref->index, std::move(outputs));
  } else {
    note_failure(*entry(*ref));
  }
  finish(*ref, now_us);
}

void InvocationLog::failed(const std::string& client, std::uint64_t request,
                           const std::string& digest, std::int64_t now_us,
                           const std::string& message) {
  std::lock_guard lock(mutex_);
  const auto ref = take_waiting(client, request, digest);
  if (!ref) return;
  update(*ref, [&](ActionEntry& e) {
    e.finished_us = now_us;
    e.state = ActionState::kFailed;
    e.message = message;
  });
  note_failure(*entry(*ref));
  finish(*ref, now_us);
}

void InvocationLog::cancelled(const std::string& client, std::uint64_t request,
                              const std::string& digest, std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  auto it = waiting_.find(digest);
  if (it == waiting_.end()) return;
  for (const Waiter& w : it->second) {
    if (w.peer != client || w.request != request) continue;
    // A client cancels the older request when it resubmits; the entry stays
    // waiting under that digest until the new request (submitted()) takes
    // it over. A cancel with no resubmission leaves it marked cancelled.
    update(w.ref, [&](ActionEntry& e) {
      e.state = ActionState::kCancelled;
      e.finished_us = now_us;
    });
    return;
  }
}

bool InvocationLog::waiting(const std::string& peer, std::uint64_t request,
                            const std::string& digest) const {
  std::lock_guard lock(mutex_);
  auto it = waiting_.find(digest);
  if (it == waiting_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(),
                     [&](const Waiter& w) { return w.peer == peer && w.request == request; });
}

bool InvocationLog::has_producers(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = invocations_.find(id);
  return it != invocations_.end() && !it->second->producers.empty();
}

void InvocationLog::client_gone(const std::string& peer, std::int64_t now_us) {
  std::lock_guard lock(mutex_);
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    std::erase_if(it->second, [&](const Waiter& w) {
      if (w.peer != peer) return false;
      update(w.ref, [&](ActionEntry& e) {
        e.state = ActionState::kCancelled;
        e.finished_us = now_us;
      });
      finish(w.ref, now_us);
      return true;
    });
    it = it->second.empty() ? waiting_.erase(it) : std::next(it);
  }
}

InvocationSummary InvocationLog::summarize(const Invocation& inv) const {
  InvocationSummary s;
  s.id = inv.id;
  s.labels = inv.labels;
  s.first_us = inv.first_us;
  s.last_us = inv.last_us;
  s.actions = inv.actions.size() + inv.dropped;
  s.dropped = inv.dropped;
  s.clients.assign(inv.clients.begin(), inv.clients.end());
  s.hits = inv.hits;
  s.executed = inv.executed;
  s.failed = inv.failed;
  s.in_flight = inv.in_flight;
  s.flaky = inv.flaky;
  return s;
}

std::vector<InvocationSummary> InvocationLog::summaries(std::size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<InvocationSummary> out;
  for (auto it = order_.rbegin(); it != order_.rend() && out.size() < limit; ++it) {
    out.push_back(summarize(*invocations_.at(*it)));
  }
  return out;
}

std::optional<InvocationDetail> InvocationLog::detail(const std::string& id,
                                                      std::size_t max_shown) const {
  InvocationDetail d;
  std::lock_guard lock(mutex_);
  auto it = invocations_.find(id);
  if (it == invocations_.end()) return std::nullopt;
  const std::vector<ActionEntry>& all = it->second->actions;
  d.summary = summarize(*it->second);
  // Over every action: the path, the slowest, the workers.
  auto [critical, critical_us] = critical_path(all);
  d.critical_us = critical_us;
  std::vector<std::size_t> slowest;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].duration_us() == 0) continue;
    slowest.push_back(i);
    std::sort(slowest.begin(), slowest.end(), [&](std::size_t a, std::size_t b) {
      return all[a].duration_us() != all[b].duration_us()
                 ? all[a].duration_us() > all[b].duration_us()
                 : a < b;
    });
    if (slowest.size() > 10) slowest.pop_back();
  }
  for (const ActionEntry& e : all) {
    if (!e.cached && !e.worker.empty() &&
        std::find(d.workers.begin(), d.workers.end(), e.worker) == d.workers.end()) {
      d.workers.push_back(e.worker);
    }
  }
  // What is shown: the path and the slowest always, then the newest.
  std::vector<bool> shown(all.size(), false);
  std::size_t count = 0;
  const auto show = [&](std::size_t i) {
    if (!shown[i]) {
      shown[i] = true;
      ++count;
    }
  };
  for (std::size_t i : critical) show(i);
  for (std::size_t i : slowest) show(i);
  for (std::size_t i = all.size(); i > 0 && count < max_shown; --i) show(i - 1);
  std::vector<std::size_t> new_index(all.size(), all.size());
  d.actions.reserve(count);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!shown[i]) continue;
    new_index[i] = d.actions.size();
    d.actions.push_back(all[i]);
  }
  for (ActionEntry& e : d.actions) {
    std::vector<std::size_t> deps;
    for (std::size_t dep : e.deps) {
      if (new_index[dep] != all.size()) deps.push_back(new_index[dep]);
    }
    e.deps = std::move(deps);
  }
  for (std::size_t i : critical) d.critical.push_back(new_index[i]);
  for (std::size_t i : slowest) d.slowest.push_back(new_index[i]);
  d.omitted = all.size() - d.actions.size();
  return d;
}

std::vector<ActionEntry> InvocationLog::recent_failures() const {
  std::lock_guard lock(mutex_);
  return {failures_.begin(), failures_.end()};
}

std::vector<ActionEntry> InvocationLog::in_flight(std::size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<ActionEntry> out;
  for (const auto& [digest, waiters] : waiting_) {
    for (const Waiter& w : waiters) {
      if (w.ref.index >= w.ref.invocation->actions.size()) continue;
      const ActionEntry& e = w.ref.invocation->actions[w.ref.index];
      if (e.state != ActionState::kQueued && e.state != ActionState::kRunning) continue;
      out.push_back(e);
      out.back().deps.clear();
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.submitted_us < b.submitted_us; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace kiln::scheduler
