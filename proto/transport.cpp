// ZeroMQ sockets with kiln's limits, and a request/reply Connection.
//
// Sockets: every option PROTOCOL.md promises is set before bind/connect, so
// it applies to every pipe the socket ever gets. ZMQ_MAXMSGSIZE is the
// codec's body limit plus a little slack (so a body exactly at the limit
// still reaches decode(), which gives the precise reason); libzmq closes the
// connection of a peer that sends a larger frame before buffering it.
//
// receive(): the first frame is read with ZMQ_DONTWAIT; ZeroMQ delivers a
// multipart message atomically, so the remaining frames are already there.
// Up to max_frames are kept; beyond that the rest is read and dropped (the
// socket must never be left in the middle of a message). On a ROUTER the
// first frame is the routing id, and an empty frame right after it is the
// delimiter a REQ peer adds; both are stripped before decode().
//
// send(): the body goes out zero-copy: the encoded kj::Array moves into a
// heap object that ZeroMQ frees (from its I/O thread) once the frame is sent.
// Only the first frame can be refused (HWM reached, unknown peer); once it is
// queued, ZeroMQ accepts the rest of the multipart message.
//
// Connection: request ids come from a counter. wait() polls the socket for
// the remaining time and reads every message that arrived; a reply to
// another request that is still outstanding (sent, not yet waited for) is
// kept for its own wait(), anything else (timed-out requests, notifications,
// malformed messages) is dropped. A socket monitor (an inproc PAIR fed by
// zmq_socket_monitor, attached before connect so no event is missed) tells
// wait() when the session is lost, so a request that can no longer be
// answered fails at once instead of at its timeout; TCP keepalive and a
// limit on unacknowledged data (set_common_options) turn a silent peer (a
// cut link, a dead host) into such a loss too, within about 10 s.
#include "proto/transport.h"

#include <capnp/schema.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace kiln::proto {
namespace {

using Clock = std::chrono::steady_clock;

// Room for the frame header and a few words beyond the body limit.
constexpr std::int64_t kMaxMsgSlack = 4096;
// Messages queued per peer in each direction (ZeroMQ's own default).
constexpr int kHighWaterMark = 1000;
// A peer that has gone silent (its host died, its link was cut) is found
// by the kernel, not by messages: TCP keepalive probes an idle connection
// after 4 s, every 2 s, and gives up after 3 unanswered (about 10 s), and
// data unacknowledged for 10 s (TCP_USER_TIMEOUT) ends a busy one.
// ZMTP heartbeats would queue behind the data on a slow link (libzmq resets
// their timeout only per whole message, and a chunk is 1 MiB), so a
// saturated but healthy link would look dead; TCP acknowledgements do not.
constexpr int kKeepaliveIdleSeconds = 4;
constexpr int kKeepaliveIntervalSeconds = 2;
constexpr int kKeepaliveCount = 3;
constexpr int kUnacknowledgedLimitMs = 10000;

void set_common_options(zmq::socket_t& socket, const TransportLimits& limits) {
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::maxmsgsize,
             static_cast<std::int64_t>(limits.codec.max_body_bytes) + kMaxMsgSlack);
  socket.set(zmq::sockopt::sndhwm, kHighWaterMark);
  socket.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  socket.set(zmq::sockopt::tcp_keepalive, 1);
  socket.set(zmq::sockopt::tcp_keepalive_idle, kKeepaliveIdleSeconds);
  socket.set(zmq::sockopt::tcp_keepalive_intvl, kKeepaliveIntervalSeconds);
  socket.set(zmq::sockopt::tcp_keepalive_cnt, kKeepaliveCount);
  socket.set(zmq::sockopt::tcp_maxrt, kUnacknowledgedLimitMs);
}

std::span<const std::byte> bytes_of(const zmq::message_t& frame) {
  return {static_cast<const std::byte*>(frame.data()), frame.size()};
}

std::string describe(const zmq::error_t& e) { return std::string(e.what()); }

