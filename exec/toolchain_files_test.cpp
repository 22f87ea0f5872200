// toolchain_files: the parsers on captured text, the listing and its cache
// against this machine's compilers, and the proof that the list is
// complete: a compile in a bubblewrap sandbox that holds nothing but the
// toolchain's files, the headers the host compile read and its working
// directory gives the host's object, byte for byte.
#include "exec/toolchain_files.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "base/files.h"
#include "base/program_path.h"
#include "exec/rooted_files.h"
#include "exec/runner.h"
#include "exec/toolchain.h"
#include "tests/support/temp_dir.h"

namespace kiln::exec {
namespace {

namespace fs = std::filesystem;

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// ---- parsers -------------------------------------------------------------

TEST(ParseLoaderListing, TakesPathsAndMissingNames) {
  // ldd /usr/lib/llvm-14/bin/clang on Debian 12 (shortened), with a library
  // removed, one loaded by absolute DT_NEEDED and a path with a space.
  const LoaderListing listing = parse_loader_listing(
      "\tlinux-vdso.so.1 (0x00007ffd5b9f2000)\n"
      "\tlibclang-cpp.so.14 => /lib/x86_64-linux-gnu/libclang-cpp.so.14 (0x00007f6e39e00000)\n"
      "\tlibLLVM-14.so.1 => /lib/x86_64-linux-gnu/libLLVM-14.so.1 (0x00007f6e33400000)\n"
      "\tlibkf.so => not found\n"
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f6e33000000)\n"
      "\t/opt/odd dir/libabs.so (0x00007f6e33320000)\n"
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6e32e1e000)\n"
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f6e3d661000)\n");
  EXPECT_EQ(listing.paths, (std::vector<std::string>{
                               "/lib/x86_64-linux-gnu/libclang-cpp.so.14",
                               "/lib/x86_64-linux-gnu/libLLVM-14.so.1",
                               "/lib/x86_64-linux-gnu/libstdc++.so.6",
                               "/opt/odd dir/libabs.so",
                               "/lib/x86_64-linux-gnu/libc.so.6",
                               "/lib64/ld-linux-x86-64.so.2",
                           }));
  EXPECT_EQ(listing.missing, std::vector<std::string>{"libkf.so"});
}

TEST(ParseLoaderListing, StaticProgramsAndOldFormats) {
  EXPECT_TRUE(parse_loader_listing("\tstatically linked\n").paths.empty());
  EXPECT_TRUE(parse_loader_listing("\tnot a dynamic executable\n").paths.empty());
  EXPECT_TRUE(parse_loader_listing("").paths.empty());
  // Older glibc: "linux-vdso.so.1 =>  (0x...)", no final newline.
  const LoaderListing old = parse_loader_listing(
      "\tlinux-vdso.so.1 =>  (0x00007fff)\n\tlibc.so.6 => /lib/libc.so.6 (0x00007f00)");
  EXPECT_EQ(old.paths, std::vector<std::string>{"/lib/libc.so.6"});
  EXPECT_TRUE(old.missing.empty());
}

TEST(SelectedGccInstallation, FromClangsVerboseOutput) {
  // clang++ -v on Debian 12.
  EXPECT_EQ(selected_gcc_installation(
                "Debian clang version 14.0.6\n"
                "Target: x86_64-pc-linux-gnu\n"
                "Thread model: posix\n"
                "InstalledDir: /usr/bin\n"
                "Found candidate GCC installation: /usr/bin/../lib/gcc/x86_64-linux-gnu/12\n"
                "Selected GCC installation: /usr/bin/../lib/gcc/x86_64-linux-gnu/12\n"
                "Candidate multilib: .;@m64\n"
                "Selected multilib: .;@m64\n"),
            "/usr/bin/../lib/gcc/x86_64-linux-gnu/12");
  // GCC's own -v names no installation; nor does a Clang that found none.
  EXPECT_EQ(selected_gcc_installation("Using built-in specs.\nCOLLECT_GCC=g++\n"
                                      "Target: x86_64-linux-gnu\ngcc version 12.2.0 (Debian "
                                      "12.2.0-14)\n"),
            std::nullopt);
  EXPECT_EQ(selected_gcc_installation("clang version 17.0.0\nInstalledDir: /opt/llvm/bin\n"),
            std::nullopt);
}

