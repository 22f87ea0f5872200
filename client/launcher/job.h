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

class Job {
 public:
  virtual ~Job() = default;
  // The source, or the linked output: what the log names.
  virtual const std::string& subject() const = 0;
  virtual Attempt attempt() = 0;
  virtual RealRun prepare(const Fallback& fallback) = 0;
  // `ran` exited 0. Storing is best effort: a failure is logged, and the
  // outcome is still the fallback's.
  virtual CompileOutcome store(const Fallback& fallback, const RealRun& run,
                               const base::Captured& ran) = 0;
};

}  // namespace kiln::client::launcher
