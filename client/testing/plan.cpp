// Test planning: the duration book and its JSON form, static shard plans
// (LPT greedy), the batch queue, and GoogleTest list/filter handling.
// See client/testing/plan.h for the rules.
#include "client/testing/plan.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <tuple>

namespace kiln::client::testing {
namespace {

constexpr std::string_view kFormat = "kiln-test-durations";
constexpr int kVersion = 1;
constexpr std::size_t kMaxJsonBytes = 64U << 20U;
// The format nests three levels (document, "tests", one entry); a little
// slack for fields a later version might add.
constexpr int kMaxJsonDepth = 6;
// Runs are counted, not trusted: anything beyond this is a corrupt file.
constexpr std::uint64_t kMaxRuns = std::uint64_t{1} << 48U;
// The differencing planner holds tests x shards groups; past this it is
// skipped and the plan is LPT's alone.
constexpr std::size_t kMaxDifferencingCells = std::size_t{4} << 20U;

bool in_range(Millis d) { return d >= Millis(0) && d <= kMaxTestDuration; }

// True if `text` nests objects/arrays no deeper than `max_depth`, checked
// before parsing so a hostile file cannot exhaust the parser's stack.
bool depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

Millis round_ms(double ms) { return Millis(std::llround(ms)); }

struct Estimated {
  std::string id;
  Millis estimate;
};

// Distinct ids with their estimates, longest first, ties by id.
std::vector<Estimated> estimate_sorted(std::span<const TestCase> tests, const DurationBook& book,
                                       Millis default_estimate) {
  const Millis unknown = book.unknown_estimate(default_estimate);
  std::vector<Estimated> items;
  items.reserve(tests.size());
  for (const TestCase& t : tests) {
    items.push_back({t.id, book.estimate(t.id).value_or(unknown)});
  }
  std::sort(items.begin(), items.end(), [](const Estimated& a, const Estimated& b) {
    if (a.estimate != b.estimate) return a.estimate > b.estimate;
    return a.id < b.id;
  });
  // Equal ids have equal estimates, so duplicates are adjacent.
  items.erase(std::unique(items.begin(), items.end(),
                          [](const Estimated& a, const Estimated& b) { return a.id == b.id; }),
              items.end());
  return items;
}

// Longest-processing-time first: each item (longest first) onto the least
// loaded group, ties to the lower index. Groups hold indices into `items`.
std::vector<std::vector<std::size_t>> longest_first(const std::vector<Estimated>& items,
                                                    std::size_t count) {
  std::vector<std::vector<std::size_t>> groups(count);
  using Slot = std::pair<Millis::rep, std::size_t>;  // (load, group)
  std::priority_queue<Slot, std::vector<Slot>, std::greater<>> slots;
  for (std::size_t g = 0; g < count; ++g) slots.emplace(0, g);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto [load, g] = slots.top();
    slots.pop();
    groups[g].push_back(i);
    slots.emplace(load + items[i].estimate.count(), g);
  }
  return groups;
}

// The largest differencing method (Karmarkar-Karp, k-way): every item
// starts as a k-tuple of groups (itself, then empty ones); the two tuples
// whose largest and smallest groups differ most are merged, the largest
// group of one with the smallest of the other, until one tuple is left.
// It beats LPT where LPT is weakest, about three items per group. Ties are
// broken by creation order, so the result is deterministic.
std::vector<std::vector<std::size_t>> differencing(const std::vector<Estimated>& items,
                                                   std::size_t count) {
  struct Group {
    Millis::rep load = 0;
    std::vector<std::size_t> items;
  };
  struct Tuple {
    Millis::rep spread = 0;
    std::size_t seq = 0;
    std::vector<Group> groups;
  };
  // A max-heap on the spread; among equal spreads the older tuple first.
  const auto after = [](const Tuple& a, const Tuple& b) {
    if (a.spread != b.spread) return a.spread < b.spread;
    return a.seq > b.seq;
  };
  std::vector<Tuple> heap;
  heap.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    Tuple t{items[i].estimate.count(), i, std::vector<Group>(count)};
    t.groups[0].load = items[i].estimate.count();
    t.groups[0].items.push_back(i);
    heap.push_back(std::move(t));
    std::push_heap(heap.begin(), heap.end(), after);
  }
  std::size_t seq = items.size();
  while (heap.size() > 1) {
    std::pop_heap(heap.begin(), heap.end(), after);
    Tuple a = std::move(heap.back());
    heap.pop_back();
    std::pop_heap(heap.begin(), heap.end(), after);
    Tuple b = std::move(heap.back());
    heap.pop_back();
    std::stable_sort(a.groups.begin(), a.groups.end(),
                     [](const Group& x, const Group& y) { return x.load > y.load; });
    std::stable_sort(b.groups.begin(), b.groups.end(),
                     [](const Group& x, const Group& y) { return x.load < y.load; });
    Millis::rep lo = std::numeric_limits<Millis::rep>::max();
    Millis::rep hi = std::numeric_limits<Millis::rep>::min();
    for (std::size_t g = 0; g < count; ++g) {
      a.groups[g].load += b.groups[g].load;
      a.groups[g].items.insert(a.groups[g].items.end(), b.groups[g].items.begin(),
                               b.groups[g].items.end());
      lo = std::min(lo, a.groups[g].load);
      hi = std::max(hi, a.groups[g].load);
    }
    a.spread = hi - lo;
    a.seq = seq++;
    heap.push_back(std::move(a));
    std::push_heap(heap.begin(), heap.end(), after);
  }
  std::vector<std::vector<std::size_t>> groups;
  if (heap.empty()) return groups;
  for (Group& g : heap.front().groups) groups.push_back(std::move(g.items));
  return groups;
}