// A minimal ELF image: the file header, a PT_LOAD and (with `interpreter`)
// a PT_INTERP program header, then the interpreter's name.
std::string elf_image(bool wide, bool big_endian, const std::optional<std::string>& interpreter) {
  const std::size_t header = wide ? 64 : 52;
  const std::size_t entry = wide ? 56 : 32;
  const std::size_t count = interpreter ? 2 : 1;
  std::string image(header + count * entry, '\0');
  auto put = [&](std::size_t offset, std::size_t size, std::uint64_t value) {
    for (std::size_t i = 0; i < size; ++i) {
      image[offset + (big_endian ? size - 1 - i : i)] = static_cast<char>(value >> (8 * i));
    }
  };
  image.replace(0, 4,
                "\x7f"
                "ELF");
  image[4] = wide ? 2 : 1;
  image[5] = big_endian ? 2 : 1;
  image[6] = 1;
  put(wide ? 32 : 28, wide ? 8 : 4, header);  // e_phoff
  put(wide ? 54 : 42, 2, entry);              // e_phentsize
  put(wide ? 56 : 44, 2, count);              // e_phnum
  put(header, 4, 1);                          // PT_LOAD
  if (interpreter) {
    const std::size_t at = header + entry;
    put(at, 4, 3);  // PT_INTERP
    put(at + (wide ? 8 : 4), wide ? 8 : 4, image.size());
    put(at + (wide ? 32 : 16), wide ? 8 : 4, interpreter->size() + 1);
    image += *interpreter;
    image += '\0';
  }
  return image;
}

TEST(ElfInterpreter, FromTheProgramHeaders) {
  for (const bool wide : {true, false}) {
    for (const bool big_endian : {false, true}) {
      auto found = elf_interpreter(elf_image(wide, big_endian, "/lib64/ld-linux-x86-64.so.2"));
      ASSERT_TRUE(found.ok()) << found.error().message;
      EXPECT_EQ(*found, "/lib64/ld-linux-x86-64.so.2") << wide << big_endian;
      auto none = elf_interpreter(elf_image(wide, big_endian, std::nullopt));
      ASSERT_TRUE(none.ok()) << none.error().message;
      EXPECT_EQ(*none, std::nullopt);
    }
  }
}

TEST(ElfInterpreter, RefusesWhatIsNotAWholeElfHeader) {
  for (const std::string& bad : {std::string("#!/bin/sh\necho hello\n"), std::string(),
                                 std::string("\x7f"
                                             "ELF"),
                                 elf_image(true, false, "/lib/ld.so").substr(0, 100),
                                 elf_image(true, false, "/lib/ld.so").substr(0, 180)}) {
    auto found = elf_interpreter(bad);
    ASSERT_FALSE(found.ok()) << bad.size();
    EXPECT_EQ(found.error().code, Errc::kInvalidArgument);
  }
}

TEST(SandboxPathEnv, ProgramsFoundElsewhereComeFirst) {
  EXPECT_EQ(sandbox_path_env({}), "/usr/local/bin:/usr/bin:/bin");
  EXPECT_EQ(sandbox_path_env({"/usr/bin", "/bin"}), "/usr/local/bin:/usr/bin:/bin");
  EXPECT_EQ(sandbox_path_env({"/opt/binutils/bin", "/usr/bin", "/opt/binutils/bin", "/opt/x"}),
            "/opt/binutils/bin:/opt/x:/usr/local/bin:/usr/bin:/bin");
}

// ---- this machine's compilers ------------------------------------------

