// zap.h: RFC 27 on a REP socket.
#include "proto/zap.h"

#include <zmq.h>

#include <array>
#include <cerrno>

namespace kiln::proto {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";

}  // namespace

Result<ZapRequest> parse_zap_request(std::span<const std::string> frames) {
  // version, request id, domain, address, identity, mechanism, credentials...
  if (frames.size() < 6) return make_error(Errc::kInvalidArgument, "ZAP request: too few frames");
  if (frames[0] != "1.0") return make_error(Errc::kInvalidArgument, "ZAP request: not version 1.0");
  ZapRequest request;
  request.domain = frames[2];
  request.address = frames[3];
  request.mechanism = frames[5];
  if (request.mechanism == "CURVE") {
    if (frames.size() != 7 || frames[6].size() != 32) {
      return make_error(Errc::kInvalidArgument, "ZAP request: a CURVE key is 32 bytes");
    }
    std::array<char, 41> text{};
    if (zmq_z85_encode(text.data(), reinterpret_cast<const std::uint8_t*>(frames[6].data()), 32) ==
        nullptr) {
      return make_error(Errc::kInvalidArgument, "ZAP request: the key does not encode");
    }
    request.public_key = text.data();
  }
  return request;
}

std::vector<std::string> zap_reply(const std::string& request_id,
                                   const std::optional<std::string>& user_id,
                                   const std::string& why) {
  return {"1.0", request_id, user_id ? "200" : "400", user_id ? "OK" : why, user_id.value_or(""),
          ""};
}

Result<ZapHandler> ZapHandler::bind(zmq::context_t& context) {
  try {
    zmq::socket_t socket(context, zmq::socket_type::rep);
    socket.set(zmq::sockopt::linger, 0);
    socket.bind(kZapEndpoint);
    return ZapHandler(std::move(socket));
  } catch (const zmq::error_t& e) {
    return make_error(Errc::kUnavailable, std::string("cannot bind the ZAP handler: ") + e.what());
  }
}

std::size_t ZapHandler::serve(const Decide& decide) {
  std::size_t refused = 0;
  for (;;) {
    std::vector<std::string> frames;
    bool more = true;
    while (more) {
      zmq::message_t frame;
      std::optional<std::size_t> got;
      try {
        got =
            socket_.recv(frame, frames.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      if (!got) return refused;  // nothing waiting
      frames.push_back(frame.to_string());
      more = frame.more();
      if (frames.size() > 16) {  // never from ZeroMQ: read it to its end, refuse
        while (more) {
          zmq::message_t rest;
          (void)socket_.recv(rest, zmq::recv_flags::none);
          more = rest.more();
        }
      }
    }
    auto request = parse_zap_request(frames);
    std::optional<std::string> user_id;
    std::string why = "not an allowed key";
    if (request.ok()) {
      user_id = decide(*request);
    } else {
      why = request.error().message;
    }
    if (!user_id) ++refused;
    const auto reply = zap_reply(frames.size() > 1 ? frames[1] : std::string(), user_id, why);
    for (std::size_t i = 0; i < reply.size(); ++i) {
      zmq::message_t frame(reply[i].data(), reply[i].size());
      (void)socket_.send(frame,
                         i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
}

}  // namespace kiln::proto
