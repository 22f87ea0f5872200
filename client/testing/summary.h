// What `kiln test` prints on stdout at the end of a run: the slowest tests,
// the shards against the plan's lower bound, every test that did not
// pass, and the one summary line CI logs grep for:
//   kiln test: 46 tests: 42 passed, 1 failed, 1 flaky, 1 crashed, 1 timed out, 0 skipped (0 cached)
//   in 9.70 s
//
// Pure: results in, text onto a stream.
#pragma once

#include <ostream>
#include <span>

#include "client/testing/result.h"

namespace kiln::client::testing {

// Writes the summary of `results` and `info` to `out`:
//   - "slowest tests:" and up to five tests that ran this time (not
//     cached, time > 0), longest first;
//   - with `batches` (shards or batches, not one job per test) and any job
//     that ran: "shards: longest X (lower bound Y), wall Z" and up to eight
//     jobs, longest first;
//   - one line per test neither passed nor skipped, with its message;
//   - the summary line.
void print_summary(std::ostream& out, std::span<const TestResult> results, const RunInfo& info,
                   bool batches);

}  // namespace kiln::client::testing
