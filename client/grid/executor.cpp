// GridExecutor: see executor.h.
#include "client/grid/executor.h"

#include <set>

#include "cas/wire_model.h"

namespace kiln::client::grid {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Error prefixed(const Error& e, const std::string& what) {
  return Error{e.code, what + ": " + e.message};
}

// Holds the caller's store mutex, if it gave one.
std::unique_lock<std::mutex> lock_store(const GridOptions& options) {
  if (options.store_mutex == nullptr) return {};
  return std::unique_lock<std::mutex>(*options.store_mutex);
}

// Every blob an ActionResult names directly (output trees are fetched whole
// separately).
std::vector<cas::Digest> direct_blobs(const cas::ActionResult& result) {
  std::vector<cas::Digest> blobs{result.stdout_digest, result.stderr_digest};
  for (const auto& f : result.output_files) blobs.push_back(f.digest);
  return blobs;
}

}  // namespace

GridExecutor::GridExecutor(cas::Store& local, GridOptions options)
    : local_(local), options_(std::move(options)), context_(1) {}

GridExecutor::~GridExecutor() = default;

Result<exec::ExecutedAction> GridExecutor::execute(const cas::Digest& action_digest,
                                                   const cas::Action& action) {
  auto connection = proto::Connection::open(context_, options_.endpoint, {}, {},
                                            options_.curve ? &*options_.curve : nullptr);
  if (!connection.ok()) return prefixed(connection.error(), "scheduler " + options_.endpoint);
  proto::Connection& conn = **connection;
  const milliseconds action_timeout =
      action.timeout_ms != 0 ? milliseconds(action.timeout_ms) : options_.default_action_timeout;
  const auto deadline = Clock::now() + action_timeout + options_.grace;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left <= milliseconds(0)) {
      return make_error(Errc::kUnavailable,
                        "scheduler " + options_.endpoint + " did not answer within " +
                            std::to_string((action_timeout + options_.grace).count() / 1000) +
                            " s");
    }
    if (auto up = conn.await_link(std::min(options_.reconnect_wait, left)); !up.ok()) {
      return make_error(Errc::kUnavailable,
                        "scheduler " + options_.endpoint + " unreachable for " +
                            std::to_string(std::min(options_.reconnect_wait, left).count()) +
                            " ms");
    }
    const std::uint64_t lost_before = conn.disconnects();
    auto executed = attempt(conn, action_digest, action, deadline);
    // A session lost on the way: start over on the next one (every step is
    // idempotent). Anything else is the answer.
    if (executed.ok() || conn.disconnects() == lost_before) return executed;
  }
}

Result<exec::ExecutedAction> GridExecutor::attempt(proto::Connection& conn,
                                                   const cas::Digest& action_digest,
                                                   const cas::Action& action, Deadline deadline) {
  const cas::DigestFunction fn = local_.digest_function();
  cas::RemoteCasOptions cas_options;
  cas_options.timeout = options_.request_timeout;
  cas::RemoteCas remote(conn, fn, cas_options);

  if (auto uploaded = upload(remote, action_digest, action); !uploaded.ok()) {
    return uploaded.error();
  }
  auto reply = submit_and_wait(conn, action_digest, action, deadline);
  if (!reply.ok()) return reply.error();

  if (auto error = proto::error_of(**reply)) return prefixed(*error, "scheduler");
  const auto body = (*reply)->envelope().getBody();
  if (body.which() != schema::Envelope::Body::EXECUTE_RESPONSE) {
    return make_error(Errc::kInternal,
                      "scheduler answered an executeRequest with another kind of message");
  }
  const auto response = body.getExecuteResponse();
  if (response.getHasStatus()) {
    // Why the grid has no result: unavailable (no worker could take it,
    // its attempts ran out) or the action itself (a bad output path...).
    const auto status = response.getStatus();
    return make_error(proto::errc_of(status.getCode()),
                      "the grid could not run the action: " + std::string(status.getMessage()));
  }
  auto result = cas::from_wire(response.getResult(), fn);
  if (!result.ok()) return prefixed(result.error(), "result from the scheduler");
  exec::ExecutedAction executed;
  executed.result = std::move(result).value();
  executed.timed_out = response.getTimedOut();
  executed.cached = response.getCached();
  for (auto path : response.getMissingOutputs())
    executed.missing_outputs.emplace_back(path.cStr(), path.size());

  if (auto fetched = fetch(remote, action_digest, action, executed); !fetched.ok()) {
    return fetched.error();
  }
  return executed;
}

// 1. The Command, the Action and the input tree blobs the central store
// lacks (find_missing first: nothing is sent twice).
Status GridExecutor::upload(cas::RemoteCas& remote, const cas::Digest& action_digest,
                            const cas::Action& action) {
  std::unique_lock<std::mutex> store_lock = lock_store(options_);
  auto inputs = cas::RemoteCas::tree_blobs(local_, action.input_root_digest);
  if (!inputs.ok()) return prefixed(inputs.error(), "input root");
  std::vector<cas::Digest> needed = std::move(inputs).value();
  needed.push_back(action.command_digest);
  needed.push_back(action_digest);
  auto missing = remote.find_missing(needed);
  if (!missing.ok()) return prefixed(missing.error(), "scheduler " + options_.endpoint);
  if (auto s = remote.upload(local_, *missing); !s.ok())
    return prefixed(s.error(), "upload to " + options_.endpoint);
  return {};
}

