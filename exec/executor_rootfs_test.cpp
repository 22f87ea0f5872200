// Actions whose input root is their whole file system (input-root=
// filesystem): a real dash and its libraries shipped in the tree, run in the
// bubblewrap sandbox with nothing of the host's file system, its files
// linked from a FileCache. Skipped only where bubblewrap cannot work.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cas/tree.h"
#include "exec/executor.h"
#include "exec/file_cache.h"
#include "exec/runner.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

// The shared libraries `ldd PROGRAM` names, by absolute path.
std::vector<std::string> libraries_of(const std::string& program) {
  RunSpec spec;
  spec.argv = {"ldd", program};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.cwd = "/";
  auto ran = run_command(spec);
  std::vector<std::string> libs;
  if (!ran.ok()) return libs;
  std::istringstream lines(ran->stdout_data);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    for (std::string word; words >> word;) {
      if (!word.empty() && word.front() == '/') libs.push_back(word);
    }
  }
  return libs;
}

class RootfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("kiln-rootfs-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "tree");
    cas::StoreOptions so;
    so.dir = base_ / "store";
    so.durable = false;
    auto store = cas::Store::open(so);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    options_.work_root = base_ / "sandboxes";
    options_.worker_id = "test-worker";
    auto sandbox = Sandbox::create({.kind = SandboxKind::kBubblewrap, .scratch = base_});
    if (!sandbox.ok()) GTEST_SKIP() << "no bubblewrap sandbox here: " << sandbox.error().message;
    sandbox_.emplace(std::move(*sandbox));
    options_.sandbox = &*sandbox_;
    auto cache = FileCache::open(options_.work_root / ".files", 1 << 30);
    ASSERT_TRUE(cache.ok()) << cache.error().message;
    cache_ = std::move(cache).value();
    options_.file_cache = cache_.get();
    // dash and what it loads, at their host paths (resolved, so no host
    // symlink is needed), and a little project under /srv.
    shell_ = fs::canonical("/bin/sh").string();
    std::vector<std::string> files = libraries_of(shell_);
    files.push_back(shell_);
    for (const std::string& file : files) copy_in(file);
    write("srv/proj/src/in.txt", "hello\n");
    fs::create_directories(base_ / "tree/srv/proj/build");
  }
  void TearDown() override {
    cache_.reset();
    store_.reset();
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(base_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) {
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
      }
    }
    fs::remove_all(base_, ec);
  }

  void copy_in(const std::string& host) {
    const fs::path to = base_ / "tree" / host.substr(1);
    fs::create_directories(to.parent_path());
    fs::copy_file(fs::canonical(host), to, fs::copy_options::overwrite_existing);
  }
  void write(const std::string& path, const std::string& text) {
    fs::create_directories((base_ / "tree" / path).parent_path());
    std::ofstream(base_ / "tree" / path) << text;
  }

  cas::Action make_action(const std::string& script, std::vector<std::string> outputs,
                          bool rootfs = true, const std::string& cwd = "srv/proj/build") {
    auto tree = cas::build_tree(base_ / "tree", cas::DigestFunction::kXxh3_128);
    EXPECT_TRUE(tree.ok()) << tree.error().message;
    for (const auto& [digest, bytes] : tree->directories) {
      EXPECT_TRUE(store_->put(digest, std::as_bytes(std::span(bytes.data(), bytes.size()))).ok());
    }
    for (const auto& [digest, path] : tree->files) EXPECT_TRUE(store_->put_file(path).ok());
    cas::Command command;
    command.arguments = {shell_, "-c", script};
    command.environment = {{"PATH", "/usr/bin:/bin"}};
    command.working_directory = cwd;
    command.output_files = std::move(outputs);
    if (rootfs) command.platform = {{"input-root", "filesystem"}};
    auto encoded = cas::encode_command(command);
    EXPECT_TRUE(encoded.ok()) << encoded.error().message;
    cas::Action action;
    action.command_digest = *store_->put(*encoded);
    action.input_root_digest = tree->root;
    return action;
  }

  std::string blob(const cas::Digest& digest) {
    auto bytes = store_->get(digest);
    return bytes.ok() && bytes->has_value() ? **bytes : std::string();
  }

  fs::path base_;
  std::unique_ptr<cas::Store> store_;
  std::optional<Sandbox> sandbox_;
  std::unique_ptr<FileCache> cache_;
  ExecutorOptions options_;
  std::string shell_;
};