// recv() that retries EINTR; nullopt when nothing is waiting.
std::optional<std::size_t> recv_frame(zmq::socket_t& socket, zmq::message_t& frame) {
  for (;;) {
    try {
      return socket.recv(frame, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
  }
}

// send() of one frame: true if queued; false on EAGAIN (HWM, no peer) or
// EHOSTUNREACH (ROUTER_MANDATORY: unknown peer). Other errors throw.
bool send_frame(zmq::socket_t& socket, zmq::message_t&& frame, bool more) {
  const auto flags =
      more ? zmq::send_flags::dontwait | zmq::send_flags::sndmore : zmq::send_flags::dontwait;
  for (;;) {
    try {
      return socket.send(frame, flags).has_value();
    } catch (const zmq::error_t& e) {
      if (e.num() == EHOSTUNREACH) return false;
      if (e.num() != EINTR) throw;
    }
  }
}

void free_body(void* /*data*/, void* hint) { delete static_cast<kj::Array<capnp::word>*>(hint); }

zmq::message_t body_frame(kj::Array<capnp::word>&& body) {
  auto owner = std::make_unique<kj::Array<capnp::word>>(std::move(body));
  zmq::message_t frame(owner->begin(), owner->size() * sizeof(capnp::word), free_body, owner.get());
  owner.release();  // NOLINT(bugprone-unused-return-value): ZeroMQ owns it now
  return frame;
}

}  // namespace

Result<zmq::socket_t> make_router(zmq::context_t& context, const std::string& endpoint,
                                  const TransportLimits& limits, const CurveServerKeys* curve) {
  try {
    zmq::socket_t socket(context, zmq::socket_type::router);
    set_common_options(socket, limits);
    if (curve != nullptr) {
      socket.set(zmq::sockopt::curve_server, true);
      socket.set(zmq::sockopt::curve_secretkey, curve->secret_key);
      socket.set(zmq::sockopt::zap_domain, curve->zap_domain);
    }
    socket.set(zmq::sockopt::router_mandatory, true);
    socket.set(zmq::sockopt::router_handover, true);
    socket.bind(endpoint);
    return socket;
  } catch (const zmq::error_t& e) {
    return make_error(Errc::kUnavailable, "cannot bind " + endpoint + ": " + describe(e));
  }
}

namespace {

// A DEALER with kiln's options, not connected yet.
zmq::socket_t dealer_socket(zmq::context_t& context, const std::string& identity,
                            const TransportLimits& limits, const CurveClientKeys* curve) {
  zmq::socket_t socket(context, zmq::socket_type::dealer);
  set_common_options(socket, limits);
  if (curve != nullptr) {
    socket.set(zmq::sockopt::curve_serverkey, curve->server_key);
    socket.set(zmq::sockopt::curve_publickey, curve->own.public_key);
    socket.set(zmq::sockopt::curve_secretkey, curve->own.secret_key);
  }
  if (!identity.empty()) socket.set(zmq::sockopt::routing_id, zmq::buffer(identity));
  return socket;
}

}  // namespace

Result<zmq::socket_t> make_dealer(zmq::context_t& context, const std::string& endpoint,
                                  const std::string& identity, const TransportLimits& limits,
                                  const CurveClientKeys* curve) {
  try {
    zmq::socket_t socket = dealer_socket(context, identity, limits, curve);
    socket.connect(endpoint);
    return socket;
  } catch (const zmq::error_t& e) {
    return make_error(Errc::kUnavailable, "cannot connect to " + endpoint + ": " + describe(e));
  }
}

std::string bound_endpoint(zmq::socket_t& socket) {
  return socket.get(zmq::sockopt::last_endpoint);
}

std::optional<Received> receive(zmq::socket_t& socket, bool routed, const TransportLimits& limits) {
  std::vector<zmq::message_t> frames;
  frames.emplace_back();
  if (!recv_frame(socket, frames.back())) return std::nullopt;
  std::size_t total = 1;
  bool more = frames.back().more();
  while (more) {
    zmq::message_t frame;
    if (!recv_frame(socket, frame)) break;  // cannot happen: parts arrive together
    ++total;
    more = frame.more();
    if (frames.size() < limits.max_frames) frames.push_back(std::move(frame));
  }

  Received out{std::string{}, make_error(Errc::kInternal, "unset"), false, std::nullopt};
  // Every frame of a message carries its connection's properties.
  if (const char* user = zmq_msg_gets(frames.back().handle(), "User-Id"); user != nullptr) {
    out.user_id = user;
  }
  std::size_t first = 0;
  if (routed) {
    out.peer = frames[0].to_string();
    first = 1;
  }
  if (total > limits.max_frames) {
    out.message = make_error(Errc::kInvalidArgument,
                             "malformed kiln message: " + std::to_string(total) +
                                 " frames (limit " + std::to_string(limits.max_frames) + ")");
    return out;
  }
  // [identity, "", sig, body] from a REQ peer.
  if (routed && frames.size() == 4 && frames[1].size() == 0) {
    out.delimited = true;
    first = 2;
  }
  std::vector<std::span<const std::byte>> kiln_frames;
  for (std::size_t i = first; i < frames.size(); ++i) kiln_frames.push_back(bytes_of(frames[i]));
  out.message = decode(kiln_frames, limits.codec);
  if (!out.message.ok() && !kiln_frames.empty()) {
    if (auto v = peek_version(kiln_frames[0]); v && *v != kProtocolMajor) out.foreign_version = v;
  }
  return out;
}

bool send(zmq::socket_t& socket, const std::string& peer, capnp::MessageBuilder& message,
          bool delimited) {
  Encoded encoded = encode(message);
  if (!peer.empty()) {
    if (!send_frame(socket, zmq::message_t(peer.data(), peer.size()), true)) return false;
    if (delimited && !send_frame(socket, zmq::message_t(), true)) return false;
  }
  const auto sig = encoded.signature_bytes();
  if (!send_frame(socket, zmq::message_t(sig.data(), sig.size()), true)) return false;
  return send_frame(socket, body_frame(std::move(encoded.body)), false);
}

schema::Error::Code error_code_of(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return schema::Error::Code::INVALID_ARGUMENT;
    case Errc::kNotFound:
      return schema::Error::Code::NOT_FOUND;
    case Errc::kCorrupt:
      return schema::Error::Code::DIGEST_MISMATCH;
    case Errc::kResourceExhausted:
      return schema::Error::Code::RESOURCE_EXHAUSTED;
    case Errc::kUnavailable:
      return schema::Error::Code::UNAVAILABLE;
    case Errc::kPermissionDenied:
      return schema::Error::Code::PERMISSION_DENIED;
    case Errc::kIo:
    case Errc::kInternal:
      break;
  }
  return schema::Error::Code::INTERNAL;
}

