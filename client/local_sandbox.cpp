// make_local_sandbox: see local_sandbox.h. The probe runs in the cache
// directory's sandbox/ folder, where the actions' directories are made.
#include "client/local_sandbox.h"

#include <ostream>

namespace kiln::client {

std::shared_ptr<const exec::Sandbox> make_local_sandbox(Context& ctx) {
  const SandboxChoice choice = ctx.config.sandbox();
  exec::SandboxSettings settings;
  settings.kind =
      choice == SandboxChoice::kNone ? exec::SandboxKind::kNone : exec::SandboxKind::kBubblewrap;
  settings.read_only_paths = ctx.config.sandbox_paths();
  settings.scratch = ctx.config.dir() / "sandbox";
  if (const auto path = ctx.environment.find("PATH"); path != ctx.environment.end()) {
    settings.search_path = path->second;
  }
  auto sandbox = exec::Sandbox::create(settings);
  if (!sandbox.ok() && choice == SandboxChoice::kAuto &&
      sandbox.error().code == Errc::kUnavailable) {
    ctx.err << "kiln: warning: " << sandbox.error().message
            << "; actions run without a sandbox (set sandbox=none to say so)\n";
    settings.kind = exec::SandboxKind::kNone;
    sandbox = exec::Sandbox::create(settings);
  }
  if (!sandbox.ok()) {
    if (sandbox.error().code == Errc::kUnavailable) {
      throw CommandError(
          kExitFailure, sandbox.error().message + " (set sandbox=none to run actions without one)");
    }
    throw_error(sandbox.error(), "sandbox");
  }
  return std::make_shared<const exec::Sandbox>(std::move(*sandbox));
}

}  // namespace kiln::client
