// The scheduler's side of invocations (invocations.h) and the pages that
// show them (pages.h; docs/metrics.md, "Pages").
//
// Recording happens only while the HTTP server runs (it is what reads the
// log): a scheduler without --http-endpoint does none of this work. On
// the loop's thread:
//   on_execute   a hit: recorded with the cached result's worker and
//                outputs; a miss: with the files of its input root (for
//                the critical path; a bounded walk of the Directory blobs
//                the client uploaded)
//   StartLease   the waiting entries of that action are running there
//   Complete     the worker's result: phases, outputs, exit code
//   Fail, cancel, a client gone
// The HTTP threads read the log (under its own mutex) and the worker rows
// published with the metrics snapshot; they never touch the loop's state.
#include <capnp/serialize.h>

#include <algorithm>
#include <cstring>

#include "cas/wire_model.h"
#include "scheduler/pages.h"
#include "scheduler/server_impl.h"

namespace kiln::scheduler {
namespace {

// The walk of an input root stops at this many directories.
constexpr std::size_t kMaxDirectoriesWalked = 1024;
// Pages show at most this many in-flight actions and recent invocations.
constexpr std::size_t kMaxInFlightShown = 200;
constexpr std::size_t kRecentShown = 10;

std::string platform_text(const Platform& platform) {
  std::string out;
  for (const auto& p : platform) {
    if (!out.empty()) out += ',';
    out += p.name + '=' + p.value;
  }
  return out;
}

std::vector<PhaseSpan> phases_of(const cas::ExecutionMetadata& m) {
  std::vector<PhaseSpan> out;
  const auto add = [&out](const char* name, std::uint64_t start, std::uint64_t end) {
    if (start != 0 && end >= start) {
      out.push_back({name, static_cast<std::int64_t>(start), static_cast<std::int64_t>(end)});
    }
  };
  add("input_fetch", m.input_fetch_start_us, m.input_fetch_end_us);
  add("execute", m.execution_start_us, m.execution_end_us);
  add("upload", m.output_upload_start_us, m.output_upload_end_us);
  return out;
}

std::vector<std::string> outputs_of(const cas::ActionResult& result) {
  std::vector<std::string> out;
  out.reserve(result.output_files.size() + result.output_directories.size());
  for (const auto& f : result.output_files) out.push_back(f.digest.to_string());
  for (const auto& d : result.output_directories) out.push_back(d.tree_digest.to_string());
  return out;
}

}  // namespace

std::int64_t Server::Impl::wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

InvocationTagValue Server::Impl::tag_of(schema::ExecuteRequest::Reader request) {
  if (!request.hasInvocation()) return {};
  const auto in = request.getInvocation();
  InvocationTagValue tag;
  // Cut before copying: sanitize_tag() keeps far less than a message may
  // carry.
  const auto text = [](capnp::Text::Reader t, std::size_t max) {
    return std::string(t.begin(), std::min<std::size_t>(t.size(), max));
  };
  tag.id = text(in.getId(), 256);
  for (auto label : in.getLabels()) {
    if (tag.labels.size() == 32) break;
    tag.labels.emplace_back(text(label.getName(), 128), text(label.getValue(), 512));
  }
  tag.kind = text(in.getKind(), 64);
  tag.subject = text(in.getSubject(), 1024);
  return sanitize_tag(std::move(tag));
}

std::string Server::Impl::client_name(const proto::Received& r) const {
  std::string name = record_space(r);
  return name.empty() ? "client " + printable(r.peer).substr(0, 18) : name;
}

std::vector<std::string> Server::Impl::input_digests(const cas::Action& action) {
  std::vector<std::string> out;
  std::vector<cas::Digest> todo{action.input_root_digest};
  std::size_t walked = 0;
  while (!todo.empty() && walked < kMaxDirectoriesWalked && out.size() < kMaxInputDigests) {
    const cas::Digest dir = todo.back();
    todo.pop_back();
    ++walked;
    auto bytes = store->get(dir);
    if (!bytes.ok() || !*bytes) continue;
    auto decoded = cas::decode_directory(
        std::as_bytes(std::span<const char>((*bytes)->data(), (*bytes)->size())), fn);
    if (!decoded.ok()) continue;
    for (const auto& f : decoded->files) {
      if (out.size() == kMaxInputDigests) break;
      out.push_back(f.digest.to_string());
    }
    for (const auto& d : decoded->directories) {
      out.push_back(d.digest.to_string());  // an output directory's tree may be an input
      todo.push_back(d.digest);
    }
  }
  return out;
}

void Server::Impl::record_hit(const proto::Received& r, const InvocationTagValue& tag,
                              const cas::Digest& digest, const cas::ActionResult& result) {
  if (!http || tag.id.empty()) return;
  invocations.hit(tag, client_name(r), digest.to_string(), wall_us(), result.metadata.worker_id,
                  result.exit_code, outputs_of(result));
}

void Server::Impl::record_submit(const proto::Received& r, std::uint64_t id,
                                 const InvocationTagValue& tag, const cas::Digest& digest,
                                 const cas::Action& action) {
  if (!http || tag.id.empty()) return;
  // No finished action of the invocation has outputs yet: nothing this one
  // reads can be one of them, and its input root need not be walked.
  invocations.submitted(
      tag, r.peer, client_name(r), id, digest.to_string(), wall_us(),
      invocations.has_producers(tag.id) ? input_digests(action) : std::vector<std::string>{});
}

void Server::Impl::record_complete(const Complete& c, schema::ExecuteResponse::Reader response) {
  if (!http) return;
  const std::string digest = c.action_digest.to_string();
  // Read straight from the message: only what the log keeps.
  const auto result = response.getResult();
  const auto m = result.getMetadata();
  cas::ExecutionMetadata meta;
  meta.input_fetch_start_us = m.getInputFetchStartUs();
  meta.input_fetch_end_us = m.getInputFetchEndUs();
  meta.execution_start_us = m.getExecutionStartUs();
  meta.execution_end_us = m.getExecutionEndUs();
  meta.output_upload_start_us = m.getOutputUploadStartUs();
  meta.output_upload_end_us = m.getOutputUploadEndUs();
  std::vector<std::string> outputs;
  for (auto f : result.getOutputFiles()) {
    if (auto d = cas::from_wire(f.getDigest(), fn); d.ok()) outputs.push_back(d->to_string());
  }
  for (auto d : result.getOutputDirectories()) {
    if (auto t = cas::from_wire(d.getTreeDigest(), fn); t.ok()) outputs.push_back(t->to_string());
  }
  const auto worker = m.getWorkerId();
  invocations.completed(c.client, c.request_id, digest, wall_us(),
                        std::string(worker.begin(), std::min<std::size_t>(worker.size(), 256)),
                        result.getExitCode(), phases_of(meta), std::move(outputs),
                        response.getCached());
}

// --- pages ---------------------------------------------------------------------------

void Server::Impl::publish_workers(Millis now) {
  auto rows = std::make_shared<std::vector<WorkerRow>>();
  for (const WorkerView& w : policy.workers()) {
    WorkerRow row;
    row.id = worker_label(w.id);
    row.slots = w.slots;
    row.busy = w.busy;
    row.platform = platform_text(w.platform);
    row.last_heard_ms_ago = std::max(Millis{0}, now - w.last_heard).count();
    row.quarantined_ms_left = std::max(Millis{0}, w.quarantined_until - now).count();
    rows->push_back(std::move(row));
  }
  std::sort(rows->begin(), rows->end(),
            [](const WorkerRow& a, const WorkerRow& b) { return a.id < b.id; });
  std::lock_guard lock(published_mutex);
  published_workers = std::move(rows);
}

HttpReply Server::Impl::status_reply(bool json) {
  const auto snapshot = last_metrics();
  std::shared_ptr<const std::vector<WorkerRow>> rows;
  {
    std::lock_guard lock(published_mutex);
    rows = published_workers;
  }
  StatusView view;
  view.now_us = wall_us();
  view.uptime_seconds = snapshot->uptime_seconds;
  view.draining = snapshot->draining;
  view.authenticated = authenticated;
  if (rows) view.workers = *rows;
  view.queued = snapshot->queued;
  view.running = snapshot->running;
  view.cache_hits = snapshot->cache_hits;
  view.cache_misses = snapshot->cache_misses;
  view.executed = snapshot->executed;
  view.store_known = snapshot->store_known;
  view.store_bytes = snapshot->store_bytes;
  view.store_max_bytes = snapshot->store_max_bytes;
  view.store_blobs = snapshot->store_blobs;
  view.in_flight = invocations.in_flight(kMaxInFlightShown);
  view.failures = invocations.recent_failures();
  for (const ActionEntry& e : view.in_flight) view.in_flight_invocations.push_back(e.invocation);
  for (const ActionEntry& e : view.failures) view.failure_invocations.push_back(e.invocation);
  view.recent = invocations.summaries(kRecentShown);
  if (json) return {200, "application/json", status_json(view)};
  return {200, "text/html; charset=utf-8", render_status_page(view)};
}

HttpReply Server::Impl::invocations_reply(bool json) {
  const auto summaries = invocations.summaries(options.keep_invocations);
  if (json) return {200, "application/json", invocations_json(summaries)};
  return {200, "text/html; charset=utf-8", render_invocations_page(summaries, wall_us())};
}

HttpReply Server::Impl::invocation_reply(std::string_view path, bool json) {
  const std::string_view prefix = json ? "/api/invocations/" : "/invocations/";
  const std::string id(path.substr(std::min(prefix.size(), path.size())));
  auto detail = sanitize_tag({id, {}, "", ""}).id.empty() ? std::nullopt : invocations.detail(id);
  if (!detail) {
    const std::string what = "invocation " + sanitize_tag({id, {}, "", ""}).id;
    if (json) return {404, "application/json", "{\"error\":\"no such invocation\"}"};
    return {404, "text/html; charset=utf-8", render_not_found_page(what)};
  }
  if (json) return {200, "application/json", invocation_json(*detail)};
  return {200, "text/html; charset=utf-8", render_invocation_page(*detail, wall_us())};
}

std::vector<HttpRoute> Server::Impl::page_routes() {
  std::vector<HttpRoute> routes;
  routes.push_back({"/", false, [this](const HttpRequest&) { return status_reply(false); }});
  routes.push_back(
      {"/api/status", false, [this](const HttpRequest&) { return status_reply(true); }});
  routes.push_back(
      {"/invocations", false, [this](const HttpRequest&) { return invocations_reply(false); }});
  routes.push_back(
      {"/api/invocations", false, [this](const HttpRequest&) { return invocations_reply(true); }});
  HttpRoute one{"/invocations/", false,
                [this](const HttpRequest& r) { return invocation_reply(r.path, false); }};
  one.prefix = true;
  routes.push_back(std::move(one));
  HttpRoute one_json{"/api/invocations/", false,
                     [this](const HttpRequest& r) { return invocation_reply(r.path, true); }};
  one_json.prefix = true;
  routes.push_back(std::move(one_json));
  return routes;
}

}  // namespace kiln::scheduler
