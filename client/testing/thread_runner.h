// The engine's real JobRunner and Clock (engine.h): each job runs on a
// thread of its own, which calls the work (an executor call or a process:
// it blocks) and hands the RunOutput back through a mutex-guarded queue;
// the engine's thread collects it in wait(). The threads touch nothing of
// the engine's: what they share with it is the store, under SharedStore's
// lock (store_records.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "client/testing/engine.h"

namespace kiln::client::testing {

class ThreadRunner final : public JobRunner {
 public:
  ThreadRunner() = default;
  // Joins every job's thread: their work has to return first (a running
  // job stops early only when the interrupt cancels it).
  ~ThreadRunner() override;
  ThreadRunner(const ThreadRunner&) = delete;
  ThreadRunner& operator=(const ThreadRunner&) = delete;

  void start(std::size_t slot, Work work) override;
  // Joins the finished jobs' threads before returning them.
  std::vector<FinishedJob> wait(Millis timeout) override;

 private:
  std::vector<std::thread> threads_;  // by slot
  std::mutex mutex_;
  std::condition_variable done_cv_;
  std::deque<FinishedJob> done_;
};

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  Millis now() const override {
    return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch());
  }
};

}  // namespace kiln::client::testing