void set_error(schema::Envelope::Builder envelope, schema::Error::Code code,
               const std::string& message) {
  auto error = envelope.getBody().initError();
  error.setCode(code);
  error.setMessage(capnp::Text::Reader(message.c_str(), message.size()));
}

Errc errc_of(schema::Error::Code code) {
  switch (code) {
    case schema::Error::Code::NOT_FOUND:
      return Errc::kNotFound;
    case schema::Error::Code::INVALID_ARGUMENT:
    case schema::Error::Code::MALFORMED:
    case schema::Error::Code::BAD_VERSION:
    case schema::Error::Code::UNKNOWN_KIND:
      return Errc::kInvalidArgument;
    case schema::Error::Code::DIGEST_MISMATCH:
      return Errc::kCorrupt;
    case schema::Error::Code::RESOURCE_EXHAUSTED:
      return Errc::kResourceExhausted;
    case schema::Error::Code::TIMED_OUT:
    case schema::Error::Code::CANCELLED:
    case schema::Error::Code::UNAVAILABLE:
      return Errc::kUnavailable;
    case schema::Error::Code::PERMISSION_DENIED:
      return Errc::kPermissionDenied;
    case schema::Error::Code::INTERNAL:
    default:
      return Errc::kInternal;
  }
}

std::optional<Error> error_of(const Decoded& reply) {
  const auto body = reply.envelope().getBody();
  if (body.which() != schema::Envelope::Body::ERROR) return std::nullopt;
  const auto error = body.getError();
  const auto code = error.getCode();
  const auto text = error.getMessage();
  // The code by its schema name ("permissionDenied"), for one readable line.
  const auto enumerants = capnp::Schema::from<schema::Error::Code>().getEnumerants();
  const auto index = static_cast<unsigned>(code);
  const std::string name = index < enumerants.size()
                               ? std::string(enumerants[index].getProto().getName().cStr())
                               : std::to_string(index);
  return make_error(errc_of(code),
                    "peer error " + name + ": " + std::string(text.cStr(), text.size()));
}