Millis::rep load_of_longest(const std::vector<Estimated>& items,
                            const std::vector<std::vector<std::size_t>>& groups) {
  Millis::rep longest = 0;
  for (const auto& group : groups) {
    Millis::rep load = 0;
    for (const std::size_t i : group) load += items[i].estimate.count();
    longest = std::max(longest, load);
  }
  return longest;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// GoogleTest's own rule (kDisableTestFilter "DISABLED_*:*/DISABLED_*"),
// applied to the suite and the test name.
bool disabled(std::string_view name) {
  return starts_with(name, "DISABLED_") || name.find("/DISABLED_") != std::string_view::npos;
}

bool has_space_or_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

std::string quote_line(std::string_view line) {
  constexpr std::size_t kShown = 80;
  std::string shown(line.substr(0, kShown));
  if (line.size() > kShown) shown += "…";
  return "\"" + shown + "\"";
}

}  // namespace

bool DurationBook::record(std::string_view id, Millis duration) {
  if (id.empty() || !in_range(duration)) return false;
  auto it = stats_.find(id);
  if (it == stats_.end()) it = stats_.emplace(std::string(id), DurationStats{}).first;
  DurationStats& s = it->second;
  const auto ms = static_cast<double>(duration.count());
  s.mean_ms = s.runs == 0 ? ms : 0.5 * ms + 0.5 * s.mean_ms;
  s.last = duration;
  if (s.runs < kMaxRuns) ++s.runs;
  return true;
}

const DurationStats* DurationBook::stats(std::string_view id) const {
  const auto it = stats_.find(id);
  return it == stats_.end() ? nullptr : &it->second;
}

std::optional<Millis> DurationBook::estimate(std::string_view id) const {
  const DurationStats* s = stats(id);
  if (s == nullptr) return std::nullopt;
  return round_ms(s->mean_ms);
}

