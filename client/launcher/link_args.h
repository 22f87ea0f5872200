// Link analysis for the launcher (`kiln g++ a.o b.o -o prog -lfoo`, or
// CMAKE_<LANG>_LINKER_LAUNCHER=kiln): decides whether a GCC/Clang driver
// command is one link kiln can cache, like compiler_args.h does for
// compiles. Pure.
//
// analyze_command() puts the two together: what the launcher runs on.
//
// Cacheable means: an output file (-o, not stdout), inputs that are
// already compiled (objects, archives, shared libraries; no source to
// compile on the way), and only options kiln knows, none of which make
// the linker write other files (-Map, --out-implib, a dependency file of
// its own). What the link read is learnt from the linker itself
// (--dependency-file), so the key covers every object, archive, shared
// library, start file and linker script.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "client/launcher/compiler_args.h"

namespace kiln::client::launcher {

struct LinkArgs {
  std::string compiler;           // argv[0] as given
  std::string output;             // -o
  std::vector<std::string> args;  // every argument after argv[0] except -o FILE, expanded
};

std::variant<LinkArgs, Uncacheable> analyze_link(std::span<const std::string> argv,
                                                 const ReadFile& read_file);

// What a command line given to the launcher is: a compile kiln can cache
// (analyze_compile), else a link it can cache (analyze_link), else
// uncacheable with analyze_compile's reason — made "linking (<why the link
// is not cacheable>)" when that reason is a link.
std::variant<CompileArgs, LinkArgs, Uncacheable> analyze_command(std::span<const std::string> argv,
                                                                 const ReadFile& read_file);

}  // namespace kiln::client::launcher
