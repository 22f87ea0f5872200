// FallbackExecutor with scripted executors.
#include "exec/fallback_executor.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln::exec {
namespace {

// Answers each execute() with the next scripted result.
class Scripted final : public ActionExecutor {
 public:
  Scripted(std::string where, std::vector<Result<ExecutedAction>> answers)
      : where_(std::move(where)), answers_(std::move(answers)) {}
  Result<ExecutedAction> execute(const cas::Digest&, const cas::Action&) override {
    ++calls;
    return answers_.at(next_++);
  }
  std::string where() const override { return where_; }
  int calls = 0;

 private:
  std::string where_;
  std::vector<Result<ExecutedAction>> answers_;
  std::size_t next_ = 0;
};

ExecutedAction exited(int code) {
  ExecutedAction executed;
  executed.result.exit_code = code;
  return executed;
}

TEST(FallbackExecutor, AnUnavailableGridFallsBackAndOtherErrorsDoNot) {
  auto grid = std::make_unique<Scripted>(
      "tcp://grid:7010",
      std::vector<Result<ExecutedAction>>{exited(0), make_error(Errc::kUnavailable, "gone"),
                                          make_error(Errc::kPermissionDenied, "read-only key")});
  Scripted* grid_seen = grid.get();
  Scripted* local_seen = nullptr;
  std::vector<std::string> warnings;
  FallbackExecutor executor(
      std::move(grid),
      [&] {
        auto local =
            std::make_unique<Scripted>("local", std::vector<Result<ExecutedAction>>{exited(3)});
        local_seen = local.get();
        return local;
      },
      [&](const std::string& why) { warnings.push_back(why); });
  const cas::Digest digest;
  const cas::Action action;

  EXPECT_EQ(executor.where(), "tcp://grid:7010");
  auto first = executor.execute(digest, action);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->result.exit_code, 0);
  EXPECT_EQ(local_seen, nullptr) << "the local executor is made only when needed";

  auto second = executor.execute(digest, action);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->result.exit_code, 3);
  EXPECT_EQ(warnings, std::vector<std::string>{"gone"});
  EXPECT_EQ(executor.where(), "local");

  auto third = executor.execute(digest, action);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, Errc::kPermissionDenied);
  EXPECT_EQ(grid_seen->calls, 3);
  EXPECT_EQ(local_seen->calls, 1);
}

}  // namespace
}  // namespace kiln::exec