Millis DurationBook::unknown_estimate(Millis default_estimate) const {
  if (stats_.empty()) return default_estimate;
  std::vector<Millis> known;
  known.reserve(stats_.size());
  for (const auto& [id, s] : stats_) known.push_back(round_ms(s.mean_ms));
  const std::size_t mid = known.size() / 2;
  std::nth_element(known.begin(), known.begin() + static_cast<std::ptrdiff_t>(mid), known.end());
  const Millis upper = known[mid];
  if (known.size() % 2 == 1) return upper;
  const Millis lower =
      *std::max_element(known.begin(), known.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

Millis DurationBook::estimate_or(std::string_view id, Millis default_estimate) const {
  if (auto e = estimate(id)) return *e;
  return unknown_estimate(default_estimate);
}

std::string DurationBook::to_json() const {
  nlohmann::ordered_json tests = nlohmann::ordered_json::object();
  for (const auto& [id, s] : stats_) {
    tests[id] = {{"last_ms", s.last.count()}, {"mean_ms", s.mean_ms}, {"runs", s.runs}};
  }
  const nlohmann::ordered_json doc = {
      {"format", kFormat}, {"version", kVersion}, {"key", key_}, {"tests", std::move(tests)}};
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::optional<DurationBook> DurationBook::from_json(std::string_view text) {
  if (text.size() > kMaxJsonBytes || !depth_within(text, kMaxJsonDepth)) return std::nullopt;
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  const auto format = doc.find("format");
  const auto version = doc.find("version");
  const auto key = doc.find("key");
  const auto tests = doc.find("tests");
  if (format == doc.end() || !format->is_string() ||
      format->get_ref<const std::string&>() != kFormat) {
    return std::nullopt;
  }
  if (version == doc.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kVersion) {
    return std::nullopt;
  }
  if (key == doc.end() || !key->is_string()) return std::nullopt;
  if (tests == doc.end() || !tests->is_object()) return std::nullopt;

  DurationBook book(key->get<std::string>());
  for (const auto& [id, entry] : tests->items()) {
    if (!entry.is_object()) return std::nullopt;
    const auto last = entry.find("last_ms");
    const auto mean = entry.find("mean_ms");
    const auto runs = entry.find("runs");
    if (last == entry.end() || !last->is_number_integer()) return std::nullopt;
    if (mean == entry.end() || !mean->is_number()) return std::nullopt;
    if (runs == entry.end() || !runs->is_number_integer()) return std::nullopt;
    // Absurd values drop the entry, not the book.
    if (id.empty()) continue;
    if (last->is_number_unsigned() &&
        last->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxTestDuration.count())) {
      continue;
    }
    const Millis last_ms(last->get<std::int64_t>());
    const double mean_ms = mean->get<double>();
    if (!in_range(last_ms) || !std::isfinite(mean_ms) || mean_ms < 0 ||
        mean_ms > static_cast<double>(kMaxTestDuration.count())) {
      continue;
    }
    if (!runs->is_number_unsigned()) continue;  // negative
    const auto n = runs->get<std::uint64_t>();
    if (n == 0 || n > kMaxRuns) continue;
    book.stats_.emplace(id, DurationStats{last_ms, mean_ms, n});
  }
  return book;
}

PlanEstimate estimate_tests(std::span<const TestCase> tests, const DurationBook& book,
                            Millis default_estimate) {
  const std::vector<Estimated> items = estimate_sorted(tests, book, default_estimate);
  PlanEstimate out;
  out.tests = items.size();
  for (const Estimated& e : items) out.total += e.estimate;
  if (!items.empty()) out.longest = items.front().estimate;
  return out;
}

std::vector<Shard> plan_shards(std::span<const TestCase> tests, const DurationBook& book,
                               std::size_t shards, Millis default_estimate) {
  const std::vector<Estimated> items = estimate_sorted(tests, book, default_estimate);
  const std::size_t count = std::min(std::max<std::size_t>(shards, 1), items.size());
  std::vector<std::vector<std::size_t>> groups = longest_first(items, count);
  if (items.size() * count <= kMaxDifferencingCells) {
    std::vector<std::vector<std::size_t>> other = differencing(items, count);
    const bool none_empty =
        std::none_of(other.begin(), other.end(), [](const auto& g) { return g.empty(); });
    if (none_empty && load_of_longest(items, other) < load_of_longest(items, groups)) {
      groups = std::move(other);
    }
  }
  std::vector<Shard> plan;
  plan.reserve(groups.size());
  for (const std::vector<std::size_t>& group : groups) {
    Shard shard;
    for (const std::size_t i : group) {
      shard.tests.push_back(items[i].id);
      shard.estimate += items[i].estimate;
    }
    std::sort(shard.tests.begin(), shard.tests.end());
    plan.push_back(std::move(shard));
  }
  std::sort(plan.begin(), plan.end(), [](const Shard& a, const Shard& b) {
    if (a.estimate != b.estimate) return a.estimate > b.estimate;
    return a.tests.front() < b.tests.front();  // ids are distinct across shards
  });
  return plan;
}

std::size_t auto_shards(Millis total, Millis longest, std::size_t tests, std::size_t workers,
                        Millis target_shard) {
  std::size_t n = std::max<std::size_t>(workers, 1);
  const auto total_ms = std::max<Millis::rep>(total.count(), 0);
  if (target_shard > Millis(0)) {
    const auto by_target = static_cast<std::size_t>(total_ms / target_shard.count());
    n = std::min(n, std::max<std::size_t>(by_target, 1));
  }
  if (longest > Millis(0)) {
    const auto by_longest =
        static_cast<std::size_t>((total_ms + longest.count() - 1) / longest.count());
    n = std::min(n, std::max<std::size_t>(by_longest, 1));
  }
  n = std::min(n, tests);
  return std::max<std::size_t>(n, 1);
}

Millis makespan_lower_bound(Millis total, Millis longest, std::size_t shards) {
  const auto k = static_cast<Millis::rep>(std::max<std::size_t>(shards, 1));
  const Millis per_shard((total.count() + k - 1) / k);
  return std::max(longest, per_shard);
}

Millis makespan(std::span<const Shard> plan) {
  Millis longest(0);
  for (const Shard& s : plan) longest = std::max(longest, s.estimate);
  return longest;
}

std::vector<std::vector<std::string>> plan_slices(std::span<const TestCase> tests,
                                                  const DurationBook& book, std::size_t total,
                                                  Millis default_estimate) {
  std::vector<std::vector<std::string>> slices(std::max<std::size_t>(total, 1));
  if (tests.empty()) return slices;
  std::vector<Shard> plan = plan_shards(tests, book, slices.size(), default_estimate);
  for (std::size_t i = 0; i < plan.size(); ++i) slices[i] = std::move(plan[i].tests);
  return slices;
}

namespace {
constexpr const char* kSlicesFormat = "kiln-test-slices";
constexpr std::int64_t kSlicesVersion = 1;
}  // namespace

std::string encode_slices(const std::vector<std::vector<std::string>>& slices) {
  nlohmann::json doc = {{"format", kSlicesFormat}, {"version", kSlicesVersion}};
  doc["slices"] = slices;
  return doc.dump();
}

std::optional<std::vector<std::vector<std::string>>> decode_slices(std::string_view text,
                                                                   std::size_t total) {
  if (text.size() > kMaxJsonBytes || !depth_within(text, kMaxJsonDepth)) return std::nullopt;
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  const auto format = doc.find("format");
  const auto version = doc.find("version");
  const auto list = doc.find("slices");
  if (format == doc.end() || *format != kSlicesFormat) return std::nullopt;
  if (version == doc.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kSlicesVersion)
    return std::nullopt;
  if (list == doc.end() || !list->is_array() || list->size() != total) return std::nullopt;
  std::vector<std::vector<std::string>> slices;
  std::set<std::string, std::less<>> seen;
  for (const auto& slice : *list) {
    if (!slice.is_array()) return std::nullopt;
    auto& ids = slices.emplace_back();
    for (const auto& id : slice) {
      if (!id.is_string() || !seen.insert(id.get<std::string>()).second) return std::nullopt;
      ids.push_back(id.get<std::string>());
    }
  }
  return slices;
}

BatchQueue::BatchQueue(std::span<const TestCase> tests, const DurationBook& book,
                       Millis default_estimate, std::size_t workers)
    : workers_(std::max<std::size_t>(workers, 1)) {
  for (Estimated& e : estimate_sorted(tests, book, default_estimate)) {
    remaining_ += e.estimate;
    queue_.push_back({std::move(e.id), e.estimate});
  }
}

std::optional<std::vector<std::string>> BatchQueue::next(Millis target_batch) {
  if (queue_.empty()) return std::nullopt;
  const auto divisor = static_cast<Millis::rep>(2 * workers_);
  const Millis target = std::min(target_batch, Millis(remaining_.count() / divisor));
  std::vector<std::string> batch;
  Millis sum(0);
  do {
    Item item = std::move(queue_.front());
    queue_.pop_front();
    sum += item.estimate;
    remaining_ -= item.estimate;
    outstanding_.emplace(item.id, item.estimate);
    batch.push_back(std::move(item.id));
  } while (!queue_.empty() && sum + queue_.front().estimate <= target);
  std::sort(batch.begin(), batch.end());
  return batch;
}

std::size_t BatchQueue::requeue(std::span<const std::string> ids) {
  std::vector<Item> back;
  for (const std::string& id : ids) {
    const auto it = outstanding_.find(id);
    if (it == outstanding_.end()) continue;
    back.push_back({id, it->second});
    outstanding_.erase(it);
  }
  for (auto it = back.rbegin(); it != back.rend(); ++it) {
    remaining_ += it->estimate;
    queue_.push_front(std::move(*it));
  }
  return back.size();
}

void BatchQueue::complete(std::span<const std::string> ids) {
  for (const std::string& id : ids) outstanding_.erase(id);
}

Result<std::string> gtest_filter(std::span<const std::string> ids) {
  if (ids.empty()) {
    return make_error(Errc::kInvalidArgument,
                      "no tests to filter for (an empty --gtest_filter runs every test)");
  }
  std::string filter;
  for (const std::string& id : ids) {
    if (id.empty()) return make_error(Errc::kInvalidArgument, "empty test id in a gtest filter");
    const auto bad = id.find_first_of(":*?-");
    if (bad != std::string::npos) {
      return make_error(Errc::kInvalidArgument, "test id \"" + id + "\" holds '" + id[bad] +
                                                    "', which --gtest_filter treats as syntax");
    }
    if (!filter.empty()) filter += ':';
    filter += id;
  }
  return filter;
}

Result<std::vector<TestCase>> parse_gtest_list(std::string_view output) {
  std::vector<TestCase> tests;
  std::string suite;
  bool suite_skipped = false;
  bool any_suite = false;
  std::size_t suite_tests = 0;  // tests listed under the current suite
  std::size_t suite_line = 0;
  const auto not_a_list = [](std::size_t line_no, std::string_view line, std::string_view why) {
    return make_error(Errc::kInvalidArgument,
                      "not a GoogleTest list (is it a GoogleTest binary?): line " +
                          std::to_string(line_no) + " " + quote_line(line) + ": " +
                          std::string(why));
  };

  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < output.size()) {
    const std::size_t eol = std::min(output.find('\n', pos), output.size());
    std::string_view line = output.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view raw = line;
    if (line.find_first_not_of(' ') == std::string_view::npos) continue;
    if (!any_suite && starts_with(line, "Running main() from ")) continue;

    // "  # TypeParam = int" / "  # GetParam() = 3": a comment for people.
    const std::size_t comment = line.find("  # ");
    if (comment != std::string_view::npos) line = line.substr(0, comment);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);

    if (starts_with(line, "  ")) {
      const std::string_view name = line.substr(2);
      if (!any_suite) return not_a_list(line_no, raw, "a test name before any suite");
      if (name.empty() || has_space_or_control(name) || name.find('.') != std::string_view::npos) {
        return not_a_list(line_no, raw, "not a test name");
      }
      ++suite_tests;
      if (suite_skipped || disabled(name)) continue;
      tests.push_back({suite + "." + std::string(name)});
      continue;
    }
    if (line.size() >= 2 && line.back() == '.' && line.front() != ' ') {
      const std::string_view name = line.substr(0, line.size() - 1);
      if (has_space_or_control(name)) return not_a_list(line_no, raw, "not a suite name");
      if (any_suite && suite_tests == 0) {
        return not_a_list(suite_line, suite + ".", "a suite with no tests");
      }
      any_suite = true;
      suite.assign(name);
      suite_skipped = disabled(name);
      suite_tests = 0;
      suite_line = line_no;
      continue;
    }
    return not_a_list(line_no, raw, "neither a suite (\"Suite.\") nor a test (\"  Name\")");
  }
  if (!any_suite) {
    return make_error(Errc::kInvalidArgument,
                      "not a GoogleTest list (is it a GoogleTest binary?): no test suite listed");
  }
  if (suite_tests == 0) return not_a_list(suite_line, suite + ".", "a suite with no tests");
  return tests;
}

