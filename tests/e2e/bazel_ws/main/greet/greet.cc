// The fixture's library (see greet.h).
#include "greet/greet.h"

std::string greet(const std::string& who, int times) {
  std::string out = "hello";
  for (int i = 0; i < times; ++i) out += (i == 0 ? ", " : "; ") + who;
  return out;
}
