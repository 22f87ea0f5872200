// The platform properties that describe this machine's kind: os (uname's
// system name, lower-case: "linux") and arch (uname's machine: "x86_64").
// A worker advertises them; a hermetic compile, which ships x86_64 Linux
// programs, requires them.
#pragma once

#include <vector>

#include "cas/model.h"

namespace kiln::exec {

// {os, arch}, sorted; empty when uname fails.
std::vector<cas::Property> host_platform();

}  // namespace kiln::exec
