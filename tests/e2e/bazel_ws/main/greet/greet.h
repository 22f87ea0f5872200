// The fixture's library: what tests/e2e/reapi_bazel.sh builds with Bazel.
#pragma once

#include <string>

// "hello, WHO" (WHO repeated TIMES times, comma-separated).
std::string greet(const std::string& who, int times = 1);
