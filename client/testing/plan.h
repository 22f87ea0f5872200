// Test planning for `kiln test`: which test cases a binary holds, how long
// each is expected to take, and how to split them into shards (static
// plans) or batches (queue mode) so a run finishes as early as the grid
// allows.
//
// Pure: strings and numbers in, plans out. No clock, file, process or
// socket is touched here; the caller runs `--gtest_list_tests`, stores the
// duration book, and turns shards into actions. Everything is
// deterministic: the same inputs always give the same plan, byte for byte,
// because a shard's action key (and so its cached result) is derived from
// its filter string.
//
// Estimates: a test the book knows is estimated by its exponentially
// weighted mean duration (alpha 0.5). A test it does not know is estimated
// by the median of the book's known estimates, or by `default_estimate`
// when the book knows none.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/result.h"

namespace kiln::client::testing {

using Millis = std::chrono::milliseconds;

// Durations outside [0, kMaxTestDuration] are treated as absurd and ignored
// (a clock jump, a corrupt file), never recorded.
inline constexpr Millis kMaxTestDuration = std::chrono::hours(24);

// One test case: a GoogleTest "Suite.Name" (or "Inst/Suite.Name/0"), or a
// CTest test name.
struct TestCase {
  std::string id;
  bool operator==(const TestCase&) const = default;
};

struct DurationStats {
  Millis last{0};          // the most recent recorded duration
  double mean_ms = 0;      // exponentially weighted mean, alpha 0.5
  std::uint64_t runs = 0;  // how many durations were recorded
  bool operator==(const DurationStats&) const = default;
};

// Recorded test durations for ONE configuration: `key` is made by the
// caller from the test binary's identity and the platform, so durations
// from another build or machine type never mix in.
class DurationBook {
 public:
  explicit DurationBook(std::string key = {}) : key_(std::move(key)) {}

  const std::string& key() const { return key_; }
  std::size_t size() const { return stats_.size(); }

  // Records one run of `id`. Returns false (and records nothing) when the
  // duration is negative or longer than kMaxTestDuration, or `id` is empty.
  bool record(std::string_view id, Millis duration);

  // The estimate for `id` (its weighted mean, rounded), if recorded.
  std::optional<Millis> estimate(std::string_view id) const;
  const DurationStats* stats(std::string_view id) const;

  // What an unknown test is estimated at: the median of all known
  // estimates (the mean of the two middle ones for an even count), or
  // `default_estimate` when the book is empty.
  Millis unknown_estimate(Millis default_estimate) const;

  // `estimate(id)` or, when unknown, `unknown_estimate(default_estimate)`.
  Millis estimate_or(std::string_view id, Millis default_estimate) const;

  // {"format":"kiln-test-durations","version":1,"key":…,
  //  "tests":{id:{"last_ms":…,"mean_ms":…,"runs":…},…}}, ids sorted.
  // Ids that are not valid UTF-8 have the bad bytes replaced.
  std::string to_json() const;

  // Parses to_json()'s output. nullopt for anything malformed: not JSON,
  // nested deeper than the format, another format or version, a field of
  // the wrong type, or more than 64 MiB. Entries whose numbers are out of
  // range (negative, longer than kMaxTestDuration, zero runs) are dropped,
  // the rest kept. The caller compares key() with the one it expects.
  static std::optional<DurationBook> from_json(std::string_view text);

  bool operator==(const DurationBook&) const = default;

 private:
  std::string key_;
  std::map<std::string, DurationStats, std::less<>> stats_;
};

// Totals over a test list, each test estimated as DurationBook::estimate_or
// does. Duplicate ids count once.
struct PlanEstimate {
  std::size_t tests = 0;
  Millis total{0};
  Millis longest{0};
};
PlanEstimate estimate_tests(std::span<const TestCase> tests, const DurationBook& book,
                            Millis default_estimate);

struct Shard {
  std::vector<std::string> tests;  // sorted by id
  Millis estimate{0};              // the sum of its tests' estimates
  bool operator==(const Shard&) const = default;
};

// Splits `tests` into min(shards, distinct tests) shards (at least one if
// there are tests; none for an empty list), balancing their estimates.
// Two planners run: longest-processing-time first (each test, longest
// first, onto the least-loaded shard) and the largest differencing method
// (Karmarkar-Karp; better when shards hold about three tests each; skipped
// when tests x shards exceeds 4 Mi). The plan with the shorter longest
// shard is kept, LPT's on a tie. Ties inside both are broken by id and
// creation order, so the same inputs always give the same plan. Every
// distinct id appears in exactly one shard; no shard is empty; tests inside
// a shard are sorted by id; shards are ordered longest first, then by
// their first id.
std::vector<Shard> plan_shards(std::span<const TestCase> tests, const DurationBook& book,
                               std::size_t shards, Millis default_estimate);

// `--shards auto`: as many shards as worker slots, but
//   - no more than total / target_shard (rounded down, at least 1), so each
//     shard is about target_shard or longer and its fixed cost (fetching
//     inputs, starting the binary) stays small against its run time;
//   - no more than ceil(total / longest): past that the longest test alone
//     bounds the run and further shards only add overhead;
//   - no more than `tests`, and never fewer than 1.
// workers == 0 counts as 1; target_shard <= 0 disables that bound.
std::size_t auto_shards(Millis total, Millis longest, std::size_t tests, std::size_t workers,
                        Millis target_shard);

// The best makespan any plan of `shards` shards could reach:
// max(longest, ceil(total / shards)). shards == 0 counts as 1.
Millis makespan_lower_bound(Millis total, Millis longest, std::size_t shards);

// The longest shard of a plan (its makespan if shards run in parallel).
Millis makespan(std::span<const Shard> plan);

// `kiln test --shard-index I --total-shards N`: one of N slices of a
// suite, for CI systems that fan jobs out themselves. Every slice must
// agree on the split, so the first slice to plan stores it (engine.h,
// kSliceRecord) and the others read it back: a slice plan is the N
// slices' test ids, encoded as
//   {"format":"kiln-test-slices","version":1,"slices":[["A.a","B.b"],…]}
// plan_slices gives exactly `total` slices (some empty when there are
// fewer tests), balanced by estimate as plan_shards does.
std::vector<std::vector<std::string>> plan_slices(std::span<const TestCase> tests,
                                                  const DurationBook& book, std::size_t total,
                                                  Millis default_estimate);
std::string encode_slices(const std::vector<std::vector<std::string>>& slices);
// nullopt unless `text` is a slice plan of exactly `total` slices in which
// no id appears twice.
std::optional<std::vector<std::vector<std::string>>> decode_slices(std::string_view text,
                                                                   std::size_t total);

// Queue mode (dynamic sharding): workers ask for the next batch as they
// free up, so a slow machine or a mis-estimated test costs little.
// Tests are handed out longest first. Not thread-safe: the caller
// serializes next()/requeue().
class BatchQueue {
 public:
  // Distinct ids of `tests`, estimated from `book` (see DurationBook), to be
  // shared among `workers` workers (0 counts as 1).
  BatchQueue(std::span<const TestCase> tests, const DurationBook& book, Millis default_estimate,
             std::size_t workers);

