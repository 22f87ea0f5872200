// Invocations: which build or test run a kiln process belongs to.
//
// One `cmake --build`, one `make -j8`, one `kiln test` is one invocation,
// and every kiln process of it — each launcher process the build tool
// starts, the kiln-grid each hands over to — carries the same id, so the
// scheduler groups their actions on one page (/invocations/ID) and
// `kiln trace` / `kiln explain` find them in the local journal
// (client/journal.h).
//
// The id is, in order:
//   1. KILN_INVOCATION_ID (config key invocation_id), as CI sets it to its
//      job's id: 1 to 128 characters of [A-Za-z0-9._-], so it is safe as a
//      file name and in a URL;
//   2. else derived, with no coordination between the processes, from the
//      process that drives the build: walking up from the parent, past
//      shells and wrappers (sh, bash, env, nice, …), the outermost build
//      driver (make, ninja, cmake, ctest, kiln, …) of the chain is the
//      anchor, and the id is a hash of the machine's boot id, the anchor's
//      pid and its start time. Every process under one `cmake --build`
//      finds the same anchor, and a pid reused later has another start
//      time. A process with no driver above it (kiln run by hand) is its
//      own anchor.
// Labels (KILN_LABELS=ticket=BANK-123,commit=4f2a…) link the invocation to a
// work item and a commit: at most 16 of them, a name of [a-z0-9_.-]
// (1–64), a value of printable ASCII without ',' (at most 256).
//
// Pure: the ancestry and the boot id are passed in (process_ancestry() in
// journal.h reads them from /proc).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace kiln::client {

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Invocation {
  std::string id;
  Labels labels;  // in the order given
};

// One process above this one: what /proc/PID/stat says of it.
struct AncestorProcess {
  int pid = 0;
  std::string name;  // the command name (comm), e.g. "ninja"
  std::uint64_t start_ticks = 0;
};

inline constexpr std::size_t kMaxInvocationIdLength = 128;
inline constexpr std::size_t kMaxLabels = 16;

// kInvalidArgument naming what is wrong, unless `id` is 1..128 characters
// of [A-Za-z0-9._-] and not "." or "..".
Status check_invocation_id(std::string_view id);

// "a=1,b=2" as labels; "" is none. kInvalidArgument saying which label is
// wrong and why.
Result<Labels> parse_labels(std::string_view text);
// The inverse: "a=1,b=2".
std::string format_labels(const Labels& labels);

// Whether a process named `name` may be part of the chain find_anchor
// walks (a build driver, or a shell or wrapper passed through): above the
// first that is not, no ancestor matters.
bool in_build_chain(std::string_view name);

// The anchor's index in `ancestors` (which starts at this process's
// parent and goes up), or nullopt when no build driver is above: the
// process is its own anchor.
std::optional<std::size_t> find_anchor(const std::vector<AncestorProcess>& ancestors);

// The derived id of the process `anchor` on the machine booted as
// `boot_id`: 16 hex digits.
std::string derive_invocation_id(std::string_view boot_id, const AncestorProcess& anchor);

}  // namespace kiln::client
