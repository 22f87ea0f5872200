// The signal thread: see interrupt.h.
#include "client/testing/interrupt.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "client/cli.h"

namespace kiln::client::testing {

Interrupt::Interrupt() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw CommandError(kExitFailure, std::string("pipe: ") + std::strerror(errno));
  read_ = fds[0];
  write_ = fds[1];
  sigemptyset(&set_);
  // SIGUSR1 is the destructor's: it wakes the thread when no signal came.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set_, sig);
  ::pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  waiter_ = std::thread([this] {
    int sig = 0;
    while (::sigwait(&set_, &sig) == 0) {
      if (sig == SIGUSR1) return;  // the destructor: no signal came
      signal_.store(sig);
      const char byte = 1;
      (void)::write(write_, &byte, 1);
      return;
    }
  });
}

Interrupt::~Interrupt() {
  if (signal_.load() == 0) ::pthread_kill(waiter_.native_handle(), SIGUSR1);
  waiter_.join();
  ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  ::close(read_);
  ::close(write_);
}

}  // namespace kiln::client::testing
