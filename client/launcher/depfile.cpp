// parse_depfile(): one pass over the characters of the first rule, undoing
// exactly the quoting GCC applies (see quote_make). render_depfile(): the
// write loop of GCC 12's mkdeps.cc, re-derived from its output.
#include "client/launcher/depfile.h"

#include <cstddef>
#include <unordered_set>
#include <utility>

namespace kiln::client::launcher {
namespace {

// GCC wraps a line when a name would end past this column (the column
// counts the name's leading space, not the " \" written after it).
constexpr std::size_t kWrapColumn = 72;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Length of the line break starting at `pos` ("\n" or "\r\n"), or 0.
std::size_t newline_at(std::string_view text, std::size_t pos) {
  if (pos < text.size() && text[pos] == '\n') return 1;
  if (pos + 1 < text.size() && text[pos] == '\r' && text[pos + 1] == '\n') return 2;
  return 0;
}

// Whether the ':' at `pos` separates targets from prerequisites: it must be
// followed by a blank, a line break, a line continuation or the end.
bool is_rule_colon(std::string_view text, std::size_t pos) {
  const std::size_t next = pos + 1;
  if (next == text.size() || is_blank(text[next]) || newline_at(text, next) != 0) return true;
  return text[next] == '\\' && newline_at(text, next + 1) != 0;
}

class RuleParser {
 public:
  explicit RuleParser(std::string_view text) : text_(text) {}

  std::optional<std::vector<std::string>> parse() {
    std::size_t pos = 0;
    while (pos < text_.size()) {
      const char c = text_[pos];
      if (c == '\\') {
        pos = backslashes(pos);
      } else if (c == '$' && pos + 1 < text_.size() && text_[pos + 1] == '$') {
        append('$');
        pos += 2;
      } else if (is_blank(c)) {
        finish_word();
        ++pos;
      } else if (const std::size_t eol = newline_at(text_, pos); eol != 0) {
        finish_word();
        if (in_deps_) break;  // the end of the first rule
        // Blank lines before the rule are skipped; a line of words without
        // a rule colon is not a dependency file.
        if (!targets_.empty()) return std::nullopt;
        pos += eol;
      } else if (c == ':' && !in_deps_ && is_rule_colon(text_, pos)) {
        finish_word();
        if (targets_.empty()) return std::nullopt;
        in_deps_ = true;
        ++pos;
      } else {
        append(c);
        ++pos;
      }
    }
    finish_word();
    if (!in_deps_) return std::nullopt;
    return std::move(deps_);
  }

 private:
  // A run of backslashes at `pos`: what it means depends on what follows
  // (GNU Make's rules, the inverse of quote_make). Returns the position
  // after what was consumed.
  std::size_t backslashes(std::size_t pos) {
    std::size_t count = 0;
    while (pos + count < text_.size() && text_[pos + count] == '\\') ++count;
    const std::size_t after = pos + count;
    if (after < text_.size() && is_blank(text_[after])) {
      // 2N+1 backslashes: N backslashes and a blank inside the name;
      // 2N: N backslashes ending the name (the blank separates).
      current_.append(count / 2, '\\');
      has_word_ = true;
      if (count % 2 == 1) {
        current_.push_back(text_[after]);
        return after + 1;
      }
      return after;
    }
    if (const std::size_t eol = newline_at(text_, after); eol != 0) {
      // The last backslash continues the line; any before it are literal.
      if (count > 1) {
        current_.append(count - 1, '\\');
        has_word_ = true;
      }
      finish_word();
      return after + eol;
    }
    if (after < text_.size() && text_[after] == '#') {
      current_.append(count - 1, '\\');
      append('#');
      return after + 1;
    }
    current_.append(count, '\\');  // escapes nothing: "a\b" stays
    has_word_ = true;
    return after;
  }

  void append(char c) {
    current_.push_back(c);
    has_word_ = true;
  }

  void finish_word() {
    if (!has_word_) return;
    if (!in_deps_) {
      targets_.push_back(std::move(current_));
    } else if (seen_.insert(current_).second) {
      deps_.push_back(std::move(current_));
    }
    current_.clear();
    has_word_ = false;
  }

  std::string_view text_;
  std::string current_;
  bool has_word_ = false;
  bool in_deps_ = false;
  std::vector<std::string> targets_;
  std::vector<std::string> deps_;
  std::unordered_set<std::string> seen_;
};

// Appends `name` with GCC's wrapping; returns the new column.
std::size_t write_name(std::string& out, std::size_t column, const std::string& name,
                       DepfileStyle style) {
  if (column != 0) {
    if (column + name.size() > kWrapColumn) {
      // GCC continues with one space; Clang with two, and counts the
      // column as if the name's separator came after them.
      out += style == DepfileStyle::kClang ? " \\\n " : " \\\n";
      column = style == DepfileStyle::kClang ? 2 : 0;
    }
    out += ' ';
    ++column;
  }
  out += name;
  return column + name.size();
}

}  // namespace

std::optional<std::vector<std::string>> parse_depfile(std::string_view text) {
  return RuleParser(text).parse();
}

std::string quote_make(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 8);
  std::size_t slashes = 0;  // backslashes right before the current character
  for (const char c : name) {
    if (c == '\\') {
      ++slashes;
      out += c;
      continue;
    }
    if (c == '$') {
      out += '$';
    } else if (is_blank(c)) {
      out.append(slashes, '\\');
      out += '\\';
    } else if (c == '#') {
      out += '\\';
    }
    slashes = 0;
    out += c;
  }
  return out;
}

std::string render_depfile(std::span<const DepfileTarget> targets,
                           std::span<const std::string> deps, bool phony_targets,
                           DepfileStyle style) {
  if (deps.empty()) return {};

  std::vector<std::string> names;
  if (style == DepfileStyle::kClang) {
    // Clang keeps the command line's order.
    for (const DepfileTarget& t : targets) names.push_back(t.quote ? quote_make(t.name) : t.name);
  } else {
    // GCC's target order: the driver hands cc1 the -MQ targets first, then
    // the -MT ones; each -MT is swapped into the slot of the lowest quoted
    // target, which goes to the end.
    std::size_t lowest_quoted = 0;
    for (const DepfileTarget& t : targets) {
      if (t.quote) names.push_back(quote_make(t.name));
    }
    for (const DepfileTarget& t : targets) {
      if (t.quote) continue;
      std::string name = t.name;
      if (lowest_quoted != names.size()) std::swap(name, names[lowest_quoted]);
      ++lowest_quoted;
      names.push_back(std::move(name));
    }
  }

  std::string out;
  std::size_t column = 0;
  for (const std::string& name : names) column = write_name(out, column, name, style);
  out += ':';
  ++column;
  for (const std::string& dep : deps) column = write_name(out, column, quote_make(dep), style);
  out += '\n';
  if (phony_targets) {
    for (std::size_t i = 1; i < deps.size(); ++i) {
      // Clang separates the phony rules with blank lines; GCC 12 does not.
      if (style == DepfileStyle::kClang) out += '\n';
      out += quote_make(deps[i]);
      out += ":\n";
    }
  }
  return out;
}

}  // namespace kiln::client::launcher
