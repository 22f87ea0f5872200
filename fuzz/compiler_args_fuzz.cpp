// libFuzzer harness for the launcher's command-line analysis
// (client/launcher/compiler_args.h, link_args.h). The input is a command
// line and the response files it may name:
//
//   ARG \0 ARG \0 … \0 \1 \0 NAME \0 TEXT \0 NAME \0 TEXT …
//
// argv (argv[0] the compiler; empty arguments too) up to the first field
// that is the one byte \1, then pairs of a response file's name and
// contents; "@NAME" reads them, any other name is unreadable.
//
// Beyond "no crash", it checks:
//   - bounded work: an expansion reads at most kMaxResponseFiles response
//     files (a file naming another a few times multiplies at each level);
//   - a cacheable compile names a compiler, one source, an output and a
//     language, and a dependency file whenever it generates one;
//   - round trip: the command line rebuilt from a CompileArgs (-x, the
//     preprocessor and compiler options in order, -c, -o, the dependency
//     options, the source; values joined to their options) analyzes to
//     the same CompileArgs; the same for a LinkArgs (its arguments and -o)
//     through analyze_link();
//   - response-file text: split_response_file() of the text with every
//     argument re-quoted (each byte backslash-escaped, '' for an empty one)
//     gives back the same arguments.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "client/launcher/compiler_args.h"
#include "client/launcher/link_args.h"
#include "fuzz/invariant.h"

namespace kiln::client::launcher {
namespace {

using Args = std::vector<std::string>;
using fuzz::require;

struct CommandInput {
  Args argv;
  std::map<std::string, std::string> files;
};

CommandInput parse(std::string_view data) {
  CommandInput in;
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (start <= data.size()) {
    std::size_t nul = data.find('\0', start);
    if (nul == std::string_view::npos) nul = data.size();
    fields.emplace_back(data.substr(start, nul - start));
    start = nul + 1;
  }
  std::size_t i = 0;
  for (; i < fields.size() && fields[i] != "\1"; ++i) in.argv.push_back(fields[i]);
  for (++i; i + 1 < fields.size(); i += 2) in.files.emplace(fields[i], fields[i + 1]);
  return in;
}

bool same(const CompileArgs& a, const CompileArgs& b) {
  return a.compiler == b.compiler && a.source == b.source && a.output == b.output &&
         a.language == b.language && a.explicit_language == b.explicit_language &&
         a.preprocessor_args == b.preprocessor_args && a.compiler_args == b.compiler_args &&
         a.generate_deps == b.generate_deps && a.deps_skip_system == b.deps_skip_system &&
         a.deps_phony_targets == b.deps_phony_targets && a.deps_file == b.deps_file &&
         a.deps_targets == b.deps_targets && a.debug == b.debug &&
         a.colors_forced == b.colors_forced;
}

// An option with its value. Joined ("-MFdeps.d", "-xc++"), since a
// separate value starting with '@' would be read as a response file (GCC
// reads it so too); separate when the value is empty.
void add_option(Args& argv, const std::string& option, const std::string& value) {
  if (value.empty()) {
    argv.insert(argv.end(), {option, value});
  } else {
    argv.push_back(option + value);
  }
}

Args rebuild(const CompileArgs& c) {
  Args argv = {c.compiler};
  if (c.explicit_language) add_option(argv, "-x", c.language);
  argv.insert(argv.end(), c.preprocessor_args.begin(), c.preprocessor_args.end());
  argv.insert(argv.end(), c.compiler_args.begin(), c.compiler_args.end());
  argv.push_back("-c");
  add_option(argv, "-o", c.output);
  if (c.generate_deps) argv.push_back(c.deps_skip_system ? "-MMD" : "-MD");
  if (c.deps_phony_targets) argv.push_back("-MP");
  if (!c.deps_file.empty()) add_option(argv, "-MF", c.deps_file);
  for (const DepsTarget& t : c.deps_targets) add_option(argv, t.quote ? "-MQ" : "-MT", t.name);
  argv.push_back(c.source);
  return argv;
}

void check_compile(const CompileArgs& c, const Args& argv) {
  require(c.compiler == argv.front(), "the compiler is argv[0]");
  require(!c.source.empty() && c.source != "-", "a cacheable compile has a source file");
  require(!c.output.empty() && c.output != "-", "a cacheable compile has an output file");
  require(!c.language.empty(), "a cacheable compile knows its language");
  require(!c.generate_deps || !c.deps_file.empty(), "generated dependencies have a file");
  const ReadFile no_files = [](const std::string&) { return std::optional<std::string>(); };
  const auto again = analyze_compile(rebuild(c), no_files);
  require(std::holds_alternative<CompileArgs>(again), "a rebuilt compile is cacheable");
  require(same(std::get<CompileArgs>(again), c), "a rebuilt compile means the same");
}

void check_link(const LinkArgs& l) {
  require(!l.output.empty() && l.output != "-", "a cacheable link has an output file");
  Args argv = {l.compiler};
  argv.insert(argv.end(), l.args.begin(), l.args.end());
  argv.insert(argv.end(), {"-o", l.output});
  const ReadFile no_files = [](const std::string&) { return std::optional<std::string>(); };
  const auto again = analyze_link(argv, no_files);
  require(std::holds_alternative<LinkArgs>(again), "a rebuilt link is cacheable");
  const LinkArgs& back = std::get<LinkArgs>(again);
  require(back.compiler == l.compiler && back.output == l.output && back.args == l.args,
          "a rebuilt link means the same");
}

void check_split(const std::string& text) {
  const Args args = split_response_file(text);
  std::string quoted;
  for (const std::string& arg : args) {
    if (arg.empty()) quoted += "''";
    for (const char c : arg) {
      quoted += '\\';
      quoted += c;
    }
    quoted += ' ';
  }
  require(split_response_file(quoted) == args, "re-quoted arguments split the same");
}

void run(std::string_view data) {
  const CommandInput in = parse(data);
  std::size_t reads = 0;
  const ReadFile read_file = [&in, &reads](const std::string& path) -> std::optional<std::string> {
    ++reads;
    const auto it = in.files.find(path);
    if (it == in.files.end()) return std::nullopt;
    return it->second;
  };
  for (const auto& [name, text] : in.files) check_split(text);
  if (in.argv.empty()) return;

  const auto command = analyze_command(in.argv, read_file);
  // analyze_command() analyzes as a compile, then as a link: two expansions.
  require(reads <= 2 * kMaxResponseFiles, "at most kMaxResponseFiles reads per expansion");
  if (const auto* c = std::get_if<CompileArgs>(&command)) {
    check_compile(*c, in.argv);
  } else if (const auto* l = std::get_if<LinkArgs>(&command)) {
    check_link(*l);
  } else {
    require(!std::get<Uncacheable>(command).reason.empty(), "uncacheable says why");
  }
}

}  // namespace
}  // namespace kiln::client::launcher

// libFuzzer's entry point, named by libFuzzer.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::client::launcher::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
