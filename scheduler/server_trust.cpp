// The scheduler's side of trust (server.h's ServerOptions, access.h,
// docs/security.md): who may connect, who may send what, and the reload of
// the authorized keys.
//
// Connections. With a secret key, both routers are CURVE servers, and the
// ZAP handler, bound before them, decides every handshake: the client's
// public key must be in the authorized keys with a role that may use that
// endpoint (access.h). An accepted connection's messages carry the key as
// their user id. A refused one never gets a message through; its handshake
// failure reaches the routers' monitors, which count it (statusResponse's
// refusedConnections). A peer without CURVE fails its handshake the same way.
//
// Messages. The key a message carries must still be authorized for that
// endpoint (a key removed from the file is refused from its next message,
// and its worker sessions end), else the message is dropped unanswered and
// counted (refusedMessages); a read-only key sending anything but a read is
// answered permissionDenied; with require_sha256, a client naming XXH3 is
// answered invalidArgument saying why.
#include <zmq.h>

#include <cstring>
#include <tuple>

#include "base/files.h"
#include "scheduler/server_impl.h"

namespace kiln::scheduler {
namespace {

using Which = schema::Envelope::Body::Which;

// The digest function a client message names, if it names one.
std::optional<schema::DigestFunction> named_function(schema::Envelope::Body::Reader body) {
  switch (body.which()) {
    case Which::FIND_MISSING_REQUEST:
      return body.getFindMissingRequest().getDigestFunction();
    case Which::UPLOAD_CHUNK:
      return body.getUploadChunk().getDigestFunction();
    case Which::DOWNLOAD_REQUEST:
      return body.getDownloadRequest().getDigestFunction();
    case Which::GET_ACTION_RESULT_REQUEST:
      return body.getGetActionResultRequest().getDigestFunction();
    case Which::EXECUTE_REQUEST:
      return body.getExecuteRequest().getDigestFunction();
    default:
      return std::nullopt;
  }
}

std::string short_key(const std::string& key) { return key.substr(0, 8) + "..."; }

const char* endpoint_name(Endpoint endpoint) {
  return endpoint == Endpoint::kWorkers ? "worker" : "client";
}

}  // namespace

Status Server::Impl::setup_trust() {
  if (options.require_sha256 && fn != cas::DigestFunction::kSha256) {
    return make_error(Errc::kInvalidArgument,
                      "require_sha256: the central store at " + options.store_dir.string() +
                          " uses " + std::string(cas::to_string(fn)) +
                          "; start with a new store and --digest-function sha256");
  }
  if (options.secret_key.empty()) {
    if (!options.authorized_keys_file.empty()) {
      return make_error(Errc::kInvalidArgument,
                        "authorized keys without a secret key: give the scheduler's key too");
    }
    for (const std::string& endpoint : {options.client_endpoint, options.worker_endpoint}) {
      if (!proto::is_loopback_endpoint(endpoint)) {
        return make_error(Errc::kInvalidArgument,
                          "refusing to serve " + endpoint +
                              " without authentication: plain TCP is for loopback only (give "
                              "a key and authorized keys, docs/security.md)");
      }
    }
    return {};
  }
  if (!proto::is_curve_key(options.secret_key)) {
    return make_error(Errc::kInvalidArgument, "the scheduler's secret key is not a Z85 CURVE key");
  }
  if (options.authorized_keys_file.empty()) {
    return make_error(Errc::kInvalidArgument,
                      "a secret key without authorized keys would admit no one: give "
                      "--authorized-keys FILE");
  }
  auto read = read_keys();
  if (!read.ok()) return read.error();
  keys = std::move(read).value();
  auto handler = proto::ZapHandler::bind(context);
  if (!handler.ok()) return handler.error();
  zap.emplace(std::move(handler).value());
  authenticated = true;
  return {};
}

Status Server::Impl::monitor_handshakes() {
  if (!authenticated) return {};
  constexpr int kEvents = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  for (auto [router, monitor, name] :
       {std::tuple{&clients, &client_monitor, "clients"}, {&workers, &worker_monitor, "workers"}}) {
    const std::string address = std::string("inproc://kiln-monitor-") + name;
    if (zmq_socket_monitor(router->handle(), address.c_str(), kEvents) != 0) {
      return make_error(Errc::kInternal, "cannot monitor the " + std::string(name) +
                                             " endpoint: " + zmq_strerror(zmq_errno()));
    }
    *monitor = zmq::socket_t(context, zmq::socket_type::pair);
    monitor->set(zmq::sockopt::linger, 0);
    monitor->connect(address);
  }
  return {};
}

Result<proto::AuthorizedKeys> Server::Impl::read_keys() const {
  const std::string path = options.authorized_keys_file.string();
  auto text = base::read_file(path, {.max_bytes = std::size_t{16} << 20});
  if (!text.ok())
    return make_error(Errc::kInvalidArgument, "authorized keys: " + text.error().message);
  return proto::parse_authorized_keys(*text, path);
}

void Server::Impl::reload_keys_now(Millis now) {
  if (!authenticated) {
    log(LogLevel::kInfo, "reload asked, but this scheduler runs without authentication");
    return;
  }
  auto fresh = read_keys();
  if (!fresh.ok()) {
    log(LogLevel::kError, "cannot reload the authorized keys, the " + std::to_string(keys.size()) +
                              " keys in force stay: " + fresh.error().message);
    return;
  }
  keys = std::move(fresh).value();
  std::size_t counts[3] = {0, 0, 0};
  for (const auto& [key, entry] : keys) ++counts[static_cast<int>(entry.role)];
  log(LogLevel::kInfo, "authorized keys reloaded: " + std::to_string(counts[0]) + " worker, " +
                           std::to_string(counts[1]) + " client, " + std::to_string(counts[2]) +
                           " read-only");
  // A worker whose key went ends now: its leases go back to the queue, and
  // it is told nothing (it is no longer one of ours).
  std::vector<WorkerId> revoked;
  for (const auto& [peer, session] : sessions) {
    const auto it = keys.find(session.key);
    if (it == keys.end() || !may_connect(it->second.role, Endpoint::kWorkers)) {
      revoked.push_back(peer);
    }
  }
  for (const WorkerId& peer : revoked) {
    forget_worker(peer, "its key was revoked", now, /*notify=*/false);
  }
}

std::optional<std::string> Server::Impl::decide_connection(const proto::ZapRequest& request,
                                                           Millis now) {
  const auto endpoint = endpoint_of_domain(request.domain);
  const std::string where = "a connection from " + peer_text(request.address, 64) + " to the " +
                            (endpoint ? endpoint_name(*endpoint) : "unknown") + " endpoint";
  if (!endpoint || request.mechanism != "CURVE") {
    trust_warning(Refusal::kHandshake,
                  "refused " + where + ": mechanism " + peer_text(request.mechanism, 16), now);
    return std::nullopt;
  }
  const auto it = keys.find(request.public_key);
  if (it == keys.end()) {
    trust_warning(
        Refusal::kKey,
        "refused " + where + ": key " + short_key(request.public_key) + " is not authorized", now);
    return std::nullopt;
  }
  if (!may_connect(it->second.role, *endpoint)) {
    trust_warning(Refusal::kKey,
                  "refused " + where + ": key '" + it->second.name + "' is a " +
                      std::string(proto::to_string(it->second.role)) + " key",
                  now);
    return std::nullopt;
  }
  return request.public_key;
}

void Server::Impl::read_monitor(zmq::socket_t& monitor, Endpoint endpoint, Millis now) {
  for (;;) {
    zmq::message_t event;
    if (!monitor.recv(event, zmq::recv_flags::dontwait)) return;
    std::uint16_t id = 0;
    if (event.size() >= sizeof id) std::memcpy(&id, event.data(), sizeof id);
    while (event.more()) {
      zmq::message_t rest;
      if (!monitor.recv(rest, zmq::recv_flags::dontwait)) break;
      event = std::move(rest);
    }
    ++refused_connections;
    // The ZAP handler has said why it refused a key; the others did not
    // even speak CURVE.
    if (id != ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      trust_warning(Refusal::kHandshake,
                    std::string("refused a connection to the ") + endpoint_name(endpoint) +
                        " endpoint: its handshake failed (no CURVE, or not kiln's key)",
                    now);
    }
  }
}

bool Server::Impl::admit(const proto::Received& r, Endpoint endpoint, Which kind, std::uint64_t id,
                         Millis now) {
  if (!authenticated) return true;
  const auto it = keys.find(r.user_id);
  if (it == keys.end() || !may_connect(it->second.role, endpoint)) {
    ++refused_messages;
    trust_warning(Refusal::kMessage,
                  "dropped a message from " + printable(r.peer) + " on the " +
                      endpoint_name(endpoint) + " endpoint: key " + short_key(r.user_id) +
                      " is no longer authorized",
                  now);
    return false;
  }
  const proto::AuthorizedKey& key = it->second;
  zmq::socket_t& socket = endpoint == Endpoint::kWorkers ? workers : clients;
  if (!may_send(key.role, endpoint, kind)) {
    ++refused_messages;
    trust_warning(Refusal::kMessage,
                  "refused " + kind_name(kind) + " from '" + key.name + "' (a " +
                      std::string(proto::to_string(key.role)) + " key)",
                  now);
    if (id != 0) {
      (void)reply_error(socket, r.peer, r.delimited, id, ErrorCode::PERMISSION_DENIED,
                        "the key '" + key.name +
                            "' is read-only: it may read the cache, not send " + kind_name(kind));
    }
    return false;
  }
  if (options.require_sha256 && endpoint == Endpoint::kClients && r.message.ok()) {
    const auto function = named_function((*r.message)->envelope().getBody());
    if (function && *function != schema::DigestFunction::SHA256) {
      ++refused_messages;
      if (id != 0) {
        (void)reply_error(socket, r.peer, r.delimited, id, ErrorCode::INVALID_ARGUMENT,
                          "this grid takes work from clients it does not trust and requires "
                          "sha256 (XXH3-128 collisions can be made to order): set "
                          "KILN_DIGEST_FUNCTION=sha256 with a new KILN_DIR");
      }
      return false;
    }
  }
  return true;
}

void Server::Impl::trust_warning(Refusal refusal, const std::string& line, Millis now) {
  std::uint64_t suppressed = 0;
  const bool allowed = trust_logs.at(static_cast<std::size_t>(refusal)).allow(now, suppressed);
  if (suppressed > 0) {
    log(LogLevel::kWarn, std::to_string(suppressed) + " similar trust warnings suppressed");
  }
  if (allowed) log(LogLevel::kWarn, line);
}

}  // namespace kiln::scheduler
