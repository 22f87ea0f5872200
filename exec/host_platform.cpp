// host_platform.h: uname, as a worker and a client name it alike.
#include "exec/host_platform.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace kiln::exec {

std::vector<cas::Property> host_platform() {
  utsname names{};
  if (::uname(&names) != 0) return {};
  std::string os = names.sysname;
  std::transform(os.begin(), os.end(), os.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<cas::Property> platform = {{"arch", names.machine}, {"os", os}};
  return platform;
}

}  // namespace kiln::exec
