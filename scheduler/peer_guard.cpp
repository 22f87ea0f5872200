// Bad-peer accounting and log rate limiting; see peer_guard.h.
#include "scheduler/peer_guard.h"

#include <iterator>

namespace kiln::scheduler {

bool PeerGuard::record_bad(const std::string& peer, Millis now) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    if (peers_.size() >= options_.max_tracked) prune(now);
    if (peers_.size() >= options_.max_tracked) {
      // Still full of live records: forget one that is not banned, so the
      // map stays bounded (a flood of fresh identities only ever costs one
      // record each until pruned).
      for (auto victim = peers_.begin(); victim != peers_.end(); ++victim) {
        if (!victim->second.is_banned) {
          peers_.erase(victim);
          break;
        }
      }
    }
    it = peers_.emplace(peer, Record{now, 0, Millis{0}, false}).first;
  }
  Record& record = it->second;
  if (record.is_banned) {
    if (now < record.banned_until) return false;
    record.is_banned = false;  // the ban is over: a fresh start
    record.window_start = now;
    record.count = 0;
  }
  if (now - record.window_start >= options_.window) {
    record.window_start = now;
    record.count = 0;
  }
  record.count += 1;
  if (record.count <= options_.max_bad) return false;
  record.is_banned = true;
  record.banned_until = now + options_.ban;
  return true;
}

bool PeerGuard::banned(const std::string& peer, Millis now) const {
  auto it = peers_.find(peer);
  return it != peers_.end() && it->second.is_banned && now < it->second.banned_until;
}

void PeerGuard::prune(Millis now) {
  for (auto it = peers_.begin(); it != peers_.end();) {
    const Record& r = it->second;
    const bool ban_over = !r.is_banned || now >= r.banned_until;
    const bool window_over = now - r.window_start >= options_.window;
    it = (ban_over && window_over) ? peers_.erase(it) : std::next(it);
  }
}

bool LogLimiter::allow(Millis now, std::uint64_t& suppressed) {
  suppressed = 0;
  if (!started_ || now - window_start_ >= window_) {
    started_ = true;
    window_start_ = now;
    used_ = 0;
    suppressed = held_back_;
    held_back_ = 0;
  }
  if (used_ < burst_) {
    used_ += 1;
    return true;
  }
  held_back_ += 1;
  return false;
}

}  // namespace kiln::scheduler