TEST(ToolchainFiles, GccNamesItsProgramsAndTheirLibraries) {
  const std::string compiler = "/usr/bin/g++";
  if (!base::is_executable_file(compiler)) GTEST_SKIP() << compiler << " is not installed";
  auto files = toolchain_files(compiler);
  ASSERT_TRUE(files.ok()) << files.error().message;
  ASSERT_FALSE(files->paths.empty());
  EXPECT_EQ(files->paths.front(), compiler);
  auto has = [&](const std::string& path) {
    return std::find(files->paths.begin(), files->paths.end(), path) != files->paths.end();
  };
  for (const char* program : {"cc1plus", "as"}) {
    const DriverProgram found = driver_program(compiler, program);
    ASSERT_FALSE(found.path.empty()) << program;
    EXPECT_TRUE(has(found.path)) << found.path;
  }
  EXPECT_TRUE(std::any_of(files->paths.begin(), files->paths.end(),
                          [](const std::string& p) { return ends_with(p, "/libc.so.6"); }));
  EXPECT_FALSE(std::any_of(files->paths.begin(), files->paths.end(),
                           [](const std::string& p) { return ends_with(p, "/crtbegin.o"); }));
  for (const std::string& path : files->paths) {
    EXPECT_EQ(path.front(), '/') << path;
    EXPECT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(std::count(files->paths.begin(), files->paths.end(), path), 1) << path;
  }
  EXPECT_TRUE(ends_with(files->path_env, base::kDefaultPath)) << files->path_env;
}

TEST(ToolchainFiles, ClangNamesItsGccInstallation) {
  const std::string compiler = "/usr/bin/clang++";
  if (!base::is_executable_file(compiler)) GTEST_SKIP() << compiler << " is not installed";
  auto files = toolchain_files(compiler);
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(files->paths.front(), compiler);
  EXPECT_TRUE(std::any_of(files->paths.begin(), files->paths.end(),
                          [](const std::string& p) { return ends_with(p, "/crtbegin.o"); }));
}

TEST(ToolchainFiles, Refusals) {
  EXPECT_EQ(toolchain_files("gcc").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(toolchain_files("/nonexistent/gcc").error().code, Errc::kNotFound);
  // A wrapper script: its libraries are not the loader's to list.
  const test_support::TempDir temp("kiln-tcfiles");
  const fs::path script = temp.path() / "cc";
  std::ofstream(script) << "#!/bin/sh\nexit 1\n";
  fs::permissions(script, fs::perms::owner_all);
  auto files = toolchain_files(script.string());
  ASSERT_FALSE(files.ok());
  EXPECT_EQ(files.error().code, Errc::kInvalidArgument) << files.error().message;
}

TEST(ToolchainFiles, LibrariesAreWhereTheLoaderFindsThem) {
  // A "compiler" of our own that loads a library through RUNPATH $ORIGIN,
  // which only the loader itself knows how to follow.
  const std::string gcc = "/usr/bin/gcc";
  if (!base::is_executable_file(gcc)) GTEST_SKIP() << gcc << " is not installed";
  const test_support::TempDir temp("kiln-tcfiles");
  const fs::path root = fs::canonical(temp.path());
  fs::create_directories(root / "bin");
  fs::create_directories(root / "lib");
  std::ofstream(root / "lib.c") << "int kiln_lib(void) { return 1; }\n";
  std::ofstream(root / "main.c") << "int kiln_lib(void);\nint main(void) { return kiln_lib(); }\n";
  auto build = [&](std::vector<std::string> argv) {
    auto ran = run_command({.argv = std::move(argv), .env = {"PATH=/usr/bin:/bin"}, .cwd = root});
    ASSERT_TRUE(ran.ok()) << ran.error().message;
    ASSERT_EQ(ran->exit_code, 0) << ran->stderr_data;
  };
  build({gcc, "-shared", "-fPIC", "-o", (root / "lib/libkilnlib.so").string(), "lib.c"});
  build({gcc, "-o", (root / "bin/cc").string(), "main.c", "-Llib", "-lkilnlib",
         "-Wl,-rpath,$ORIGIN/../lib"});
  const std::string compiler = (root / "bin/cc").string();
  auto files = toolchain_files(compiler);
  ASSERT_TRUE(files.ok()) << files.error().message;
  EXPECT_EQ(files->paths.front(), compiler);
  EXPECT_TRUE(std::any_of(files->paths.begin(), files->paths.end(), [&](const std::string& p) {
    std::error_code ec;
    return fs::equivalent(p, root / "lib/libkilnlib.so", ec);
  })) << "libkilnlib.so is not listed";
  // A library the loader cannot find, with its cache or without.
  fs::remove(root / "lib/libkilnlib.so");
  auto missing = toolchain_files(compiler);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound) << missing.error().message;
  EXPECT_NE(missing.error().message.find("libkilnlib.so"), std::string::npos)
      << missing.error().message;
}