// 2. executeRequest, submitted again every resubmit interval while no
// answer comes (idempotent on the scheduler, which runs identical actions
// once); the older request is cancelled each time so waiters do not pile
// up. kUnavailable at the deadline, or at once when the session is lost
// (execute() starts over on the next one).
Result<std::unique_ptr<proto::Decoded>> GridExecutor::submit_and_wait(
    proto::Connection& conn, const cas::Digest& action_digest, const cas::Action& action,
    Deadline deadline) {
  const cas::DigestFunction fn = local_.digest_function();
  const auto submit = [&]() {
    return conn.send([&](schema::Envelope::Builder envelope) {
      auto request = envelope.getBody().initExecuteRequest();
      request.setDigestFunction(cas::to_wire(fn));
      cas::to_wire(action_digest, request.initActionDigest());
      cas::to_wire(action, fn, request.initAction());
      if (!options_.tag.invocation.empty()) {
        auto tag = request.initInvocation();
        tag.setId(options_.tag.invocation);
        auto labels = tag.initLabels(static_cast<unsigned>(options_.tag.labels.size()));
        for (unsigned i = 0; i < labels.size(); ++i) {
          labels[i].setName(options_.tag.labels[i].first);
          labels[i].setValue(options_.tag.labels[i].second);
        }
        tag.setKind(options_.tag.kind);
        tag.setSubject(options_.tag.subject);
      }
      if (!options_.base_dir.empty()) request.setBaseDir(options_.base_dir);
      request.setSkipCacheLookup(options_.skip_cache_lookup);
    });
  };
  const std::uint64_t lost_before = conn.disconnects();
  auto request_id = submit();
  if (!request_id.ok()) return prefixed(request_id.error(), "scheduler " + options_.endpoint);
  for (;;) {
    const auto now = Clock::now();
    if (now >= deadline) {
      return make_error(Errc::kUnavailable,
                        "scheduler " + options_.endpoint + " did not answer in time");
    }
    const auto wait = std::min<milliseconds>(
        options_.resubmit_interval, std::chrono::duration_cast<milliseconds>(deadline - now));
    auto answer = conn.wait(*request_id, wait);
    if (answer.ok()) return std::move(answer).value();
    if (answer.error().code != Errc::kUnavailable || conn.disconnects() != lost_before) {
      return answer.error();
    }
    auto again = submit();
    if (!again.ok()) continue;
    const std::uint64_t previous = *request_id;
    request_id = again;
    (void)conn.send([&](schema::Envelope::Builder envelope) {
      auto cancel = envelope.getBody().initCancelRequest();
      cas::to_wire(action_digest, cancel.initActionDigest());
      cancel.setExecuteRequestId(previous);
    });
  }
}

// 3. Every blob the result names into the local store, which then records
// the result in its action cache (the local tier) when it deserves it.
Status GridExecutor::fetch(cas::RemoteCas& remote, const cas::Digest& action_digest,
                           const cas::Action& action, const exec::ExecutedAction& executed) {
  std::unique_lock<std::mutex> store_lock = lock_store(options_);
  const cas::DigestFunction fn = local_.digest_function();
  std::vector<cas::Digest> blobs = direct_blobs(executed.result);
  std::vector<cas::Digest> absent;
  for (const auto& d : blobs) {
    auto present = local_.contains(d);
    if (!present.ok()) return present.error();
    if (!*present) absent.push_back(d);
  }
  if (auto s = remote.download(local_, absent); !s.ok())
    return prefixed(s.error(), "fetching outputs");
  std::vector<cas::Digest> referenced = blobs;
  for (const auto& dir : executed.result.output_directories) {
    if (auto s = remote.fetch_tree(local_, dir.tree_digest); !s.ok())
      return prefixed(s.error(), "fetching " + dir.path);
    auto tree = cas::RemoteCas::tree_blobs(local_, dir.tree_digest);
    if (!tree.ok()) return tree.error();
    referenced.insert(referenced.end(), tree->begin(), tree->end());
  }
  if (options_.record_locally && cas::worth_caching(action, executed.result, executed.timed_out,
                                                    executed.missing_outputs.empty())) {
    auto encoded = cas::encode_action_result(executed.result, fn);
    if (encoded.ok()) (void)local_.put_action_result(action_digest, *encoded, referenced);
  }
  return {};
}

Result<std::vector<std::vector<cas::Property>>> worker_platforms(
    const GridOptions& options, std::chrono::milliseconds timeout) {
  zmq::context_t context;
  auto connection = proto::Connection::open(context, options.endpoint, {}, {},
                                            options.curve ? &*options.curve : nullptr);
  if (!connection.ok()) return connection.error();
  auto reply =
      (*connection)
          ->call([](schema::Envelope::Builder e) { e.getBody().initStatusRequest(); }, timeout);
  if (!reply.ok()) return reply.error();
  if (auto error = proto::error_of(**reply)) return make_error(Errc::kUnavailable, error->message);
  const auto body = (*reply)->envelope().getBody();
  if (body.which() != schema::Envelope::Body::STATUS_RESPONSE) {
    return make_error(Errc::kUnavailable,
                      "the scheduler answered statusRequest with another message");
  }
  std::vector<std::vector<cas::Property>> platforms;
  for (const auto worker : body.getStatusResponse().getWorkers()) {
    auto platform = cas::from_wire(worker.getPlatform());
    if (platform.ok()) platforms.push_back(std::move(platform).value());
  }
  return platforms;
}

}  // namespace kiln::client::grid
