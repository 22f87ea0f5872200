// Bookkeeping for peers that send garbage, and for the log lines about them.
//
// PROTOCOL.md section 7: a malformed message is logged (rate-limited) and
// dropped; after `max_bad` of them from one peer within a window the peer is
// ended, and a client identity's messages are ignored for `ban`. PeerGuard
// counts per peer in a fixed window that starts at the peer's first bad
// message; LogLimiter lets `burst` lines through per window and reports how
// many it held back. Both are pure (time in), so they are tested without
// sockets, and bounded: a flood of made-up identities cannot grow them
// without limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "scheduler/dispatch.h"

namespace kiln::scheduler {

class PeerGuard {
 public:
  struct Options {
    int max_bad = 10;  // bad messages per window; the next one bans
    Millis window{60000};
    Millis ban{60000};
    std::size_t max_tracked = 65536;  // peers remembered at once
  };

  explicit PeerGuard(Options options) : options_(options) {}

  // Records one bad message from `peer`. True exactly when this message
  // took the peer over the limit: it is banned from now for `ban`.
  bool record_bad(const std::string& peer, Millis now);
  // True while `peer` is banned.
  bool banned(const std::string& peer, Millis now) const;
  // Forgets peers whose window and ban are over (call now and then).
  void prune(Millis now);
  std::size_t tracked() const { return peers_.size(); }

 private:
  struct Record {
    Millis window_start{0};
    int count = 0;
    Millis banned_until{0};
    bool is_banned = false;
  };
  Options options_;
  std::unordered_map<std::string, Record> peers_;
};

class LogLimiter {
 public:
  LogLimiter(int burst, Millis window) : burst_(burst), window_(window) {}

  // True: write this line. When a new window begins after lines were held
  // back, `suppressed` is set to their number (else 0) so the caller can
  // say so once.
  bool allow(Millis now, std::uint64_t& suppressed);

 private:
  int burst_;
  Millis window_;
  Millis window_start_{0};
  bool started_ = false;
  int used_ = 0;
  std::uint64_t held_back_ = 0;
};

}  // namespace kiln::scheduler
