#include "client/journal.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"

namespace kiln::client {
namespace {

ActionRecord sample(const std::string& invocation, const std::string& subject) {
  ActionRecord r;
  r.invocation = invocation;
  r.kind = "compile";
  r.subject = subject;
  r.outcome = "miss_remote";
  r.where = "worker-1";
  r.scheduler = "tcp://127.0.0.1:7010";
  r.digest_function = "xxh3-128";
  r.action_digest = "00ff/12";
  r.command = {"g++", "-c", subject};
  r.cwd = "/src";
  r.inputs = {{subject, "aa/3"}};
  r.outputs = {{"x.o", "bb/4"}};
  r.start_us = 1000;
  r.end_us = 5000;
  r.phases = {{"lookup", 1000, 1100}, {"execute", 1200, 4000}};
  r.pid = 42;
  return r;
}

TEST(Journal, RecordsRoundTripThroughJson) {
  const ActionRecord r = sample("inv-1", "a.cc");
  auto back = decode_record(encode_record(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->subject, "a.cc");
  EXPECT_EQ(back->where, "worker-1");
  ASSERT_EQ(back->phases.size(), 2u);
  EXPECT_EQ(back->phases[1].end_us, 4000);
  EXPECT_EQ(back->outputs[0].digest, "bb/4");
  EXPECT_FALSE(decode_record("{}").ok());
  EXPECT_FALSE(decode_record("not json").ok());
}

TEST(Journal, RecordsAreTheJsonNlohmannWouldWrite) {
  // encode_record writes JSON by hand (for speed); it must be the JSON
  // nlohmann writes, escapes and all, invalid UTF-8 replaced by U+FFFD.
  ActionRecord r = sample("inv-1", "we\"ird\\ \n\t\x01 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  r.inputs.push_back({"bad \xff \xc3 \xed\xa0\x80 \xe0\x80\xaf end", "dd/5"});
  r.command.push_back("\x7f");
  r.cached = true;
  r.exit_code = -3;
  const std::string mine = encode_record(r);
  // Each string as nlohmann writes it, escapes and all.
  const auto as_nlohmann = [](const std::string& value) {
    return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  for (const std::string& value : {r.subject, r.inputs.back().path, r.command.back()}) {
    EXPECT_NE(mine.find(as_nlohmann(value)), std::string::npos) << as_nlohmann(value);
  }
  auto back = decode_record(mine);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->subject, r.subject);
  EXPECT_EQ(back->inputs.back().path,
            "bad \xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
            "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end");
  EXPECT_EQ(back->exit_code, -3);
  EXPECT_TRUE(back->cached);
}

TEST(Journal, ReadsTheProcessesAboveFromProc) {
  const auto ancestors = process_ancestry();
  ASSERT_FALSE(ancestors.empty());
  EXPECT_EQ(ancestors[0].pid, ::getppid());
  EXPECT_FALSE(ancestors[0].name.empty());
  EXPECT_GT(ancestors[0].start_ticks, 0u);
  // Derived: 16 hex digits, the same on every call in one process tree.
  const Invocation a = current_invocation("", {});
  EXPECT_EQ(a.id.size(), 16u);
  EXPECT_EQ(a.id.find_first_not_of("0123456789abcdef"), std::string::npos) << a.id;
  EXPECT_EQ(current_invocation("", {}).id, a.id);
  EXPECT_EQ(current_invocation("ci-42", {}).id, "ci-42");
}

TEST(Journal, AppendsFromManyProcessesLandWhole) {
  test_support::TempDir dir;
  Journal journal(dir.path(), 10);
  ASSERT_TRUE(journal.begin({{"inv-1", {{"ticket", "B-1"}}}, 7, "/src", {"make"}}).ok());
  std::vector<pid_t> children;
  for (int c = 0; c < 4; ++c) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      for (int i = 0; i < 50; ++i) {
        ActionRecord r = sample("inv-1", "f" + std::to_string(c) + "_" + std::to_string(i));
        r.inputs.assign(40, FileRecord{std::string(100, 'p'), "cc/1"});  // > PIPE_BUF
        if (!journal.append(r).ok()) ::_exit(1);
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto records = journal.records("inv-1");
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(records->size(), 200u);
  auto info = journal.info("inv-1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->invocation.labels[0].second, "B-1");
}

TEST(Journal, SkipsTornLinesAndRefusesBadIds) {
  test_support::TempDir dir;
  Journal journal(dir.path(), 10);
  ASSERT_TRUE(journal.append(sample("inv-2", "a.cc")).ok());
  std::ofstream(dir.path() / "invocations" / "inv-2.jsonl", std::ios::app) << "{\"kind\": \"comp";
  ASSERT_TRUE(journal.append(sample("inv-2", "b.cc")).ok());
  auto records = journal.records("inv-2");
  ASSERT_TRUE(records.ok());
  // The torn line swallowed the newline before b.cc's record: a.cc stays.
  ASSERT_GE(records->size(), 1u);
  EXPECT_EQ((*records)[0].subject, "a.cc");
  EXPECT_FALSE(journal.append(sample("../escape", "a.cc")).ok());
  EXPECT_EQ(journal.records("../escape").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(journal.records("nope").error().code, Errc::kNotFound);
}

TEST(Journal, KeepsTheNewestInvocations) {
  test_support::TempDir dir;
  Journal journal(dir.path(), 2);
  for (int i = 0; i < 4; ++i) {
    const std::string id = "inv-" + std::to_string(i);
    ASSERT_TRUE(journal.begin({{id, {}}, i, "/", {}}).ok());
    ASSERT_TRUE(journal.append(sample(id, "a.cc")).ok());
    // Distinct modification times for the ordering.
    std::filesystem::last_write_time(
        dir.path() / "invocations" / (id + ".jsonl"),
        std::filesystem::file_time_type::clock::now() - std::chrono::seconds(10 - i));
  }
  ASSERT_TRUE(journal.begin({{"inv-9", {}}, 9, "/", {}}).ok());
  const auto known = journal.list();
  ASSERT_EQ(known.size(), 2u);
  EXPECT_EQ(known[0].invocation.id, "inv-9");
  EXPECT_EQ(known[1].invocation.id, "inv-3");
}

TEST(Journal, KeepsTheNewestThatFitInItsSizeBudget) {
  test_support::TempDir dir;
  Journal journal(dir.path(), 100, 20000);
  for (int i = 0; i < 4; ++i) {
    const std::string id = "inv-" + std::to_string(i);
    ASSERT_TRUE(journal.begin({{id, {}}, i, "/", {}}).ok());
    ActionRecord r = sample(id, "a.cc");
    r.inputs.assign(80, FileRecord{std::string(100, 'p'), "cc/1"});  // ~10 KB a record
    ASSERT_TRUE(journal.append(r).ok());
    std::filesystem::last_write_time(
        dir.path() / "invocations" / (id + ".jsonl"),
        std::filesystem::file_time_type::clock::now() - std::chrono::seconds(10 - i));
  }
  ASSERT_TRUE(journal.begin({{"inv-new", {}}, 9, "/", {}}).ok());
  const auto known = journal.list();
  // The new one (no records yet), then as many of the newest as fit.
  ASSERT_GE(known.size(), 2u);
  ASSERT_LE(known.size(), 3u);
  EXPECT_EQ(known[0].invocation.id, "inv-new");
  EXPECT_EQ(known[1].invocation.id, "inv-3");
}

}  // namespace
}  // namespace kiln::client
