// The HTTP server: its address parsing and token rules alone, the gate as a
// table, and a real HttpServer on 127.0.0.1 (a free port) talked to with
// cpp-httplib's client and with raw sockets (methods, sizes, tokens).
#include "scheduler/http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace kiln::scheduler {
namespace {

TEST(HttpAddress, Parses) {
  auto a = parse_http_address("127.0.0.1:9090");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9090);
  auto v6 = parse_http_address("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_EQ(v6->to_string(), "[::1]:0");
  for (const char* bad : {"", "9090", ":9090", "host:", "host:x", "host:65536", "host:-1", "::1:80",
                          "[::1:80", "h:80 "}) {
    EXPECT_FALSE(parse_http_address(bad).ok()) << bad;
  }
}

TEST(HttpAddress, Loopback) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "localhost.evil.com", "128.0.0.1"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

TEST(HttpTokens, CompareAndParse) {
  EXPECT_TRUE(tokens_equal("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(tokens_equal("s3cret-token", "s3cret-tokeN"));
  EXPECT_FALSE(tokens_equal("s3cret-token", "s3cret-token-longer"));
  EXPECT_FALSE(tokens_equal("s3cret-token", "s3cret"));
  EXPECT_FALSE(tokens_equal("s3cret-token", ""));
  EXPECT_FALSE(tokens_equal("", ""));  // no token configured matches nothing
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer  abc "), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), "");
  EXPECT_EQ(bearer_token("Bearerabc"), "");
  EXPECT_EQ(bearer_token(""), "");
}

TEST(HttpGate, Decides) {
  const std::vector<HttpRoute> routes = {{"/metrics", false, nullptr}, {"/healthz", true, nullptr}};
  const HttpRoute* route = nullptr;
  // Without a token everything GET is open.
  EXPECT_EQ(decide("GET", "/metrics", "", "", routes, &route), 0);
  EXPECT_EQ(route, &routes[0]);
  EXPECT_EQ(decide("GET", "/nope", "", "", routes, &route), 404);
  EXPECT_EQ(decide("POST", "/metrics", "", "", routes, &route), 405);
  EXPECT_EQ(decide("HEAD", "/metrics", "", "", routes, &route), 405);
  EXPECT_EQ(route, nullptr);
  // With one, only the public routes are open without it; an unknown path
  // is 401 too, so the paths are not revealed.
  const std::string token = "0123456789abcdef";
  EXPECT_EQ(decide("GET", "/metrics", "", token, routes, &route), 401);
  EXPECT_EQ(decide("GET", "/metrics", "Bearer wrong", token, routes, &route), 401);
  EXPECT_EQ(decide("GET", "/nope", "", token, routes, &route), 401);
  EXPECT_EQ(decide("GET", "/healthz", "", token, routes, &route), 0);
  EXPECT_EQ(decide("GET", "/metrics", "Bearer " + token, token, routes, &route), 0);
  EXPECT_EQ(decide("GET", "/nope", "Bearer " + token, token, routes, &route), 404);
  EXPECT_EQ(decide("DELETE", "/metrics", "Bearer " + token, token, routes, &route), 405);
}

TEST(HttpGate, PrefixRoutesTakeThePathsUnderThem) {
  std::vector<HttpRoute> routes = {{"/invocations", false, nullptr},
                                   {"/invocations/", false, nullptr},
                                   {"/api/invocations/", false, nullptr}};
  routes[1].prefix = true;
  routes[2].prefix = true;
  const HttpRoute* route = nullptr;
  EXPECT_EQ(decide("GET", "/invocations", "", "", routes, &route), 0);
  EXPECT_EQ(route, &routes[0]);
  EXPECT_EQ(decide("GET", "/invocations/ci-42", "", "", routes, &route), 0);
  EXPECT_EQ(route, &routes[1]);
  EXPECT_EQ(decide("GET", "/api/invocations/ci-42", "", "", routes, &route), 0);
  EXPECT_EQ(route, &routes[2]);
  // The prefix itself is no page of the prefix route.
  EXPECT_EQ(decide("GET", "/api/invocations/", "", "", routes, &route), 404);
  EXPECT_EQ(decide("GET", "/invocationsX", "", "", routes, &route), 404);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void start(const std::string& token) {
    HttpServer::Options options;
    options.address = {"127.0.0.1", 0};
    options.token = token;
    options.read_timeout = std::chrono::seconds(1);  // refused requests wait it out
    std::vector<HttpRoute> routes;
    routes.push_back({"/metrics", false, [this](const HttpRequest& r) {
                        ++calls_;
                        return HttpReply{
                            200, "text/plain; version=0.0.4",
                            "kiln_x 1\nunauthorized " + std::to_string(r.unauthorized) + "\n"};
                      }});
    routes.push_back({"/healthz", true, [](const HttpRequest&) {
                        return HttpReply{200, "text/plain", "ok\n"};
                      }});
    routes.push_back({"/boom", false, [](const HttpRequest&) -> HttpReply {
                        throw std::runtime_error("handler failed");
                      }});
    auto server = HttpServer::start(std::move(options), std::move(routes), nullptr);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(server).value();
    ASSERT_GT(server_->address().port, 0);
  }

  httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->address().port);
    c.set_read_timeout(5, 0);
    return c;
  }

  // Sends `request` as is on a fresh connection; returns what came back
  // until the server closed it (or 3 s passed).
  std::string raw(const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(server_->address().port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;  // the server may close before reading it all
      sent += static_cast<std::size_t>(n);
    }
    std::string reply;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0)
      reply.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    return reply;
  }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int> calls_{0};
};

