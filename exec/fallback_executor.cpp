// FallbackExecutor: see fallback_executor.h.
#include "exec/fallback_executor.h"

namespace kiln::exec {

FallbackExecutor::FallbackExecutor(std::unique_ptr<ActionExecutor> first, Make second, Warn warn)
    : first_(std::move(first)), make_second_(std::move(second)), warn_(std::move(warn)) {}

Result<ExecutedAction> FallbackExecutor::execute(const cas::Digest& action_digest,
                                                 const cas::Action& action) {
  auto executed = first_->execute(action_digest, action);
  if (executed.ok() || executed.error().code != Errc::kUnavailable) return executed;
  if (warn_) warn_(executed.error().message);
  if (!second_) second_ = make_second_();
  fell_back_ = true;
  return second_->execute(action_digest, action);
}

std::string FallbackExecutor::where() const {
  return fell_back_ && second_ ? second_->where() : first_->where();
}

}  // namespace kiln::exec
