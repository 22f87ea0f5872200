// The fixture's binary: prints a greeting for each argument.
#include <cstdio>

#include "greet/greet.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::puts(greet("bazel").c_str());
    return 0;
  }
  for (int i = 1; i < argc; ++i) std::puts(greet(argv[i]).c_str());
  return 0;
}
