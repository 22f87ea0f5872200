// The bubblewrap sandbox against the real bwrap: what an action can reach
// and what it leaves behind. Skipped (with bwrap's reason) only where
// bubblewrap cannot make a sandbox at all; CI installs it.
#include "exec/sandbox.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/unique_fd.h"
#include "tests/support/temp_dir.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sandbox = Sandbox::create({.kind = SandboxKind::kBubblewrap, .scratch = work_.path()});
    if (!sandbox.ok()) GTEST_SKIP() << "no bubblewrap sandbox here: " << sandbox.error().message;
    sandbox_.emplace(std::move(*sandbox));
  }

  // A fresh action directory under the work root, prepared for the sandbox.
  fs::path action_dir(const std::string& name) {
    const fs::path dir = work_.path() / name;
    fs::create_directories(dir);
    EXPECT_TRUE(sandbox_->prepare(dir).ok());
    return dir;
  }

  Result<RunOutcome> run(const fs::path& dir, const std::string& script, bool network = false,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return sandbox_->run({.argv = {"/bin/sh", "-c", script},
                          .env = {"PATH=/usr/bin:/bin"},
                          .cwd = dir,
                          .timeout = timeout},
                         dir, network);
  }

  test_support::TempDir work_{"kiln-sandbox"};
  std::optional<Sandbox> sandbox_;
};

TEST_F(SandboxTest, TheActionWritesItsOwnDirectoryAndNothingElse) {
  const fs::path dir = action_dir("a");
  auto ran = run(dir,
                 "echo made > out.txt && mkdir -p sub && echo deep > sub/x && "
                 "for p in /usr/kiln-escape /etc/kiln-escape /kiln-escape /proc/kiln-escape; do "
                 "(echo no > $p) 2>/dev/null && echo WROTE $p; done; "
                 "echo no > " +
                     (work_.path() / "kiln-escape").string() + " 2>/dev/null; true");
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->exit_code, 0) << ran->stderr_data;
  EXPECT_EQ(ran->stdout_data, "");
  EXPECT_TRUE(fs::exists(dir / "out.txt"));
  EXPECT_TRUE(fs::exists(dir / "sub/x"));
  // Next to its directory is the sandbox's private scaffolding, or
  // nothing it may write: never the host's work root.
  EXPECT_FALSE(fs::exists(work_.path() / "kiln-escape"));
  EXPECT_FALSE(fs::exists("/usr/kiln-escape"));
  EXPECT_FALSE(fs::exists("/etc/kiln-escape"));
}

TEST_F(SandboxTest, AnotherActionsFilesAreNotThere) {
  const fs::path other = action_dir("other");
  std::ofstream(other / "secret") << "other action's data\n";
  const fs::path dir = action_dir("mine");
  auto ran = run(dir, "cat " + (other / "secret").string() + " 2>/dev/null || echo no-secret; ls " +
                          work_.path().string());
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  // The work root shows only this action's own directory.
  EXPECT_EQ(ran->stdout_data, "no-secret\nmine\n") << ran->stderr_data;
}

TEST_F(SandboxTest, SysIsAbsentAndTmpIsPrivate) {
  const fs::path dir = action_dir("a");
  std::ofstream(dir / "mine") << "by absolute path\n";
  auto ran = run(dir,
                 "(echo 1 > /sys/kernel/kiln) 2>/dev/null && echo WROTE-SYS; "
                 "ls /sys 2>/dev/null | head -1; echo private > /tmp/kiln-sandbox-tmp && "
                 "cat /tmp/kiln-sandbox-tmp && ls /home /root 2>/dev/null | head -1; cat " +
                     (dir / "../a/mine").string() + " 2>/dev/null");
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->stdout_data, "private\nby absolute path\n") << ran->stderr_data;
  EXPECT_FALSE(fs::exists("/tmp/kiln-sandbox-tmp"));
}

