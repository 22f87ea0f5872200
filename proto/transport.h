// ZeroMQ sockets the kiln way, and a request/reply connection on top.
//
// Every socket kiln opens is made here, so the limits PROTOCOL.md promises
// are set in one place: ZMQ_MAXMSGSIZE (no frame over the codec's body
// limit reaches user space), linger 0, ROUTER_MANDATORY (sending to a gone
// peer fails instead of vanishing) and ROUTER_HANDOVER (a reconnecting peer
// with the same identity takes over its session). Receiving reads a whole
// multipart message, refuses more than `max_frames` frames (draining the
// rest), and hands the kiln frames to the codec.
//
// Threading: a zmq::socket_t, and so a Connection, belongs to one thread.
#pragma once

#include <capnp/message.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "base/result.h"
#include "proto/codec.h"
#include "proto/curve.h"

namespace kiln::proto {

struct TransportLimits {
  CodecLimits codec;
  std::size_t max_frames = 4;  // identity + signature + body, and one spare
};

// A ROUTER bound to `endpoint` (e.g. "tcp://127.0.0.1:0" picks a port; see
// bound_endpoint). kUnavailable with the reason if the bind fails. With
// `curve`, a CURVE server whose handshakes the context's ZAP handler decides
// (curve.h, zap.h); without, plain TCP.
Result<zmq::socket_t> make_router(zmq::context_t& context, const std::string& endpoint,
                                  const TransportLimits& limits = {},
                                  const CurveServerKeys* curve = nullptr);
// A DEALER connected to `endpoint`; `identity` empty = let ZeroMQ choose.
// With `curve`, a CURVE client of the server whose public key it names.
Result<zmq::socket_t> make_dealer(zmq::context_t& context, const std::string& endpoint,
                                  const std::string& identity = {},
                                  const TransportLimits& limits = {},
                                  const CurveClientKeys* curve = nullptr);
// The endpoint a socket is bound to, with the real port ("tcp://127.0.0.1:41234").
std::string bound_endpoint(zmq::socket_t& socket);

struct Received {
  std::string peer;  // the routing id (ROUTER sockets), else empty
  // The decoded message, or why it was refused (already drained).
  Result<std::unique_ptr<Decoded>> message;
  // ROUTER only: the peer is a REQ socket ([id, "", sig, body]); pass this
  // to send() so that the reply carries the delimiter REQ expects.
  bool delimited = false;
  // Set when decoding failed because the signature is "KLN" with another
  // major version (PROTOCOL.md section 7: log it, maybe reply badVersion).
  std::optional<std::uint8_t> foreign_version;
  // On a CURVE server: the user id the ZAP handler gave the peer's
  // connection (kiln's: the peer's public key). Empty on plain sockets.
  std::string user_id = {};
};

// Reads one multipart message if one is waiting (never blocks); nullopt if
// none is. `routed`: the socket is a ROUTER, so the first frame is the
// peer's routing id (and an empty frame after it, from a REQ peer, is
// stripped). A message of more than max_frames frames is read to its end
// and refused; anything decode() refuses is returned as that error, with
// the peer known. Throws zmq::error_t only for errors of the socket itself
// (ETERM, ENOTSOCK), never for what a peer sent.
std::optional<Received> receive(zmq::socket_t& socket, bool routed,
                                const TransportLimits& limits = {});

// Sends one message; `peer` is the routing id for a ROUTER, empty for a
// DEALER. Never blocks: returns false if the peer is unknown/gone or its
// queue is full (the message is dropped; the caller decides what that means).
// `delimited`: put an empty frame after the routing id (a reply to a REQ
// peer, see Received::delimited). The body frame is sent zero-copy.
bool send(zmq::socket_t& socket, const std::string& peer, capnp::MessageBuilder& message,
          bool delimited = false);

// The wire Error code for a kiln error category (kCorrupt → digestMismatch,
// kIo/kPermissionDenied/kInternal → internal, ...).
schema::Error::Code error_code_of(Errc code);
// The other way: a wire error code as kiln's (notFound -> kNotFound,
// digestMismatch -> kCorrupt, unavailable/timedOut/cancelled ->
// kUnavailable, an unknown code -> kInternal).
Errc errc_of(schema::Error::Code code);
// Sets `envelope`'s body to an Error with this code and message.
void set_error(schema::Envelope::Builder envelope, schema::Error::Code code,
               const std::string& message);

// A DEALER to one server, for request/reply with request ids. Replies are
// matched by requestId; stray replies (to requests that already timed out
// or were forgotten, and notifications) are dropped. Several requests may be
// outstanding at once (pipelining): a reply to one that is not being waited
// for yet is kept until its wait(), so every sent request must be waited
// for or forgotten. ZeroMQ reconnects underneath by itself; a request in flight
// when the server went away simply times out.
class Connection {
 public:
  // Fills in the body of a request; the envelope (version, requestId) is set.
  using Fill = std::function<void(schema::Envelope::Builder)>;

  static Result<std::unique_ptr<Connection>> open(zmq::context_t& context,
                                                  const std::string& endpoint,
                                                  const std::string& identity = {},
                                                  const TransportLimits& limits = {},
                                                  const CurveClientKeys* curve = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one request and returns its requestId (kUnavailable if it could
  // not be queued). A request sent while no session is up waits in the
  // socket's queue for the next one.
  Result<std::uint64_t> send(const Fill& fill);
  // Waits for the reply to `request_id`. An interim reply (executeProgress)
  // is returned too, and leaves the request outstanding for the next
  // wait(). kUnavailable on timeout, and at once when the session it was
  // sent on is lost (the peer died, restarted, or went silent for about
  // 10 s: no reply can come any more; disconnects() tells the two apart);
  // the request is then forgotten.
  // kInvalidArgument if `request_id` is not outstanding. An Error body in
  // the reply is returned as the reply (the caller reads it, e.g. with
  // error_of).
  Result<std::unique_ptr<Decoded>> wait(std::uint64_t request_id,
                                        std::chrono::milliseconds timeout);
  // send + wait.
  Result<std::unique_ptr<Decoded>> call(const Fill& fill, std::chrono::milliseconds timeout);
  // Gives up on an outstanding request: its reply, if it comes, is dropped.
  void forget(std::uint64_t request_id);

  // The link to the peer, as ZeroMQ reports it (a socket monitor): `up`
  // once a session's handshake (CURVE or plain) has succeeded and until it
  // is lost; `sessions` counts the sessions started (a reconnect to a
  // restarted peer is a new one); `down_for` is how long there has been no
  // session (since open() at first). ZeroMQ reconnects by itself; a peer
  // that goes silent is dropped after about 10 s (TCP keepalive, and
  // data unacknowledged for 10 s).
  struct Link {
    bool up = false;
    std::uint64_t sessions = 0;
    std::chrono::milliseconds down_for{0};
  };
  Link link();
  // Sessions lost so far: if this grew while a request was outstanding, its
  // wait() failed because the session was lost, not by timing out.
  std::uint64_t disconnects();
  // Waits until a session is up (at once if one is). kUnavailable after
  // `timeout` without one. Replies that arrive meanwhile are kept for their
  // wait().
  Status await_link(std::chrono::milliseconds timeout);

  const std::string& endpoint() const;
  zmq::socket_t& socket();

 private:
  struct Impl;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// If `reply` carries an Error body, that error as a kiln::Error (code
// mapped: notFound → kNotFound, digestMismatch → kCorrupt, …), else nullopt.
std::optional<Error> error_of(const Decoded& reply);

}  // namespace kiln::proto
