// The end-of-run summary: see summary.h.
#include "client/testing/summary.h"

#include <algorithm>
#include <iomanip>
#include <vector>

#include "client/testing/text.h"

namespace kiln::client::testing {
namespace {

void print_slowest(std::ostream& out, std::span<const TestResult> results) {
  std::vector<const TestResult*> ran;
  for (const TestResult& r : results)
    if (!r.cached && r.time.count() > 0) ran.push_back(&r);
  std::sort(ran.begin(), ran.end(), [](const TestResult* a, const TestResult* b) {
    return a->time != b->time ? a->time > b->time : a->id < b->id;
  });
  if (ran.empty()) return;
  out << "slowest tests:\n";
  for (std::size_t i = 0; i < std::min<std::size_t>(5, ran.size()); ++i)
    out << "  " << std::setw(9) << seconds_text(ran[i]->time) << "  " << ran[i]->id << '\n';
}

void print_shards(std::ostream& out, const RunInfo& info) {
  std::vector<ShardRecord> shards;
  for (const ShardRecord& s : info.shards)
    if (!s.cached) shards.push_back(s);
  if (shards.empty()) return;
  std::chrono::milliseconds makespan{0};
  for (const ShardRecord& s : shards) makespan = std::max(makespan, s.wall);
  out << "shards: longest " << seconds_text(makespan) << " (lower bound "
      << seconds_text(info.lower_bound) << "), wall " << seconds_text(info.wall) << '\n';
  std::sort(shards.begin(), shards.end(),
            [](const ShardRecord& a, const ShardRecord& b) { return a.wall > b.wall; });
  for (std::size_t i = 0; i < std::min<std::size_t>(8, shards.size()); ++i) {
    const ShardRecord& s = shards[i];
    out << "  " << std::left << std::setw(28) << s.label << std::right << std::setw(5) << s.tests
        << " tests  ran " << std::setw(8) << seconds_text(s.wall) << "  estimated " << std::setw(8)
        << seconds_text(s.estimate) << "  " << s.where << '\n';
  }
  if (shards.size() > 8) out << "  … " << shards.size() - 8 << " more\n";
}

}  // namespace

void print_summary(std::ostream& out, std::span<const TestResult> results, const RunInfo& info,
                   bool batches) {
  print_slowest(out, results);
  if (batches) print_shards(out, info);
  for (const TestResult& r : results) {
    if (r.outcome == Outcome::kPassed || r.outcome == Outcome::kSkipped) continue;
    out << "  " << std::left << std::setw(10) << to_string(r.outcome) << std::right << r.id;
    if (!r.message.empty()) out << "  " << one_line(r.message, 100);
    out << '\n';
  }
  const TestSummary s = summarize(results);
  out << "kiln test: " << s.total << " tests: " << s.passed << " passed, " << s.failed
      << " failed, " << s.flaky << " flaky, " << s.crashed << " crashed, " << s.timed_out
      << " timed out, " << s.skipped << " skipped (" << s.cached << " cached) in "
      << seconds_text(info.wall) << '\n';
  out.flush();
}

}  // namespace kiln::client::testing
