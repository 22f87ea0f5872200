// The one way a harness reports a broken invariant: a message on stderr and
// abort(), which libFuzzer records as a crash and saves the input for.
// Shared by every harness in fuzz/.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace kiln::fuzz {

inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "kiln fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace kiln::fuzz
