// The executor against a real LMDB store, real input trees and /bin/sh;
// every scenario runs straight in the action's directory and again in the
// bubblewrap sandbox (skipped only where bubblewrap cannot work).
#include "exec/executor.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cas/tree.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

class ExecutorTest : public ::testing::TestWithParam<SandboxKind> {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() /
            ("kiln-exec-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(base_);
    fs::create_directories(base_ / "input");
    cas::StoreOptions so;
    so.dir = base_ / "store";
    so.durable = false;
    auto store = cas::Store::open(so);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    options_.work_root = base_ / "sandboxes";
    options_.worker_id = "test-worker";
    if (GetParam() == SandboxKind::kBubblewrap) {
      auto sandbox = Sandbox::create({.kind = SandboxKind::kBubblewrap, .scratch = base_});
      if (!sandbox.ok()) GTEST_SKIP() << "no bubblewrap sandbox here: " << sandbox.error().message;
      sandbox_.emplace(std::move(*sandbox));
      options_.sandbox = &*sandbox_;
    }
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(base_);
  }

  void write_input(const std::string& path, const std::string& text) {
    fs::create_directories((base_ / "input" / path).parent_path());
    std::ofstream(base_ / "input" / path) << text;
  }

  cas::Action make_action(const std::string& script, std::vector<std::string> outputs = {},
                          std::vector<std::string> output_dirs = {}, std::uint64_t timeout_ms = 0) {
    auto tree = cas::build_tree(base_ / "input", cas::DigestFunction::kXxh3_128);
    EXPECT_TRUE(tree.ok()) << tree.error().message;
    for (const auto& [digest, bytes] : tree->directories) {
      EXPECT_TRUE(store_->put(digest, std::as_bytes(std::span(bytes.data(), bytes.size()))).ok());
    }
    for (const auto& [digest, path] : tree->files) EXPECT_TRUE(store_->put_file(path).ok());
    cas::Command command;
    command.arguments = {"/bin/sh", "-c", script};
    command.environment = {{"PATH", "/usr/bin:/bin"}};
    command.output_files = std::move(outputs);
    command.output_directories = std::move(output_dirs);
    auto encoded = cas::encode_command(command);
    EXPECT_TRUE(encoded.ok()) << encoded.error().message;
    auto command_digest = store_->put(*encoded);
    EXPECT_TRUE(command_digest.ok());
    cas::Action action;
    action.command_digest = *command_digest;
    action.input_root_digest = tree->root;
    action.timeout_ms = timeout_ms;
    return action;
  }

  std::string blob(const cas::Digest& digest) {
    auto bytes = store_->get(digest);
    EXPECT_TRUE(bytes.ok() && bytes->has_value());
    return bytes.ok() && bytes->has_value() ? **bytes : std::string();
  }

  fs::path base_;
  std::unique_ptr<cas::Store> store_;
  ExecutorOptions options_;
  std::optional<Sandbox> sandbox_;
};

INSTANTIATE_TEST_SUITE_P(Sandboxes, ExecutorTest,
                         ::testing::Values(SandboxKind::kNone, SandboxKind::kBubblewrap),
                         [](const auto& param_info) {
                           return std::string(to_string(param_info.param));
                         });

TEST_P(ExecutorTest, RunsTheCommandOnItsInputsAndCollectsOutputs) {
  write_input("src/in.txt", "hello\n");
  const cas::Action action = make_action(
      "mkdir -p out/dir/sub && tr a-z A-Z < src/in.txt > out/upper.txt && echo x > out/dir/sub/f "
      "&& "
      "echo said; echo warned >&2",
      {"out/upper.txt"}, {"out/dir"});
  auto execution = execute(*store_, action, options_, 42);
  ASSERT_TRUE(execution.ok()) << execution.error().message;
  const cas::ActionResult& result = execution->result;
  EXPECT_EQ(result.exit_code, 0);
  ASSERT_EQ(result.output_files.size(), 1u);
  EXPECT_EQ(result.output_files[0].path, "out/upper.txt");
  EXPECT_EQ(blob(result.output_files[0].digest), "HELLO\n");
  ASSERT_EQ(result.output_directories.size(), 1u);
  EXPECT_EQ(blob(result.stdout_digest), "said\n");
  EXPECT_EQ(blob(result.stderr_digest), "warned\n");
  EXPECT_EQ(result.metadata.worker_id, "test-worker");
  EXPECT_EQ(result.metadata.queued_us, 42u);
  EXPECT_LE(result.metadata.execution_start_us, result.metadata.execution_end_us);
  EXPECT_TRUE(cacheable(action, *execution));
  // Every referenced blob is in the store: an action-cache entry will hit.
  for (const auto& d : execution->referenced) EXPECT_TRUE(*store_->contains(d)) << d.to_string();
  // The output tree can be recreated.
  const fs::path copy = base_ / "copy";
  fs::create_directories(copy);
  ASSERT_TRUE(cas::materialize_tree(*store_, result.output_directories[0].tree_digest, copy).ok());
  EXPECT_TRUE(fs::exists(copy / "sub" / "f"));
  // The sandbox is gone.
  EXPECT_TRUE(fs::is_empty(options_.work_root));
}