// ---- Connection -------------------------------------------------------------

namespace {

// An interim reply (executeProgress) leaves its request outstanding: the
// final reply follows.
bool is_interim(const Decoded& reply) {
  return reply.envelope().getBody().which() == schema::Envelope::Body::EXECUTE_PROGRESS;
}

}  // namespace

struct Connection::Impl {
  zmq::socket_t socket;
  zmq::socket_t monitor;  // PAIR: the socket's connection events
  std::string endpoint;
  TransportLimits limits;
  std::uint64_t next_id = 1;
  // Sent and not yet waited for (or timed out), with disconnects() at the
  // time each was sent.
  std::map<std::uint64_t, std::uint64_t> outstanding;
  // Replies that arrived while waiting for another request.
  std::map<std::uint64_t, std::unique_ptr<Decoded>> early;
  // The link, from the monitor's events.
  bool up = false;
  std::uint64_t sessions = 0;
  std::uint64_t disconnects = 0;
  Clock::time_point down_since = Clock::now();

  ~Impl() {
    // Stop the monitor before its socket goes (the endpoint is per object).
    if (monitor.handle() != nullptr) (void)zmq_socket_monitor(socket.handle(), nullptr, 0);
  }

  // Applies every event the monitor has queued.
  void read_events() {
    for (;;) {
      zmq::message_t event;
      if (!recv_frame(monitor, event)) return;
      // The second frame (the peer's address) comes with the first.
      for (bool more = event.more(); more;) {
        zmq::message_t rest;
        more = recv_frame(monitor, rest).has_value() && rest.more();
      }
      if (event.size() < sizeof(std::uint16_t)) continue;
      std::uint16_t id = 0;
      std::memcpy(&id, event.data(), sizeof id);
      if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
        up = true;
        ++sessions;
      } else if (id == ZMQ_EVENT_DISCONNECTED && up) {
        up = false;
        ++disconnects;
        down_since = Clock::now();
      }
    }
  }

  // Reads what arrived: the reply to `request_id` is returned, replies to
  // other outstanding requests are kept, the rest dropped.
  std::unique_ptr<Decoded> read_replies(std::uint64_t request_id) {
    while (auto received = receive(socket, false, limits)) {
      if (!received->message.ok()) continue;  // malformed: nothing to trust
      auto message = std::move(received->message).value();
      const std::uint64_t id = message->envelope().getRequestId();
      if (id != 0 && id == request_id) return message;
      // An early final reply is kept over an interim one, never the reverse.
      if (id != 0 && outstanding.contains(id)) {
        auto& kept = early[id];
        if (!kept || is_interim(*kept)) kept = std::move(message);
      }
    }
    return nullptr;
  }

  // Polls the socket and the monitor until one is readable or `left` ends.
  void poll(std::chrono::milliseconds left) {
    std::array<zmq::pollitem_t, 2> items{zmq::pollitem_t{socket.handle(), 0, ZMQ_POLLIN, 0},
                                         zmq::pollitem_t{monitor.handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items.data(), items.size(), left);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
  }
};

