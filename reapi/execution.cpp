#include "reapi/execution.h"

#include <google/protobuf/any.pb.h>
#include <google/rpc/status.pb.h>

#include <condition_variable>
#include <random>
#include <set>
#include <thread>

#include "cas/model.h"
#include "cas/wire_model.h"
#include "proto/transport.h"
#include "reapi/action_cache.h"
#include "reapi/translate.h"

namespace kiln::reapi {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ExecutionService::Operation {
  std::string name;
  cas::Digest action;  // the REAPI action's digest
  bool skip_cache_lookup = false;
  int priority = 0;

  std::mutex mutex;
  std::condition_variable changed;
  int version = 0;  // grows with every change of stage
  v2::ExecutionStage::Value stage = v2::ExecutionStage::UNKNOWN;
  bool done = false;
  v2::ExecuteResponse response;  // once done
  Clock::time_point done_at;

  void set_stage(v2::ExecutionStage::Value s) {
    {
      std::lock_guard lock(mutex);
      stage = s;
      ++version;
    }
    changed.notify_all();
  }
  void finish(v2::ExecuteResponse r) {
    {
      std::lock_guard lock(mutex);
      stage = v2::ExecutionStage::COMPLETED;
      response = std::move(r);
      done = true;
      done_at = Clock::now();
      ++version;
    }
    changed.notify_all();
  }
};

namespace {

std::string random_name() {
  std::random_device device;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "operations/";
  for (int i = 0; i < 32; ++i) name += kHex[device() % 16];
  return name;
}

google::rpc::Status status_of(grpc::StatusCode code, const std::string& message) {
  google::rpc::Status s;
  s.set_code(static_cast<int>(code));
  s.set_message(message);
  return s;
}

v2::ExecuteResponse failed(grpc::StatusCode code, const std::string& message) {
  v2::ExecuteResponse r;
  *r.mutable_status() = status_of(code, message);
  return r;
}

// What an Execute needs that the CAS lacks: the PreconditionFailure the API
// prescribes, one MISSING violation per blob.
struct Missing {
  std::vector<cas::Digest> blobs;
  void add(const cas::Digest& d) { blobs.push_back(d); }
  v2::ExecuteResponse response() const {
    google::rpc::PreconditionFailure failure;
    for (const auto& d : blobs) {
      auto* v = failure.add_violations();
      v->set_type("MISSING");
      v->set_subject("blobs/" + d.to_string());
    }
    auto r = failed(grpc::StatusCode::FAILED_PRECONDITION,
                    std::to_string(blobs.size()) +
                        " blob(s) the action needs are not in the CAS, "
                        "the first: blobs/" +
                        blobs.front().to_string());
    r.mutable_status()->add_details()->PackFrom(failure);
    return r;
  }
};

// The REAPI action as a kiln action, its blobs written to the store.
struct Prepared {
  v2::Action action;
  cas::Command command;
  cas::Action kiln_action;
  cas::Digest kiln_digest;
  std::string working_directory;
};

// Limits on what one action's input tree may hold: directories in all,
// levels (the walk recurses; kiln's own trees stop at 256 too), and the
// size of one message blob (Action, Command, Directory) read whole.
constexpr std::size_t kMaxTreeDirectories = 1000000;
constexpr int kMaxTreeDepth = 256;
constexpr std::uint64_t kMaxMessageBytes = std::uint64_t{64} << 20;

class Preparer {
 public:
  explicit Preparer(SharedStore& store) : store_(store) {}

