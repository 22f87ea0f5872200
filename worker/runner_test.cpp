// run_command against real processes (/bin/sh).
#include "worker/runner.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace kiln::worker {
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

}  // namespace
}  // namespace kiln::worker
