// spawn / run_captured against real processes (/bin/sh).
#include "base/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
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

TEST(Spawn, InheritedDescriptorsArriveUnderTheirNewNumbers) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const int high = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 20);
  ::close(fds[1]);
  SpawnSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo to-seven >&7; echo nine >&9 2>/dev/null || echo closed >&7"};
  spec.inherit_fds = {{high, 7}};
  auto pid = spawn(spec);
  ::close(high);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  ASSERT_EQ(*wait_exit_code(*pid), 0);
  char buffer[64];
  const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
  ::close(fds[0]);
  EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(std::max<ssize_t>(n, 0))),
            "to-seven\nclosed\n");
}

TEST(Spawn, AnInheritedDescriptorThatAnotherWouldOverwriteIsRefused) {
  auto pid = spawn({.argv = {"/bin/true"}, .inherit_fds = {{10, 3}, {3, 4}}});
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.error().code, Errc::kInvalidArgument);
  auto low = spawn({.argv = {"/bin/true"}, .inherit_fds = {{10, 2}}});
  ASSERT_FALSE(low.ok());
  EXPECT_EQ(low.error().code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace kiln::base