TEST(ToolchainFiles, CachedUnderTheIdentityWhileTheFilesStay) {
  const std::string compiler = "/usr/bin/gcc";
  if (!base::is_executable_file(compiler)) GTEST_SKIP() << compiler << " is not installed";
  const test_support::TempDir cache("kiln-tcfiles-cache");
  auto identity = toolchain_identity(compiler, cas::DigestFunction::kXxh3_128, {});
  ASSERT_TRUE(identity.ok()) << identity.error().message;
  auto computed = toolchain_files(compiler);
  ASSERT_TRUE(computed.ok()) << computed.error().message;

  auto first = cached_toolchain_files(compiler, *identity, cache.path());
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, *computed);
  std::vector<fs::path> written;
  for (const auto& entry : fs::directory_iterator(cache.path())) written.push_back(entry.path());
  ASSERT_EQ(written.size(), 1u);
  const fs::path file = written.front();
  EXPECT_EQ(file.filename().string().rfind(identity->hex() + ".", 0), 0u) << file;
  EXPECT_TRUE(ends_with(file.string(), ".files")) << file;
  const std::string text = base::read_file(file.string()).value();

  // The cached answer is the one returned (an edit shows through)...
  auto edit = [](std::string edited, const std::string& from, const std::string& to) {
    const auto at = edited.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) edited.replace(at, from.size(), to);
    return edited;
  };
  const std::string edited = edit(text, "\npath ", "\npath /cached:");
  std::ofstream(file, std::ios::trunc) << edited;
  auto cached = cached_toolchain_files(compiler, *identity, cache.path());
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->path_env, "/cached:" + computed->path_env);
  EXPECT_EQ(cached->paths, computed->paths);
  // ...until a file it lists is no longer the one it was (another device
  // number here), or the text is cut short or garbage: then it is computed
  // and written again.
  for (const std::string& broken :
       {edit(edited, "\nfile ", "\nfile 9"), edited.substr(0, edited.size() - 4),
        std::string("garbage"), std::string()}) {
    std::ofstream(file, std::ios::trunc) << broken;
    auto again = cached_toolchain_files(compiler, *identity, cache.path());
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(*again, *computed);
    EXPECT_EQ(base::read_file(file.string()).value(), text);
  }
  // Another name of the same bytes has its own entry.
  const fs::path other = fs::path(cache.path()) / "cc";
  fs::create_symlink(compiler, other);
  auto renamed = cached_toolchain_files(other.string(), *identity, cache.path());
  ASSERT_TRUE(renamed.ok()) << renamed.error().message;
  EXPECT_EQ(renamed->paths.front(), other.string());
  EXPECT_EQ(cached_toolchain_files(compiler, *identity, cache.path())->paths.front(), compiler);
}

// ---- the proof: a compile that sees nothing else -------------------------

// The prerequisites of the first rule of a make dependency file as GCC and
// Clang write it with -MD.
std::vector<std::string> make_prerequisites(const std::string& text) {
  std::vector<std::string> found;
  std::string word;
  bool after_colon = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;  // a continued line
    } else if (c == '\\' && i + 1 < text.size() && text[i + 1] == ' ') {
      word += ' ';
      ++i;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (after_colon && !word.empty()) found.push_back(word);
      word.clear();
      if (c == '\n' && after_colon) break;
    } else if (c == ':' && !after_colon &&
               (i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n')) {
      after_colon = true;
      word.clear();
    } else {
      word += c;
    }
  }
  if (after_colon && !word.empty()) found.push_back(word);
  return found;
}

class ToolchainSandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bwrap = base::find_program("bwrap");
    if (!bwrap) GTEST_SKIP() << "bwrap is not installed";
    bwrap_ = *bwrap;
    fs::create_directories(root_ / "headers");
    fs::create_directories(root_ / "headers2");
    fs::create_directories(src_);
    fs::create_directories(out_);
    std::ofstream(root_ / "headers/local.h")
        << "static inline int local_value(void) { return 42; }\n";
    std::ofstream(root_ / "headers/abs_target.h") << "#define ABS_VALUE 3\n";
    std::ofstream(root_ / "headers2/other.h") << "#define OTHER 7\n";
    fs::create_directory_symlink("../headers", src_ / "inc");
    fs::create_symlink(root_ / "headers/abs_target.h", src_ / "abs.h");
  }

  // The compile of src/`name` with `compiler`, writing out/`stem`.o and .d.
  std::vector<std::string> command(const std::string& stem) const {
    return {compiler_,
            "-g",
            "-O0",
            "-I" + (src_ / "../headers2").string(),
            "-c",
            (src_ / name_).string(),
            "-o",
            (out_ / (stem + ".o")).string(),
            "-MD",
            "-MF",
            (out_ / (stem + ".d")).string()};
  }

  // Writes src/`name` (the local headers, then `source`), lists the
  // toolchain's files and compiles it here into out/host.o. Skips when the
  // compiler is not installed.
  void compile_here(const std::string& compiler, const std::string& name,
                    const std::string& source) {
    if (!base::is_executable_file(compiler)) GTEST_SKIP() << compiler << " is not installed";
    compiler_ = compiler;
    name_ = name;
    // The local headers: through a relative directory link, through -I
    // with "..", through an absolute file link.
    std::string text;
    for (const char* header : {"inc/local.h", "other.h", "abs.h"}) {
      text += std::string("#include \"") + header + "\"\n";
    }
    std::ofstream(src_ / name) << text << source;
    auto toolchain = toolchain_files(compiler);
    ASSERT_TRUE(toolchain.ok()) << toolchain.error().message;
    toolchain_ = *std::move(toolchain);
    env_ = {"PATH=" + toolchain_.path_env, "LC_ALL=C"};
    auto host = run_command(
        {.argv = command("host"), .env = env_, .cwd = src_, .timeout = std::chrono::seconds(120)});
    ASSERT_TRUE(host.ok()) << host.error().message;
    ASSERT_EQ(host->exit_code, 0) << host->stderr_data;
    deps_ = make_prerequisites(base::read_file((out_ / "host.d").string()).value());
    ASSERT_GT(deps_.size(), 3u);
  }

  // The same compile in a sandbox whose only mounts besides /dev, /proc,
  // /tmp and the output directory are the rooted files of the toolchain
  // (but `left_out`), the host compile's dependencies and the working
  // directory; it writes out/sandbox.o and .d.
  RunOutcome compile_in_sandbox(const std::string& left_out = {}) {
    RootedFiles files;
    for (const std::string& path : toolchain_.paths) {
      if (path == left_out) continue;
      const Status added = files.add_file(path);
      EXPECT_TRUE(added.ok()) << added.error().message;
    }
    for (const std::string& dep : deps_) {
      const Status added = files.add_file(dep.front() == '/' ? dep : (src_ / dep).string());
      EXPECT_TRUE(added.ok()) << added.error().message;
    }
    EXPECT_TRUE(files.add_directory(src_.string()).ok());
    std::vector<std::string> argv = {bwrap_,   "--unshare-all", "--dev",   "/dev",
                                     "--proc", "/proc",         "--tmpfs", "/tmp"};
    for (const RootedEntry& entry : files.entries()) {
      switch (entry.kind) {
        case RootedEntry::Kind::kFile:
          argv.insert(argv.end(), {"--ro-bind", entry.path, entry.path});
          break;
        case RootedEntry::Kind::kSymlink:
          argv.insert(argv.end(), {"--symlink", entry.target, entry.path});
          break;
        case RootedEntry::Kind::kDirectory:
          argv.insert(argv.end(), {"--dir", entry.path});
          break;
      }
    }
    argv.insert(argv.end(), {"--bind", out_.string(), out_.string(), "--chdir", src_.string()});
    const auto sandboxed = command("sandbox");
    argv.insert(argv.end(), sandboxed.begin(), sandboxed.end());
    auto ran =
        run_command({.argv = argv, .env = env_, .cwd = "/", .timeout = std::chrono::seconds(120)});
    if (ran.ok()) return *std::move(ran);
    ADD_FAILURE() << ran.error().message;
    RunOutcome failed;
    failed.exit_code = -1;
    return failed;
  }

  // The sandbox's compile succeeds, with the host's object and dependencies.
  void expect_same_object_in_sandbox() {
    const RunOutcome sandbox = compile_in_sandbox();
    ASSERT_EQ(sandbox.exit_code, 0) << sandbox.stderr_data;
    const std::string host_object = base::read_file((out_ / "host.o").string()).value();
    const std::string sandbox_object = base::read_file((out_ / "sandbox.o").string()).value();
    EXPECT_GT(host_object.size(), 1000u);
    EXPECT_TRUE(host_object == sandbox_object)
        << "the objects differ: " << host_object.size() << " bytes here, " << sandbox_object.size()
        << " in the sandbox";
    EXPECT_EQ(make_prerequisites(base::read_file((out_ / "sandbox.d").string()).value()), deps_);
  }

  // The toolchain file ending in `suffix`.
  std::string toolchain_file(std::string_view suffix) const {
    for (const std::string& path : toolchain_.paths) {
      if (ends_with(path, suffix)) return path;
    }
    ADD_FAILURE() << "no toolchain file ends in " << suffix;
    return {};
  }

  const test_support::TempDir temp_{"kiln-tcsandbox"};
  const fs::path root_ = fs::canonical(temp_.path());
  const fs::path src_ = root_ / "src";
  const fs::path out_ = root_ / "out";
  std::string bwrap_;
  std::string compiler_;
  std::string name_;
  ToolchainFiles toolchain_;
  std::vector<std::string> env_;
  std::vector<std::string> deps_;
};

