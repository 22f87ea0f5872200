// The fixture's test: plain asserts, no test framework.
#undef NDEBUG
#include <cassert>
#include <cstdio>

#include "greet/greet.h"

int main() {
  assert(greet("kiln") == "hello, kiln");
  assert(greet("a", 2) == "hello, a; a");
  assert(greet("a", 0) == "hello");
  std::puts("greet_test: 3 checks passed");
  return 0;
}
