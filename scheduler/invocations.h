// What the scheduler remembers of invocations — one build or test run each,
// named by the InvocationTag its clients send with every executeRequest
// (wire.capnp; client/invocation.h) — for the pages at /invocations and
// /invocations/ID (pages.h) and the trends over the last ones.
//
// For each invocation: its labels, and one entry per action a client of it
// asked for: a cache hit, or a miss with when it was submitted, leased to
// which worker, finished, the worker's own phases (input fetch, execute,
// upload), its exit code or why it failed, and which earlier actions made
// its inputs (by digest: the files of its input root against the outputs of
// the invocation's finished actions). Derived when a page asks: counts, the
// slowest actions, and the critical path — the longest chain of actions in
// which each one's output is an input of the next, which is where a faster
// grid would make the build faster.
//
// Bounded: the newest max_invocations invocations are kept, each with at
// most max_actions entries (later ones are counted, not kept); an entry
// keeps no digests but its own (the log's map of outputs to their
// producers is per invocation). Everything in a tag comes
// from a client and is untrusted: sanitize_tag() keeps an id only of 1-128
// characters of [A-Za-z0-9._-], at most 16 labels, and cuts long texts.
//
// Thread-safe: the scheduler's loop records, the HTTP threads read; one
// mutex, held for an event's bookkeeping or a view's copy, never while
// rendering. Pure otherwise: the caller passes the times (wall clock,
// microseconds since the Unix epoch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kiln::scheduler {

using TagLabels = std::vector<std::pair<std::string, std::string>>;

struct InvocationTagValue {
  std::string id;  // "" = the action belongs to no invocation
  TagLabels labels;
  std::string kind;     // "compile", "link", "test", "run" (at most 32 characters)
  std::string subject;  // at most 512 bytes
};

// `tag` with everything a page must not show removed: an id that is not
// 1-128 characters of [A-Za-z0-9._-] becomes "" (no invocation); labels
// beyond 16, with a name that is not [a-z0-9_.-]{1,64} or a value over 256
// bytes are dropped; control characters become '?'; kind and subject are
// cut to their limits.
InvocationTagValue sanitize_tag(InvocationTagValue tag);

inline constexpr std::size_t kMaxInputDigests = 4096;
inline constexpr std::size_t kMaxDeps = 256;
// An invocation's page and JSON show at most this many actions.
inline constexpr std::size_t kMaxShownActions = 2000;

// One span a worker reported, by its own clock.
struct PhaseSpan {
  std::string name;  // "input_fetch", "execute", "upload"
  std::int64_t start_us = 0;
  std::int64_t end_us = 0;
};

enum class ActionState { kQueued, kRunning, kDone, kFailed, kCancelled };
std::string_view to_string(ActionState state);

struct ActionEntry {
  std::string invocation;  // the id of the invocation it belongs to
  std::string digest;      // "<hex>/<size>"
  std::string kind;
  std::string subject;
  std::string client;   // the client's key name (or peer id without authentication)
  bool cached = false;  // answered from the action cache
  ActionState state = ActionState::kQueued;
  std::string worker;  // who ran it (for a hit: who ran it first, when known)
  std::int64_t submitted_us = 0;
  std::int64_t started_us = 0;   // leased; 0 = not yet
  std::int64_t finished_us = 0;  // answered; 0 = not yet
  int exit_code = 0;
  std::string message;  // why it failed (kFailed)
  std::vector<PhaseSpan> phases;
  // For the critical path: the earlier actions of the invocation whose
  // outputs this one read (indices into its actions), found when it was
  // submitted (a client submits an action once its inputs exist, so their
  // producers have finished by then). At most kMaxDeps.
  std::vector<std::size_t> deps;
  // What this action counts in the totals of its invocation.
  std::int64_t duration_us() const;
};

struct InvocationSummary {
  std::string id;
  TagLabels labels;
  std::int64_t first_us = 0;  // the first request
  std::int64_t last_us = 0;   // the last request or answer
  std::size_t actions = 0;    // requests recorded (hits + misses), dropped ones included
  std::size_t hits = 0;
  std::size_t executed = 0;   // finished on a worker
  std::size_t failed = 0;     // non-zero exit codes and failures
  std::size_t in_flight = 0;  // queued or running now
  std::size_t dropped = 0;    // beyond max_actions: counted, not kept
  // Retries of failed tests (kind "test-retry", as kiln test tags them)
  // that passed: flaky tests.
  std::size_t flaky = 0;
  std::vector<std::string> clients;
  std::int64_t duration_us() const { return last_us - first_us; }
  double hit_rate() const;  // hits / actions; 0 with no actions
};

struct InvocationDetail {
  InvocationSummary summary;
  std::vector<ActionEntry> actions;   // in the order they were requested
  std::vector<std::size_t> slowest;   // indices into actions, slowest first (at most 10)
  std::vector<std::size_t> critical;  // indices into actions, first to last
  std::int64_t critical_us = 0;       // the critical path's length
  std::vector<std::string> workers;   // every worker of the timeline, by first use
  // Actions recorded but not in `actions` (beyond max_shown): the summary,
  // the path, the slowest and the workers count them all.
  std::size_t omitted = 0;
};