TEST_F(HttpServerTest, ServesRoutesAndRefusesTheRest) {
  start("");
  auto c = client();
  auto ok = c.Get("/metrics");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(ok->body.rfind("kiln_x 1\n", 0), 0u);
  auto missing = c.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto post = c.Post("/metrics", "x=1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET");
  auto boom = c.Get("/boom");
  ASSERT_TRUE(boom);
  EXPECT_EQ(boom->status, 500);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(HttpServerTest, TokenIsRequiredAndCounted) {
  const std::string token = "0123456789abcdef0123";
  start(token);
  auto c = client();
  auto none = c.Get("/metrics");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  auto wrong = c.Get("/metrics", {{"Authorization", "Bearer 0123456789abcdef0124"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto health = c.Get("/healthz");  // public
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto good = c.Get("/metrics", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  EXPECT_NE(good->body.find("unauthorized 2\n"), std::string::npos) << good->body;
  EXPECT_EQ(server_->unauthorized(), 2u);
  EXPECT_EQ(calls_.load(), 1);
}

TEST_F(HttpServerTest, BoundsRequests) {
  start("");
  // A request line past the library's 8 KiB limit.
  const std::string long_uri =
      raw("GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(long_uri.rfind("HTTP/1.1 414", 0), 0u) << long_uri.substr(0, 80);
  // A header line past 8 KiB.
  const std::string long_header =
      raw("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'b') + "\r\n\r\n");
  EXPECT_EQ(long_header.find("HTTP/1.1 200"), std::string::npos) << long_header.substr(0, 80);
  // A body sent with a refused method is not read: 405, connection closed.
  const std::string upload =
      raw("PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" +
          std::string(1000, 'c'));
  EXPECT_EQ(upload.rfind("HTTP/1.1 405", 0), 0u) << upload.substr(0, 80);
  // Garbage is answered 400, and the server goes on.
  const std::string garbage = raw("\x01\x02 nonsense\r\n\r\n");
  EXPECT_EQ(garbage.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(calls_.load(), 0);
  auto c = client();
  auto ok = c.Get("/metrics");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(HttpServerTest, BusyPortIsAnError) {
  start("");
  HttpServer::Options options;
  options.address = server_->address();
  auto second = HttpServer::start(options, {}, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::kUnavailable);
}

}  // namespace
}  // namespace kiln::scheduler
