// run_command against real processes (/bin/sh).
#include "exec/runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace kiln::exec {
namespace {

using namespace std::chrono_literals;

RunSpec shell(const std::string& script) {
  RunSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.cwd = std::filesystem::temp_directory_path();
  return spec;
}

TEST(Runner, CapturesOutputAndExitCode) {
  auto outcome = run_command(shell("echo out; echo err >&2; exit 3"));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 3);
  EXPECT_EQ(outcome->stdout_data, "out\n");
  EXPECT_EQ(outcome->stderr_data, "err\n");
  EXPECT_FALSE(outcome->timed_out);
}

TEST(Runner, EnvironmentIsExactlyTheGivenOne) {
  setenv("KILN_RUNNER_LEAK", "leaked", 1);
  RunSpec spec = shell("env | sort");
  spec.env = {"PATH=/usr/bin:/bin", "ONLY=this"};
  auto outcome = run_command(spec);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->stdout_data.find("KILN_RUNNER_LEAK"), std::string::npos);
  EXPECT_NE(outcome->stdout_data.find("ONLY=this"), std::string::npos);
}

TEST(Runner, RunsInTheWorkingDirectory) {
  RunSpec spec = shell("pwd");
  spec.cwd = "/usr";
  auto outcome = run_command(spec);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->stdout_data, "/usr\n");
}

TEST(Runner, ProgramIsLookedUpInTheChildsPath) {
  RunSpec spec;
  spec.argv = {"echo", "hi"};
  spec.env = {"PATH=/bin"};
  spec.cwd = "/";
  auto outcome = run_command(spec);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->stdout_data, "hi\n");
}

TEST(Runner, MissingProgramIsAnError) {
  RunSpec spec;
  spec.argv = {"/nonexistent/program"};
  spec.cwd = "/";
  auto outcome = run_command(spec);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, Errc::kNotFound);
}

TEST(Runner, TimeoutKillsTheWholeProcessGroup) {
  const auto marker =
      std::filesystem::temp_directory_path() / ("kiln-runner-" + std::to_string(getpid()));
  std::filesystem::remove(marker);
  // A background grandchild that would write the marker after 2 s.
  RunSpec spec = shell("(sleep 2; touch " + marker.string() + ") & sleep 30");
  spec.timeout = 300ms;
  auto outcome = run_command(spec);
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->timed_out);
  EXPECT_EQ(outcome->signal, SIGKILL);
  EXPECT_LT(outcome->wall, 5s);
  std::this_thread::sleep_for(2500ms);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the grandchild outlived the timeout";
}

TEST(Runner, BackgroundChildrenDoNotOutliveTheAction) {
  // The command exits at once but leaves a child holding stdout open.
  auto outcome = run_command(shell("sleep 30 & echo started"));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->exit_code, 0);
  EXPECT_EQ(outcome->stdout_data, "started\n");
  EXPECT_LT(outcome->wall, 5s);
}

TEST(Runner, OutputIsCappedAndMarkedTruncated) {
  RunSpec spec = shell("head -c 100000 /dev/zero");
  spec.output_cap = 1000;
  auto outcome = run_command(spec);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->stdout_data.size(), 1000u);
  EXPECT_TRUE(outcome->stdout_truncated);
}

TEST(Runner, SignalDeathIsReported) {
  auto outcome = run_command(shell("kill -SEGV $$"));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->signal, SIGSEGV);
  EXPECT_EQ(outcome->exit_code, 128 + SIGSEGV);
}

TEST(Runner, CancelFdKillsTheWholeProcessGroup) {
  const int cancel = ::eventfd(0, EFD_CLOEXEC);
  ASSERT_GE(cancel, 0);
  const auto marker =
      std::filesystem::temp_directory_path() / ("kiln-runner-cancel-" + std::to_string(getpid()));
  std::filesystem::remove(marker);
  RunSpec spec = shell("(sleep 1; touch " + marker.string() + ") & sleep 30");
  spec.cancel_fd = cancel;
  std::thread canceller([cancel] {
    std::this_thread::sleep_for(200ms);
    const std::uint64_t one = 1;
    EXPECT_EQ(::write(cancel, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  });
  auto outcome = run_command(spec);
  canceller.join();
  ::close(cancel);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_TRUE(outcome->cancelled);
  EXPECT_FALSE(outcome->timed_out);
  EXPECT_EQ(outcome->signal, SIGKILL);
  EXPECT_LT(outcome->wall, 5s);
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "a grandchild outlived the cancellation";
}

TEST(Runner, AlreadyCancelledCommandIsKilledAtOnce) {
  const int cancel = ::eventfd(1, EFD_CLOEXEC);  // readable from the start
  ASSERT_GE(cancel, 0);
  RunSpec spec = shell("sleep 30");
  spec.cancel_fd = cancel;
  auto outcome = run_command(spec);
  ::close(cancel);
  ASSERT_TRUE(outcome.ok());
  EXPECT_TRUE(outcome->cancelled);
  EXPECT_LT(outcome->wall, 5s);
}

}  // namespace
}  // namespace kiln::exec
