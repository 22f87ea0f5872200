// The central store as kiln-reapi's gRPC threads share it. A cas::Store is
// used by one thread at a time, so every use goes through with(), which
// holds a mutex for the call. The scheduler, a separate process, opens the
// same LMDB directory (LMDB locks between processes).
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include "cas/store.h"

namespace kiln::reapi {

class SharedStore {
 public:
  explicit SharedStore(std::unique_ptr<cas::Store> store) : store_(std::move(store)) {}

  // Runs f(cas::Store&) under the lock and returns what it returns. Keep f
  // short: every other request waits for it.
  template <typename F>
  auto with(F&& f) {
    std::lock_guard lock(mutex_);
    return std::forward<F>(f)(*store_);
  }

 private:
  std::mutex mutex_;
  std::unique_ptr<cas::Store> store_;
};

}  // namespace kiln::reapi
