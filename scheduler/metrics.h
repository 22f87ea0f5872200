// The scheduler's metrics as plain values, and their rendering in the
// Prometheus text exposition format 0.0.4 (what /metrics serves).
//
// Pure: no sockets, no clock, no globals. The poll loop owns the live
// counters and histograms and copies them into a MetricsSnapshot every
// metrics interval; the HTTP thread renders the last snapshot it was given
// (server.cpp). So rendering never touches the loop's state, and the
// format is tested here without HTTP (metrics_test.cpp).
//
// The format (prometheus.io, "Exposition formats"): for each family one
// "# HELP name text" and one "# TYPE name type" line, then its samples,
// "name{label="value",...} number". HELP text escapes backslash and
// newline; label values escape backslash, double quote and newline.
// Names follow Prometheus' conventions: a kiln_ prefix, base units in the
// name (_seconds, _bytes), counters ending in _total.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::scheduler {

// Observations counted into fixed buckets, as a Prometheus histogram.
class Histogram {
 public:
  // `upper_bounds` ascending; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Per bucket, not cumulative; one more than upper_bounds() (the last is
  // the observations above every bound).
  const std::vector<std::uint64_t>& bucket_counts() const { return counts_; }
  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

// Bucket bounds for the scheduler's durations, in seconds: from 5 ms (a
// cache-warm compile queued behind nothing) to 10 min (the default action
// timeout).
std::vector<double> duration_buckets_seconds();

// Why a request was answered with an error instead of a result; the label
// values of kiln_action_requests_failed_total (scheduler::FailReason, in
// its order, plus the shutdown of the loop itself).
enum class FailureKind : std::uint8_t {
  kRetriesExhausted,
  kNoMatchingWorker,
  kWorkerError,
  kDraining,
};
inline constexpr std::size_t kFailureKinds = 4;
std::string_view failure_label(FailureKind kind);

// Everything /metrics shows, as the loop saw it at `taken`.
struct MetricsSnapshot {
  // Counters, since the scheduler started.
  std::uint64_t action_requests = 0;  // executeRequests taken (valid ones)
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t executed = 0;  // results accepted from workers
  std::array<std::uint64_t, kFailureKinds> failed{};
  std::uint64_t retries = 0;  // actions queued again after a failed attempt
  std::uint64_t backups = 0;
  std::uint64_t backups_won = 0;
  std::uint64_t refused_connections = 0;
  std::uint64_t refused_messages = 0;
  std::uint64_t bad_messages = 0;  // malformed or out of turn, from allowed peers

  // Gauges.
  std::uint64_t queued = 0;   // distinct actions waiting for a worker
  std::uint64_t running = 0;  // distinct actions under lease
  std::uint64_t waiting_requests = 0;
  std::uint64_t workers = 0;
  std::uint64_t workers_quarantined = 0;
  std::uint64_t slots = 0;
  std::uint64_t slots_busy = 0;
  bool store_known = false;  // false: the store's stats could not be read
  std::uint64_t store_bytes = 0;
  std::uint64_t store_max_bytes = 0;  // 0: unlimited
  std::uint64_t store_blobs = 0;
  double uptime_seconds = 0;
  bool draining = false;

  Histogram queue_wait{duration_buckets_seconds()};  // submission to first lease
  Histogram execution{duration_buckets_seconds()};   // lease to accepted result

  // When the loop took it, on the server's clock (for /healthz).
  std::chrono::milliseconds taken{0};
};

// What the HTTP server counts itself (its own thread's counters).
struct HttpCounters {
  std::uint64_t unauthorized = 0;  // requests refused 401
};

// A writer of the text format. Each family() starts a metric family with its
// HELP and TYPE lines; sample() adds a line to it.
class TextExposition {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Label {
    std::string_view name;
    std::string_view value;
  };

  void family(std::string_view name, Type type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
  // One family: _bucket (cumulative, with le), _sum and _count.
  void histogram(std::string_view name, std::string_view help, const Histogram& h);
  // The shorthand for a family of one unlabelled sample.
  void counter(std::string_view name, std::string_view help, std::uint64_t value);
  void gauge(std::string_view name, std::string_view help, double value);

  const std::string& text() const { return out_; }

 private:
  void labels(std::initializer_list<Label> labels, std::string_view extra_name = {},
              std::string_view extra_value = {});
  std::string out_;
};

// Escapes for HELP text and for label values.
std::string escape_help(std::string_view text);
std::string escape_label_value(std::string_view text);
// A sample value as the format writes it: the shortest text that reads back
// as the same double, "+Inf", "-Inf" or "NaN".
std::string format_value(double value);

// The whole /metrics page.
std::string render_metrics(const MetricsSnapshot& snapshot, const HttpCounters& http);

// The Content-Type of render_metrics()'s text.
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace kiln::scheduler