std::string_view gtest_list_tail(std::string_view output) {
  std::size_t start = 0;
  std::size_t pos = 0;
  while (pos < output.size()) {
    const std::size_t eol = std::min(output.find('\n', pos), output.size());
    std::string_view line = output.substr(pos, eol - pos);
    const std::size_t next = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (const auto comment = line.find("  # "); comment != std::string_view::npos)
      line = line.substr(0, comment);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    const bool list_shaped = line.empty() || starts_with(line, "  ") ||
                             (line.size() >= 2 && line.back() == '.' && line.front() != ' ' &&
                              line.find(' ') == std::string_view::npos);
    if (!list_shaped) start = std::min(next, output.size());
    pos = next;
  }
  return output.substr(start);
}

bool is_system_library(std::string_view path) {
  for (std::string_view root : {"/lib/", "/lib32/", "/lib64/", "/libx32/", "/usr/lib/",
                                "/usr/lib32/", "/usr/lib64/", "/usr/libx32/"}) {
    if (path.starts_with(root)) return path.find("/../") == std::string_view::npos;
  }
  return false;
}

LddLibraries parse_ldd(std::string_view output) {
  LddLibraries libs;
  std::size_t pos = 0;
  while (pos < output.size()) {
    const auto nl = output.find('\n', pos);
    std::string_view line =
        output.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? output.size() : nl + 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    const auto arrow = line.find(" => ");
    if (arrow == std::string_view::npos) continue;  // the vdso, the loader, other notes
    const std::string_view name = line.substr(0, arrow);
    std::string_view target = line.substr(arrow + 4);
    if (target.starts_with("not found")) {
      libs.missing.emplace_back(name);
      continue;
    }
    if (const auto paren = target.rfind(" ("); paren != std::string_view::npos)
      target = target.substr(0, paren);
    if (target.empty() || target.front() != '/' || is_system_library(target)) continue;
    const std::string path(target);
    if (std::find(libs.paths.begin(), libs.paths.end(), path) == libs.paths.end())
      libs.paths.push_back(path);
  }
  return libs;
}

}  // namespace kiln::client::testing
