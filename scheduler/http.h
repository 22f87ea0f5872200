// The scheduler's HTTP server: read-only pages (/metrics, /healthz, /ready
// now; a status page later) for Prometheus, Kubernetes probes and people.
//
// cpp-httplib (Debian's libcpp-httplib-dev) parses HTTP/1.1 and runs the
// connections on a small thread pool of its own, beside the scheduler's
// poll loop. Handlers therefore run on those threads: they must only read
// what is safe to read from another thread (server.cpp hands them a
// snapshot the loop publishes, never the loop's own state).
//
// Every request goes through one gate before any handler (decide()):
//   - only GET: anything else is 405 (with Allow: GET), before a body is
//     read;
//   - with a token, every path not marked public needs
//     "Authorization: Bearer TOKEN" (compared in constant time), else 401,
//     counted; the check comes before the path lookup, so a client without
//     the token learns nothing but the public paths;
//   - an unknown path is 404.
// Sizes are bounded by the library (8 KiB request line, 8 KiB per header
// line, as Debian builds it) and here (no request body is read; reads time
// out after read_timeout; a connection serves at most 5 requests).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/result.h"

namespace kiln::scheduler {

// HOST:PORT as given to --http-endpoint; an IPv6 host in brackets.
struct HttpAddress {
  std::string host;
  int port = 0;  // 0: any free port
  // "HOST:PORT", with brackets around an IPv6 host.
  std::string to_string() const;
};

// kInvalidArgument unless `text` is HOST:PORT with a port in 0..65535 and a
// non-empty host ("[::1]:9090" for IPv6).
Result<HttpAddress> parse_http_address(std::string_view text);
// 127.0.0.0/8, ::1 and localhost: hosts only this machine can reach. The
// same rule as the grid's plain TCP (proto::is_loopback_endpoint).
bool is_loopback_host(std::string_view host);
// Whether `given` equals `expected`, in a time that depends on the length
// of `given` only (not on where they differ). An empty `expected` matches
// nothing.
bool tokens_equal(std::string_view expected, std::string_view given);
// The token of an "Authorization: Bearer TOKEN" value ("" if not that form).
std::string_view bearer_token(std::string_view authorization);

struct HttpRequest {
  std::string path;
  // The server's own count of 401 answers so far (for /metrics).
  std::uint64_t unauthorized = 0;
};

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpRoute {
  std::string path;
  // Public routes need no token (the probes: they tell only whether the
  // scheduler is alive).
  bool is_public = false;
  // Runs on one of the server's threads; may be called concurrently.
  std::function<HttpReply(const HttpRequest&)> handler;
  // A prefix route: `path` ends in '/' and the route takes every path
  // under it ("/invocations/" takes "/invocations/ID"); the longest prefix
  // wins, an exact route before any prefix.
  bool prefix = false;
};

// What the gate says about a request: 0 when it may go to its route's
// handler (*route set), else the status to answer with. Pure.
int decide(std::string_view method, std::string_view path, std::string_view authorization,
           std::string_view token, const std::vector<HttpRoute>& routes, const HttpRoute** route);

class HttpServer {
 public:
  struct Options {
    HttpAddress address;
    // "": no authentication. The caller decides whether that is allowed
    // (the scheduler allows it on loopback only).
    std::string token;
    std::size_t threads = 4;
    std::chrono::seconds read_timeout{5};
  };

  // Binds and starts serving on its own threads. kUnavailable when the
  // address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> start(Options options, std::vector<HttpRoute> routes,
                                                   Logger log);
  // Stops accepting, finishes the requests being served, joins the threads.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address, with the real port.
  HttpAddress address() const;
  // Requests answered 401 so far. Thread-safe.
  std::uint64_t unauthorized() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln::scheduler
