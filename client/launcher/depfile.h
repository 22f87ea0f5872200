// Make dependency files (-MD / -MMD) for the compiler launcher: read the one
// the compiler wrote on a miss, and write the same bytes again on a hit.
//
// Pure: strings in, strings out. The format is what GCC 12's mkdeps.cc
// writes, which was checked byte for byte against the gcc on a Debian 12
// machine (client/depfile_test.cpp holds the captured outputs):
//
//   targets: dep1 dep2 …        one logical line, wrapped at column 72:
//                               " \" + newline, then one leading space
//   dep2:                       with -MP, one empty rule per dependency
//   dep3:                       except the first (the source), no blank
//                               line in between (GCC 10 and older had one)
//
// Names are Make-quoted: space and tab get a backslash (and the backslashes
// right before them are doubled), '#' gets a backslash, '$' becomes "$$".
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/launcher/compiler_args.h"

namespace kiln::client::launcher {

// A target of the rule: -MT NAME (quote = false, written as given) or
// -MQ NAME (quote = true, Make-quoted). The same type CompileArgs uses for
// deps_targets, so the launcher passes those straight through.
using DepfileTarget = DepsTarget;

// The prerequisites of the first rule in `text`, unescaped, in order, the
// first occurrence of each kept. Later rules (the -MP phony ones) are
// ignored. Backslashes that escape nothing stay ("a\b"); an unescaped '#'
// is taken as part of a name, not as a comment, since GCC writes -MT names
// unquoted. nullopt when the first non-blank line holds no rule: no
// unescaped ':' followed by a blank or the end of the line, no target
// before it, or an empty text.
std::optional<std::vector<std::string>> parse_depfile(std::string_view text);

// Make quoting, as GCC applies it to dependencies and -MQ targets.
std::string quote_make(std::string_view name);

// The dependency file GCC 12 writes for these targets and dependencies.
// `targets` is in command-line order (as CompileArgs::deps_targets); when
// the command line has no -MT/-MQ, pass the object file as {output, true}.
// GCC's ordering quirk is reproduced: its driver passes every -MQ before
// every -MT, and each -MT then takes the place of the first quoted target,
// which moves to the end ("-MQ a -MT b -MQ c -MT d" gives "b d a c:").
// `deps` must start with the source file; no dependencies give "" (GCC
// writes an empty file when it reads the source from stdin).
// `phony_targets` is -MP.
// `style` kClang writes what Clang 14 writes instead: targets in command-line
// order, continuation lines indented by two spaces, a blank line before each
// -MP rule.
enum class DepfileStyle { kGcc, kClang };
std::string render_depfile(std::span<const DepfileTarget> targets,
                           std::span<const std::string> deps, bool phony_targets,
                           DepfileStyle style = DepfileStyle::kGcc);

}  // namespace kiln::client::launcher
