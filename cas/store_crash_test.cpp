// Tests of the LMDB store against what processes and machines do to it:
// missing permissions, a full disk, writers killed with SIGKILL, a crashed
// process holding LMDB's locks, and eight processes sharing one store.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "cas/store.h"
#include "cas/store_test_util.h"

namespace kiln::cas {
namespace {

using namespace store_testing;

TEST_F(StoreTest, UnwritableDirectoryIsPermissionDenied) {
  { ASSERT_TRUE(open()); }
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  const int code = run_child([&] {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
    auto existing = Store::open(options());
    if (existing.ok() || existing.error().code != Errc::kPermissionDenied) return 11;
    if (existing.error().message.find('\n') != std::string::npos) return 12;
    auto o = options();
    o.dir = tmp.path() / "new-store";
    auto fresh = Store::open(o);
    if (fresh.ok() || fresh.error().code != Errc::kPermissionDenied) return 13;
    std::fprintf(stderr, "[messages] %s | %s\n", existing.error().message.c_str(),
                 fresh.error().message.c_str());
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST_F(StoreTest, FullDiskFailsCleanlyAndTheStoreSurvives) {
  std::vector<std::string> before;
  {
    auto s = open();
    ASSERT_TRUE(s);
    for (int i = 0; i < 20; ++i) {
      before.push_back(make_blob(400 + i, i % 2 ? 5000 : 30'000));
      ASSERT_TRUE(s->put(before.back()).ok());
    }
  }
  const auto data_size = fs::file_size(dir / "data.mdb");
  const int code = run_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{data_size + (64u << 10), data_size + (64u << 10)};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 10;
    auto s = Store::open(options());
    if (!s.ok()) return 11;
    for (int i = 0; i < 2000; ++i) {
      auto d = (*s)->put(make_blob(1000 + i, i % 2 ? 9000 : 70'000));
      if (d.ok()) continue;
      const Errc c = d.error().code;
      std::fprintf(stderr, "[disk full] %s\n", d.error().message.c_str());
      if (d.error().message.find('\n') != std::string::npos) return 14;
      return c == Errc::kResourceExhausted ? 0 : 12;
    }
    return 13;  // never failed
  });
  EXPECT_EQ(code, 0);
  auto s = open();
  ASSERT_TRUE(s);
  for (const auto& b : before) EXPECT_EQ(s->get(digest_xxh(b))->value_or(""), b);
  ASSERT_TRUE(s->put(std::string_view("after")).ok());
}

// A writer killed at random moments (mid-transaction, mid-file-write) never
// leaves a store that fails to open, keeps stale readers, or serves wrong
// bytes.
TEST_F(StoreTest, KillNineOfAWriterLeavesAConsistentStore) {
  auto o = options();
  o.durable = false;
  o.max_size = 4u << 20;  // eviction runs too
  { ASSERT_TRUE(open(o)); }
  const pid_t keeper = start_helper("open", dir);  // see the next test
  ASSERT_GT(keeper, 0);
  std::mt19937 rng(42);
  constexpr int kPerRound = 100'000;
  for (int round = 0; round < 5; ++round) {
    o.durable = round % 2 == 1;
    const pid_t pid = ::fork();
    if (pid == 0) {
      auto s = Store::open(o);
      if (!s.ok()) ::_exit(1);
      for (int i = round * kPerRound;; ++i) {
        const std::string blob = make_blob(i, i % 3 ? 3000 : 50'000);
        (void)(*s)->put(blob);
        (void)(*s)->get(digest_xxh(make_blob(i / 2, (i / 2) % 3 ? 3000 : 50'000)));
        if (i % 10 == 0) {
          (void)(*s)->put_action_result(digest_xxh(std::to_string(i)), "r",
                                        std::vector<Digest>{digest_xxh(blob)});
        }
      }
    }
    std::this_thread::sleep_for(milliseconds(50 + rng() % 250));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself";

    auto s = open(o);
    ASSERT_TRUE(s);
    EXPECT_EQ(run_helper("stale", dir), 0) << "Store::open left stale readers";
    int present = 0;
    for (int i = round * kPerRound; i < round * kPerRound + 3000; ++i) {
      const std::string blob = make_blob(i, i % 3 ? 3000 : 50'000);
      auto got = s->get(digest_xxh(blob));
      ASSERT_TRUE(got.ok()) << got.error().message;
      if (!got->has_value()) continue;
      ++present;
      ASSERT_EQ(**got, blob);
    }
    EXPECT_GT(present, 0) << "round " << round;
    EXPECT_LE(s->stats()->total_bytes, o.max_size + 50'000);
    ASSERT_TRUE(s->put(std::string_view("still writable")).ok());
  }
  kill_and_wait(keeper);
  EXPECT_TRUE(warnings.empty());
}

TEST_F(StoreTest, AStoreHeldByACrashedProcessStillOpensAndWrites) {
  { ASSERT_TRUE(open()->put(std::string_view("before")).ok()); }
  // A live process keeps the environment open, so LMDB does not simply
  // reset the lock file when we open: Store::open must clear the slot.
  const pid_t keeper = start_helper("open", dir);
  ASSERT_GT(keeper, 0);
  const pid_t holder = start_helper("hold", dir);
  ASSERT_GT(holder, 0);
  kill_and_wait(holder);

  auto s = open();
  ASSERT_TRUE(s);
  EXPECT_EQ(run_helper("stale", dir), 0);
  ASSERT_TRUE(s->put(std::string_view("after")).ok());
  EXPECT_EQ(s->get(digest_xxh("before"))->value_or(""), "before");
  EXPECT_EQ(s->get(digest_xxh("after"))->value_or(""), "after");
  kill_and_wait(keeper);
}

// Eight processes read and write one small store; eviction runs all along.
TEST_F(StoreTest, ManyProcessesShareOneStore) {
  constexpr int kProcesses = 8;
  constexpr int kPool = 300;
  constexpr std::size_t kMaxBlob = 96u << 10;
  auto o = options();
  o.durable = false;
  o.max_size = 1u << 20;
  o.file_threshold = 32u << 10;
  auto blob_of = [](int i) { return make_blob(5000 + i, 200 + (i * 7919) % kMaxBlob); };
  { ASSERT_TRUE(open(o)); }
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcesses; ++p) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int code = 0;
      {
        auto s = Store::open(o);
        if (!s.ok()) ::_exit(1);
        std::mt19937 rng(p);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
        for (int n = 0; std::chrono::steady_clock::now() < deadline && code == 0; ++n) {
          const int i = static_cast<int>(rng() % kPool);
          const std::string blob = blob_of(i);
          const Digest d = digest_xxh(blob);
          const unsigned op = rng() % 10;
          if (op < 5) {
            if (!(*s)->put(blob).ok()) code = 2;
          } else if (op < 8) {
            auto got = (*s)->get(d);
            if (!got.ok() || (got->has_value() && **got != blob)) code = 3;
          } else if (op == 8) {
            const Digest action = digest_xxh("action" + std::to_string(i));
            if (!(*s)->put_action_result(action, blob.substr(0, 10), std::vector<Digest>{d}).ok())
              code = 4;
            auto r = (*s)->get_action_result(action);
            if (!r.ok() || (r->has_value() && **r != blob.substr(0, 10))) code = 5;
          } else {
            auto st = (*s)->stats();
            if (!st.ok() || st->total_bytes > o.max_size + kMaxBlob) code = 6;
          }
        }
      }
      ::_exit(code);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  auto s = open(o);
  ASSERT_TRUE(s);
  auto st = s->stats();
  EXPECT_LE(st->total_bytes, o.max_size + kMaxBlob);
  EXPECT_GT(st->blob_count, 0u);
  int present = 0;
  for (int i = 0; i < kPool; ++i) {
    auto got = s->get(digest_xxh(blob_of(i)));
    ASSERT_TRUE(got.ok());
    if (got->has_value()) {
      ++present;
      EXPECT_EQ(**got, blob_of(i));
    }
  }
  EXPECT_EQ(static_cast<std::uint64_t>(present), st->blob_count);
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(fs::is_empty(dir / "tmp"));
}

}  // namespace
}  // namespace kiln::cas