  // The next batch, or nullopt when the queue is empty. A batch takes tests
  // from the front while their estimates sum to at most
  //   min(target_batch, remaining_total / (2 * workers))
  // and always at least one test, so batches shrink as the run nears its
  // end and no worker is left holding a long tail. The batch is returned
  // sorted by id (a stable filter string); its tests become outstanding.
  std::optional<std::vector<std::string>> next(Millis target_batch);

  // Puts outstanding tests back at the front, in the given order (their
  // worker died or timed out). Ids that are not outstanding (never handed
  // out, already requeued, unknown) are ignored. Returns how many were
  // requeued.
  std::size_t requeue(std::span<const std::string> ids);

  // Marks outstanding tests as finished; they can no longer be requeued.
  void complete(std::span<const std::string> ids);

  bool empty() const { return queue_.empty(); }
  std::size_t queued() const { return queue_.size(); }
  std::size_t outstanding() const { return outstanding_.size(); }
  Millis remaining_estimate() const { return remaining_; }

 private:
  struct Item {
    std::string id;
    Millis estimate;
  };
  std::deque<Item> queue_;
  std::unordered_map<std::string, Millis> outstanding_;
  Millis remaining_{0};
  std::size_t workers_;
};

// A GoogleTest --gtest_filter value selecting exactly `ids`: "A.b:A.c".
// An error for an empty list (an empty filter would run every test) and for
// an id that is empty or holds a character gtest treats as syntax: ':'
// (separator), '*' '?' (wildcards) or '-' (the first '-' anywhere starts
// the negative patterns). GoogleTest names never hold these; '/' in
// parameterized names is fine.
Result<std::string> gtest_filter(std::span<const std::string> ids);

// Parses the output of `binary --gtest_list_tests`:
//   Suite.
//     Name
//   Inst/Typed/0.  # TypeParam = int
//     Name/1  # GetParam() = 3
// into "Suite.Name" ids, in listing order. Tests GoogleTest would not run
// without --gtest_also_run_disabled_tests (suite or name starting with
// DISABLED_, or holding "/DISABLED_") are skipped. gtest_main's "Running
// main() from …" line and blank lines are ignored; '\r' before '\n' is
// tolerated. Anything else is an error naming the first offending line:
// the binary is probably not a GoogleTest binary. Output with no suite
// line at all is an error too; a list whose tests are all disabled gives
// an empty vector.
Result<std::vector<TestCase>> parse_gtest_list(std::string_view output);

// The part of a --gtest_list_tests output after the last line that cannot
// belong to a test list (a line that is neither blank, "  Name" nor
// "Suite."): a binary whose main() prints before RUN_ALL_TESTS() lists
// (leveldb's db_test runs its benchmarks first) still has a parseable
// list at the end. The whole output when every line could be part of one.
std::string_view gtest_list_tail(std::string_view output);

// The shared libraries a test binary loads that belong in its input root,
// from `ldd BINARY`'s output: every "name => /path (0x…)" line whose path is
// not a system library (is_system_library), in order, without duplicates.
// "not found" lines are returned in `missing` so the caller can refuse to
// run a binary that could not start. A static binary ("not a dynamic
// executable", "statically linked") has none.
struct LddLibraries {
  std::vector<std::string> paths;
  std::vector<std::string> missing;
};
LddLibraries parse_ldd(std::string_view output);

// Libraries every worker has from its distribution: under /lib, /lib32,
// /lib64, /libx32, /usr/lib, /usr/lib32, /usr/lib64 or /usr/libx32. What a
// project builds (in its build tree, or installed under /usr/local or
// /opt) is not.
bool is_system_library(std::string_view path);

}  // namespace kiln::client::testing
