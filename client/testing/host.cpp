// This machine, as the suites need it: see host.h.
#include "client/testing/host.h"

#include <sys/utsname.h>

#include <string_view>
#include <utility>

#include "base/program_path.h"
#include "client/testing/engine.h"

namespace kiln::client::testing {

std::optional<std::filesystem::path> find_program(const std::string& name, const Context& ctx) {
  auto path = ctx.environment.find("PATH");
  auto found = base::find_program(
      name,
      {.path = path == ctx.environment.end() ? "/usr/bin:/bin" : std::string_view(path->second)});
  if (!found) return std::nullopt;
  return std::filesystem::path(*found);
}

std::vector<std::string> environment_list(const std::vector<cas::Property>& env) {
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& p : env) out.push_back(p.name + "=" + p.value);
  return out;
}

exec::RunOutcome run_here(std::vector<std::string> argv, const std::filesystem::path& cwd,
                          std::vector<std::string> env, const std::string& what) {
  exec::RunSpec spec;
  spec.argv = std::move(argv);
  spec.env = std::move(env);
  spec.cwd = cwd;
  spec.timeout = kListTimeout;
  auto outcome = exec::run_command(spec);
  if (!outcome.ok())
    throw CommandError(kTestExitSetup, "cannot run " + what + ": " + outcome.error().message);
  return std::move(outcome).value();
}

std::string platform_name() {
  struct utsname name {};
  if (::uname(&name) != 0) return "unknown";
  return std::string(name.sysname) + "-" + name.machine;
}

std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace kiln::client::testing