Result<std::unique_ptr<Connection>> Connection::open(zmq::context_t& context,
                                                     const std::string& endpoint,
                                                     const std::string& identity,
                                                     const TransportLimits& limits,
                                                     const CurveClientKeys* curve) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->socket = dealer_socket(context, identity, limits, curve);
    // One inproc endpoint per Connection: an address that lives only as
    // long as it does, plus a random part in case the next one gets the
    // same address before the last monitor's endpoint is gone.
    std::random_device random;
    const std::string events = "inproc://kiln-link-" +
                               std::to_string(reinterpret_cast<std::uintptr_t>(impl.get())) + "-" +
                               std::to_string(random());
    if (zmq_socket_monitor(impl->socket.handle(), events.c_str(),
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0) {
      throw zmq::error_t();
    }
    impl->monitor = zmq::socket_t(context, zmq::socket_type::pair);
    impl->monitor.set(zmq::sockopt::linger, 0);
    impl->monitor.connect(events);
    impl->socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return make_error(Errc::kUnavailable, "cannot connect to " + endpoint + ": " + describe(e));
  }
  impl->endpoint = endpoint;
  impl->limits = limits;
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

Result<std::uint64_t> Connection::send(const Fill& fill) {
  const std::uint64_t id = impl_->next_id++;
  capnp::MallocMessageBuilder message;
  fill(init_envelope(message, id));
  impl_->read_events();
  if (!proto::send(impl_->socket, {}, message)) {
    return make_error(Errc::kUnavailable, "cannot queue a request to " + impl_->endpoint);
  }
  impl_->outstanding[id] = impl_->disconnects;
  return id;
}

Result<std::unique_ptr<Decoded>> Connection::wait(std::uint64_t request_id,
                                                  std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (auto it = s.early.find(request_id); it != s.early.end()) {
    auto reply = std::move(it->second);
    s.early.erase(it);
    if (!is_interim(*reply)) s.outstanding.erase(request_id);
    return reply;
  }
  const auto sent = s.outstanding.find(request_id);
  if (sent == s.outstanding.end()) {
    return make_error(Errc::kInvalidArgument,
                      "request " + std::to_string(request_id) + " is not outstanding");
  }
  const std::uint64_t disconnects_at_send = sent->second;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto reply = s.read_replies(request_id)) {
      if (!is_interim(*reply)) s.outstanding.erase(request_id);
      return reply;
    }
    s.read_events();
    if (s.disconnects != disconnects_at_send) {
      s.outstanding.erase(request_id);
      return make_error(Errc::kUnavailable, "the connection to " + s.endpoint +
                                                " was lost before request " +
                                                std::to_string(request_id) + " was answered");
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    s.poll(left);
  }
  s.outstanding.erase(request_id);
  return make_error(Errc::kUnavailable, "no reply from " + s.endpoint + " to request " +
                                            std::to_string(request_id) + " within " +
                                            std::to_string(timeout.count()) + " ms");
}

Connection::Link Connection::link() {
  Impl& s = *impl_;
  s.read_events();
  const auto down = s.up ? Clock::duration::zero() : Clock::now() - s.down_since;
  return Link{s.up, s.sessions, std::chrono::duration_cast<std::chrono::milliseconds>(down)};
}

std::uint64_t Connection::disconnects() {
  impl_->read_events();
  return impl_->disconnects;
}

Status Connection::await_link(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    s.read_events();
    if (s.up) return {};
    // Keep what arrives for its own wait() (nothing should, without a session).
    (void)s.read_replies(0);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    s.poll(left);
  }
  return make_error(Errc::kUnavailable, "no session with " + s.endpoint + " within " +
                                            std::to_string(timeout.count()) + " ms");
}

Result<std::unique_ptr<Decoded>> Connection::call(const Fill& fill,
                                                  std::chrono::milliseconds timeout) {
  auto id = send(fill);
  if (!id.ok()) return id.error();
  return wait(*id, timeout);
}

void Connection::forget(std::uint64_t request_id) {
  impl_->outstanding.erase(request_id);
  impl_->early.erase(request_id);
}

const std::string& Connection::endpoint() const { return impl_->endpoint; }
zmq::socket_t& Connection::socket() { return impl_->socket; }

}  // namespace kiln::proto
