// A command kiln can cache — a compile (compile.h) or a link (link.h) — as
// the launcher's outer step (launcher.cpp) drives it:
//
//   attempt()   tries the cache; never runs the user's command. A hit (or a
//               grid compile) is a finished CompileOutcome; anything else
//               is a Fallback saying how the result is to be counted and
//               stored.
//   prepare()   the real compiler's command line for that Fallback (the
//               user's, plus what makes it write a dependency file kiln
//               reads).
//   store()     after the real compiler succeeded and its output was passed
//               on: hashes what it read and stores the result and the
//               manifest entry; the outcome to count.
//   describe()  what the journal records of it (client/journal.h) beyond
//               what the outer step knows.
//
// The outer step runs the compiler between prepare() and store(), and is the
// only place that runs it or counts an outcome.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/process.h"
#include "client/launcher/cache_session.h"
#include "client/launcher/outcome.h"
#include "client/recorder.h"

namespace kiln::client::launcher {

// How the real compiler runs for a Fallback.
struct RealRun {
  std::vector<std::string> argv;  // argv[0] is the resolved compiler
  std::string deps_path;          // the dependency file it writes, which store() reads
  std::optional<TempPath> temp;   // owns deps_path when kiln chose it
  // The dependency file will not list every file read (an -MMD kiln could
  // not turn into -MD): the result is stored but not recorded in a manifest.
  bool incomplete_deps = false;
};

// What a job shares with the outer step for the journal.
struct JobJournal {
  Recorder& recorder;           // whether to keep what describe() says; the invocation
  std::int64_t started_us = 0;  // when the launcher (before any hand-over) started
};

// `files` as the journal names them: the manifest's paths (relative to the
// working directory when base-directory rewriting made them so).
// Takes the paths (a direct hit's record names a few hundred headers: no
// copies on the hot path).
std::vector<FileRecord> file_records(std::vector<ManifestFile>&& files);

class Job {
 public:
  virtual ~Job() = default;
  // The source, or the linked output: what the log names.
  virtual const std::string& subject() const = 0;
  // "compile" or "link", as the journal records it.
  virtual const char* kind() const = 0;
  virtual Attempt attempt() = 0;
  virtual RealRun prepare(const Fallback& fallback) = 0;
  // `ran` exited 0. Storing is best effort: a failure is logged, and the
  // outcome is still the fallback's.
  virtual CompileOutcome store(const Fallback& fallback, const RealRun& run,
                               const base::Captured& ran) = 0;
  // Fills in, as far as the job got: the digest function, the action
  // digest (the cache key), the toolchain, cwd, inputs (every file read,
  // with the digests the cache already computed: nothing is hashed for
  // this), outputs, where the result was made and the scheduler, and the
  // phases the job timed: lookup (from the launcher's start), and a grid
  // compile's worker phases. The outer step adds execute and upload for
  // a fallback it compiled. Called once, at the end: it gives up what it
  // kept.
  virtual void describe(ActionRecord& record) = 0;
};

}  // namespace kiln::client::launcher
