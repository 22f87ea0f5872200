// The worker's side of Paranoid Pirate as a pure policy (PROTOCOL.md,
// section 5): when to heartbeat, when the scheduler counts as dead, and how
// long to wait before the next session. Time comes in as an argument, so the
// rules are tested without sockets or sleeps; the agent's poll loop asks
// these objects what to do.
#pragma once

#include <chrono>

namespace kiln::worker {

// One session's clocks. A session starts as if it had just heard from the
// peer (the hello was sent then); every message heard and every heartbeat
// sent moves its clock.
class Liveness {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using Millis = std::chrono::milliseconds;

  // `interval` > 0; `liveness` >= 1 silent intervals make the peer dead.
  Liveness(Millis interval, int liveness, TimePoint now);

  // Any message from the peer arrived at `now`.
  void heard(TimePoint now);
  // True once anything was heard in this session.
  bool heard_any() const { return heard_any_; }

  bool heartbeat_due(TimePoint now) const { return now >= next_heartbeat_; }
  // A heartbeat went out at `now`; the next is due one interval later.
  void heartbeat_sent(TimePoint now);

  // Silent for `liveness` intervals.
  bool peer_dead(TimePoint now) const;

  // How long a poll may wait before one of the above may change: between 0
  // and one interval, never unbounded.
  Millis poll_timeout(TimePoint now) const;

 private:
  Millis interval_;
  int liveness_;
  TimePoint last_heard_;
  TimePoint next_heartbeat_;
  bool heard_any_ = false;
};

// The wait between sessions: `initial`, doubling per failed attempt up to
// `max`; reset() after a session that heard the peer.
class Backoff {
 public:
  using Millis = std::chrono::milliseconds;
  Backoff(Millis initial, Millis max);
  // The wait to use now; the following call returns twice as much (capped).
  Millis next();
  void reset() { current_ = initial_; }

 private:
  Millis initial_;
  Millis max_;
  Millis current_;
};

}  // namespace kiln::worker
