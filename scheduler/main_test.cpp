// The kiln-scheduler executable as a user runs it: the ready file, status
// over the bound port, SIGTERM through the signalfd, and the exit codes and
// one-line errors of main(). The binary is found next to this test's.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proto/curve.h"
#include "proto/key_files.h"
#include "proto/transport.h"

extern char** environ;  // NOLINT: POSIX's name for the process environment

namespace kiln::scheduler {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

fs::path scheduler_binary() {
  return fs::read_symlink("/proc/self/exe").parent_path() / "kiln-scheduler";
}

class MainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "kiln-main-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Starts the binary with `args`, its stderr going to dir_/stderr.
  void spawn(const std::vector<std::string>& args) {
    std::vector<std::string> argv_storage = {scheduler_binary().string()};
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    argv.reserve(argv_storage.size() + 1);
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string err = (dir_ / "stderr").string();
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_EQ(::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
  }

  // The exit status, waiting at most 10 s; -1 if it did not exit.
  int wait_exit() {
    for (int i = 0; i < 1000; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
    return -1;
  }

  std::string read(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
  pid_t pid_ = -1;
};

TEST_F(MainTest, ServesUntilSigterm) {
  const fs::path ready = dir_ / "ready";
  spawn({"--client-endpoint", "tcp://127.0.0.1:0", "--worker-endpoint", "tcp://127.0.0.1:0",
         "--store", (dir_ / "store").string(), "--ready-file", ready.string(), "--max-size", "64M",
         "--no-auth"});
  for (int i = 0; i < 500 && !fs::exists(ready); ++i) std::this_thread::sleep_for(milliseconds(10));
  std::istringstream lines(read(ready));
  std::string client_endpoint;
  std::string worker_endpoint;
  std::getline(lines, client_endpoint);
  std::getline(lines, worker_endpoint);
  ASSERT_EQ(client_endpoint.rfind("tcp://127.0.0.1:", 0), 0u) << read(dir_ / "stderr");
  ASSERT_EQ(worker_endpoint.rfind("tcp://127.0.0.1:", 0), 0u);
  EXPECT_NE(client_endpoint, worker_endpoint);

  {
    zmq::context_t context;
    auto c = proto::Connection::open(context, client_endpoint);
    ASSERT_TRUE(c.ok());
    auto reply =
        (*c)->call([](auto env) { env.getBody().initStatusRequest(); }, milliseconds(5000));
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    const auto body = (*reply)->envelope().getBody();
    ASSERT_EQ(body.which(), schema::Envelope::Body::STATUS_RESPONSE);
    EXPECT_EQ(body.getStatusResponse().getCacheMaxBytes(), 64u << 20);
  }

  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  EXPECT_EQ(wait_exit(), 0) << read(dir_ / "stderr");
  EXPECT_NE(read(dir_ / "stderr").find("draining"), std::string::npos);
}

TEST_F(MainTest, UsageErrorsExitTwo) {
  spawn({"--heartbeat-ms", "1"});
  EXPECT_EQ(wait_exit(), 2);
  EXPECT_EQ(read(dir_ / "stderr").rfind("kiln-scheduler: error: --heartbeat-ms", 0), 0u)
      << read(dir_ / "stderr");
  spawn({"--max-size", "lots"});
  EXPECT_EQ(wait_exit(), 2);
}

TEST_F(MainTest, FailuresExitOne) {
  auto keys = proto::generate_curve_keypair();
  ASSERT_TRUE(keys.ok());
  ASSERT_TRUE(proto::write_key_files((dir_ / "scheduler").string(), *keys, "test").ok());
  std::ofstream(dir_ / "authorized_keys") << "# nobody\n";
  spawn({"--client-endpoint", "nonsense://x", "--store", (dir_ / "store").string(), "--key",
         (dir_ / "scheduler.key").string(), "--authorized-keys",
         (dir_ / "authorized_keys").string()});
  EXPECT_EQ(wait_exit(), 1);
  const std::string err = read(dir_ / "stderr");
  EXPECT_EQ(err.rfind("kiln-scheduler: error: cannot bind nonsense://x", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

// Trust on the command line: keys or --no-auth, and --no-auth only on
// loopback; each a usage error in one line.
TEST_F(MainTest, WithoutKeysOnlyLoopbackAndOnlyWhenAskedFor) {
  spawn({"--store", (dir_ / "store").string()});
  EXPECT_EQ(wait_exit(), 2);
  EXPECT_NE(read(dir_ / "stderr").find("give --key FILE and --authorized-keys FILE"),
            std::string::npos)
      << read(dir_ / "stderr");
  spawn(
      {"--no-auth", "--client-endpoint", "tcp://0.0.0.0:0", "--store", (dir_ / "store").string()});
  EXPECT_EQ(wait_exit(), 2);
  const std::string err = read(dir_ / "stderr");
  EXPECT_EQ(err.rfind("kiln-scheduler: error: refusing to serve tcp://0.0.0.0:0 without "
                      "authentication",
                      0),
            0u)
      << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST_F(MainTest, AReadableSecretKeyIsRefused) {
  auto keys = proto::generate_curve_keypair();
  ASSERT_TRUE(keys.ok());
  ASSERT_TRUE(proto::write_key_files((dir_ / "scheduler").string(), *keys, "test").ok());
  fs::permissions(dir_ / "scheduler.key", fs::perms::group_read | fs::perms::others_read,
                  fs::perm_options::add);
  std::ofstream(dir_ / "authorized_keys") << "";
  spawn({"--store", (dir_ / "store").string(), "--key", (dir_ / "scheduler.key").string(),
         "--authorized-keys", (dir_ / "authorized_keys").string()});
  EXPECT_EQ(wait_exit(), 2);
  EXPECT_NE(read(dir_ / "stderr").find("may be read by others: chmod 600"), std::string::npos)
      << read(dir_ / "stderr");
}

// HTTP on the command line: off loopback only with a token file, which
// must be a private file holding a real token; each refusal a usage error
// in one line. With port 0 the ready file names the port.
TEST_F(MainTest, HttpOffLoopbackNeedsATokenFile) {
  const std::vector<std::string> base = {
      "--no-auth",         "--client-endpoint", "tcp://127.0.0.1:0",      "--worker-endpoint",
      "tcp://127.0.0.1:0", "--store",           (dir_ / "store").string()};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = base;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  auto one_line_usage_error = [&](const std::string& what) {
    EXPECT_EQ(wait_exit(), 2);
    const std::string err = read(dir_ / "stderr");
    EXPECT_EQ(err.rfind("kiln-scheduler: error: ", 0), 0u) << err;
    EXPECT_NE(err.find(what), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  };
  spawn(with({"--http-endpoint", "0.0.0.0:0"}));
  one_line_usage_error("refusing to serve HTTP on 0.0.0.0:0 without a token");
  spawn(with({"--http-endpoint", "localhost"}));
  one_line_usage_error("is not HOST:PORT");
  const fs::path token = dir_ / "token";
  std::ofstream(token) << "0123456789abcdef0123456789abcdef\n";
  fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  spawn(with({"--http-endpoint", "0.0.0.0:0", "--http-token-file", token.string()}));
  one_line_usage_error("may be read by others");
  fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
  spawn(with({"--http-token-file", token.string()}));
  one_line_usage_error("--http-token-file needs --http-endpoint");
  std::ofstream(token) << "short\n";
  spawn(with({"--http-endpoint", "0.0.0.0:0", "--http-token-file", token.string()}));
  one_line_usage_error("no token of at least 16 characters");
}

TEST_F(MainTest, ReadyFileNamesTheHttpPort) {
  const fs::path ready = dir_ / "ready";
  spawn({"--no-auth", "--client-endpoint", "tcp://127.0.0.1:0", "--worker-endpoint",
         "tcp://127.0.0.1:0", "--store", (dir_ / "store").string(), "--ready-file", ready.string(),
         "--http-endpoint", "127.0.0.1:0"});
  for (int i = 0; i < 500 && !fs::exists(ready); ++i) std::this_thread::sleep_for(milliseconds(10));
  std::istringstream lines(read(ready));
  std::string line;
  std::vector<std::string> all;
  while (std::getline(lines, line)) all.push_back(line);
  ASSERT_EQ(all.size(), 3u) << read(ready) << read(dir_ / "stderr");
  EXPECT_EQ(all[2].rfind("http://127.0.0.1:", 0), 0u) << all[2];
  EXPECT_NE(all[2], "http://127.0.0.1:0");
  EXPECT_NE(read(dir_ / "stderr").find("serving HTTP on " + all[2].substr(7)), std::string::npos)
      << read(dir_ / "stderr");
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  EXPECT_EQ(wait_exit(), 0) << read(dir_ / "stderr");
}

}  // namespace
}  // namespace kiln::scheduler
