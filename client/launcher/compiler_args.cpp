// analyze_compile(): one pass over the (expanded) arguments with a table of
// the options kiln understands. Each known option is classified as taking
// a separate value or not, and as affecting preprocessing or compilation;
// the few that decide cacheability (-c, -E, -S, -o, -save-temps, …) are
// handled by name. Anything else starting with '-' is unknown: uncacheable.
#include "client/launcher/compiler_args.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace kiln::client::launcher {
namespace {

using std::string_view;

bool starts_with(string_view s, string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Preprocessor options that take a value, either joined (-DX) or separate
// (-D X). The value is kept with its option.
constexpr std::array kPreprocessorWithValue = {
    string_view("-D"),           string_view("-U"),        string_view("-I"),
    string_view("-include"),     string_view("-isystem"),  string_view("-iquote"),
    string_view("-idirafter"),   string_view("-imacros"),  string_view("-iprefix"),
    string_view("-iwithprefix"), string_view("-isysroot"),
};
// Compiler options that take a separate value.
constexpr std::array kCompilerWithSeparateValue = {
    string_view("--param"), string_view("-arch"), string_view("-target"), string_view("--sysroot")};
// Prefixes of options that are single arguments affecting compilation.
constexpr std::array kCompilerPrefixes = {
    string_view("-O"),        string_view("-g"),        string_view("-f"),
    string_view("-m"),        string_view("-W"),        string_view("-std="),
    string_view("-pedantic"), string_view("--std="),    string_view("--sysroot="),
    string_view("-march="),   string_view("--target="), string_view("-Wa,"),
};
constexpr std::array kCompilerExact = {string_view("-w"),        string_view("-pipe"),
                                       string_view("-ansi"),     string_view("-pthread"),
                                       string_view("-nostdinc"), string_view("-nostdinc++"),
                                       string_view("-P"),        string_view("-C")};

template <std::size_t N>
bool in(const std::array<string_view, N>& table, string_view s) {
  return std::find(table.begin(), table.end(), s) != table.end();
}

std::string stem_with(const std::string& path, const char* extension) {
  const auto slash = path.rfind('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const auto dot = name.rfind('.');
  if (dot != std::string::npos && dot != 0) name.resize(dot);
  return name + extension;
}

// Options that make the compiler write or read files the cache does not
// know about (a .dwo, .gcno, .su or dump file beside the object; profile
// data or sanitizer lists read from disk): a hit could not reproduce or
// would ignore them. "" when `a` is none of these.
std::string side_effect_reason(string_view a) {
  if (a == "-gsplit-dwarf") return "-gsplit-dwarf (writes a .dwo)";
  if (a == "--coverage" || a == "-ftest-coverage") return "coverage (writes a .gcno)";
  if (a == "-fstack-usage") return "-fstack-usage (writes a .su)";
  if (starts_with(a, "-fcallgraph-info")) return "-fcallgraph-info (writes a .ci)";
  if (starts_with(a, "-fdump-") || starts_with(a, "-fopt-info")) return "compiler dumps";
  if (starts_with(a, "-fprofile-use") || starts_with(a, "-fauto-profile") ||
      starts_with(a, "-fprofile-sample-use")) {
    return "profile data input (" + std::string(a) + ")";
  }
  if (starts_with(a, "-fsanitize-blacklist=") || starts_with(a, "-fsanitize-ignorelist=") ||
      starts_with(a, "-fplugin") || starts_with(a, "-specs=") || starts_with(a, "-fmodules") ||
      starts_with(a, "-fcompare-debug")) {
    return "option reading or writing other files (" + std::string(a) + ")";
  }
  return {};
}

// Expands @file arguments in place. Nesting, files read and arguments
// produced are all bounded: a file that names another several times
// multiplies at each level, so a few hundred bytes nested 8 deep could
// otherwise ask for billions of reads and arguments.
class Expander {
 public:
  explicit Expander(const ReadFile& read_file) : read_file_(read_file) {}

  std::optional<Uncacheable> expand(std::span<const std::string> in_args, int depth,
                                    std::vector<std::string>& out) {
    for (const std::string& arg : in_args) {
      if (arg.size() > 1 && arg[0] == '@') {
        if (depth >= kMaxResponseDepth) return Uncacheable{"response files nested too deeply"};
        if (++files_read_ > kMaxResponseFiles) {
          return Uncacheable{"more than " + std::to_string(kMaxResponseFiles) + " response files"};
        }
        const auto text = read_file_(arg.substr(1));
        if (!text) return Uncacheable{"unreadable response file " + arg.substr(1)};
        const std::vector<std::string> inner = split_response_file(*text);
        if (auto bad = expand(inner, depth + 1, out)) return bad;
      } else {
        if (out.size() >= kMaxArguments) {
          return Uncacheable{"response files give more than " + std::to_string(kMaxArguments) +
                             " arguments"};
        }
        out.push_back(arg);
      }
    }
    return std::nullopt;
  }

 private:
  const ReadFile& read_file_;
  std::size_t files_read_ = 0;
};

}  // namespace

std::optional<std::string> expand_response_files(std::span<const std::string> args,
                                                 const ReadFile& read_file,
                                                 std::vector<std::string>& out) {
  if (auto bad = Expander(read_file).expand(args, 0, out)) return bad->reason;
  return std::nullopt;
}

std::vector<std::string> split_response_file(const std::string& text) {
  std::vector<std::string> args;
  std::string current;
  bool have = false;
  char quote = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      current += text[++i];
      have = true;
    } else if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        current += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (have) args.push_back(std::move(current));
      current.clear();
      have = false;
    } else {
      current += c;
      have = true;
    }
  }
  if (have) args.push_back(std::move(current));
  return args;
}

