// Shared pieces of the store tests (store_test.cpp, store_crash_test.cpp):
// deterministic blobs, the StoreTest fixture, and
// running children (forked, or store_test_helper next to the test binary).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cas/store.h"
#include "tests/support/temp_dir.h"

namespace kiln::cas::store_testing {

namespace fs = std::filesystem;
using kiln::test_support::TempDir;
using std::chrono::milliseconds;

// Deterministic bytes for blob `i` of `size` bytes.
inline std::string make_blob(std::uint64_t i, std::size_t size) {
  std::string s(size, '\0');
  std::mt19937_64 rng(i * 7919 + size);
  for (std::size_t j = 0; j < size; j += 8) {
    const std::uint64_t r = rng();
    for (std::size_t k = 0; k < 8 && j + k < size; ++k) s[j + k] = static_cast<char>(r >> (8 * k));
  }
  return s;
}

inline Digest digest_xxh(std::string_view s) { return digest_of(DigestFunction::kXxh3_128, s); }

struct StoreTest : ::testing::Test {
  TempDir tmp;
  fs::path dir = tmp.path() / "store";
  std::vector<std::string> warnings;

  StoreOptions options() {
    StoreOptions o;
    o.dir = dir;
    o.map_size = 64u << 20;
    o.file_threshold = 16u << 10;
    o.warn = [this](std::string_view w) { warnings.emplace_back(w); };
    return o;
  }
  std::unique_ptr<Store> open(StoreOptions o) {
    auto s = Store::open(std::move(o));
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<Store> open() { return open(options()); }
};

// Runs `child` in a forked process; returns its exit code (or 128+signal).
inline int run_child(const std::function<int()>& child) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 99;
    try {
      code = child();
    } catch (...) {
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::string helper_path() {
  return (fs::read_symlink("/proc/self/exe").parent_path() / "store_test_helper").string();
}

// Runs store_test_helper; returns its exit code.
inline int run_helper(const std::string& mode, const fs::path& dir) {
  const std::string helper = helper_path();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(helper.c_str(), helper.c_str(), mode.c_str(), dir.c_str(), nullptr);
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Starts store_test_helper `mode` and waits until it is ready; returns its
// pid (the caller kills it).
inline pid_t start_helper(const std::string& mode, const fs::path& dir) {
  int out[2];
  if (::pipe(out) != 0) return -1;
  const std::string helper = helper_path();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execl(helper.c_str(), helper.c_str(), mode.c_str(), dir.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[16] = {};
  const ssize_t n = ::read(out[0], buf, sizeof buf - 1);
  ::close(out[0]);
  if (n <= 0 || std::string(buf) != "ready\n") {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return -1;
  }
  return pid;
}

inline void kill_and_wait(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

inline std::string blob_file(const fs::path& dir, const Digest& d) {
  return (dir / "files" / d.hex().substr(0, 2) / (d.hex() + "_" + std::to_string(d.size))).string();
}

}  // namespace kiln::cas::store_testing
