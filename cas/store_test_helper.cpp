// A helper for store_test.cpp that touches a store's LMDB environment
// directly, below the Store API, to play a process that crashed while
// holding transactions.
//
//   store_test_helper hold <dir>     opens a read and a write transaction,
//                                    prints "ready", then sleeps until killed
//   store_test_helper open <dir>     keeps the environment open (so the next
//                                    opener does not reset the lock file),
//                                    prints "ready", sleeps until killed
//   store_test_helper stale <dir>    clears stale reader slots and exits with
//                                    how many there were (0 when none)
#include <lmdb.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: store_test_helper hold|open|stale <dir>\n");
    return 100;
  }
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc == 0) rc = mdb_env_set_maxdbs(env, 8);
  if (rc == 0) rc = mdb_env_open(env, argv[2], MDB_NOTLS, 0644);
  if (rc != 0) {
    std::fprintf(stderr, "store_test_helper: %s\n", mdb_strerror(rc));
    return 101;
  }
  if (std::strcmp(argv[1], "stale") == 0) {
    int dead = 0;
    rc = mdb_reader_check(env, &dead);
    mdb_env_close(env);
    return rc != 0 ? 102 : dead;
  }
  if (std::strcmp(argv[1], "open") == 0) {
    std::printf("ready\n");
    std::fflush(stdout);
    for (;;) ::pause();
  }
  MDB_txn* reader = nullptr;
  MDB_txn* writer = nullptr;
  rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &reader);
  if (rc == 0) rc = mdb_txn_begin(env, nullptr, 0, &writer);
  if (rc != 0) {
    std::fprintf(stderr, "store_test_helper: %s\n", mdb_strerror(rc));
    return 103;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) ::pause();
}
