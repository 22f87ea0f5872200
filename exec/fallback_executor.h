// "The grid, or else here": an ActionExecutor that hands each action to
// `first` (a grid) and, when that is unavailable (kUnavailable: no
// scheduler within its bounds, the grid could not run it), runs it on a
// second executor made then (this machine) instead. `kiln run` and
// `kiln test` use it, as distcc compiles locally when its hosts are gone:
// a build or a CI run goes on, slower, rather than failing. Every other
// error of the first is the answer.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "exec/action_executor.h"

namespace kiln::exec {

class FallbackExecutor final : public ActionExecutor {
 public:
  using Make = std::function<std::unique_ptr<ActionExecutor>()>;
  // Called once per fallback, with why (the first's error message).
  using Warn = std::function<void(const std::string& why)>;

  FallbackExecutor(std::unique_ptr<ActionExecutor> first, Make second, Warn warn);

  // The first's result; on kUnavailable, warn(why) and the second's.
  Result<ExecutedAction> execute(const cas::Digest& action_digest,
                                 const cas::Action& action) override;
  // The first's, until an action fell back: then the second's.
  std::string where() const override;

 private:
  std::unique_ptr<ActionExecutor> first_;
  Make make_second_;
  Warn warn_;
  std::unique_ptr<ActionExecutor> second_;
  bool fell_back_ = false;
};

}  // namespace kiln::exec
