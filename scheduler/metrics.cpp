// See metrics.h. The page lists families in a fixed order (what a person
// reading a scrape expects: requests, outcomes, the queue, workers, store,
// durations), so two scrapes diff line by line.
#include "scheduler/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

namespace kiln::scheduler {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  // The first bucket whose bound is >= value ("le": less or equal).
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(it - bounds_.begin())];
  ++count_;
  sum_ += value;
}

std::vector<double> duration_buckets_seconds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
}

std::string_view failure_label(FailureKind kind) {
  switch (kind) {
    case FailureKind::kRetriesExhausted:
      return "retries_exhausted";
    case FailureKind::kNoMatchingWorker:
      return "no_matching_worker";
    case FailureKind::kWorkerError:
      return "worker_error";
    case FailureKind::kDraining:
      return "draining";
  }
  return "unknown";
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_label_value(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "NaN";  // cannot happen with 64 bytes
  return {buffer, end};
}

void TextExposition::family(std::string_view name, Type type, std::string_view help) {
  static constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram"};
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += kTypes[static_cast<std::size_t>(type)];
  out_ += '\n';
}

void TextExposition::labels(std::initializer_list<Label> labels, std::string_view extra_name,
                            std::string_view extra_value) {
  if (labels.size() == 0 && extra_name.empty()) return;
  out_ += '{';
  bool first = true;
  auto one = [&](std::string_view name, std::string_view value) {
    if (!first) out_ += ',';
    first = false;
    out_ += name;
    out_ += "=\"";
    out_ += escape_label_value(value);
    out_ += '"';
  };
  for (const Label& l : labels) one(l.name, l.value);
  if (!extra_name.empty()) one(extra_name, extra_value);
  out_ += '}';
}

void TextExposition::sample(std::string_view name, std::initializer_list<Label> l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void TextExposition::sample(std::string_view name, std::initializer_list<Label> l,
                            std::uint64_t value) {
  // Exact as an integer: a double would round counters past 2^53.
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void TextExposition::histogram(std::string_view name, std::string_view help, const Histogram& h) {
  family(name, Type::kHistogram, help);
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  const auto& counts = h.bucket_counts();
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    const std::string le =
        i < h.upper_bounds().size() ? format_value(h.upper_bounds()[i]) : std::string("+Inf");
    out_ += bucket;
    labels({}, "le", le);
    out_ += ' ';
    out_ += std::to_string(cumulative);
    out_ += '\n';
  }
  sample(std::string(name) + "_sum", {}, h.sum());
  sample(std::string(name) + "_count", {}, h.count());
}

void TextExposition::counter(std::string_view name, std::string_view help, std::uint64_t value) {
  family(name, Type::kCounter, help);
  sample(name, {}, value);
}

void TextExposition::gauge(std::string_view name, std::string_view help, double value) {
  family(name, Type::kGauge, help);
  sample(name, {}, value);
}

std::string render_metrics(const MetricsSnapshot& s, const HttpCounters& http) {
  using Type = TextExposition::Type;
  TextExposition t;
  const auto gauge = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    t.family(name, Type::kGauge, help);
    t.sample(name, {}, value);
  };

  t.counter("kiln_action_requests_total",
            "executeRequests taken: the cache is consulted, then the action is queued",
            s.action_requests);
  t.counter("kiln_action_cache_hits_total", "executeRequests answered from the action cache",
            s.cache_hits);
  t.counter("kiln_action_cache_misses_total", "Action cache lookups that found nothing",
            s.cache_misses);
  t.counter("kiln_actions_executed_total", "Results of executed actions accepted from workers",
            s.executed);
  t.family("kiln_action_requests_failed_total", Type::kCounter,
           "executeRequests answered with an error instead of a result, by reason");
  for (std::size_t i = 0; i < kFailureKinds; ++i) {
    t.sample("kiln_action_requests_failed_total",
             {{"reason", failure_label(static_cast<FailureKind>(i))}}, s.failed[i]);
  }
  t.counter("kiln_action_retries_total", "Actions queued again after a failed attempt", s.retries);
  t.counter("kiln_action_backups_total",
            "Backup leases started for actions running too long on another worker", s.backups);
  t.counter("kiln_action_backups_won_total", "Backup leases whose result came first",
            s.backups_won);
  t.counter("kiln_refused_connections_total",
            "Connections refused: a key not allowed on that endpoint, a handshake without CURVE",
            s.refused_connections);
  t.counter("kiln_refused_messages_total",
            "Messages of connected peers refused: a revoked key, a kind its role may not send",
            s.refused_messages);
  t.counter("kiln_bad_messages_total", "Malformed or out-of-turn messages from peers",
            s.bad_messages);
  t.counter("kiln_http_unauthorized_requests_total",
            "HTTP requests refused for a missing or wrong bearer token", http.unauthorized);

  gauge("kiln_queued_actions", "Distinct actions waiting for a worker", s.queued);
  gauge("kiln_running_actions", "Distinct actions under lease on a worker", s.running);
  gauge("kiln_waiting_requests", "executeRequests waiting for a result", s.waiting_requests);
  gauge("kiln_workers", "Workers connected", s.workers);
  gauge("kiln_workers_quarantined", "Connected workers given no lease after repeated failures",
        s.workers_quarantined);
  gauge("kiln_worker_slots", "Slots of the connected workers", s.slots);
  gauge("kiln_worker_slots_busy", "Slots running a lease", s.slots_busy);
  if (s.store_known) {
    gauge("kiln_store_size_bytes", "Bytes of blobs in the central store", s.store_bytes);
    gauge("kiln_store_max_size_bytes", "The central store's size limit (0: unlimited)",
          s.store_max_bytes);
    gauge("kiln_store_blobs", "Blobs in the central store", s.store_blobs);
  }
  t.gauge("kiln_uptime_seconds", "Seconds since the scheduler started", s.uptime_seconds);
  gauge("kiln_draining", "1 while the scheduler drains before stopping", s.draining ? 1 : 0);

  t.histogram("kiln_action_queue_wait_seconds",
              "From an action's submission to its first lease on a worker", s.queue_wait);
  t.histogram("kiln_action_execution_seconds",
              "From a lease's start to its accepted result: input fetch, run, output upload",
              s.execution);
  return t.text();
}

}  // namespace kiln::scheduler
