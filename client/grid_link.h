// The grid client (ZeroMQ) as main() reaches it. The `kiln` command is two
// executables built from the same objects, each linking one version of
// grid_link():
//
//   kiln       grid_link_handoff.cpp: no ZeroMQ, so a compile served from
//              the cache starts in a fraction of the time (libzmq alone maps
//              a dozen shared libraries). Every path that needs the grid
//              replaces the process with kiln-grid from the same directory
//              (execv: the same argv, argv[0] included, and environment),
//              before anything has been written.
//   kiln-grid  grid_link.cpp: the grid client in-process.
//
// Paths that need the grid: `kiln up`, `kiln status`, `kiln keygen` (keys
// are made by libzmq), `kiln run` with a
// scheduler configured, the launcher compiling on the grid, `kiln test`
// (whose shards may run on the grid, and which reads XML with pugixml),
// and `kiln provenance` (which signs with libsodium).
#pragma once

#include "client/grid/commands.h"
#include "client/insight_command.h"
#include "client/launcher/launcher.h"
#include "client/testing/command.h"

namespace kiln::client {

struct GridLink {
  // For the launcher and for `kiln run`: make_executor in kiln-grid,
  // handoff in kiln.
  launcher::GridAccess access;
  grid::UpRunner up;
  grid::StatusRunner status;
  grid::KeygenRunner keygen;
  testing::TestRunner test;
  ProvenanceRunner provenance;
};

// `argv` is main()'s, unchanged: what kiln hands over to kiln-grid.
GridLink grid_link(char** argv);

}  // namespace kiln::client