constexpr std::string_view kCxxSource = R"(#include <iostream>
#include <map>
#include <string>
#include <vector>

int main() {
  std::map<std::string, std::vector<int>> values;
  values["a"].push_back(local_value() + OTHER + ABS_VALUE);
  for (const auto& [name, list] : values) std::cout << name << " " << list.size() << "\n";
  return 0;
}
)";

constexpr std::string_view kCSource = R"(#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  const char* name = "kiln";
  printf("%s %zu %f\n", name, strlen(name), sqrt((double)(local_value() + OTHER + ABS_VALUE)));
  return 0;
}
)";

TEST_F(ToolchainSandbox, GxxObjectIsByteIdentical) {
  compile_here("/usr/bin/g++", "hello.cc", std::string(kCxxSource));
  if (IsSkipped() || HasFatalFailure()) return;
  expect_same_object_in_sandbox();
  // The sandbox shows nothing else: without the assembler the driver
  // cannot finish.
  EXPECT_NE(compile_in_sandbox(driver_program(compiler_, "as").path).exit_code, 0);
}

TEST_F(ToolchainSandbox, ClangxxObjectIsByteIdentical) {
  compile_here("/usr/bin/clang++", "hello.cc", std::string(kCxxSource));
  if (IsSkipped() || HasFatalFailure()) return;
  expect_same_object_in_sandbox();
  // Without its GCC installation's crtbegin.o, Clang finds no libstdc++.
  const RunOutcome without = compile_in_sandbox(toolchain_file("/crtbegin.o"));
  EXPECT_NE(without.exit_code, 0);
  EXPECT_NE(without.stderr_data.find("'iostream' file not found"), std::string::npos)
      << without.stderr_data;
}

TEST_F(ToolchainSandbox, GccCObjectIsByteIdentical) {
  compile_here("/usr/bin/gcc", "hello.c", std::string(kCSource));
  if (IsSkipped() || HasFatalFailure()) return;
  expect_same_object_in_sandbox();
  // Nor without a library of the compiler proper.
  EXPECT_NE(compile_in_sandbox(toolchain_file("/libmpfr.so.6")).exit_code, 0);
}

}  // namespace
}  // namespace kiln::exec