  // The prepared action, or the ExecuteResponse that ends the operation.
  std::variant<Prepared, v2::ExecuteResponse> prepare(const cas::Digest& action_digest) {
    Prepared p;
    auto action_blob = get(action_digest);
    if (!action_blob.ok())
      return failed(grpc_code(action_blob.error().code), action_blob.error().message);
    if (!*action_blob) {
      missing_.add(action_digest);
      return missing_.response();
    }
    if (auto s = parse(**action_blob, p.action, "the Action"); !s.ok())
      return failed(grpc::StatusCode::INVALID_ARGUMENT, s.error().message);
    auto command_digest = from_proto(p.action.command_digest());
    if (!command_digest.ok())
      return failed(grpc::StatusCode::INVALID_ARGUMENT,
                    "command_digest: " + command_digest.error().message);
    auto root_digest = from_proto(p.action.input_root_digest());
    if (!root_digest.ok())
      return failed(grpc::StatusCode::INVALID_ARGUMENT,
                    "input_root_digest: " + root_digest.error().message);

    auto command_blob = get(*command_digest);
    if (!command_blob.ok())
      return failed(grpc_code(command_blob.error().code), command_blob.error().message);
    v2::Command command;
    if (*command_blob) {
      if (auto s = parse(**command_blob, command, "the Command"); !s.ok())
        return failed(grpc::StatusCode::INVALID_ARGUMENT, s.error().message);
    } else {
      missing_.add(*command_digest);
    }
    auto root = directory(*root_digest);
    if (!root.ok()) return failed(grpc_code(root.error().code), root.error().message);
    if (auto s = check_files(); !s.ok())
      return failed(grpc_code(s.error().code), s.error().message);
    if (!missing_.blobs.empty()) return missing_.response();

    auto kiln_command = command_to_kiln(command, p.action.platform());
    if (!kiln_command.ok())
      return failed(grpc::StatusCode::INVALID_ARGUMENT, kiln_command.error().message);
    p.command = std::move(kiln_command).value();
    p.working_directory = p.command.working_directory;
    auto encoded_command = cas::encode_command(p.command);
    if (!encoded_command.ok())
      return failed(grpc::StatusCode::INVALID_ARGUMENT,
                    "Command: " + encoded_command.error().message);
    auto command_put = store_.with([&](cas::Store& s) { return s.put(*encoded_command); });
    if (!command_put.ok())
      return failed(grpc_code(command_put.error().code), command_put.error().message);

    p.kiln_action.command_digest = *command_put;
    p.kiln_action.input_root_digest = *root;
    if (p.action.has_timeout()) {
      const auto& t = p.action.timeout();
      if (t.seconds() < 0 || t.nanos() < 0)
        return failed(grpc::StatusCode::INVALID_ARGUMENT, "the Action's timeout is negative");
      p.kiln_action.timeout_ms = static_cast<std::uint64_t>(t.seconds()) * 1000 +
                                 static_cast<std::uint64_t>(t.nanos()) / 1000000;
    }
    p.kiln_action.do_not_cache = p.action.do_not_cache();
    p.kiln_action.salt = p.action.salt();
    auto encoded_action = cas::encode_action(p.kiln_action, cas::DigestFunction::kSha256);
    if (!encoded_action.ok())
      return failed(grpc::StatusCode::INVALID_ARGUMENT,
                    "Action: " + encoded_action.error().message);
    p.kiln_digest = cas::digest_of(cas::DigestFunction::kSha256, *encoded_action);
    return p;
  }

 private:
  Result<std::optional<std::string>> get(const cas::Digest& d) {
    if (is_empty_blob(d)) return std::optional<std::string>(std::string());  // an empty Directory
    if (d.size > kMaxMessageBytes) {
      return make_error(Errc::kInvalidArgument, "blob " + d.to_string() +
                                                    " is too large for an Action, Command or "
                                                    "Directory (the limit is 64 MiB)");
    }
    return store_.with([&](cas::Store& s) { return s.get(d); });
  }

