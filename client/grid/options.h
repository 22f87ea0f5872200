// How the client reaches the grid (GridExecutor), in a header without
// ZeroMQ so code that only passes options around does not pull it in.
// grid_options() is the one place they are made from the configuration.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/config.h"
#include "proto/keys.h"

namespace kiln::client::grid {

// What the scheduler is told of an action's context (wire.capnp's
// InvocationTag): the invocation it belongs to and what it is about.
struct ActionTag {
  std::string invocation;  // "" = none
  std::vector<std::pair<std::string, std::string>> labels;
  std::string kind;     // "compile", "link", "test", "run"
  std::string subject;  // the source, the linked output, the test shard
};

struct GridOptions {
  std::string endpoint;
  std::chrono::milliseconds request_timeout{30000};  // CAS requests
  std::chrono::milliseconds resubmit_interval{5000};
  std::chrono::milliseconds default_action_timeout{600000};
  std::chrono::milliseconds grace{60000};
  // How long to wait for a session with the scheduler, at the start and
  // after one was lost, before giving up (GridExecutor).
  std::chrono::milliseconds reconnect_wait{30000};
  // When set, held around every access to the local store (one Store is
  // used by one thread at a time), never while waiting on the scheduler:
  // `kiln test` runs several GridExecutors on one store.
  std::mutex* store_mutex = nullptr;
  // This client's CURVE keys and the scheduler's; nullopt: plain TCP.
  std::optional<proto::CurveClientKeys> curve;
  // Sent with every executeRequest.
  ActionTag tag;
  // Where the action's /.kiln-base is on this machine (wire.capnp
  // ExecuteRequest.baseDir); empty: the action has none.
  std::string base_dir;
  // Run the action even when the grid's cache has its result (recache).
  bool skip_cache_lookup = false;
  // Record the result in the local store's action cache (not when the
  // cache is read-only: the blobs are fetched, no entry names them).
  bool record_locally = true;
};

// What the grid is asked to do, which decides how long to wait for it.
enum class GridUse {
  // A compile from the launcher: a CAS request, a silence of the scheduler
  // and a lost scheduler each wait remote_timeout (at least 1 s), after
  // which the compile runs here; the action itself may take 10 minutes.
  kCompile,
  // `kiln run` and `kiln test` shards: a lost scheduler waits
  // remote_timeout (then they run here), a CAS request 30 s, the result the
  // action's own timeout (10 minutes when it has none) plus a minute.
  kAction,
};

// The options for the scheduler the configuration names (`endpoint` is ""
// when it names none), with its keys (grid_keys).
Result<GridOptions> grid_options(const Config& config, GridUse use);

// The keys for the configured scheduler (docs/security.md): nullopt when
// scheduler_key is "none" (plain TCP); else the scheduler's public key from
// scheduler_key, or from the record `kiln up` made for this endpoint
// (known_grid.h), and this client's key file from client_key, or that
// record, or <config dir>/client.key. kInvalidArgument saying what to set
// when a key cannot be found or read.
Result<std::optional<proto::CurveClientKeys>> grid_keys(const Config& config);

}  // namespace kiln::client::grid
