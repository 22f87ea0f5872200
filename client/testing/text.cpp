// Text for people: see text.h.
#include "client/testing/text.h"

#include <iomanip>
#include <sstream>

namespace kiln::client::testing {

std::string seconds_text(std::chrono::milliseconds ms) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(ms < std::chrono::milliseconds(10000) ? 2 : 1)
      << static_cast<double>(ms.count()) / 1000.0 << " s";
  return out.str();
}

std::string first_line(std::string_view text) {
  std::string line(text.substr(0, text.find('\n')));
  if (line.size() > 200) line = line.substr(0, 200) + "…";
  return line;
}

std::string one_line(std::string_view text, std::size_t max) {
  std::string line;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      if (!line.empty() && line.back() != ' ') line += ' ';
    } else {
      line += c;
    }
    if (line.size() >= max) return line + "…";
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string tail_text(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  return "[… " + std::to_string(text.size() - max) + " bytes cut]\n" +
         text.substr(text.size() - max);
}

}  // namespace kiln::client::testing
