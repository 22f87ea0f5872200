// Ctrl-C and SIGTERM during `kiln test`. Tests run in their own process
// groups, which the terminal's SIGINT does not reach, so SIGINT, SIGTERM
// and SIGHUP are blocked in every thread (the mask is set before any job
// thread starts, and threads inherit it) and one thread waits for them
// with sigwait(). When one comes it makes fd() readable, which every
// running job polls (the runner's and the local executor's cancel_fd), and
// signal() says which it was, for the engine to stop starting jobs. The
// children get a clean signal mask from the runner
// (posix_spawnattr_setsigmask).
#pragma once

#include <pthread.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "client/testing/engine.h"

namespace kiln::client::testing {

class Interrupt final : public InterruptSource {
 public:
  // Blocks the signals and starts the waiting thread. Throws CommandError
  // (kExitFailure) if the pipe cannot be made.
  Interrupt();
  // Stops the waiting thread and restores the signal mask.
  ~Interrupt() override;
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  // Readable once a signal came.
  int fd() const { return read_; }
  int signal() const override { return signal_.load(); }

 private:
  int read_ = -1;
  int write_ = -1;
  sigset_t set_{};
  sigset_t previous_{};
  std::atomic<int> signal_{0};
  std::thread waiter_;
};

}  // namespace kiln::client::testing
