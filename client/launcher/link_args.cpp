// analyze_link(): see link_args.h.
#include "client/launcher/link_args.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "client/launcher/outcome.h"

namespace kiln::client::launcher {
namespace {

using std::string_view;

bool starts_with(string_view s, string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Driver options that take a separate value.
constexpr std::array kWithValue = {string_view("-L"), string_view("-l"), string_view("-Xlinker"),
                                   string_view("--sysroot")};
// Single-argument options a link may carry (CMake passes the compile flags
// too: -O3, -DNDEBUG, -std=…).
constexpr std::array kPrefixes = {string_view("-L"),
                                  string_view("-l"),
                                  string_view("-O"),
                                  string_view("-g"),
                                  string_view("-f"),
                                  string_view("-m"),
                                  string_view("-W"),
                                  string_view("-std="),
                                  string_view("-D"),
                                  string_view("-U"),
                                  string_view("-I"),
                                  string_view("--sysroot="),
                                  string_view("-static"),
                                  string_view("-nostdlib"),
                                  string_view("-nodefaultlibs"),
                                  string_view("-nostartfiles"),
                                  string_view("-shared"),
                                  string_view("-rdynamic"),
                                  string_view("-pie"),
                                  string_view("-no-pie"),
                                  string_view("-pthread"),
                                  string_view("-s"),
                                  string_view("-w"),
                                  string_view("-pedantic")};
// Linker options (after -Wl, or -Xlinker) that make it write a file.
constexpr std::array kLinkerWrites = {
    string_view("-Map"),         string_view("--Map"),
    string_view("-M"),           string_view("--print-map"),
    string_view("--out-implib"), string_view("--dependency-file"),
    string_view("--trace"),      string_view("-t"),
    string_view("--cref"),       string_view("--print-gc-sections")};

std::optional<std::string> linker_option_problem(string_view option) {
  for (string_view bad : kLinkerWrites) {
    if (option == bad || (starts_with(option, bad) && option.size() > bad.size() &&
                          (option[bad.size()] == '=' || option[bad.size()] == ','))) {
      return "linker writes another file (" + std::string(option) + ")";
    }
  }
  return std::nullopt;
}

}  // namespace

std::variant<LinkArgs, Uncacheable> analyze_link(std::span<const std::string> argv,
                                                 const ReadFile& read_file) {
  if (argv.empty()) return Uncacheable{"no compiler"};
  LinkArgs out;
  out.compiler = argv[0];
  std::vector<std::string> args;
  if (auto bad = expand_response_files(argv.subspan(1), read_file, args)) return Uncacheable{*bad};
  bool inputs = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.empty()) return Uncacheable{"empty argument"};
    if (a == "-o") {
      if (i + 1 >= args.size()) return Uncacheable{"-o without a file"};
      out.output = args[++i];
      if (out.output == "-") return Uncacheable{"output to stdout"};
      continue;
    }
    if (a[0] != '-') {
      if (!language_of(a).empty()) return Uncacheable{"compile and link in one command"};
      inputs = true;
      out.args.push_back(a);
      continue;
    }
    if (a == "-c" || a == "-E" || a == "-S" || a == "-M" || a == "-MM") {
      return Uncacheable{"not a link (" + a + ")"};
    }
    if (starts_with(a, "-save-temps") || starts_with(a, "-specs=") || starts_with(a, "-B") ||
        starts_with(a, "-fplugin") || starts_with(a, "-flto") || a == "-v" || a == "-###" ||
        starts_with(a, "--help") || starts_with(a, "-print-") || a == "--version") {
      return Uncacheable{"link option " + a};
    }
    if (starts_with(a, "-Wl,")) {
      std::size_t start = 4;
      while (start <= a.size()) {
        std::size_t comma = a.find(',', start);
        if (comma == std::string::npos) comma = a.size();
        if (auto problem = linker_option_problem(string_view(a).substr(start, comma - start))) {
          return Uncacheable{*problem};
        }
        start = comma + 1;
      }
      out.args.push_back(a);
      continue;
    }
    if (std::find(kWithValue.begin(), kWithValue.end(), a) != kWithValue.end()) {
      if (i + 1 >= args.size()) return Uncacheable{a + " without a value"};
      if (a == "-Xlinker") {
        if (auto problem = linker_option_problem(args[i + 1])) return Uncacheable{*problem};
      }
      out.args.push_back(a);
      out.args.push_back(args[++i]);
      continue;
    }
    if (std::any_of(kPrefixes.begin(), kPrefixes.end(),
                    [&](string_view p) { return starts_with(a, p); })) {
      if (starts_with(a, "-fprofile-use") || starts_with(a, "-fauto-profile")) {
        return Uncacheable{"profile data input (" + a + ")"};
      }
      out.args.push_back(a);
      continue;
    }
    return Uncacheable{"unknown link option " + a};
  }
  if (out.output.empty()) return Uncacheable{"link without -o"};
  if (!inputs) return Uncacheable{"link without inputs"};
  return out;
}

std::variant<CompileArgs, LinkArgs, Uncacheable> analyze_command(std::span<const std::string> argv,
                                                                 const ReadFile& read_file) {
  auto compile = analyze_compile(argv, read_file);
  if (auto* args = std::get_if<CompileArgs>(&compile)) return std::move(*args);
  Uncacheable why = std::get<Uncacheable>(std::move(compile));
  auto link = analyze_link(argv, read_file);
  if (auto* args = std::get_if<LinkArgs>(&link)) return std::move(*args);
  if (stats_category(why.reason) == "linking") {
    why.reason = "linking (" + std::get<Uncacheable>(link).reason + ")";
  }
  return why;
}

}  // namespace kiln::client::launcher
