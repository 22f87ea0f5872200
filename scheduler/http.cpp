// See http.h. cpp-httplib's own routing is not used: one pre-routing
// handler answers every request, so the gate (decide()) is the only path
// to a handler and runs before the library would read a request body.
#include "scheduler/http.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <thread>

namespace kiln::scheduler {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string reason_phrase(int status) {
  switch (status) {
    case 401:
      return "401 Unauthorized: send Authorization: Bearer TOKEN\n";
    case 404:
      return "404 Not Found\n";
    case 405:
      return "405 Method Not Allowed: only GET\n";
    default:
      return std::to_string(status) + "\n";
  }
}

}  // namespace

std::string HttpAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<HttpAddress> parse_http_address(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error(Errc::kInvalidArgument,
                      "'" + std::string(text) + "' is not HOST:PORT (" + why + ")");
  };
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.starts_with('[')) {
    if (!host.ends_with(']') || host.size() < 3) return bad("unclosed bracket");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 host goes in brackets: [::1]:9090");
  }
  if (host.empty()) return bad("no host: 127.0.0.1, or 0.0.0.0 for every interface");
  int value = -1;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 0 ||
      value > 65535) {
    return bad("the port must be 0..65535");
  }
  return HttpAddress{std::string(host), value};
}

bool is_loopback_host(std::string_view host) {
  return host.starts_with("127.") || host == "::1" || host == "localhost";
}

bool tokens_equal(std::string_view expected, std::string_view given) {
  if (expected.empty()) return false;
  // Every byte of `given` is compared (against `expected` repeated), and
  // the differences are OR-ed, never branched on.
  unsigned diff = expected.size() == given.size() ? 0U : 1U;
  for (std::size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i]) ^
            static_cast<unsigned char>(expected[i % expected.size()]);
  }
  return diff == 0;
}

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "Bearer";
  if (authorization.size() <= kScheme.size() ||
      !iequals(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return {};
  }
  std::string_view token = authorization.substr(kScheme.size() + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

int decide(std::string_view method, std::string_view path, std::string_view authorization,
           std::string_view token, const std::vector<HttpRoute>& routes, const HttpRoute** route) {
  *route = nullptr;
  if (method != "GET") return 405;
  auto it = std::find_if(routes.begin(), routes.end(),
                         [&](const HttpRoute& r) { return !r.prefix && r.path == path; });
  if (it == routes.end()) {
    for (auto r = routes.begin(); r != routes.end(); ++r) {
      if (r->prefix && path.size() > r->path.size() && path.starts_with(r->path) &&
          (it == routes.end() || r->path.size() > it->path.size())) {
        it = r;
      }
    }
  }
  const bool is_public = it != routes.end() && it->is_public;
  if (!token.empty() && !is_public && !tokens_equal(token, bearer_token(authorization))) {
    return 401;
  }
  if (it == routes.end()) return 404;
  *route = &*it;
  return 0;
}

struct HttpServer::Impl {
  Options options;
  std::vector<HttpRoute> routes;
  Logger log;
  httplib::Server server;
  std::thread listener;
  int port = 0;
  std::atomic<std::uint64_t> unauthorized{0};

  httplib::Server::HandlerResponse serve(const httplib::Request& req, httplib::Response& res) {
    const HttpRoute* route = nullptr;
    const int verdict = decide(req.method, req.path, req.get_header_value("Authorization"),
                               options.token, routes, &route);
    if (verdict != 0) {
      res.status = verdict;
      if (verdict == 405) res.set_header("Allow", "GET");
      if (verdict == 401) {
        res.set_header("WWW-Authenticate", "Bearer");
        ++unauthorized;
        log(LogLevel::kDebug, "http: 401 for " + req.method + " from " + req.remote_addr);
      }
      // The rest of a refused request (a body) is not read: end the
      // connection rather than parse it as the next request.
      res.set_header("Connection", "close");
      res.set_content(reason_phrase(verdict), "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    try {
      HttpReply reply = route->handler(HttpRequest{req.path, unauthorized.load()});
      res.status = reply.status;
      res.set_content(std::move(reply.body), reply.content_type.c_str());
    } catch (const std::exception& e) {
      log(LogLevel::kError, "http: " + req.path + " failed: " + e.what());
      res.status = 500;
      res.set_content("500 Internal Server Error\n", "text/plain; charset=utf-8");
    }
    return httplib::Server::HandlerResponse::Handled;
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(Options options,
                                                      std::vector<HttpRoute> routes, Logger log) {
  if (!log) log = [](LogLevel, const std::string&) {};
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->routes = std::move(routes);
  impl->log = std::move(log);
  Impl& s = *impl;
  const std::size_t threads = std::max<std::size_t>(1, s.options.threads);
  // The library's default is max(8, cores - 1) threads; a few pages need few.
  s.server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.server.set_read_timeout(s.options.read_timeout);
  s.server.set_write_timeout(s.options.read_timeout);
  s.server.set_keep_alive_timeout(s.options.read_timeout.count());
  s.server.set_keep_alive_max_count(5);
  s.server.set_payload_max_length(64 << 10);
  // SO_REUSEADDR only: the library's default adds SO_REUSEPORT, with which
  // a second scheduler would bind the same port and silently share it.
  s.server.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.server.set_pre_routing_handler(
      [&s](const httplib::Request& req, httplib::Response& res) { return s.serve(req, res); });

  const HttpAddress& address = s.options.address;
  if (address.port == 0) {
    s.port = s.server.bind_to_any_port(address.host);
  } else if (s.server.bind_to_port(address.host, address.port)) {
    s.port = address.port;
  } else {
    s.port = -1;
  }
  if (s.port <= 0) {
    return make_error(Errc::kUnavailable,
                      "cannot serve HTTP on " + address.to_string() + ": bind failed");
  }
  s.listener = std::thread([&s] { s.server.listen_after_bind(); });
  // stop() only works once the listener runs: wait for it, so a server
  // destroyed at once still stops.
  for (int i = 0; i < 5000 && !s.server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() {
  impl_->server.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
}

HttpAddress HttpServer::address() const { return {impl_->options.address.host, impl_->port}; }

std::uint64_t HttpServer::unauthorized() const { return impl_->unauthorized.load(); }

}  // namespace kiln::scheduler
