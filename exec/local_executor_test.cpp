// LocalExecutor against a real store and real processes: what it records
// in the action cache, and that threads may share one store through it.
#include "exec/local_executor.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "cas/model.h"
#include "tests/support/temp_dir.h"

namespace kiln::exec {
namespace {

using test_support::TempDir;

class LocalExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cas::StoreOptions options;
    options.dir = dir_.path() / "store";
    auto store = cas::Store::open(options);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    auto root = store_->put(*cas::encode_directory({}, store_->digest_function()));
    ASSERT_TRUE(root.ok());
    empty_root_ = *root;
  }

  // The action `sh -c script`, stored; its digest in *digest.
  cas::Action action(const std::string& script, cas::Digest* digest, bool do_not_cache = false) {
    cas::Command command;
    command.arguments = {"/bin/sh", "-c", script};
    command.environment = {{"PATH", "/usr/bin:/bin"}};
    cas::Action a;
    a.command_digest = *store_->put(*cas::encode_command(command));
    a.input_root_digest = empty_root_;
    a.do_not_cache = do_not_cache;
    const std::string encoded = *cas::encode_action(a, store_->digest_function());
    *digest = *store_->put(encoded);
    return a;
  }

  bool cached(const cas::Digest& digest) {
    auto entry = store_->get_action_result(digest);
    return entry.ok() && entry->has_value();
  }

  TempDir dir_;
  std::unique_ptr<cas::Store> store_;
  cas::Digest empty_root_;
};

TEST_F(LocalExecutorTest, ASuccessIsRecordedInTheActionCache) {
  cas::Digest digest;
  const cas::Action a = action("echo hello", &digest);
  LocalExecutor executor(*store_, {.work_root = dir_.path() / "sandbox"});
  auto executed = executor.execute(digest, a);
  ASSERT_TRUE(executed.ok()) << executed.error().message;
  EXPECT_EQ(executed->result.exit_code, 0);
  EXPECT_EQ(*store_->get(executed->result.stdout_digest), std::optional<std::string>("hello\n"));
  EXPECT_FALSE(executed->cached);
  EXPECT_TRUE(cached(digest));
  EXPECT_EQ(executor.where(), "local");
}

TEST_F(LocalExecutorTest, FailuresAndOptedOutActionsAreNotRecorded) {
  cas::Digest failing;
  const cas::Action a = action("exit 3", &failing);
  cas::Digest opted_out;
  const cas::Action b = action("true", &opted_out, /*do_not_cache=*/true);
  LocalExecutor executor(*store_, {.work_root = dir_.path() / "sandbox"});
  auto first = executor.execute(failing, a);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->result.exit_code, 3);
  ASSERT_TRUE(executor.execute(opted_out, b).ok());
  EXPECT_FALSE(cached(failing));
  EXPECT_FALSE(cached(opted_out));
}

TEST_F(LocalExecutorTest, ThreadsShareOneStoreThroughItsMutex) {
  std::mutex mutex;
  std::vector<cas::Digest> digests(8);
  std::vector<cas::Action> actions;
  for (std::size_t i = 0; i < digests.size(); ++i)
    actions.push_back(action("echo " + std::to_string(i), &digests[i]));
  std::vector<std::thread> threads;
  std::vector<int> codes(digests.size(), -1);
  for (std::size_t i = 0; i < digests.size(); ++i) {
    threads.emplace_back([&, i] {
      LocalExecutor executor(*store_,
                             {.work_root = dir_.path() / "sandbox", .store_mutex = &mutex});
      auto executed = executor.execute(digests[i], actions[i]);
      codes[i] = executed.ok() ? executed->result.exit_code : -2;
    });
  }
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < digests.size(); ++i) {
    EXPECT_EQ(codes[i], 0) << i;
    EXPECT_TRUE(cached(digests[i])) << i;
  }
}

}  // namespace
}  // namespace kiln::exec
