// The bubblewrap command line: what it shows, hides and refuses, without
// running anything.
#include "exec/sandbox_args.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace kiln::exec {
namespace {

BubblewrapCall typical() {
  BubblewrapCall call;
  call.bwrap = "/usr/bin/bwrap";
  call.run_as_program = "/opt/kiln/bin/kiln-run-as";
  call.system = {{SystemMount::Kind::kReadOnlyBind, "/usr", ""},
                 {SystemMount::Kind::kSymlink, "/bin", "usr/bin"},
                 {SystemMount::Kind::kReadOnlyBind, "/etc", ""}};
  call.root = "/var/lib/kiln/work/action-1";
  call.root_fd = 4;
  call.status_fd = 3;
  call.cwd = "/var/lib/kiln/work/action-1/src";
  call.argv = {"cc", "-c", "a.c"};
  return call;
}

// The index of the first occurrence of the sequence `want` in `argv`, or -1.
long find_run(const std::vector<std::string>& argv, const std::vector<std::string>& want) {
  const auto it = std::search(argv.begin(), argv.end(), want.begin(), want.end());
  return it == argv.end() ? -1 : it - argv.begin();
}

TEST(BubblewrapArgv, NewNamespacesNoNetworkAndTheSystemReadOnly) {
  const auto argv = bubblewrap_argv(typical());
  EXPECT_EQ(argv.front(), "/usr/bin/bwrap");
  for (const char* flag : {"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                           "--unshare-net", "--die-with-parent", "--new-session"}) {
    EXPECT_GE(find_run(argv, {flag}), 0) << flag;
  }
  EXPECT_GE(find_run(argv, {"--ro-bind", "/usr", "/usr"}), 0);
  EXPECT_GE(find_run(argv, {"--symlink", "usr/bin", "/bin"}), 0);
  EXPECT_GE(find_run(argv, {"--ro-bind", "/etc", "/etc"}), 0);
  EXPECT_GE(find_run(argv, {"--perms", "1777", "--tmpfs", "/tmp"}), 0);
  EXPECT_GE(find_run(argv, {"--proc", "/proc"}), 0);
  // The root's parents are searchable: its absolute paths work.
  for (const char* parent : {"/var", "/var/lib", "/var/lib/kiln", "/var/lib/kiln/work"}) {
    EXPECT_GE(find_run(argv, {"--perms", "0755", "--dir", parent}), 0) << parent;
  }
  EXPECT_EQ(find_run(argv, {"--dir", "/var/lib/kiln/work/action-1"}), -1);
  EXPECT_GE(find_run(argv, {"--dev", "/dev"}), 0);
  EXPECT_EQ(find_run(argv, {"/sys"}), -1);
  EXPECT_GE(find_run(argv, {"--bind-fd", "4", "/var/lib/kiln/work/action-1"}), 0);
  EXPECT_GE(find_run(argv, {"--remount-ro", "/"}), 0);
  EXPECT_GE(find_run(argv, {"--chdir", "/var/lib/kiln/work/action-1/src"}), 0);
  EXPECT_GE(find_run(argv, {"--json-status-fd", "3"}), 0);
  // The command comes last, after "--", exactly as given.
  EXPECT_EQ(find_run(argv, {"--", "cc", "-c", "a.c"}), static_cast<long>(argv.size()) - 4);
}

TEST(BubblewrapArgv, TheActionRootIsMountedAfterThePrivateTmp) {
  BubblewrapCall call = typical();
  call.root = "/tmp/kiln/action-2";
  call.cwd = call.root;
  const auto argv = bubblewrap_argv(call);
  const long tmp = find_run(argv, {"--tmpfs", "/tmp"});
  const long root = find_run(argv, {"--bind-fd", "4", "/tmp/kiln/action-2"});
  ASSERT_GE(tmp, 0);
  ASSERT_GE(root, 0);
  EXPECT_LT(tmp, root);
  EXPECT_EQ(check_bubblewrap_call(call), "");
}

TEST(BubblewrapArgv, NetworkOnlyWhenAsked) {
  BubblewrapCall call = typical();
  call.network = true;
  EXPECT_EQ(find_run(bubblewrap_argv(call), {"--unshare-net"}), -1);
}

TEST(BubblewrapArgv, AnotherUserComesFromKilnRunAsInside) {
  BubblewrapCall call = typical();
  call.run_as = ActionCredentials{65534, 65534};
  ASSERT_EQ(check_bubblewrap_call(call), "");
  const auto argv = bubblewrap_argv(call);
  EXPECT_EQ(argv[0], "/usr/bin/bwrap");
  // Root's user namespace would map the action to root: none is made.
  EXPECT_EQ(find_run(argv, {"--unshare-user"}), -1);
  EXPECT_GE(find_run(argv, {"--ro-bind", "/opt/kiln/bin/kiln-run-as", "/.kiln/run-as"}), 0);
  const long run_as =
      find_run(argv, {"--", "/.kiln/run-as", "65534", "65534", "--", "cc", "-c", "a.c"});
  EXPECT_EQ(run_as, static_cast<long>(argv.size()) - 8);
}

TEST(BubblewrapArgv, WithoutAnotherUserANewUserNamespace) {
  EXPECT_GE(find_run(bubblewrap_argv(typical()), {"--unshare-user"}), 0);
  EXPECT_EQ(find_run(bubblewrap_argv(typical()), {"/.kiln/run-as"}), -1);
}

TEST(CheckBubblewrapCall, RefusesWhatCannotBeConfined) {
  EXPECT_EQ(check_bubblewrap_call(typical()), "");
  BubblewrapCall call = typical();
  call.cwd = "/var/lib/kiln/work/action-10";  // a sibling with the same prefix
  EXPECT_NE(check_bubblewrap_call(call), "");
  call = typical();
  call.cwd = "/var/lib/kiln/work/action-1/../action-2";
  EXPECT_NE(check_bubblewrap_call(call), "");
  call = typical();
  call.root = "relative/root";
  EXPECT_NE(check_bubblewrap_call(call), "");
  call = typical();
  call.root = "/";
  call.cwd = "/";
  EXPECT_NE(check_bubblewrap_call(call), "");
  call = typical();
  call.root = "/usr/local/kiln/action-1";
  call.cwd = call.root;
  EXPECT_NE(check_bubblewrap_call(call).find("read-only"), std::string::npos);
  call = typical();
  call.argv.clear();
  EXPECT_NE(check_bubblewrap_call(call), "");
  call = typical();
  call.run_as = ActionCredentials{1, 1};
  call.run_as_program.clear();
  EXPECT_NE(check_bubblewrap_call(call), "");
  call.run_as_program = "bin/kiln-run-as";  // relative
  EXPECT_NE(check_bubblewrap_call(call), "");
}

TEST(BubblewrapExitCode, TheExitLineDecides) {
  EXPECT_EQ(bubblewrap_exit_code("{ \"child-pid\": 12 }\n{ \"exit-code\": 0 }\n"), 0);
  EXPECT_EQ(bubblewrap_exit_code("{ \"child-pid\": 12 }\n{ \"exit-code\": 139 }\n"), 139);
  EXPECT_EQ(bubblewrap_exit_code("{ \"child-pid\": 12, \"net-namespace\": 4026532180 }\n"),
            std::nullopt);
  EXPECT_EQ(bubblewrap_exit_code(""), std::nullopt);
  EXPECT_EQ(bubblewrap_exit_code("{ \"exit-code\": }"), std::nullopt);
}

TEST(PathWithin, ComponentsNotPrefixes) {
  EXPECT_TRUE(path_within("/a/b", "/a"));
  EXPECT_TRUE(path_within("/a", "/a"));
  EXPECT_TRUE(path_within("/a/b", "/a/"));
  EXPECT_FALSE(path_within("/ab", "/a"));
  EXPECT_TRUE(path_within("/anything", "/"));
  EXPECT_FALSE(path_within("relative", "/"));
}

BubblewrapCall rootfs_call() {
  BubblewrapCall call = typical();
  call.rootfs = true;
  call.root_fd = -1;
  call.root = "/var/lib/kiln/work/action-3";
  call.cwd = "/home/dev/proj/build";
  call.rootfs_top = {{"home", ""}, {"lib64", "usr/lib64"}, {"tmp/t1", ""}, {"usr", ""}};
  call.rootfs_writable = {"/home/dev/proj/build/obj"};
  return call;
}

TEST(BubblewrapArgv, RootfsShowsTheTreeAloneReadOnlyAndTheOutputsWritable) {
  const auto argv = bubblewrap_argv(rootfs_call());
  // Nothing of the host's system, not the action directory itself.
  EXPECT_EQ(find_run(argv, {"--ro-bind", "/usr", "/usr"}), -1);
  EXPECT_EQ(find_run(argv, {"--ro-bind", "/etc", "/etc"}), -1);
  EXPECT_EQ(find_run(argv, {"--bind-fd"}), -1);
  const long tmp = find_run(argv, {"--tmpfs", "/tmp"});
  const long home = find_run(argv, {"--ro-bind", "/var/lib/kiln/work/action-3/home", "/home"});
  const long t1 = find_run(argv, {"--ro-bind", "/var/lib/kiln/work/action-3/tmp/t1", "/tmp/t1"});
  const long out = find_run(argv, {"--bind", "/var/lib/kiln/work/action-3/home/dev/proj/build/obj",
                                   "/home/dev/proj/build/obj"});
  EXPECT_GE(tmp, 0);
  EXPECT_GT(home, tmp);
  EXPECT_GT(t1, tmp);    // on the private /tmp, not hidden by it
  EXPECT_GT(out, home);  // the writable directory over the read-only tree
  EXPECT_GE(find_run(argv, {"--symlink", "usr/lib64", "/lib64"}), 0);
  EXPECT_GE(find_run(argv, {"--chdir", "/home/dev/proj/build"}), 0);
  EXPECT_GT(find_run(argv, {"--remount-ro", "/"}), out);
  EXPECT_EQ(check_bubblewrap_call(rootfs_call()), "");
}

TEST(CheckBubblewrapCall, RootfsRefusesWhatTheSandboxMakesAndUnnormalPaths) {
  for (const char* bad : {"proc", "dev", "dev/shm", "tmp", "usr/../etc", ""}) {
    BubblewrapCall call = rootfs_call();
    call.rootfs_top.push_back({bad, ""});
    EXPECT_NE(check_bubblewrap_call(call), "") << bad;
  }
  BubblewrapCall call = rootfs_call();
  call.rootfs_writable = {"/"};
  EXPECT_NE(check_bubblewrap_call(call), "");
  call = rootfs_call();
  call.cwd = "build";
  EXPECT_NE(check_bubblewrap_call(call), "");
}

}  // namespace
}  // namespace kiln::exec
