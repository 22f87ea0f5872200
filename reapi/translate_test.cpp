#include "reapi/translate.h"

#include <gtest/gtest.h>

#include <map>

namespace kiln::reapi {
namespace {

cas::Digest sha(std::string_view bytes) {
  return cas::digest_of(cas::DigestFunction::kSha256, bytes);
}

v2::Command command(std::initializer_list<const char*> args) {
  v2::Command c;
  for (const char* a : args) c.add_arguments(a);
  return c;
}

TEST(ReapiTranslate, CommandOutputsBecomeRelativeToTheRoot) {
  v2::Command c = command({"cc", "-c", "a.c"});
  c.set_working_directory("pkg/sub");
  c.add_output_files("out/a.o");
  c.add_output_files("../b.o");
  c.add_output_directories("gen");
  auto* e = c.add_environment_variables();
  e->set_name("PATH");
  e->set_value("/bin");
  auto* p = c.mutable_platform()->add_properties();
  p->set_name("OSFamily");
  p->set_value("Linux");
  auto k = command_to_kiln(c, {});
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->arguments, (std::vector<std::string>{"cc", "-c", "a.c"}));
  EXPECT_EQ(k->working_directory, "pkg/sub");
  EXPECT_EQ(k->output_files, (std::vector<std::string>{"pkg/b.o", "pkg/sub/out/a.o"}));
  EXPECT_EQ(k->output_directories, (std::vector<std::string>{"pkg/sub/gen"}));
  ASSERT_EQ(k->platform.size(), 1u);
  EXPECT_EQ(k->platform[0].name, "os");
  EXPECT_EQ(k->platform[0].value, "linux");
  ASSERT_TRUE(cas::encode_command(*k).ok());
  // And back.
  EXPECT_EQ(output_path_to_reapi("pkg/sub/out/a.o", "pkg/sub"), "out/a.o");
  EXPECT_EQ(output_path_to_reapi("pkg/b.o", "pkg/sub"), "../../pkg/b.o");
  EXPECT_EQ(output_path_to_reapi("a.o", ""), "a.o");
}

TEST(ReapiTranslate, TheActionsPlatformWins) {
  v2::Command c = command({"true"});
  auto* p = c.mutable_platform()->add_properties();
  p->set_name("ISA");
  p->set_value("x86-64");
  v2::Platform action;
  auto* q = action.add_properties();
  q->set_name("pool");
  q->set_value("big");
  auto k = command_to_kiln(c, action);
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(k->platform.size(), 1u);
  EXPECT_EQ(k->platform[0].name, "pool");
  auto own = command_to_kiln(c, {});
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(own->platform[0].name, "arch");
  EXPECT_EQ(own->platform[0].value, "x86_64");
}

TEST(ReapiTranslate, CommandsKilnCannotRunAreRefused) {
  std::vector<v2::Command> bad;
  bad.push_back(command({}));
  bad.push_back(command({"true"}));
  bad.back().set_working_directory("/abs");
  bad.push_back(command({"true"}));
  bad.back().set_working_directory("../up");
  bad.push_back(command({"true"}));
  bad.back().add_output_files("../../escape");
  bad.push_back(command({"true"}));
  bad.back().add_output_files("/abs/out");
  bad.push_back(command({"true"}));
  bad.back().add_output_paths("only/paths");  // API 2.1 only
  bad.push_back(command({"true"}));
  bad.back().add_output_files("twice");
  bad.back().add_output_files("twice");
  bad.push_back(command({"true"}));
  for (int i = 0; i < 2; ++i) {
    auto* e = bad.back().add_environment_variables();
    e->set_name("X");
    e->set_value(std::to_string(i));
  }
  for (const auto& c : bad) {
    auto k = command_to_kiln(c, {});
    EXPECT_FALSE(k.ok()) << c.DebugString();
    if (!k.ok()) {
      EXPECT_EQ(k.error().code, Errc::kInvalidArgument);
    }
  }
}

TEST(ReapiTranslate, DirectoriesKeepTheirFilesAndMapChildren) {
  v2::Directory d;
  auto* f = d.add_files();
  f->set_name("a.c");
  *f->mutable_digest() = to_proto(sha("int a;"));
  f->set_is_executable(true);
  auto* sub = d.add_directories();
  sub->set_name("inc");
  *sub->mutable_digest() = to_proto(sha("reapi child"));
  auto* link = d.add_symlinks();
  link->set_name("z");
  link->set_target("a.c");
  const cas::Digest kiln_child = sha("kiln child");
  auto k = directory_to_kiln(d, [&](const cas::Digest& c) -> Result<cas::Digest> {
    EXPECT_EQ(c, sha("reapi child"));
    return kiln_child;
  });
  ASSERT_TRUE(k.ok()) << k.error().message;
  ASSERT_EQ(k->files.size(), 1u);
  EXPECT_EQ(k->files[0].digest, sha("int a;"));  // the same blob
  EXPECT_TRUE(k->files[0].executable);
  EXPECT_EQ(k->directories[0].digest, kiln_child);
  EXPECT_EQ(k->symlinks[0].target, "a.c");
  // And back, with the REAPI digest of the child.
  const v2::Directory back = directory_to_reapi(
      *k, [&](const cas::Digest&) -> Result<cas::Digest> { return sha("reapi child"); });
  EXPECT_EQ(serialize(back), serialize(d));
}

TEST(ReapiTranslate, BadDirectoriesAreRefused) {
  auto none = [](const cas::Digest& d) -> Result<cas::Digest> { return d; };
  auto file = [](v2::Directory& d, const char* name) {
    auto* f = d.add_files();
    f->set_name(name);
    *f->mutable_digest() = to_proto(sha(name));
  };
  v2::Directory unsorted;
  file(unsorted, "b");
  file(unsorted, "a");
  v2::Directory twice;
  file(twice, "a");
  file(twice, "a");
  v2::Directory dotdot;
  file(dotdot, "..");
  v2::Directory slash;
  file(slash, "a/b");
  v2::Directory absolute_link;
  auto* l = absolute_link.add_symlinks();
  l->set_name("l");
  l->set_target("/etc/passwd");
  v2::Directory bad_digest;
  auto* f = bad_digest.add_files();
  f->set_name("x");
  f->mutable_digest()->set_hash("nothex");
  for (const auto* d : {&unsorted, &twice, &dotdot, &slash, &absolute_link, &bad_digest}) {
    auto k = directory_to_kiln(*d, none);
    EXPECT_FALSE(k.ok()) << d->DebugString();
  }
}

TEST(ReapiTranslate, MetadataTimestamps) {
  cas::ExecutionMetadata m;
  m.worker_id = "w1";
  m.queued_us = 1'700'000'000'123'456;
  m.execution_start_us = 1'700'000'001'000'000;
  const auto r = metadata_to_reapi(m);
  EXPECT_EQ(r.worker(), "w1");
  EXPECT_EQ(r.queued_timestamp().seconds(), 1'700'000'000);
  EXPECT_EQ(r.queued_timestamp().nanos(), 123'456'000);
  EXPECT_EQ(r.execution_start_timestamp().seconds(), 1'700'000'001);
  EXPECT_FALSE(r.has_worker_start_timestamp());
}

TEST(ReapiTranslate, UnparseableBytesAreRefused) {
  v2::Action action;
  const Status s = parse(std::string("\xff\xff\xff", 3), action, "the Action");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("the Action"), std::string::npos);
}

}  // namespace
}  // namespace kiln::reapi
