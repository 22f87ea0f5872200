// The scheduler's HTTP pages (docs/metrics.md): what they serve and how
// they get it from the poll loop without touching its state.
//
// The loop's thread calls publish_metrics() every metrics_interval: it
// copies the counters, the policy's and the store's stats and the
// histograms into a new immutable MetricsSnapshot and swaps the shared
// pointer under published_mutex. The HTTP threads only ever take that
// pointer (under the mutex) and read the snapshot it names. The cost to
// the loop is one snapshot per interval, whether or not anyone scrapes.
//
//   /metrics  the Prometheus text format of the last snapshot (token)
//   /healthz  200 while the loop publishes (it turns), 503 once the last
//             snapshot is older than kStallFactor intervals: a liveness
//             probe that catches a stuck loop, not just a live process
//   /ready    as /healthz, and 503 while draining: a readiness probe
#include <algorithm>

#include "scheduler/server_impl.h"

namespace kiln::scheduler {
namespace {

// A loop that has not published for this many intervals (and at least
// kMinStall) counts as stuck. Generous: a long store write (an fsync, an
// eviction) must not restart a scheduler.
constexpr int kStallFactor = 10;
constexpr Millis kMinStall{10000};

}  // namespace

Status Server::Impl::start_http() {
  if (options.http_endpoint.empty()) return {};
  if (options.metrics_interval.count() <= 0) {
    return make_error(Errc::kInvalidArgument, "the metrics interval must be positive");
  }
  auto address = parse_http_address(options.http_endpoint);
  if (!address.ok())
    return make_error(Errc::kInvalidArgument, "http endpoint " + address.error().message);
  if (options.http_token.empty() && !is_loopback_host(address->host)) {
    return make_error(Errc::kInvalidArgument,
                      "refusing to serve HTTP on " + address->to_string() +
                          " without a token: plain HTTP without one is for loopback only (give "
                          "--http-token-file, docs/security.md)");
  }
  // Something to serve before the loop's first turn.
  publish_metrics(now());
  std::vector<HttpRoute> routes;
  routes.push_back(
      {"/metrics", false, [this](const HttpRequest& r) { return metrics_page(r.unauthorized); }});
  routes.push_back({"/healthz", true, [this](const HttpRequest&) { return health_page(false); }});
  routes.push_back({"/ready", true, [this](const HttpRequest&) { return health_page(true); }});
  for (HttpRoute& page : page_routes()) routes.push_back(std::move(page));
  HttpServer::Options http_options;
  http_options.address = *address;
  http_options.token = options.http_token;
  auto started_http = HttpServer::start(std::move(http_options), std::move(routes), log);
  if (!started_http.ok()) return started_http.error();
  http = std::move(started_http).value();
  log(LogLevel::kInfo, "serving HTTP on " + http->address().to_string() +
                           (options.http_token.empty() ? " (no token)" : " (bearer token)"));
  return {};
}

void Server::Impl::publish_metrics(Millis now) {
  auto s = std::make_shared<MetricsSnapshot>();
  const DispatchStats d = policy.stats();
  s->action_requests = action_requests;
  s->cache_hits = cache_hits;
  s->cache_misses = cache_misses;
  s->executed = executed;
  s->failed = failed;
  s->retries = d.retries;
  s->backups = d.backups;
  s->backups_won = d.backups_won;
  s->refused_connections = refused_connections;
  s->refused_messages = refused_messages;
  s->bad_messages = bad_messages;
  s->queued = d.queued;
  s->running = d.running;
  s->waiting_requests = d.waiting_requests;
  s->workers = d.workers;
  s->workers_quarantined = d.quarantined;
  s->slots = d.total_slots;
  s->slots_busy = d.busy_slots;
  if (auto store_stats = store->stats(); store_stats.ok()) {
    s->store_known = true;
    s->store_bytes = store_stats->total_bytes;
    s->store_max_bytes = store_stats->max_size;
    s->store_blobs = store_stats->blob_count;
  }
  s->uptime_seconds = static_cast<double>(now.count()) / 1000.0;
  s->draining = draining;
  s->queue_wait = queue_wait;
  s->execution = execution;
  s->taken = now;
  publish_workers(now);
  std::shared_ptr<const MetricsSnapshot> old;
  {
    std::lock_guard lock(published_mutex);
    old = std::exchange(published, std::move(s));
  }
  // `old` is freed here, outside the lock (or by the last reader).
}

std::shared_ptr<const MetricsSnapshot> Server::Impl::last_metrics() {
  std::lock_guard lock(published_mutex);
  return published;
}

HttpReply Server::Impl::metrics_page(std::uint64_t unauthorized) {
  const auto snapshot = last_metrics();
  HttpCounters counters;
  counters.unauthorized = unauthorized;
  return {200, std::string(kMetricsContentType), render_metrics(*snapshot, counters)};
}

HttpReply Server::Impl::health_page(bool readiness) {
  const auto snapshot = last_metrics();
  const Millis age = now() - snapshot->taken;
  const Millis limit = std::max(kMinStall, options.metrics_interval * kStallFactor);
  if (age > limit) {
    return {503, "text/plain; charset=utf-8",
            "stalled: the scheduler's loop has not turned for " + std::to_string(age.count()) +
                " ms\n"};
  }
  if (readiness && snapshot->draining) {
    return {503, "text/plain; charset=utf-8", "draining\n"};
  }
  return {200, "text/plain; charset=utf-8", "ok\n"};
}

}  // namespace kiln::scheduler
