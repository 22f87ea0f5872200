// Text for people, shared by `kiln test`'s messages, verdicts and summary:
// durations in seconds, a message on one line, the end of a long log.
// Every line kiln test prints goes through these, so they look alike.
//
// Pure.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace kiln::client::testing {

// "1.23 s" under 10 s, "12.3 s" from there on.
std::string seconds_text(std::chrono::milliseconds ms);

// The first line of `text`, cut to 200 bytes and "…".
std::string first_line(std::string_view text);

// `text` on one line: every run of newlines, tabs and spaces is one space,
// trailing blanks dropped; past `max` bytes it is cut and ends in "…".
std::string one_line(std::string_view text, std::size_t max = 160);

// The last `max` bytes of `text` after a "[… N bytes cut]" line, or the
// whole of it when it fits.
std::string tail_text(const std::string& text, std::size_t max);

}  // namespace kiln::client::testing
