// The ZAP handler (ZeroMQ RFC 27, "ZMQ Authentication Protocol"): during
// every CURVE handshake on a socket of its context, ZeroMQ sends the
// handler the socket's ZAP domain, the peer's address and public key, and
// waits for a verdict. Accepted, the peer's messages carry the user id the
// handler chose (ZeroMQ's "User-Id" message property, Received::user_id);
// refused, the handshake fails and the peer's connection is closed before
// any of its messages is read.
//
// The handler is a REP socket bound to inproc://zeromq.zap.01 in the
// context; the owner polls socket() with its other sockets and calls
// serve() when it is readable. It must be bound before any CURVE server
// socket of the context accepts a connection: without a handler, ZeroMQ
// lets every key in.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "base/result.h"

namespace kiln::proto {

struct ZapRequest {
  std::string domain;      // the socket's ZAP domain
  std::string address;     // the peer's IP address
  std::string mechanism;   // "CURVE" for kiln's sockets
  std::string public_key;  // Z85; empty unless mechanism is CURVE
};

// The request in RFC 27's frames, checked: version "1.0", the frame count
// the mechanism implies, a 32-byte key for CURVE. kInvalidArgument
// otherwise (ZeroMQ itself never sends such a request).
Result<ZapRequest> parse_zap_request(std::span<const std::string> frames);

// The reply's frames: 200 with `user_id`, or 400 with `why`.
std::vector<std::string> zap_reply(const std::string& request_id,
                                   const std::optional<std::string>& user_id,
                                   const std::string& why);

class ZapHandler {
 public:
  // The user id to give the peer's messages, or nullopt to refuse it.
  using Decide = std::function<std::optional<std::string>(const ZapRequest&)>;

  // Binds the handler in `context`. kUnavailable when the context already
  // has one.
  static Result<ZapHandler> bind(zmq::context_t& context);

  zmq::socket_t& socket() { return socket_; }

  // Answers every request waiting, never blocking. Returns how many it
  // refused (malformed requests are refused too).
  std::size_t serve(const Decide& decide);

 private:
  explicit ZapHandler(zmq::socket_t socket) : socket_(std::move(socket)) {}
  zmq::socket_t socket_;
};

}  // namespace kiln::proto
