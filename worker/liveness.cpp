// Liveness and Backoff: see liveness.h.
#include "worker/liveness.h"

#include <algorithm>

namespace kiln::worker {

Liveness::Liveness(Millis interval, int liveness, TimePoint now)
    : interval_(std::max(interval, Millis(1))),
      liveness_(std::max(liveness, 1)),
      last_heard_(now),
      next_heartbeat_(now + interval_) {}

void Liveness::heard(TimePoint now) {
  last_heard_ = std::max(last_heard_, now);
  heard_any_ = true;
}

void Liveness::heartbeat_sent(TimePoint now) { next_heartbeat_ = now + interval_; }

bool Liveness::peer_dead(TimePoint now) const { return now - last_heard_ >= interval_ * liveness_; }

Liveness::Millis Liveness::poll_timeout(TimePoint now) const {
  const TimePoint deadline = std::min(next_heartbeat_, last_heard_ + interval_ * liveness_);
  const auto left = std::chrono::ceil<Millis>(deadline - now);
  return std::clamp(left, Millis(0), interval_);
}

Backoff::Backoff(Millis initial, Millis max)
    : initial_(std::max(initial, Millis(0))), max_(std::max(max, initial_)), current_(initial_) {}

Backoff::Millis Backoff::next() {
  const Millis wait = current_;
  current_ = std::min(current_ * 2, max_);
  return wait;
}

}  // namespace kiln::worker