  // The kiln digest of the REAPI directory `d`, its kiln Directory written
  // to the store; what is missing is noted (and a placeholder returned, so
  // the walk goes on and finds everything missing at once).
  Result<cas::Digest> directory(const cas::Digest& d, int depth = 0) {
    if (auto it = done_.find(d); it != done_.end()) return it->second;
    if (depth > kMaxTreeDepth) {
      return make_error(Errc::kInvalidArgument, "the input tree is deeper than " +
                                                    std::to_string(kMaxTreeDepth) + " levels");
    }
    if (++walked_ > kMaxTreeDirectories) {
      return make_error(
          Errc::kResourceExhausted,
          "the input tree has more than " + std::to_string(kMaxTreeDirectories) + " directories");
    }
    auto blob = get(d);
    if (!blob.ok()) return blob.error();
    if (!*blob) {
      missing_.add(d);
      return d;
    }
    v2::Directory dir;
    if (auto s = parse(**blob, dir, "Directory " + d.to_string()); !s.ok()) return s.error();
    for (const auto& f : dir.files()) {
      auto digest = from_proto(f.digest());
      if (digest.ok()) files_.insert(*digest);
    }
    if (!in_walk_.insert(d).second) {
      return make_error(Errc::kInvalidArgument, "Directory " + d.to_string() + " contains itself");
    }
    auto kiln_dir = directory_to_kiln(
        dir, [&](const cas::Digest& child) { return directory(child, depth + 1); });
    in_walk_.erase(d);
    if (!kiln_dir.ok()) return kiln_dir.error();
    auto encoded = cas::encode_directory(*kiln_dir, cas::DigestFunction::kSha256);
    if (!encoded.ok()) return make_error(Errc::kInvalidArgument, encoded.error().message);
    auto put = store_.with([&](cas::Store& s) { return s.put(*encoded); });
    if (!put.ok()) return put.error();
    done_.emplace(d, *put);
    return *put;
  }

  Status check_files() {
    std::vector<cas::Digest> files(files_.begin(), files_.end());
    auto missing = store_.with([&](cas::Store& s) { return s.find_missing(files); });
    if (!missing.ok()) return missing.error();
    for (const auto& d : *missing) {
      if (d.size != 0) {
        missing_.add(d);
        continue;
      }
      // The API's empty blob is always present, so clients never upload
      // it; the worker fetches it from the store like any input.
      auto put = store_.with([&](cas::Store& s) { return s.put(std::string_view{}); });
      if (!put.ok()) return put.error();
    }
    return {};
  }

