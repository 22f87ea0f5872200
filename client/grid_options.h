// How the client reaches the grid (GridExecutor), in a header without
// ZeroMQ so code that only passes options around does not pull it in.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

namespace kiln::client {

struct GridOptions {
  std::string endpoint;
  std::chrono::milliseconds request_timeout{30000};  // CAS requests
  std::chrono::milliseconds resubmit_interval{5000};
  std::chrono::milliseconds default_action_timeout{600000};
  std::chrono::milliseconds grace{60000};
  // When set, held around every access to the local store (one Store is
  // used by one thread at a time), never while waiting on the scheduler:
  // `kiln test` runs several GridExecutors on one store.
  std::mutex* store_mutex = nullptr;
};

}  // namespace kiln::client
