#include "client/explain.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kiln::client {
namespace {

ActionRecord record(const std::string& output, const std::string& digest,
                    const std::string& cwd = "/src") {
  ActionRecord r;
  r.kind = "compile";
  r.subject = output + ".cc";
  r.outcome = "miss_remote";
  r.where = "worker-1";
  r.scheduler = "tcp://127.0.0.1:7010";
  r.digest_function = "xxh3-128";
  r.cwd = cwd;
  r.command = {"g++", "-c", r.subject, "-o", output, "-DNAME=a b"};
  r.inputs = {{r.subject, "11/5"}};
  r.outputs = {{output, digest}};
  r.start_us = 1'000'000;
  r.end_us = 1'250'000;
  r.phases = {{"lookup", 1'000'000, 1'001'000}, {"execute", 1'010'000, 1'200'000}};
  return r;
}

DigestOf fixed(std::string digest) {
  return [digest](std::string_view function) {
    return function == "xxh3-128" ? digest : std::string();
  };
}

TEST(Explain, FindsTheNewestRecordWithTheDigest) {
  const std::vector<ActionRecord> records = {record("a.o", "aa/1"), record("b.o", "bb/1"),
                                             record("c.o", "aa/1")};
  auto match = find_producer(records, fixed("aa/1"), "/elsewhere/x.o");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->record, 2u);
  EXPECT_FALSE(find_producer(records, fixed("cc/1"), "/src/a.o"));
  EXPECT_FALSE(find_producer(records, fixed(""), "/src/a.o"));
}

TEST(Explain, PrefersTheRecordWhoseOutputIsTheFile) {
  const std::vector<ActionRecord> records = {record("a.o", "aa/1"), record("sub/../c.o", "aa/1")};
  auto match = find_producer(records, fixed("aa/1"), "/src/a.o");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->record, 0u);
  match = find_producer(records, fixed("aa/1"), "/src/c.o");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->record, 1u);
  // Absolute output paths are taken as they are.
  const std::vector<ActionRecord> absolute = {record("/out/a.o", "aa/1"), record("b.o", "aa/1")};
  EXPECT_EQ(find_producer(absolute, fixed("aa/1"), "/out/a.o")->record, 0u);
}

TEST(Explain, HashesOncePerDigestFunction) {
  std::vector<ActionRecord> records = {record("a.o", "aa/1"), record("b.o", "bb/1")};
  records[0].digest_function = "sha256";
  records[0].outputs[0].digest = "5555/1";
  int calls = 0;
  const DigestOf counting = [&calls](std::string_view function) {
    ++calls;
    return std::string(function == "sha256" ? "5555/1" : "none/1");
  };
  auto match = find_producer(records, counting, "/src/zz");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->record, 0u);
  EXPECT_EQ(calls, 2);
}

Explanation sample() {
  Explanation e;
  e.file = "a.o";
  e.file_digest = "aa/1";
  e.output_path = "a.o";
  e.invocation.invocation = {"inv-9", {{"ticket", "BANK-123"}}};
  e.record = record("a.o", "aa/1");
  e.record.action_digest = "ad/99";
  e.record.toolchain = "tc/1";
  e.record.toolchain_path = "/usr/bin/g++";
  return e;
}

TEST(Explain, TextSaysEverythingAPersonAsks) {
  const std::string text = explain_text(sample());
  for (const char* want : {"a.o", "aa/1 (xxh3-128)", "compile of a.o.cc",
                           "miss: executed on the grid (preprocessed) (miss_remote)",
                           "worker worker-1, scheduler tcp://127.0.0.1:7010", "ad/99",
                           "'-DNAME=a b'", "/src", "tc/1  /usr/bin/g++", "11/5  a.o.cc", "250.0 ms",
                           "execute     190.0 ms  (at +10.0 ms)", "inv-9", "ticket=BANK-123"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " not in:\n" << text;
  }
}

TEST(Explain, HitsSayWhichCache) {
  ActionRecord r = record("a.o", "aa/1");
  r.outcome = "direct_hit";
  r.cached = true;
  EXPECT_EQ(describe_outcome(r).rfind("hit:", 0), 0u);
  r.outcome = "remote_hit";
  EXPECT_NE(describe_outcome(r).find("grid"), std::string::npos);
  r.outcome = "something_new";
  EXPECT_EQ(describe_outcome(r), "hit (something_new)");
}

TEST(Explain, JsonHasTheSameFields) {
  const auto j = nlohmann::json::parse(explain_json(sample()));
  EXPECT_EQ(j.at("file"), "a.o");
  EXPECT_EQ(j.at("where"), "worker-1");
  EXPECT_EQ(j.at("outcome"), "miss_remote");
  EXPECT_EQ(j.at("cached"), false);
  EXPECT_EQ(j.at("action_digest"), "ad/99");
  EXPECT_EQ(j.at("inputs")[0].at("digest"), "11/5");
  EXPECT_EQ(j.at("phases")[1].at("duration_us"), 190000);
  EXPECT_EQ(j.at("duration_us"), 250000);
  EXPECT_EQ(j.at("invocation"), "inv-9");
  EXPECT_EQ(j.at("labels").at("ticket"), "BANK-123");
}

}  // namespace
}  // namespace kiln::client