// Pure: the critical path of `actions` (indices, in order) and its length:
// along `deps` (an edge from a to b when b read one of a's outputs), the
// chain with the most time (each action's duration_us()) on it. Without
// edges: the longest single action.
std::pair<std::vector<std::size_t>, std::int64_t> critical_path(
    const std::vector<ActionEntry>& actions);

class InvocationLog {
 public:
  struct Options {
    std::size_t max_invocations = 100;
    std::size_t max_actions = 20000;
    std::size_t max_failures = 20;  // the status page's "recent failures"
  };
  explicit InvocationLog(Options options);
  ~InvocationLog();
  InvocationLog(const InvocationLog&) = delete;
  InvocationLog& operator=(const InvocationLog&) = delete;

  // --- events (the loop's thread) ---

  // A request answered from the action cache.
  void hit(const InvocationTagValue& tag, const std::string& client, const std::string& digest,
           std::int64_t now_us, const std::string& worker, int exit_code,
           std::vector<std::string> outputs);
  // A miss queued as request `request` of the connection `peer` (a client
  // called `client` on the pages): recorded until it is answered. A
  // resubmission of the same digest by the same peer in the same invocation
  // takes over the waiting entry (kiln's clients resubmit every few seconds
  // while they wait).
  void submitted(const InvocationTagValue& tag, const std::string& peer, const std::string& client,
                 std::uint64_t request, const std::string& digest, std::int64_t now_us,
                 std::vector<std::string> inputs);
  // The action `digest` was leased to `worker`: every waiting entry for it
  // is running there (the first lease; a retry moves it).
  void started(const std::string& digest, const std::string& worker, std::int64_t now_us);
  // The answer to (peer, request): the worker's result. (Here and below
  // `client` is the connection, as for submitted().)
  void completed(const std::string& client, std::uint64_t request, const std::string& digest,
                 std::int64_t now_us, const std::string& worker, int exit_code,
                 std::vector<PhaseSpan> phases, std::vector<std::string> outputs, bool cached);
  void failed(const std::string& client, std::uint64_t request, const std::string& digest,
              std::int64_t now_us, const std::string& message);
  void cancelled(const std::string& client, std::uint64_t request, const std::string& digest,
                 std::int64_t now_us);
  // The connection is gone: its waiting entries are cancelled.
  void client_gone(const std::string& peer, std::int64_t now_us);

  // Whether (peer, request) is a recorded miss still waiting for its answer.
  bool waiting(const std::string& peer, std::uint64_t request, const std::string& digest) const;
  // Whether a finished action of invocation `id` made outputs (so a new
  // action's inputs are worth looking up).
  bool has_producers(const std::string& id) const;

  // --- views (any thread) ---

  // The newest first, at most `limit`.
  std::vector<InvocationSummary> summaries(std::size_t limit) const;
  // At most `max_shown` actions: those on the critical path, the slowest,
  // then the newest (in request order; deps between them kept).
  std::optional<InvocationDetail> detail(const std::string& id,
                                         std::size_t max_shown = kMaxShownActions) const;
  // Recent failed actions of every invocation, newest first.
  std::vector<ActionEntry> recent_failures() const;
  // Actions queued or running now, oldest first (at most `limit`).
  std::vector<ActionEntry> in_flight(std::size_t limit) const;

 private:
  struct Invocation;
  // An entry: its invocation (owned by invocations_, at a stable address;
  // every Ref to it goes when it is evicted) and its index there.
  struct Ref {
    Invocation* invocation = nullptr;
    std::size_t index = 0;
  };
  Invocation& invocation_for(const InvocationTagValue& tag, std::int64_t now_us);
  ActionEntry* entry(const Ref& ref);
  // Changes the entry `ref` names with `change`, keeping its invocation's
  // counts true.
  template <typename Change>
  void update(const Ref& ref, Change change);
  void note_failure(const ActionEntry& entry);
  // The entry waiting as (client, request), no longer waiting; nullptr if
  // none.
  std::optional<Ref> take_waiting(const std::string& client, std::uint64_t request,
                                  const std::string& digest);
  void finish(const Ref& ref, std::int64_t now_us);
  InvocationSummary summarize(const Invocation& inv) const;

  Options options_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Invocation>> invocations_;
  // The invocation of the last event: most events in a row are one build's.
  Invocation* last_ = nullptr;
  std::deque<std::string> order_;  // ids, oldest first
  // Misses still waiting, by (client, request) and by digest.
  // Misses still waiting, by action digest: the scheduler names the digest
  // in every event (a lease, an answer, a cancel), and identical actions
  // are few, so one hash lookup and a short scan find a waiter.
  struct Waiter {
    std::string peer;
    std::uint64_t request = 0;
    Ref ref;
  };
  std::unordered_map<std::string, std::vector<Waiter>> waiting_;
  std::deque<ActionEntry> failures_;
};

}  // namespace kiln::scheduler
