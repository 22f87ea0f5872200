// Compiler argument analysis for the compiler launcher (`kiln g++ -c …`):
// decides whether a GCC/Clang command line is one compile kiln can cache,
// and if so splits it into the parts the cache key needs.
//
// Pure: no files are read here except through the injected ReadFile (used
// for @response files), so every rule is unit-tested on strings.
//
// Cacheable means exactly: one source file, compiled to an object with -c,
// output to a file, only options kiln knows. Everything else is reported as
// Uncacheable with a short reason ("linking", "preprocessing only (-E)",
// "several source files", "output to stdout", "-save-temps", "unknown
// option -foo", "empty argument"), and the launcher runs the real compiler
// unchanged. An unknown option is never guessed at: a flag kiln does not
// know might change the output in a way the key would miss.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace kiln::client::launcher {

// A dependency-file target: -MT NAME (as is) or -MQ NAME (Make-quoted).
struct DepsTarget {
  std::string name;
  bool quote = false;
  bool operator==(const DepsTarget&) const = default;
};

struct CompileArgs {
  std::string compiler;  // argv[0] as given
  std::string source;
  std::string output;  // -o, or the source's stem + ".o"
  std::string
      language;  // -x value, or from the source's extension: "c", "c++", "assembler-with-cpp", …
  bool explicit_language = false;  // -x was given (it must be kept before the source)
  // Options that affect preprocessing (-D, -U, -I, -include, -isystem, …),
  // each with its value in the same element order as on the command line.
  std::vector<std::string> preprocessor_args;
  // Everything else that reaches the compiler proper (-O2, -g, -std=…, -f…,
  // -W…, -m…), in order.
  std::vector<std::string> compiler_args;
  // Dependency-file generation (-MD / -MMD), as the launcher must reproduce
  // it on a hit.
  bool generate_deps = false;
  bool deps_skip_system = false;         // -MMD
  bool deps_phony_targets = false;       // -MP
  std::string deps_file;                 // -MF, or output with .d
  std::vector<DepsTarget> deps_targets;  // in order; empty: the output file
  bool debug = false;                    // any -g other than -g0
  bool colors_forced = false;            // -fdiagnostics-color=always
};

struct Uncacheable {
  std::string reason;
};

// Reads a response file's contents; nullopt if it cannot be read.
using ReadFile = std::function<std::optional<std::string>(const std::string& path)>;

// Limits of @file expansion: nesting depth, response files read and
// arguments in all (the command line's own included). Past any of them a
// command is Uncacheable and the real compiler gets it unchanged.
inline constexpr int kMaxResponseDepth = 8;
inline constexpr std::size_t kMaxResponseFiles = 1000;
inline constexpr std::size_t kMaxArguments = std::size_t{1} << 20;

// Analyzes argv (argv[0] is the compiler). @file arguments are expanded
// through `read_file` (GCC quoting rules: whitespace separates, '…' and "…"
// quote, backslash escapes), within the limits above.
std::variant<CompileArgs, Uncacheable> analyze_compile(std::span<const std::string> argv,
                                                       const ReadFile& read_file);

// Appends `args` to `out` with @file arguments expanded (as
// analyze_compile does); the reason when a file cannot be read or a limit
// is passed.
std::optional<std::string> expand_response_files(std::span<const std::string> args,
                                                 const ReadFile& read_file,
                                                 std::vector<std::string>& out);

// Splits a response file's text into arguments (GCC's rules).
std::vector<std::string> split_response_file(const std::string& text);

// The language GCC infers from a file name, or "" when it is not a source.
std::string language_of(const std::string& path);

}  // namespace kiln::client::launcher