  SharedStore& store_;
  Missing missing_;
  std::map<cas::Digest, cas::Digest> done_;
  std::set<cas::Digest> in_walk_;
  std::set<cas::Digest> files_;
  std::size_t walked_ = 0;
};

// The REAPI form of a kiln result: outputs relative to the working
// directory, each output directory a Tree blob (written to the store).
Result<v2::ActionResult> result_to_reapi(SharedStore& store, const cas::ActionResult& result,
                                         const std::string& working_directory) {
  v2::ActionResult out;
  out.set_exit_code(result.exit_code);
  for (const auto& f : result.output_files) {
    auto* o = out.add_output_files();
    o->set_path(output_path_to_reapi(f.path, working_directory));
    *o->mutable_digest() = to_proto(f.digest);
    o->set_is_executable(f.executable);
  }
  for (const auto& d : result.output_directories) {
    // Bottom-up: each kiln Directory's REAPI form and digest, once.
    std::map<cas::Digest, std::pair<v2::Directory, cas::Digest>> converted;
    std::vector<cas::Digest> order;  // children before parents
    std::function<Result<cas::Digest>(const cas::Digest&)> convert =
        [&](const cas::Digest& kiln_digest) -> Result<cas::Digest> {
      if (auto it = converted.find(kiln_digest); it != converted.end()) return it->second.second;
      if (converted.size() > kMaxTreeDirectories) {
        return make_error(Errc::kResourceExhausted, "output directory " + d.path + " is too large");
      }
      auto blob = store.with([&](cas::Store& s) { return s.get(kiln_digest); });
      if (!blob.ok()) return blob.error();
      if (!*blob)
        return make_error(Errc::kNotFound,
                          "output directory " + d.path + ": a Directory is missing");
      auto dir = cas::decode_directory(std::as_bytes(std::span((*blob)->data(), (*blob)->size())),
                                       cas::DigestFunction::kSha256);
      if (!dir.ok()) return dir.error();
      Status child_error;
      v2::Directory reapi_dir =
          directory_to_reapi(*dir, [&](const cas::Digest& child) -> Result<cas::Digest> {
            auto c = convert(child);
            if (!c.ok()) child_error = c.error();
            return c;
          });
      if (!child_error.ok()) return child_error.error();
      const cas::Digest reapi_digest =
          cas::digest_of(cas::DigestFunction::kSha256, serialize(reapi_dir));
      converted.emplace(kiln_digest, std::make_pair(std::move(reapi_dir), reapi_digest));
      order.push_back(kiln_digest);
      return reapi_digest;
    };
    auto root = convert(d.tree_digest);
    if (!root.ok()) return root.error();
    v2::Tree tree;
    *tree.mutable_root() = converted.at(d.tree_digest).first;
    std::set<cas::Digest> seen;
    for (const auto& k : order) {
      if (k == d.tree_digest) continue;
      if (seen.insert(converted.at(k).second).second) *tree.add_children() = converted.at(k).first;
    }
    auto tree_digest = store.with([&](cas::Store& s) { return s.put(serialize(tree)); });
    if (!tree_digest.ok()) return tree_digest.error();
    auto* o = out.add_output_directories();
    o->set_path(output_path_to_reapi(d.path, working_directory));
    *o->mutable_tree_digest() = to_proto(*tree_digest);
  }
  *out.mutable_stdout_digest() = to_proto(result.stdout_digest);
  *out.mutable_stderr_digest() = to_proto(result.stderr_digest);
  *out.mutable_execution_metadata() = metadata_to_reapi(result.metadata);
  return out;
}

google::longrunning::Operation to_operation(const std::string& name, const cas::Digest& action,
                                            v2::ExecutionStage::Value stage, bool done,
                                            const v2::ExecuteResponse& response) {
  google::longrunning::Operation op;
  op.set_name(name);
  v2::ExecuteOperationMetadata metadata;
  metadata.set_stage(stage);
  *metadata.mutable_action_digest() = to_proto(action);
  op.mutable_metadata()->PackFrom(metadata);
  op.set_done(done);
  if (done) op.mutable_response()->PackFrom(response);
  return op;
}

}  // namespace

ExecutionService::ExecutionService(SharedStore& store, const Gate& gate, zmq::context_t& context,
                                   ExecutionOptions options, Logger log)
    : store_(store),
      gate_(gate),
      context_(context),
      options_(std::move(options)),
      log_(std::move(log)) {}

void ExecutionService::stop() {
  stopping_ = true;
  std::vector<std::shared_ptr<Operation>> ops;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, op] : by_name_) ops.push_back(op);
  }
  for (auto& op : ops) op->changed.notify_all();
}

ExecutionService::~ExecutionService() {
  stop();
  std::unique_lock lock(mutex_);
  threads_done_.wait(lock, [&] { return live_threads_ == 0; });
}

grpc::Status ExecutionService::Execute(grpc::ServerContext* context,
                                       const v2::ExecuteRequest* request,
                                       grpc::ServerWriter<google::longrunning::Operation>* writer) {
  if (auto s = gate_.admit(*context, Method::kExecute); !s.ok()) return s;
  if (auto s = check_digest_function(request->digest_function()); !s.ok())
    return to_grpc(s.error());
  auto digest = from_proto(request->action_digest());
  if (!digest.ok()) return invalid("action_digest: " + digest.error().message);
  grpc::Status refused;
  auto op =
      start(*digest, request->skip_cache_lookup(), request->execution_policy().priority(), refused);
  if (!op) return refused;
  return stream(*context, *op, *writer);
}

grpc::Status ExecutionService::WaitExecution(
    grpc::ServerContext* context, const v2::WaitExecutionRequest* request,
    grpc::ServerWriter<google::longrunning::Operation>* writer) {
  if (auto s = gate_.admit(*context, Method::kWaitExecution); !s.ok()) return s;
  std::shared_ptr<Operation> op;
  {
    std::lock_guard lock(mutex_);
    if (auto it = by_name_.find(request->name()); it != by_name_.end()) op = it->second;
  }
  if (!op) {
    return {grpc::StatusCode::NOT_FOUND, "no operation named '" + request->name().substr(0, 200) +
                                             "' (unknown, or finished too long ago)"};
  }
  return stream(*context, *op, *writer);
}

