// A thread per running job: see thread_runner.h.
#include "client/testing/thread_runner.h"

#include <exception>
#include <utility>

namespace kiln::client::testing {

ThreadRunner::~ThreadRunner() {
  for (std::thread& thread : threads_)
    if (thread.joinable()) thread.join();
}

void ThreadRunner::start(std::size_t slot, Work work) {
  if (slot >= threads_.size()) threads_.resize(slot + 1);
  threads_[slot] = std::thread([this, slot, work = std::move(work)]() {
    RunOutput output;
    try {
      output = work();
    } catch (const std::exception& e) {
      output.error = e.what();
    }
    std::lock_guard lock(mutex_);
    done_.push_back({slot, std::move(output)});
    done_cv_.notify_one();
  });
}

std::vector<FinishedJob> ThreadRunner::wait(Millis timeout) {
  std::deque<FinishedJob> finished;
  {
    std::unique_lock lock(mutex_);
    done_cv_.wait_for(lock, timeout, [&] { return !done_.empty(); });
    finished.swap(done_);
  }
  std::vector<FinishedJob> out;
  for (FinishedJob& job : finished) {
    threads_[job.slot].join();
    out.push_back(std::move(job));
  }
  return out;
}

}  // namespace kiln::client::testing
