// The local journal: what each kiln process of an invocation did, one
// record per action, kept under the cache directory for `kiln trace`
// (Chrome trace events), `kiln explain FILE` and `kiln provenance FILE`.
//
// Layout, under <KILN_DIR>/invocations/:
//   <id>.json    the invocation: its id, labels, when it was first seen,
//                the working directory and command of its first process
//                (written once, by whichever process comes first)
//   <id>.jsonl   one ActionRecord per line, appended by every process of
//                the invocation
// A record is appended with one write(2) on an O_APPEND descriptor, so
// the processes of a parallel build need no lock: each line lands whole
// (Linux serialises appends to a regular file on a local filesystem). A
// reader skips lines it cannot parse (a process killed mid-write). When
// an invocation is first seen, the oldest journals beyond keep_invocations
// are removed.
//
// Cost on a warm build: one open, one write and one close per launcher
// process (plus one stat of the invocation file); no lock, no fsync (a
// journal is a record for people, not the cache's state).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "client/invocation.h"

namespace kiln::client {

// A span of an action, in microseconds since the Unix epoch (the wall
// clock, so records of different processes line up). Names, in order:
//   lookup       the cache lookup (local store, then the grid's)
//   queue        waiting for a worker (grid)
//   input_fetch  the worker fetching inputs (grid)
//   execute      the command running (here or on a worker)
//   upload       storing the outputs (here, or the worker's upload)
// A grid phase is the worker's span, placed by its own clock.
struct Phase {
  std::string name;
  std::int64_t start_us = 0;
  std::int64_t end_us = 0;
};

// A file an action read or wrote: its path as the user named it (absolute,
// or relative to the record's cwd) and "<hex>/<size>" (cas::Digest).
struct FileRecord {
  std::string path;
  std::string digest;
};

struct ActionRecord {
  std::string invocation;  // the invocation id
  std::string kind;        // "compile", "link", "test", "run"
  std::string subject;     // the source, the linked output, the test shard
  // What happened, as `kiln -s` counts it: "direct_hit", "preprocessed_hit",
  // "remote_hit", "miss_local", "miss_remote", "miss_remote_fallback",
  // "link_hit", "link_miss", "failed", "cached", "executed".
  std::string outcome;
  bool cached = false;  // served from a cache: no command ran for it
  // Where the result was made: "local" (this machine) or the worker's id,
  // for a hit where the cached result says it was made (when it says).
  std::string where;
  std::string scheduler;        // the grid's endpoint, when one was used
  std::string digest_function;  // "xxh3-128" or "sha256"
  std::string action_digest;    // "<hex>/<size>" of the action (or cache key)
  std::string toolchain;        // the compiler's identity digest ("" if none)
  std::string toolchain_path;   // the compiler's resolved path
  std::vector<std::string> command;
  std::string cwd;
  std::vector<FileRecord> inputs;
  std::vector<FileRecord> outputs;
  int exit_code = 0;
  std::int64_t start_us = 0;  // the whole action, as this process saw it
  std::int64_t end_us = 0;
  std::vector<Phase> phases;
  int pid = 0;
};

// One JSON object per record (nlohmann/json), and back. Decoding fails
// with kInvalidArgument on anything that is not a record (wrong types,
// missing fields).
std::string encode_record(const ActionRecord& record);
Result<ActionRecord> decode_record(std::string_view line);

struct InvocationInfo {
  Invocation invocation;
  std::int64_t started_us = 0;
  std::string cwd;
  std::vector<std::string> command;
};

std::string encode_invocation(const InvocationInfo& info);
Result<InvocationInfo> decode_invocation(std::string_view text);

// The invocation this process belongs to: the configured id and labels,
// else the id derived from /proc (client/invocation.h).
Invocation current_invocation(const std::string& configured_id, const Labels& labels);

// The processes above this one, from /proc/PID/stat, parent first (at most
// 32). Stops at pid 1 or at a process it cannot read.
std::vector<AncestorProcess> process_ancestry();

// Microseconds since the Unix epoch, now.
std::int64_t wall_clock_us();

class Journal {
 public:
  // `dir` is the cache directory; the journal lives in dir/invocations.
  // Keeps the newest `keep` invocations, and of those only as many of the
  // newest as fit in `max_bytes` together (0: no limit; the newest is
  // always kept).
  Journal(std::filesystem::path cache_dir, std::size_t keep, std::uint64_t max_bytes = 0);

  // Records `info`'s invocation unless it is already known (then nothing
  // is written); a new one prunes the oldest journals beyond `keep`.
  // Creates the directory. Best effort for callers: they log and go on.
  Status begin(const InvocationInfo& info);
  // Appends `record` to its invocation's journal.
  Status append(const ActionRecord& record);

  // Known invocations, the most recently active first.
  std::vector<InvocationInfo> list() const;
  // kNotFound when the invocation is not in the journal.
  Result<InvocationInfo> info(std::string_view id) const;
  // Its records in the order they were appended (unparseable lines skipped).
  Result<std::vector<ActionRecord>> records(std::string_view id) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  void prune() const;
  std::filesystem::path dir_;
  std::size_t keep_;
  std::uint64_t max_bytes_;
};

}  // namespace kiln::client
