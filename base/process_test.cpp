// spawn / run_captured against real processes (/bin/sh).
#include "base/process.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "tests/support/temp_dir.h"

namespace kiln::base {
namespace {

TEST(RunCaptured, CapturesBothStreamsAndTheExitCode) {
  auto ran = run_captured({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->exit_code, 3);
  EXPECT_EQ(ran->out, "out\n");
  EXPECT_EQ(ran->err, "err\n");
}

TEST(RunCaptured, OutputLargerThanAPipeDoesNotBlock) {
  auto ran =
      run_captured({"/bin/sh", "-c", "head -c 1000000 /dev/zero; head -c 300000 /dev/zero >&2"});
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->out.size(), 1000000u);
  EXPECT_EQ(ran->err.size(), 300000u);
}

TEST(RunCaptured, ASignalIs128Plus) {
  auto ran = run_captured({"/bin/sh", "-c", "kill -9 $$"});
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(ran->exit_code, 128 + 9);
}

TEST(Spawn, AMissingProgramIsNotFound) {
  auto pid = spawn({.argv = {"/nonexistent/program"}});
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, Errc::kNotFound);
  EXPECT_NE(pid.error().message.find("/nonexistent/program"), std::string::npos);
}

TEST(Spawn, GivenEnvironmentCwdAndProcessGroup) {
  test_support::TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  SpawnSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo \"$ONLY $(pwd) $(ps -o pgid= -p $$ | tr -d ' ') $$\""};
  spec.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "ONLY=this"};
  spec.cwd = dir.path();
  spec.stdin_null = true;
  spec.stdout_fd = fds[1];
  spec.own_process_group = true;
  auto pid = spawn(spec);
  ::close(fds[1]);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  char buffer[512];
  const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
  ::close(fds[0]);
  ASSERT_EQ(*wait_exit_code(*pid), 0);
  ASSERT_GT(n, 0);
  const std::string line(buffer, static_cast<std::size_t>(n));
  const std::string pid_text = std::to_string(*pid);
  EXPECT_EQ(line, "this " + std::filesystem::canonical(dir.path()).string() + " " + pid_text + " " +
                      pid_text + "\n");
}

}  // namespace
}  // namespace kiln::base