TEST_F(SandboxTest, TheNetworkIsUnreachableUnlessAskedFor) {
  // A listener on the host's loopback.
  base::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  socklen_t length = sizeof address;
  ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length);
  const std::string port = std::to_string(ntohs(address.sin_port));
  const std::string connect =
      "bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + port + "' 2>/dev/null && echo CONNECTED";

  const fs::path dir = action_dir("a");
  auto isolated = run(dir, connect + "; ls /sys/class/net 2>/dev/null; true");
  ASSERT_TRUE(isolated.ok()) << isolated.error().message;
  EXPECT_EQ(isolated->stdout_data, "");
  auto networked = run(dir, connect, /*network=*/true);
  ASSERT_TRUE(networked.ok()) << networked.error().message;
  EXPECT_EQ(networked->stdout_data, "CONNECTED\n");
}

TEST_F(SandboxTest, NetworkAskedForIsRefusedWhereNotAllowed) {
  auto strict = Sandbox::create(
      {.kind = SandboxKind::kBubblewrap, .allow_network = false, .scratch = work_.path()});
  ASSERT_TRUE(strict.ok()) << strict.error().message;
  const fs::path dir = action_dir("a");
  auto ran = strict->run({.argv = {"true"}, .env = {"PATH=/usr/bin:/bin"}, .cwd = dir}, dir, true);
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(ran.error().code, Errc::kPermissionDenied);
}

// Whether a process whose command line holds `marker` is alive on the host.
bool process_alive(const std::string& marker) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(marker) != std::string::npos) return true;
  }
  return false;
}

TEST_F(SandboxTest, NoBackgroundProcessOutlivesTheAction) {
  const std::string marker = "kiln-leftover-" + std::to_string(::getpid());
  const fs::path dir = action_dir("a");
  auto ran =
      run(dir, "setsid bash -c 'exec -a " + marker + " sleep 300' & nohup bash -c 'exec -a " +
                   marker + " sleep 300' >/dev/null 2>&1 & sleep 0.2; pgrep -c -f " + marker);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  // Both were running (pgrep counts itself and its shell too).
  EXPECT_GE(ran->stdout_data, "2\n") << ran->stderr_data;
  // The namespace dies with its init; give the kernel a moment to reap.
  bool alive = true;
  for (int i = 0; i < 250 && alive; ++i) {  // up to 5 s: a loaded machine reaps slowly
    alive = process_alive(marker);
    if (alive) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(alive);
}

TEST_F(SandboxTest, ATimeoutKillsTheWholeSandbox) {
  const std::string marker = "kiln-timeout-" + std::to_string(::getpid());
  const fs::path dir = action_dir("a");
  auto ran = run(dir, "exec bash -c 'exec -a " + marker + " sleep 300'", false,
                 std::chrono::milliseconds(300));
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_TRUE(ran->timed_out);
  bool alive = true;
  for (int i = 0; i < 250 && alive; ++i) {  // up to 5 s: a loaded machine reaps slowly
    alive = process_alive(marker);
    if (alive) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(alive);
}

TEST_F(SandboxTest, ExitCodesAndSignalsComeThrough) {
  const fs::path dir = action_dir("a");
  auto failed = run(dir, "echo oops >&2; exit 3");
  ASSERT_TRUE(failed.ok()) << failed.error().message;
  EXPECT_EQ(failed->exit_code, 3);
  EXPECT_EQ(failed->stderr_data, "oops\n");
  auto crashed = run(dir, "kill -SEGV $$");
  ASSERT_TRUE(crashed.ok()) << crashed.error().message;
  EXPECT_EQ(crashed->exit_code, 128 + 11);
  EXPECT_EQ(crashed->signal, 11);
}

TEST_F(SandboxTest, AMissingProgramIsNotFound) {
  const fs::path dir = action_dir("a");
  auto ran = sandbox_->run(
      {.argv = {"no-such-program-kiln"}, .env = {"PATH=/usr/bin:/bin"}, .cwd = dir}, dir, false);
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(ran.error().code, Errc::kNotFound);
  EXPECT_NE(ran.error().message.find("no-such-program-kiln"), std::string::npos);
}

TEST_F(SandboxTest, RootRunsActionsAsTheActionUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "only a process started as root switches users";
  const fs::path dir = action_dir("a");
  auto ran = run(dir, "id -u; grep -c . /etc/shadow 2>/dev/null || echo unreadable; touch mine");
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_NE(ran->stdout_data.substr(0, 2), "0\n");
  EXPECT_NE(ran->stdout_data.find("unreadable"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "mine"));
  EXPECT_NE(sandbox_->describe().find("actions as nobody"), std::string::npos);
}

// kiln-run-as, next to this test binary, on its own.
std::string run_as_program() {
  return (fs::read_symlink("/proc/self/exe").parent_path() / "kiln-run-as").string();
}

TEST(KilnRunAs, LeavesNothingOfRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "only root can change users";
  auto ran = run_command({.argv = {run_as_program(), "65534", "65534", "--", "sh", "-c",
                                   "id -u; id -g; id -G; grep -E '^(Cap|NoNewPrivs)' "
                                   "/proc/self/status | tr -s '\\t' ' '"},
                          .env = {"PATH=/usr/bin:/bin"},
                          .cwd = "/"});
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->exit_code, 0) << ran->stderr_data;
  EXPECT_EQ(ran->stdout_data,
            "65534\n65534\n65534\nCapInh: 0000000000000000\nCapPrm: 0000000000000000\n"
            "CapEff: 0000000000000000\nCapBnd: 0000000000000000\nCapAmb: 0000000000000000\n"
            "NoNewPrivs: 1\n");
}

TEST(KilnRunAs, RefusesRootAndBadUsageAndSaysWhatItCannotRun) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{run_as_program(), "0", "0", "--", "true"},
        std::vector<std::string>{run_as_program(), "x", "1", "--", "true"},
        std::vector<std::string>{run_as_program(), "1", "1", "true"}}) {
    auto ran = run_command({.argv = argv, .env = {"PATH=/usr/bin:/bin"}, .cwd = "/"});
    ASSERT_TRUE(ran.ok()) << ran.error().message;
    EXPECT_EQ(ran->exit_code, 125) << argv[1];
    EXPECT_EQ(ran->stderr_data.rfind("kiln-run-as: ", 0), 0u) << ran->stderr_data;
  }
  if (::geteuid() != 0) return;
  auto missing = run_command({.argv = {run_as_program(), "65534", "65534", "--", "kiln-no-such"},
                              .env = {"PATH=/usr/bin:/bin"},
                              .cwd = "/"});
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->exit_code, 127);
  EXPECT_EQ(missing->stderr_data,
            "kiln-run-as: cannot run kiln-no-such: No such file or directory\n");
}