std::string language_of(const std::string& path) {
  const auto dot = path.rfind('.');
  if (dot == std::string::npos || path.find('/', dot) != std::string::npos) return {};
  const string_view ext = string_view(path).substr(dot + 1);
  if (ext == "c") return "c";
  if (ext == "cc" || ext == "cpp" || ext == "cxx" || ext == "c++" || ext == "cp" || ext == "C" ||
      ext == "CPP") {
    return "c++";
  }
  if (ext == "i") return "cpp-output";
  if (ext == "ii") return "c++-cpp-output";
  if (ext == "S" || ext == "sx") return "assembler-with-cpp";
  if (ext == "s") return "assembler";
  if (ext == "m") return "objective-c";
  if (ext == "mm" || ext == "M") return "objective-c++";
  return {};
}

std::variant<CompileArgs, Uncacheable> analyze_compile(std::span<const std::string> argv,
                                                       const ReadFile& read_file) {
  if (argv.empty()) return Uncacheable{"no compiler"};
  std::vector<std::string> args;
  if (auto bad = Expander(read_file).expand(argv.subspan(1), 0, args)) return *bad;
  // Before the loop, so that option values are covered too: an empty -o,
  // -MF or -x value is no name (GCC: "output filename may not be empty").
  if (std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.empty(); })) {
    return Uncacheable{"empty argument"};
  }

  CompileArgs out;
  out.compiler = argv[0];
  bool compile_only = false;
  std::vector<std::string> sources;
  std::string language;
  bool have_output = false;
  bool dep_file_given = false;

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const auto value = [&](std::string& into) -> bool {
      if (i + 1 >= args.size()) return false;
      into = args[++i];
      return true;
    };
    if (a[0] != '-' || a == "-") {
      if (a == "-") return Uncacheable{"source from stdin"};
      const std::string lang = language.empty() ? language_of(a) : language;
      if (lang.empty()) return Uncacheable{"not a source file: " + a + " (linking?)"};
      sources.push_back(a);
      if (out.language.empty()) out.language = lang;
      continue;
    }
    if (a == "-c") {
      compile_only = true;
    } else if (a == "-E") {
      return Uncacheable{"preprocessing only (-E)"};
    } else if (a == "-S") {
      return Uncacheable{"assembler output (-S)"};
    } else if (a == "-M" || a == "-MM") {
      return Uncacheable{"dependencies only (" + a + ")"};
    } else if (starts_with(a, "-save-temps")) {
      return Uncacheable{"-save-temps"};
    } else if (const auto side = side_effect_reason(a); !side.empty()) {
      return Uncacheable{side};
    } else if (a == "-v" || a == "--version" || a == "-###" || starts_with(a, "--help") ||
               starts_with(a, "-print-")) {
      return Uncacheable{"not a compile (" + a + ")"};
    } else if (a == "-o" || (starts_with(a, "-o") && a.size() > 2)) {
      if (a == "-o" && !value(out.output)) return Uncacheable{"-o without a file"};
      if (a != "-o") out.output = a.substr(2);
      if (out.output == "-") return Uncacheable{"output to stdout"};
      have_output = true;
    } else if (a == "-x" || (starts_with(a, "-x") && a.size() > 2)) {
      if (a == "-x" && !value(language)) return Uncacheable{"-x without a language"};
      if (a != "-x") language = a.substr(2);
      if (language == "none") language.clear();
      out.explicit_language = !language.empty();
    } else if (a == "-MD" || a == "-MMD") {
      out.generate_deps = true;
      out.deps_skip_system = out.deps_skip_system || a == "-MMD";
    } else if (a == "-MP") {
      out.deps_phony_targets = true;
    } else if (a == "-MF" || a == "-MT" || a == "-MQ") {
      std::string v;
      if (!value(v)) return Uncacheable{a + " without a value"};
      if (a == "-MF") {
        out.deps_file = v;
        dep_file_given = true;
      } else {
        out.deps_targets.push_back(DepsTarget{v, a == "-MQ"});
      }
    } else if (starts_with(a, "-MF") || starts_with(a, "-MT") || starts_with(a, "-MQ")) {
      if (starts_with(a, "-MF")) {
        out.deps_file = a.substr(3);
        dep_file_given = true;
      } else {
        out.deps_targets.push_back(DepsTarget{a.substr(3), starts_with(a, "-MQ")});
      }
    } else if (const auto it =
                   std::find_if(kPreprocessorWithValue.begin(), kPreprocessorWithValue.end(),
                                [&](string_view p) { return starts_with(a, p); });
               it != kPreprocessorWithValue.end()) {
      out.preprocessor_args.push_back(a);
      if (a.size() == it->size()) {
        std::string v;
        if (!value(v)) return Uncacheable{a + " without a value"};
        out.preprocessor_args.push_back(v);
      }
    } else if (starts_with(a, "-Wp,")) {
      out.preprocessor_args.push_back(a);
    } else if (in(kCompilerWithSeparateValue, a)) {
      std::string v;
      if (!value(v)) return Uncacheable{a + " without a value"};
      out.compiler_args.push_back(a);
      out.compiler_args.push_back(v);
    } else if (in(kCompilerExact, a) ||
               std::any_of(kCompilerPrefixes.begin(), kCompilerPrefixes.end(),
                           [&](string_view p) { return starts_with(a, p); })) {
      if (starts_with(a, "-Wl,")) return Uncacheable{"linker option " + a + " (linking?)"};
      out.compiler_args.push_back(a);
      if (starts_with(a, "-g")) out.debug = a != "-g0";
      if (a == "-fdiagnostics-color=always" || a == "-fcolor-diagnostics") out.colors_forced = true;
    } else {
      return Uncacheable{"unknown option " + a};
    }
  }

  if (!compile_only) return Uncacheable{"linking (no -c)"};
  if (sources.empty()) return Uncacheable{"no source file"};
  if (sources.size() > 1) return Uncacheable{"several source files"};
  out.source = sources.front();
  if (!have_output) out.output = stem_with(out.source, ".o");
  if (out.generate_deps && !dep_file_given) {
    const auto dot = out.output.rfind('.');
    const auto slash = out.output.rfind('/');
    const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
    out.deps_file = (has_ext ? out.output.substr(0, dot) : out.output) + ".d";
  }
  return out;
}

}  // namespace kiln::client::launcher