TEST_P(ExecutorTest, MissingOutputIsReportedAndNotCacheable) {
  const cas::Action action = make_action("true", {"never-made.o"});
  auto execution = execute(*store_, action, options_);
  ASSERT_TRUE(execution.ok()) << execution.error().message;
  EXPECT_EQ(execution->missing_outputs, std::vector<std::string>{"never-made.o"});
  EXPECT_FALSE(cacheable(action, *execution));
}

TEST_P(ExecutorTest, FailingCommandIsAResultNotAnError) {
  const cas::Action action = make_action("echo broken >&2; exit 7");
  auto execution = execute(*store_, action, options_);
  ASSERT_TRUE(execution.ok());
  EXPECT_EQ(execution->result.exit_code, 7);
  EXPECT_EQ(blob(execution->result.stderr_digest), "broken\n");
  EXPECT_FALSE(cacheable(action, *execution));
}

TEST_P(ExecutorTest, OutputThroughASymlinkOutsideIsRefused) {
  const cas::Action action = make_action("ln -s /etc/passwd stolen", {"stolen"});
  auto execution = execute(*store_, action, options_);
  ASSERT_FALSE(execution.ok());
  EXPECT_EQ(execution.error().code, Errc::kInvalidArgument);
  EXPECT_NE(execution.error().message.find("stolen"), std::string::npos);
}

TEST_P(ExecutorTest, OutputDirectoryThroughASymlinkIsRefused) {
  const cas::Action action = make_action("ln -s /etc d", {}, {"d"});
  auto execution = execute(*store_, action, options_);
  ASSERT_FALSE(execution.ok());
  EXPECT_EQ(execution.error().code, Errc::kInvalidArgument);
}

TEST_P(ExecutorTest, EscapingOutputPathsCannotEvenBeDeclared) {
  cas::Command command;
  command.arguments = {"true"};
  command.output_files = {"../escape"};
  EXPECT_FALSE(cas::encode_command(command).ok());
  command.output_files = {"/etc/passwd"};
  EXPECT_FALSE(cas::encode_command(command).ok());
}

TEST_P(ExecutorTest, TimeoutIsReportedAndNotCacheable) {
  const cas::Action action = make_action("sleep 30", {}, {}, 200);
  auto execution = execute(*store_, action, options_);
  ASSERT_TRUE(execution.ok());
  EXPECT_TRUE(execution->timed_out);
  EXPECT_FALSE(cacheable(action, *execution));
}

TEST_P(ExecutorTest, CancelledRunCollectsNothingAndIsNotCacheable) {
  const int cancel = ::eventfd(1, EFD_CLOEXEC);  // cancelled before it starts
  ASSERT_GE(cancel, 0);
  const cas::Action action = make_action("sleep 30; echo x > out.txt", {"out.txt"});
  std::mutex store_mutex;
  options_.cancel_fd = cancel;
  options_.store_mutex = &store_mutex;
  auto execution = execute(*store_, action, options_);
  ::close(cancel);
  ASSERT_TRUE(execution.ok()) << execution.error().message;
  EXPECT_TRUE(execution->cancelled);
  EXPECT_TRUE(execution->result.output_files.empty());
  EXPECT_TRUE(execution->referenced.empty());
  EXPECT_FALSE(cacheable(action, *execution));
  EXPECT_TRUE(store_mutex.try_lock()) << "the store mutex was left locked";
  store_mutex.unlock();
}

TEST_P(ExecutorTest, AProgramThatIsNotThereIsNotFound) {
  cas::Action action = make_action("true");
  cas::Command command;
  command.arguments = {"kiln-no-such-program"};
  command.environment = {{"PATH", "/usr/bin:/bin"}};
  auto encoded = cas::encode_command(command);
  ASSERT_TRUE(encoded.ok());
  action.command_digest = *store_->put(*encoded);
  auto execution = execute(*store_, action, options_);
  ASSERT_FALSE(execution.ok());
  EXPECT_EQ(execution.error().code, Errc::kNotFound) << execution.error().message;
}

TEST_P(ExecutorTest, MissingCommandBlobIsNotFound) {
  cas::Action action = make_action("true");
  action.command_digest = cas::digest_of(cas::DigestFunction::kXxh3_128, "no such command");
  auto execution = execute(*store_, action, options_);
  ASSERT_FALSE(execution.ok());
  EXPECT_EQ(execution.error().code, Errc::kNotFound);
}

}  // namespace
}  // namespace kiln::exec