std::shared_ptr<ExecutionService::Operation> ExecutionService::start(const cas::Digest& action,
                                                                     bool skip_cache_lookup,
                                                                     int priority,
                                                                     grpc::Status& refused) {
  std::lock_guard lock(mutex_);
  forget_old();
  if (!skip_cache_lookup) {
    if (auto it = running_.find(action); it != running_.end()) return it->second;
  }
  if (stopping_) {
    refused = {grpc::StatusCode::UNAVAILABLE, "the server is shutting down"};
    return nullptr;
  }
  if (running_.size() >= options_.max_running) {
    refused = {grpc::StatusCode::RESOURCE_EXHAUSTED,
               std::to_string(running_.size()) + " operations are running already"};
    return nullptr;
  }
  auto op = std::make_shared<Operation>();
  op->name = random_name();
  op->action = action;
  op->skip_cache_lookup = skip_cache_lookup;
  op->priority = priority;
  op->stage = v2::ExecutionStage::CACHE_CHECK;  // the first stage a stream sees
  by_name_[op->name] = op;
  if (!skip_cache_lookup) running_[action] = op;
  ++live_threads_;
  std::thread([this, op] {
    run(op);
    std::lock_guard done(mutex_);
    if (--live_threads_ == 0) threads_done_.notify_all();
  }).detach();
  return op;
}

void ExecutionService::forget_old() {
  const auto now = Clock::now();
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    Operation& op = *it->second;
    std::lock_guard lock(op.mutex);
    if (op.done && now - op.done_at > options_.keep_done) {
      it = by_name_.erase(it);
    } else {
      ++it;
    }
  }
}

grpc::Status ExecutionService::stream(grpc::ServerContext& context, Operation& op,
                                      grpc::ServerWriter<google::longrunning::Operation>& writer) {
  int seen = -1;
  for (;;) {
    google::longrunning::Operation message;
    bool done = false;
    {
      std::unique_lock lock(op.mutex);
      op.changed.wait_for(lock, milliseconds(500), [&] { return op.version != seen || stopping_; });
      if (op.version != seen) {
        seen = op.version;
        done = op.done;
        message = to_operation(op.name, op.action, op.stage, op.done, op.response);
      } else if (stopping_) {
        return {grpc::StatusCode::UNAVAILABLE,
                "kiln-reapi is shutting down; execute the action again"};
      } else {
        if (context.IsCancelled()) return grpc::Status::CANCELLED;
        continue;
      }
    }
    if (!writer.Write(message)) return grpc::Status::CANCELLED;  // the client went away
    if (done) return grpc::Status::OK;
  }
}