TEST_F(RootfsTest, RunsAtTheTreesAbsolutePathsWithNothingOfTheHost) {
  const cas::Action action = make_action(
      "pwd; read x < ../src/in.txt; echo \"$x!\" > obj/out.txt;"
      " test -e /etc/passwd || echo no-etc; test -e /home || echo no-home;"
      " echo x > /srv/proj/src/in.txt 2>/dev/null || echo inputs-read-only;"
      " echo t > /tmp/scratch && echo tmp-writable",
      {"srv/proj/build/obj/out.txt"});
  auto ran = execute(*store_, action, options_);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->result.exit_code, 0) << blob(ran->result.stderr_digest);
  EXPECT_EQ(blob(ran->result.stdout_digest),
            "/srv/proj/build\nno-etc\nno-home\ninputs-read-only\ntmp-writable\n");
  ASSERT_EQ(ran->result.output_files.size(), 1u);
  EXPECT_EQ(blob(ran->result.output_files[0].digest), "hello!\n");
  // The shell was written to the cache once, and linked.
  EXPECT_GT(cache_->bytes(), fs::file_size(shell_));
}

TEST_F(RootfsTest, ASecondActionLinksTheSameFilesAndTheCacheStaysIntact) {
  const cas::Action first = make_action("echo one > obj/o.txt", {"srv/proj/build/obj/o.txt"});
  ASSERT_TRUE(execute(*store_, first, options_).ok());
  const std::uint64_t after_first = cache_->bytes();
  write("srv/proj/src/in.txt", "changed\n");
  const cas::Action second =
      make_action("read x < ../src/in.txt; echo \"$x\" > obj/o.txt", {"srv/proj/build/obj/o.txt"});
  auto ran = execute(*store_, second, options_);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(blob(ran->result.output_files[0].digest), "changed\n");
  // Only the changed input was new to the cache.
  EXPECT_EQ(cache_->bytes(), after_first + std::string("changed\n").size());
  // Cache files are read-only.
  for (const auto& entry : fs::directory_iterator(cache_->dir())) {
    EXPECT_EQ(fs::status(entry).permissions() & fs::perms::owner_write, fs::perms::none)
        << entry.path();
  }
}

TEST_F(RootfsTest, AnInputInAnOutputsDirectoryIsACopyTheActionMayChange) {
  write("srv/proj/build/obj/stale.txt", "input\n");
  const cas::Action action =
      make_action("echo changed > obj/stale.txt; read x < obj/stale.txt; echo \"$x\" > obj/o.txt",
                  {"srv/proj/build/obj/o.txt"});
  auto ran = execute(*store_, action, options_);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(blob(ran->result.output_files[0].digest), "changed\n");
  // The cache's copy of that input is untouched.
  bool found = false;
  for (const auto& entry : fs::directory_iterator(cache_->dir())) {
    std::ifstream in(entry.path());
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text == "input\n") found = true;
    EXPECT_NE(text, "changed\n");
  }
  EXPECT_TRUE(found);
}

TEST_F(RootfsTest, ATreeHoldingProcOrDevIsRefused) {
  write("proc/version", "fake\n");
  auto ran = execute(*store_, make_action("true", {"srv/proj/build/o"}), options_);
  ASSERT_FALSE(ran.ok());
  EXPECT_NE(ran.error().message.find("/proc, which the sandbox makes itself"), std::string::npos)
      << ran.error().message;
}

TEST_F(RootfsTest, AnOutputAtTheRootIsRefused) {
  auto ran = execute(*store_, make_action("true", {"o.txt"}), options_);
  ASSERT_FALSE(ran.ok());
  EXPECT_NE(ran.error().message.find("root of the action's file system"), std::string::npos)
      << ran.error().message;
}

