// How a kiln process writes what it did into the journal (journal.h):
// the process's invocation worked out once, the invocation begun with
// the first record, and a failure to write reported to a log callback,
// never to the build. Every room uses it: the launcher (one record per
// compile or link), `kiln test` (one per shard, retry or cached shard),
// `kiln run` (one per action).
//
// Cost when recording is on (config key `journal`): the invocation id
// (nothing when KILN_INVOCATION_ID is set; else a walk up /proc of a few
// stat files), then per process one access(2) of the invocation file and
// one open/write/close of the journal. Off, it does nothing at all.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cas/model.h"
#include "client/config.h"
#include "client/journal.h"

namespace kiln::client {

class Recorder {
 public:
  using Log = std::function<void(const std::string&)>;

  // `command` is this process's command line, for the invocation file
  // when this process is the first of its invocation (empty: the first
  // record's command). `log` hears each failure to write.
  Recorder(const Config& config, std::vector<std::string> command, Log log);

  bool enabled() const { return enabled_; }

  // This process's invocation: the one adopt() gave, else the configured
  // or derived one (current_invocation), worked out once.
  const Invocation& invocation();
  // Takes the invocation id another kiln process worked out for this one
  // (the launcher's hand-over to kiln-grid), so it is not derived again.
  void adopt(const std::string& id);

  // Appends `record` to the journal of this process's invocation, after
  // recording the invocation if it is new. Fills in invocation and pid.
  // Does nothing when recording is off; failures go to the log.
  void record(ActionRecord record);

 private:
  const Config& config_;
  std::vector<std::string> command_;
  Log log_;
  bool enabled_ = true;
  bool begun_ = false;
  std::optional<Invocation> invocation_;
  std::int64_t started_us_ = wall_clock_us();
};

// An executed action's phases from the executor's metadata, in order
// (queue: queued..worker start; input_fetch, execute, upload as
// timed); phases that did not happen (their times 0) are left out.
std::vector<Phase> executed_phases(const cas::ExecutionMetadata& metadata);

// "<hex>/<size>", or "" for the empty digest of nothing.
std::string digest_text(const cas::Digest& digest);

}  // namespace kiln::client