TEST(SandboxSettingsTest, BadSettingsAreClearErrors) {
  test_support::TempDir work;
  auto relative = Sandbox::create({.kind = SandboxKind::kBubblewrap,
                                   .read_only_paths = {"relative/dir"},
                                   .scratch = work.path()});
  if (relative.ok() || relative.error().code == Errc::kUnavailable) {
    GTEST_SKIP() << "no bubblewrap here";
  }
  EXPECT_EQ(relative.error().code, Errc::kInvalidArgument);
  auto missing = Sandbox::create({.kind = SandboxKind::kBubblewrap,
                                  .read_only_paths = {"/no/such/kiln/dir"},
                                  .scratch = work.path()});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  if (::geteuid() == 0) {
    auto nobody_there =
        Sandbox::create({.kind = SandboxKind::kNone, .action_user = "no-such-kiln-user"});
    ASSERT_FALSE(nobody_there.ok());
    EXPECT_EQ(nobody_there.error().code, Errc::kNotFound);
    auto root = Sandbox::create({.kind = SandboxKind::kNone, .action_user = "root"});
    ASSERT_FALSE(root.ok());
    EXPECT_EQ(root.error().code, Errc::kInvalidArgument);
  }
}

TEST(SandboxKindTest, Names) {
  EXPECT_EQ(parse_sandbox_kind("bubblewrap"), SandboxKind::kBubblewrap);
  EXPECT_EQ(parse_sandbox_kind("none"), SandboxKind::kNone);
  EXPECT_EQ(parse_sandbox_kind("docker"), std::nullopt);
  EXPECT_EQ(to_string(SandboxKind::kBubblewrap), "bubblewrap");
  cas::Command command;
  EXPECT_FALSE(wants_network(command));
  command.platform = {{"network", "on"}};
  EXPECT_TRUE(wants_network(command));
}

}  // namespace
}  // namespace kiln::exec