TEST_F(RootfsTest, WithoutBubblewrapTheActionIsRefused) {
  options_.sandbox = nullptr;
  auto ran = execute(*store_, make_action("true", {"srv/proj/build/o"}), options_);
  ASSERT_FALSE(ran.ok());
  EXPECT_EQ(ran.error().code, Errc::kInvalidArgument);
  EXPECT_NE(ran.error().message.find("needs the bubblewrap sandbox"), std::string::npos);
}

TEST_F(RootfsTest, ACheckoutKeyedByItsBaseRunsAtTheClientsPath) {
  write(".kiln-base/src/in.txt", "moved\n");
  fs::create_directories(base_ / "tree/.kiln-base/build");
  const cas::Action action =
      make_action("pwd; read x < /.kiln-base/src/in.txt; echo \"$x\" > /.kiln-out/o.txt",
                  {".kiln-out/o.txt"}, true, ".kiln-base/build");
  options_.base_dir = "/home/dev/checkout-2";
  auto ran = execute(*store_, action, options_);
  ASSERT_TRUE(ran.ok()) << ran.error().message;
  EXPECT_EQ(ran->result.exit_code, 0) << blob(ran->result.stderr_digest);
  EXPECT_EQ(blob(ran->result.stdout_digest), "/home/dev/checkout-2/build\n");
  EXPECT_EQ(blob(ran->result.output_files[0].digest), "moved\n");
}

TEST_F(RootfsTest, ABaseDirThatIsNotACheckoutPathIsRefused) {
  fs::create_directories(base_ / "tree/.kiln-base/build");
  fs::create_directories(base_ / "tree/.kiln-out");
  fs::create_symlink("srv", base_ / "tree/link");
  for (const char* bad :
       {"relative/dir", "/proc/self", "/tmp", "/a/../b", "/.kiln-out/x", "/link/x", "/srv/proj"}) {
    options_.base_dir = bad;
    auto ran =
        execute(*store_, make_action("true", {".kiln-out/o"}, true, ".kiln-base/build"), options_);
    EXPECT_FALSE(ran.ok()) << bad;
    if (!ran.ok()) {
      EXPECT_EQ(ran.error().code, Errc::kInvalidArgument) << ran.error().message;
    }
  }
}

TEST(FileCacheTest, OverItsBoundTheCacheEmptiesAndFillsAgain) {
  const fs::path base = fs::temp_directory_path() / ("kiln-fcache-" + std::to_string(::getpid()));
  fs::remove_all(base);
  cas::StoreOptions so;
  so.dir = base / "store";
  so.durable = false;
  auto store = cas::Store::open(so);
  ASSERT_TRUE(store.ok());
  auto cache = FileCache::open(base / "files", 10);
  ASSERT_TRUE(cache.ok());
  auto source = (*cache)->linking(**store);
  const auto a = (*store)->put(std::string("123456"));
  const auto b = (*store)->put(std::string("abcdefgh"));
  fs::create_directories(base / "out");
  const int dir = ::open((base / "out").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(*source->write_blob_to(*a, dir, "a", false));
  EXPECT_EQ((*cache)->bytes(), 6u);
  ASSERT_TRUE(*source->write_blob_to(*b, dir, "b", true));
  EXPECT_EQ((*cache)->bytes(), 0u);  // 14 > 10: emptied
  EXPECT_TRUE(fs::is_empty(base / "files"));
  EXPECT_FALSE(*source->write_blob_to(cas::digest_of(cas::DigestFunction::kXxh3_128, "nope"), dir,
                                      "c", false));
  ::close(dir);
  // The linked files outlive the flush.
  std::ifstream in(base / "out/b");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "abcdefgh");
  EXPECT_NE(fs::status(base / "out/b").permissions() & fs::perms::owner_exec, fs::perms::none);
  source.reset();
  cache->reset();
  store->reset();
  fs::remove_all(base);
}

}  // namespace
}  // namespace kiln::exec
