// outcome.h: what each way an invocation ends counts and logs.
#include "client/launcher/outcome.h"

#include "client/launcher/stats.h"

namespace kiln::client::launcher {

bool passes_through(Outcome outcome) {
  return outcome == Outcome::kUncacheable || outcome == Outcome::kCacheUnused;
}

Outcome failed_outcome(const Fallback& fallback) {
  return fallback.outcome == Outcome::kLinkMiss ? Outcome::kLinkFailed : Outcome::kCompileFailed;
}

Outcome unrunnable_outcome(const Fallback& fallback) {
  return fallback.outcome == Outcome::kLinkMiss ? Outcome::kLinkError : Outcome::kError;
}

std::optional<std::string> outcome_counter(const CompileOutcome& outcome) {
  const auto name = [](std::string_view counter) { return std::string(counter); };
  switch (outcome.outcome) {
    case Outcome::kDirectHit:
      return name(kStatDirectHit);
    case Outcome::kPreprocessedHit:
      return name(kStatPreprocessedHit);
    case Outcome::kRemoteHit:
      return name(kStatRemoteHit);
    case Outcome::kMissLocal:
      return name(kStatMissLocal);
    case Outcome::kMissRemote:
      return name(kStatMissRemote);
    case Outcome::kMissRemoteHeaders:
      return name(kStatMissRemoteHeaders);
    case Outcome::kMissRemoteFallback:
      return name(kStatMissRemoteFallback);
    case Outcome::kCompileFailed:
      return name(kStatCompileFailed);
    case Outcome::kError:
      return name(kStatError);
    case Outcome::kUncacheable:
      return std::string(kStatUncacheablePrefix) + stats_category(outcome.reason);
    case Outcome::kLinkHit:
      return name(kStatLinkHit);
    case Outcome::kLinkMiss:
      return name(kStatLinkMiss);
    case Outcome::kCacheUnused:
    case Outcome::kLinkFailed:
    case Outcome::kLinkError:
      return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> outcome_log_line(const CompileOutcome& outcome,
                                            std::string_view subject) {
  if (outcome.outcome == Outcome::kUncacheable) return "uncacheable: " + outcome.reason;
  if (outcome.outcome == Outcome::kLinkFailed) return std::string(subject) + ": link failed";
  auto counter = outcome_counter(outcome);
  if (!counter) return std::nullopt;
  return std::string(subject) + ": " + *counter;
}

std::string stats_category(const std::string& reason) {
  if (reason.find("linking") != std::string::npos) return "linking";
  if (reason.rfind("unreadable response file", 0) == 0) return "unreadable response file";
  return reason;
}

std::string journal_outcome(const CompileOutcome& outcome) {
  if (auto counter = outcome_counter(outcome)) return *counter;
  switch (outcome.outcome) {
    case Outcome::kLinkFailed:
      return "link_failed";
    case Outcome::kLinkError:
      return "link_error";
    default:
      return "cache_unused";
  }
}

bool served_from_cache(Outcome outcome) {
  return outcome == Outcome::kDirectHit || outcome == Outcome::kPreprocessedHit ||
         outcome == Outcome::kRemoteHit || outcome == Outcome::kLinkHit;
}

}  // namespace kiln::client::launcher
