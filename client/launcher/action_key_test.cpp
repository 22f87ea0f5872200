// The preprocessed action and the link key, byte for byte. The pinned
// digests are those of kiln's existing caches and grid results: if one of
// these tests fails, every cached object would stop hitting.
#include "client/launcher/action_key.h"

#include <gtest/gtest.h>

#include <span>
#include <variant>

namespace kiln::client::launcher {
namespace {

using cas::DigestFunction;

CompileArgs parse(std::vector<std::string> argv) {
  auto result = analyze_compile(argv, [](const std::string&) { return std::nullopt; });
  return std::get<CompileArgs>(result);
}

cas::Digest digest(std::string_view text, DigestFunction fn = DigestFunction::kXxh3_128) {
  return cas::digest_of(fn, text);
}

const std::map<std::string, std::string> kEnvironment = {
    {"PATH", "/home/u/bin:/usr/bin"}, {"HOME", "/home/u"},
    {"CPATH", "/opt/include"},        {"LANG", "C.UTF-8"},
    {"SOURCE_DATE_EPOCH", "1"},       {"LIBRARY_PATH", "/opt/lib"}};

PreprocessedActionInput input_for(const CompileArgs& args,
                                  DigestFunction fn = DigestFunction::kXxh3_128) {
  PreprocessedActionInput input;
  input.compiler = "/usr/bin/g++";
  input.toolchain_property = "toolchain:/usr/bin/g++";
  input.identity = digest("the identity of g++");
  input.args = &args;
  input.environment = &kEnvironment;
  input.preprocessed = digest("int x;\n", fn);
  input.fn = fn;
  return input;
}

cas::Command decode(const std::string& encoded) {
  auto command = cas::decode_command(std::as_bytes(std::span(encoded.data(), encoded.size())));
  EXPECT_TRUE(command.ok());
  return command.ok() ? *command : cas::Command{};
}

TEST(PreprocessedLanguage, EachSourceLanguageHasOne) {
  EXPECT_EQ(preprocessed_language("c"), "cpp-output");
  EXPECT_EQ(preprocessed_language("c++"), "c++-cpp-output");
  EXPECT_EQ(preprocessed_language("objective-c"), "objective-c-cpp-output");
  EXPECT_EQ(preprocessed_language("objective-c++"), "objective-c++-cpp-output");
  EXPECT_EQ(preprocessed_language("assembler-with-cpp"), "assembler");
  EXPECT_EQ(preprocessed_language("c++-cpp-output"), "c++-cpp-output");
  for (const char* language : {"c", "c++", "objective-c", "objective-c++", "assembler-with-cpp"}) {
    EXPECT_FALSE(is_preprocessed(language)) << language;
    EXPECT_TRUE(is_preprocessed(preprocessed_language(language))) << language;
  }
  EXPECT_EQ(preprocessed_input_name("cpp-output"), "in.i");
  EXPECT_EQ(preprocessed_input_name("assembler"), "in.s");
  EXPECT_EQ(preprocessed_input_name("c++-cpp-output"), "in.ii");
  EXPECT_EQ(preprocessed_input_name("objective-c-cpp-output"), "in.ii");
}

TEST(PreprocessedAction, TheCommandCompilesThePreprocessedFileOnTheSameToolchain) {
  const CompileArgs args =
      parse({"g++", "-O2", "-DNDEBUG", "-Iinclude", "-Wall", "-c", "src/a.cc", "-o", "a.o"});
  auto action = preprocessed_action(input_for(args));
  ASSERT_TRUE(action.ok()) << action.error().message;
  EXPECT_EQ(action->input_name, "in.ii");
  cas::Command want;
  // Preprocessor options stay here: the text is already preprocessed.
  want.arguments = {"/usr/bin/g++", "-O2",   "-Wall", "-x",   "c++-cpp-output",
                    "-c",           "in.ii", "-o",    "out.o"};
  // A fixed PATH, and only the variables that change a compile, by name.
  want.environment = {{"CPATH", "/opt/include"},
                      {"LANG", "C.UTF-8"},
                      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
                      {"SOURCE_DATE_EPOCH", "1"}};
  want.output_files = {"out.o"};
  want.platform = {{"toolchain:/usr/bin/g++", digest("the identity of g++").to_string()}};
  EXPECT_EQ(decode(action->encoded_command), want);

  auto root = cas::decode_directory(std::as_bytes(std::span(action->encoded_input_root.data(),
                                                            action->encoded_input_root.size())),
                                    DigestFunction::kXxh3_128);
  ASSERT_TRUE(root.ok());
  ASSERT_EQ(root->files.size(), 1u);
  EXPECT_EQ(root->files[0], (cas::FileNode{"in.ii", digest("int x;\n"), false}));
  EXPECT_EQ(action->action.command_digest, digest(action->encoded_command));
  EXPECT_EQ(action->action.input_root_digest, digest(action->encoded_input_root));
  EXPECT_EQ(action->digest, digest(action->encoded_action));
}

// The digests kiln 1ec49e3 computed inline in launcher.cpp for these inputs.
TEST(PreprocessedAction, DigestsArePinned) {
  const CompileArgs cxx =
      parse({"g++", "-O2", "-DNDEBUG", "-Iinclude", "-Wall", "-c", "src/a.cc", "-o", "a.o"});
  const CompileArgs c = parse({"gcc", "-std=c99", "-c", "a.c"});
  const CompileArgs asm_source = parse({"gcc", "-c", "start.S"});
  auto a = preprocessed_action(input_for(cxx));
  auto b = preprocessed_action(input_for(c));
  auto d = preprocessed_action(input_for(asm_source));
  auto e = preprocessed_action(input_for(cxx, DigestFunction::kSha256));
  ASSERT_TRUE(a.ok() && b.ok() && d.ok());
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(b->input_name, "in.i");
  EXPECT_EQ(d->input_name, "in.s");
  EXPECT_EQ(a->digest.to_string(), "da13dcf01a1768ed3f889570c6ec1e4c/88");
  EXPECT_EQ(b->digest.to_string(), "3a14c25e07930fbf6c6b4fdea1786898/88");
  EXPECT_EQ(d->digest.to_string(), "cd3e9c9f7a49d92e952773213956b54f/88");
  EXPECT_EQ(e->digest.to_string(),
            "b6cc39d188dc402c24a991014aa8aa9ab1e2400d6a48d56c9f87511f60a177e3/128");
}

TEST(PreprocessedAction, EveryInputChangesTheKey) {
  const CompileArgs args = parse({"g++", "-O2", "-c", "a.cc"});
  const cas::Digest base = preprocessed_action(input_for(args))->digest;
  auto changed = [&](auto&& edit) {
    PreprocessedActionInput input = input_for(args);
    edit(input);
    return preprocessed_action(input)->digest;
  };
  EXPECT_NE(changed([](auto& i) { i.compiler = "/usr/local/bin/g++"; }), base);
  EXPECT_NE(changed([](auto& i) { i.identity = digest("another g++"); }), base);
  EXPECT_NE(changed([](auto& i) { i.preprocessed = digest("int y;\n"); }), base);
  const std::map<std::string, std::string> other_lang = {{"LANG", "de_DE.UTF-8"}};
  EXPECT_NE(changed([&](auto& i) { i.environment = &other_lang; }), base);
  const CompileArgs o3 = parse({"g++", "-O3", "-c", "a.cc"});
  EXPECT_NE(changed([&](auto& i) { i.args = &o3; }), base);
  // What the preprocessor already used, and the client's own PATH and HOME,
  // do not.
  const CompileArgs defines = parse({"g++", "-O2", "-DX=1", "-Ifoo", "-c", "a.cc", "-o", "x.o"});
  EXPECT_EQ(changed([&](auto& i) { i.args = &defines; }), base);
  const std::map<std::string, std::string> same = {{"PATH", "/bin"},
                                                   {"HOME", "/root"},
                                                   {"CPATH", "/opt/include"},
                                                   {"LANG", "C.UTF-8"},
                                                   {"SOURCE_DATE_EPOCH", "1"}};
  EXPECT_EQ(changed([&](auto& i) { i.environment = &same; }), base);
}

TEST(PreprocessedAction, AValueThatCannotBeEncodedIsAnError) {
  const CompileArgs args = parse({"g++", "-c", "a.cc"});
  PreprocessedActionInput input = input_for(args);
  const std::map<std::string, std::string> nul = {{"LANG", std::string("C\0x", 3)}};
  input.environment = &nul;
  EXPECT_FALSE(preprocessed_action(input).ok());
  input = input_for(args);
  input.preprocessed = digest("int x;\n", DigestFunction::kSha256);  // another function
  EXPECT_FALSE(preprocessed_action(input).ok());
}

TEST(LinkKey, MaterialIsPinned) {
  auto analyzed =
      analyze_link(std::vector<std::string>{"/usr/bin/c++", "-O3", "CMakeFiles/t.dir/t.cc.o", "-o",
                                            "t", "/w/a/lib/libx.a", "-L/w/a/lib", "-lfoo"},
                   [](const std::string&) { return std::nullopt; });
  const LinkArgs& link = std::get<LinkArgs>(analyzed);
  LinkKeyInput input;
  input.identity = digest("the identity of c++");
  input.link = &link;
  input.rewrite = PathRewrite{"/w/a", "/w/a/build"};
  input.environment = &kEnvironment;
  EXPECT_EQ(link_key_material(input), "kiln-link-v1\n" + digest("the identity of c++").to_string() +
                                          "\n"
                                          "-O3\n"
                                          "CMakeFiles/t.dir/t.cc.o\n"
                                          "../lib/libx.a\n"
                                          "-L/w/a/lib\n"  // -L is not rewritten
                                          "-lfoo\n"
                                          "CPATH=/opt/include\n"
                                          "SOURCE_DATE_EPOCH=1\n"
                                          "LANG=C.UTF-8\n"
                                          "LIBRARY_PATH=/opt/lib\n");
  input.environment = nullptr;
  EXPECT_EQ(link_key_material(input), "kiln-link-v1\n" + digest("the identity of c++").to_string() +
                                          "\n-O3\nCMakeFiles/t.dir/t.cc.o\n../lib/libx.a\n"
                                          "-L/w/a/lib\n-lfoo\n");
}

}  // namespace
}  // namespace kiln::client::launcher
