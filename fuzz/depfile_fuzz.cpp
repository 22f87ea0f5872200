// libFuzzer harness for the launcher's Make dependency files
// (client/launcher/depfile.h). The first byte picks the rendering (bit 0:
// -MP phony targets, bit 1: Clang's layout instead of GCC's, bit 2: the
// object as an -MT target instead of -MQ); the rest is the text of a .d
// file.
//
// Beyond "no crash", it checks both directions of the format:
//   - parse: parse_depfile() yields non-empty, distinct names;
//   - round trip from text: the names parsed from the input, rendered again
//     by render_depfile() (either layout, with or without -MP), parse back
//     to the same names;
//   - round trip from names: the input's lines taken as file names (each
//     line a name, first occurrence kept), rendered and parsed, come back
//     unchanged.
// A name Make cannot carry is left out of the round trips: one with a line
// break (a line ends the rule), ending in a backslash (it would escape the
// separator after it; GCC writes such names the same ambiguous way) or in a
// carriage return (before the rule's line break it reads as "\r\n", which
// parse_depfile() accepts as a line break, as files written on Windows
// have).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "client/launcher/depfile.h"
#include "fuzz/invariant.h"

namespace kiln::client::launcher {
namespace {

using fuzz::require;

bool make_can_carry(const std::string& name) {
  return !name.empty() && name.find('\n') == std::string::npos && name.back() != '\\' &&
         name.back() != '\r';
}

void round_trip(const std::vector<std::string>& names, std::uint8_t flags) {
  const DepfileTarget object{"obj/out.o", (flags & 4) == 0};
  const bool phony = (flags & 1) != 0;
  const DepfileStyle style = (flags & 2) != 0 ? DepfileStyle::kClang : DepfileStyle::kGcc;
  const std::string text = render_depfile({&object, 1}, names, phony, style);
  if (names.empty()) {
    require(text.empty(), "no dependencies render as an empty file");
    return;
  }
  const auto back = parse_depfile(text);
  require(back.has_value(), "a rendered dependency file parses");
  require(*back == names, "a rendered dependency file parses to the same names");
}

void run(std::string_view data) {
  if (data.empty()) return;
  const auto flags = static_cast<std::uint8_t>(data.front());
  const std::string_view text = data.substr(1);

  if (const auto deps = parse_depfile(text)) {
    std::set<std::string> distinct;
    for (const std::string& dep : *deps) {
      require(!dep.empty(), "a parsed dependency is not empty");
      require(distinct.insert(dep).second, "parsed dependencies are distinct");
    }
    bool carried = true;
    for (const std::string& dep : *deps) carried = carried && make_can_carry(dep);
    if (carried) round_trip(*deps, flags);
  }

  std::vector<std::string> names;
  std::set<std::string> seen;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t eol = text.find('\n', start);
    if (eol == std::string_view::npos) eol = text.size();
    std::string name(text.substr(start, eol - start));
    if (make_can_carry(name) && seen.insert(name).second) names.push_back(std::move(name));
    start = eol + 1;
  }
  round_trip(names, flags);
}

}  // namespace
}  // namespace kiln::client::launcher

// libFuzzer's entry point, named by libFuzzer.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::client::launcher::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
