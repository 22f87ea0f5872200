#include "client/provenance.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kiln::client {
namespace {

using nlohmann::json;

ActionRecord compile_record() {
  ActionRecord r;
  r.invocation = "inv-1";
  r.kind = "compile";
  r.subject = "src/a.cc";
  r.outcome = "miss_remote";
  r.where = "worker-7";
  r.scheduler = "tcp://127.0.0.1:7010";
  r.digest_function = "xxh3-128";
  r.action_digest = "00112233445566778899aabbccddeeff/140";
  r.toolchain = "ffeeddccbbaa99887766554433221100/77";
  r.toolchain_path = "/usr/bin/g++";
  r.command = {"g++", "-c", "src/a.cc", "-o", "a.o"};
  r.cwd = "/home/me/proj";
  r.inputs = {{"src/a.cc", "aaaa/10"}, {"src/a.h", "bbbb/20"}};
  r.outputs = {{"a.o", "cccc/30"}, {"a.d", "dddd/40"}};
  r.start_us = 1714566896123456;  // 2024-05-01T12:34:56.123456Z
  r.end_us = 1714566897000001;
  return r;
}

TEST(Provenance, Rfc3339InUtcWithMicroseconds) {
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(rfc3339_utc(1714566896123456), "2024-05-01T12:34:56.123456Z");
  EXPECT_EQ(rfc3339_utc(951782400000000 - 1), "2000-02-28T23:59:59.999999Z");
  EXPECT_EQ(rfc3339_utc(951782400000000), "2000-02-29T00:00:00.000000Z");  // a leap day
  EXPECT_EQ(rfc3339_utc(951782400000000 + 86400000000), "2000-03-01T00:00:00.000000Z");
}

TEST(Provenance, BuilderIdNamesWhereItRan) {
  EXPECT_EQ(builder_id("local", ""), "urn:kiln:builder:local");
  EXPECT_EQ(builder_id("", "tcp://h:1"), "urn:kiln:builder:local");
  EXPECT_EQ(builder_id("w 1", "tcp://h:1"), "urn:kiln:builder:worker:w%201@tcp://h:1");
}

TEST(Provenance, StatementHasInTotoAndSlsaFields) {
  const ActionRecord r = compile_record();
  const Invocation invocation{"inv-1", {{"ticket", "BANK-123"}, {"commit", "4f2a"}}};
  const json s =
      json::parse(provenance_statement({r, invocation, "a.o", std::string(64, 'e'), "cccc/30"}));

  EXPECT_EQ(s.at("_type"), "https://in-toto.io/Statement/v1");
  EXPECT_EQ(s.at("predicateType"), "https://slsa.dev/provenance/v1");
  ASSERT_EQ(s.at("subject").size(), 1u);
  EXPECT_EQ(s.at("subject")[0].at("name"), "a.o");
  EXPECT_EQ(s.at("subject")[0].at("digest").at("sha256"), std::string(64, 'e'));
  EXPECT_EQ(s.at("subject")[0].at("digest").at("kiln-xxh3-128"), "cccc");

  const json& def = s.at("predicate").at("buildDefinition");
  EXPECT_EQ(def.at("buildType"), "urn:kiln:buildType:action:v1");
  EXPECT_EQ(def.at("externalParameters").at("command"), json(r.command));
  EXPECT_EQ(def.at("externalParameters").at("cwd"), "/home/me/proj");
  EXPECT_EQ(def.at("externalParameters").at("kind"), "compile");
  EXPECT_EQ(def.at("externalParameters").at("labels").at("ticket"), "BANK-123");
  EXPECT_EQ(def.at("externalParameters").at("labels").at("commit"), "4f2a");
  EXPECT_EQ(def.at("internalParameters").at("actionDigest"), r.action_digest);
  EXPECT_EQ(def.at("internalParameters").at("digestFunction"), "xxh3-128");
  EXPECT_EQ(def.at("internalParameters").at("toolchain").at("path"), "/usr/bin/g++");
  const json& deps = def.at("resolvedDependencies");
  ASSERT_EQ(deps.size(), 3u);
  EXPECT_EQ(deps[0].at("name"), "src/a.cc");
  EXPECT_EQ(deps[0].at("digest").at("kiln-xxh3-128"), "aaaa");
  EXPECT_EQ(deps[2].at("name"), "toolchain");
  EXPECT_EQ(deps[2].at("uri"), "file:///usr/bin/g++");
  EXPECT_EQ(deps[2].at("digest").at("kiln-toolchain"), "ffeeddccbbaa99887766554433221100");

  const json& run = s.at("predicate").at("runDetails");
  EXPECT_EQ(run.at("builder").at("id"), "urn:kiln:builder:worker:worker-7@tcp://127.0.0.1:7010");
  EXPECT_EQ(run.at("metadata").at("invocationId"), "inv-1");
  EXPECT_EQ(run.at("metadata").at("startedOn"), "2024-05-01T12:34:56.123456Z");
  EXPECT_EQ(run.at("metadata").at("finishedOn"), "2024-05-01T12:34:57.000001Z");
  ASSERT_EQ(run.at("byproducts").size(), 1u);
  EXPECT_EQ(run.at("byproducts")[0].at("name"), "a.d");
}

TEST(Provenance, Sha256StoresUseTheStandardDigestKey) {
  ActionRecord r = compile_record();
  r.digest_function = "sha256";
  r.toolchain.clear();
  r.toolchain_path.clear();
  const json s = json::parse(provenance_statement({r, Invocation{"i", {}}, "a.o", "ab", "ab/30"}));
  EXPECT_EQ(s.at("predicate").at("buildDefinition").at("resolvedDependencies").size(), 2u);
  EXPECT_EQ(s.at("predicate")
                .at("buildDefinition")
                .at("resolvedDependencies")[0]
                .at("digest")
                .at("sha256"),
            "aaaa");
  EXPECT_EQ(s.at("subject")[0].at("digest").at("kiln-sha256"), "ab");
}

}  // namespace
}  // namespace kiln::client
