#include "client/recorder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace kiln::client {
namespace {

Config config_for(const std::filesystem::path& dir, const std::string& journal = "true") {
  auto config = Config::load({{"KILN_DIR", dir.string()},
                              {"KILN_INVOCATION_ID", "ci-42"},
                              {"KILN_LABELS", "ticket=BANK-1"},
                              {"KILN_JOURNAL", journal}},
                             "", "kiln.conf", {});
  EXPECT_TRUE(config.ok()) << config.error().message;
  return std::move(config).value();
}

ActionRecord action(const std::string& subject, std::int64_t start) {
  ActionRecord r;
  r.kind = "compile";
  r.subject = subject;
  r.outcome = "miss_local";
  r.command = {"g++", "-c", subject};
  r.cwd = "/src";
  r.start_us = start;
  r.end_us = start + 10;
  return r;
}

TEST(Recorder, BeginsTheInvocationWithTheFirstRecordAndFillsItIn) {
  test_support::TempDir dir;
  const Config config = config_for(dir.path());
  std::vector<std::string> said;
  Recorder recorder(config, {"make", "-j2"}, [&](const std::string& s) { said.push_back(s); });
  EXPECT_EQ(recorder.invocation().id, "ci-42");
  recorder.record(action("a.cc", 100));
  recorder.record(action("b.cc", 200));
  EXPECT_TRUE(said.empty());

  const Journal journal(dir.path(), 10);
  auto info = journal.info("ci-42");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->command, (std::vector<std::string>{"make", "-j2"}));
  EXPECT_EQ(info->invocation.labels, (Labels{{"ticket", "BANK-1"}}));
  EXPECT_LE(info->started_us, 100);  // no later than its first action
  auto records = journal.records("ci-42");
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].invocation, "ci-42");
  EXPECT_EQ((*records)[0].pid, ::getpid());
  EXPECT_EQ((*records)[1].subject, "b.cc");
}

TEST(Recorder, AdoptsAHandedOverInvocation) {
  test_support::TempDir dir;
  const Config config = config_for(dir.path());
  Recorder recorder(config, {}, {});
  recorder.adopt("from-kiln");
  EXPECT_EQ(recorder.invocation().id, "from-kiln");
  recorder.adopt("../bad");  // not an id: ignored
  EXPECT_EQ(recorder.invocation().id, "from-kiln");
}

TEST(Recorder, WritesNothingWhenTheJournalIsOff) {
  test_support::TempDir dir;
  const Config config = config_for(dir.path(), "false");
  Recorder recorder(config, {}, {});
  EXPECT_FALSE(recorder.enabled());
  recorder.record(action("a.cc", 100));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "invocations"));
}

TEST(Recorder, AFailureToWriteIsLoggedNeverThrown) {
  test_support::TempDir dir;
  // A file where the journal's directory would be.
  std::ofstream(dir.path() / "invocations") << "x";
  const Config config = config_for(dir.path());
  std::vector<std::string> said;
  Recorder recorder(config, {}, [&](const std::string& s) { said.push_back(s); });
  recorder.record(action("a.cc", 100));
  recorder.record(action("b.cc", 200));
  ASSERT_EQ(said.size(), 1u);  // said once: the recorder stops trying
  EXPECT_NE(said[0].find("journal: "), std::string::npos) << said[0];
}

TEST(ExecutedPhases, InOrderWithoutThoseThatDidNotHappen) {
  cas::ExecutionMetadata m;
  m.worker_id = "w1";
  m.queued_us = 100;
  m.worker_start_us = 150;
  m.input_fetch_start_us = 160;
  m.input_fetch_end_us = 170;
  m.execution_start_us = 170;
  m.execution_end_us = 400;
  // No upload: nothing to upload.
  const auto phases = executed_phases(m);
  ASSERT_EQ(phases.size(), 3u);
  EXPECT_EQ(phases[0].name, "queue");
  EXPECT_EQ(phases[0].start_us, 100);
  EXPECT_EQ(phases[0].end_us, 150);
  EXPECT_EQ(phases[1].name, "input_fetch");
  EXPECT_EQ(phases[2].name, "execute");
  EXPECT_EQ(phases[2].end_us, 400);
  EXPECT_TRUE(executed_phases(cas::ExecutionMetadata{}).empty());
}

}  // namespace
}  // namespace kiln::client