void ExecutionService::run(const std::shared_ptr<Operation>& op) {
  auto finish = [&](v2::ExecuteResponse response) {
    {
      std::lock_guard lock(mutex_);
      if (auto it = running_.find(op->action); it != running_.end() && it->second == op)
        running_.erase(it);
    }
    op->finish(std::move(response));
  };
  if (!op->skip_cache_lookup) {
    auto hit = get_action_result(store_, op->action);
    if (hit.ok() && *hit) {
      v2::ExecuteResponse r;
      *r.mutable_result() = std::move(**hit);
      r.set_cached_result(true);
      return finish(std::move(r));
    }
  }
  Preparer preparer(store_);
  auto prepared = preparer.prepare(op->action);
  if (auto* response = std::get_if<v2::ExecuteResponse>(&prepared))
    return finish(std::move(*response));
  Prepared& p = std::get<Prepared>(prepared);

  op->set_stage(v2::ExecutionStage::QUEUED);
  proto::TransportLimits limits;
  auto conn = proto::Connection::open(context_, options_.scheduler_endpoint, {}, limits,
                                      options_.curve ? &*options_.curve : nullptr);
  if (!conn.ok()) {
    return finish(failed(grpc::StatusCode::UNAVAILABLE,
                         "scheduler " + options_.scheduler_endpoint + ": " + conn.error().message));
  }
  const auto submit = [&] {
    return (*conn)->send([&](schema::Envelope::Builder envelope) {
      auto request = envelope.getBody().initExecuteRequest();
      request.setDigestFunction(cas::to_wire(cas::DigestFunction::kSha256));
      cas::to_wire(p.kiln_digest, request.initActionDigest());
      cas::to_wire(p.kiln_action, cas::DigestFunction::kSha256, request.initAction());
      // The API's lower value runs sooner; kiln's higher one does.
      request.setPriority(-op->priority);
      request.setSkipCacheLookup(op->skip_cache_lookup);
      request.setProgress(true);
    });
  };
  // Waiting forgets a request that timed out, so each wait is one slice
  // and the request goes again after it (the scheduler runs identical
  // actions once, and the older request is cancelled); a slice short
  // enough for a shutdown not to wait long.
  const milliseconds slice = std::min(options_.resubmit_interval, milliseconds(5000));
  std::unique_ptr<proto::Decoded> reply;
  auto request_id = submit();
  while (request_id.ok() && !reply) {
    if (stopping_)
      return finish(failed(grpc::StatusCode::UNAVAILABLE, "kiln-reapi is shutting down"));
    auto answer = (*conn)->wait(*request_id, slice);
    if (answer.ok() &&
        (*answer)->envelope().getBody().which() == schema::Envelope::Body::EXECUTE_PROGRESS) {
      op->set_stage(v2::ExecutionStage::EXECUTING);
      continue;
    }
    if (answer.ok()) {
      reply = std::move(answer).value();
      break;
    }
    if (answer.error().code != Errc::kUnavailable) {
      return finish(failed(grpc_code(answer.error().code), "scheduler: " + answer.error().message));
    }
    const std::uint64_t previous = *request_id;
    request_id = submit();
    (void)(*conn)->send([&](schema::Envelope::Builder envelope) {
      auto cancel = envelope.getBody().initCancelRequest();
      cas::to_wire(p.kiln_digest, cancel.initActionDigest());
      cancel.setExecuteRequestId(previous);
    });
  }
  if (!reply) {
    return finish(failed(grpc::StatusCode::UNAVAILABLE, "the scheduler did not answer"));
  }
  if (auto error = proto::error_of(*reply)) {
    return finish(failed(grpc_code(error->code), "scheduler: " + error->message));
  }
  const auto body = reply->envelope().getBody();
  if (body.which() != schema::Envelope::Body::EXECUTE_RESPONSE) {
    return finish(
        failed(grpc::StatusCode::INTERNAL, "the scheduler answered with another kind of message"));
  }
  const auto response = body.getExecuteResponse();
  if (response.getHasStatus()) {
    const auto status = response.getStatus();
    return finish(failed(grpc_code(proto::errc_of(status.getCode())),
                         "the grid could not run the action: " + std::string(status.getMessage())));
  }
  auto result = cas::from_wire(response.getResult(), cas::DigestFunction::kSha256);
  if (!result.ok())
    return finish(failed(grpc::StatusCode::INTERNAL, "result: " + result.error().message));
  auto reapi_result = result_to_reapi(store_, *result, p.working_directory);
  if (!reapi_result.ok()) {
    return finish(failed(grpc_code(reapi_result.error().code), reapi_result.error().message));
  }
  const bool timed_out = response.getTimedOut();
  // The API's outputs are what the command made: a declared output it did
  // not make is absent from the result, not a failure (Bazel's test actions
  // declare outputs a test may not write), so missing ones do not stop
  // caching here as they do under kiln's own rule.
  if (cas::worth_caching(p.kiln_action, *result, timed_out, true)) {
    if (auto s = put_action_result(store_, op->action, *reapi_result); !s.ok() && log_) {
      log_(LogLevel::kWarn,
           "caching the result of " + op->action.to_string() + ": " + s.error().message);
    }
  }
  v2::ExecuteResponse r;
  *r.mutable_result() = std::move(reapi_result).value();
  r.set_cached_result(response.getCached());
  if (timed_out) {
    *r.mutable_status() = status_of(grpc::StatusCode::DEADLINE_EXCEEDED, "the action timed out");
  }
  finish(std::move(r));
}

}  // namespace kiln::reapi
