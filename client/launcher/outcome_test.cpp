// How each way an invocation ends is counted and logged.
#include "client/launcher/outcome.h"

#include <gtest/gtest.h>

namespace kiln::client::launcher {
namespace {

CompileOutcome ended(Outcome outcome, std::string reason = {}) {
  return CompileOutcome{.outcome = outcome, .reason = std::move(reason)};
}

TEST(Outcome, EachCompileOutcomeHasItsCounter) {
  const std::pair<Outcome, const char*> table[] = {
      {Outcome::kDirectHit, "direct_hit"},
      {Outcome::kPreprocessedHit, "preprocessed_hit"},
      {Outcome::kRemoteHit, "remote_hit"},
      {Outcome::kMissLocal, "miss_local"},
      {Outcome::kMissRemote, "miss_remote"},
      {Outcome::kMissRemoteFallback, "miss_remote_fallback"},
      {Outcome::kCompileFailed, "compile_failed"},
      {Outcome::kError, "error"},
      {Outcome::kLinkHit, "link_hit"},
      {Outcome::kLinkMiss, "link_miss"},
  };
  for (const auto& [outcome, counter] : table) {
    EXPECT_EQ(outcome_counter(ended(outcome)), counter);
    EXPECT_EQ(outcome_log_line(ended(outcome), "src/a.c"), std::string("src/a.c: ") + counter);
    EXPECT_FALSE(passes_through(outcome));
  }
}

TEST(Outcome, UncacheableCountsItsReasonsCategory) {
  EXPECT_EQ(outcome_counter(ended(Outcome::kUncacheable, "preprocessing only (-E)")),
            "uncacheable:preprocessing only (-E)");
  EXPECT_EQ(outcome_counter(ended(Outcome::kUncacheable, "linking (unknown link option -Wl,-Map)")),
            "uncacheable:linking");
  EXPECT_EQ(outcome_log_line(ended(Outcome::kUncacheable, "linking (link without -o)"), ""),
            "uncacheable: linking (link without -o)");
  EXPECT_TRUE(passes_through(Outcome::kUncacheable));
}

TEST(Outcome, WhatIsNotCounted) {
  // The cache unused (KILN_DISABLE, unavailable) and failed links: no
  // counter; a failed link is logged.
  EXPECT_TRUE(passes_through(Outcome::kCacheUnused));
  EXPECT_EQ(outcome_counter(ended(Outcome::kCacheUnused)), std::nullopt);
  EXPECT_EQ(outcome_log_line(ended(Outcome::kCacheUnused), "a.c"), std::nullopt);
  EXPECT_EQ(outcome_counter(ended(Outcome::kLinkFailed)), std::nullopt);
  EXPECT_EQ(outcome_log_line(ended(Outcome::kLinkFailed), "prog"), "prog: link failed");
  EXPECT_EQ(outcome_counter(ended(Outcome::kLinkError)), std::nullopt);
  EXPECT_EQ(outcome_log_line(ended(Outcome::kLinkError), "prog"), std::nullopt);
}

TEST(Outcome, AFailedFallbackIsAFailedCompileOrLink) {
  for (Outcome miss : {Outcome::kMissLocal, Outcome::kMissRemoteFallback}) {
    EXPECT_EQ(failed_outcome(Fallback{.outcome = miss}), Outcome::kCompileFailed);
    EXPECT_EQ(unrunnable_outcome(Fallback{.outcome = miss}), Outcome::kError);
  }
  EXPECT_EQ(failed_outcome(Fallback{.outcome = Outcome::kLinkMiss}), Outcome::kLinkFailed);
  EXPECT_EQ(unrunnable_outcome(Fallback{.outcome = Outcome::kLinkMiss}), Outcome::kLinkError);
}

TEST(Outcome, JournalNamesEveryOutcome) {
  // The journal records counted outcomes by their counter, and names the
  // rest; only hits are "cached".
  EXPECT_EQ(journal_outcome(ended(Outcome::kDirectHit)), "direct_hit");
  EXPECT_EQ(journal_outcome(ended(Outcome::kMissRemote)), "miss_remote");
  EXPECT_EQ(journal_outcome(ended(Outcome::kLinkFailed)), "link_failed");
  EXPECT_EQ(journal_outcome(ended(Outcome::kLinkError)), "link_error");
  EXPECT_EQ(journal_outcome(ended(Outcome::kCacheUnused)), "cache_unused");
  for (Outcome hit :
       {Outcome::kDirectHit, Outcome::kPreprocessedHit, Outcome::kRemoteHit, Outcome::kLinkHit}) {
    EXPECT_TRUE(served_from_cache(hit));
  }
  for (Outcome ran : {Outcome::kMissLocal, Outcome::kMissRemote, Outcome::kMissRemoteFallback,
                      Outcome::kCompileFailed, Outcome::kLinkMiss}) {
    EXPECT_FALSE(served_from_cache(ran));
  }
}

TEST(StatsCategory, GroupsReasons) {
  EXPECT_EQ(stats_category("linking"), "linking");
  EXPECT_EQ(stats_category("linking (link without inputs)"), "linking");
  EXPECT_EQ(stats_category("unreadable response file @x.rsp"), "unreadable response file");
  EXPECT_EQ(stats_category("unknown option -ffoo"), "unknown option -ffoo");
}

}  // namespace
}  // namespace kiln::client::launcher
