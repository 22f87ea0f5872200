// The LMDB store against plain files, measured in the same run. Run by
// scripts/bench/store.sh, which picks a directory on a real disk.
//
//   bench_store <dir> [--quick] [--only put|lookup|layout]
//
// 1. put/get of 1 KiB, 64 KiB, 1 MiB and 64 MiB blobs (default
//    file_threshold) vs writing each blob to its own plain file and reading
//    it back, with the same durability: durable=true against write+fsync per
//    file and of its directory (what makes a new file survive a machine
//    crash, as a durable put does), durable=false against write without
//    fsync. Every round writes new bytes to new names (no dedup, no
//    overwrite); reads come from the page cache on both sides. Store get
//    includes re-hashing (verification); store put includes hashing.
//    Median of 5 rounds. Goals: get >= 0.8x plain read, put >= 0.5x plain
//    write.
// 2. contains() of present 100-byte blobs on one core (goal >= 200,000/s),
//    find_missing() of 10,000 digests, half present (goal < 20 ms).
// 3. Where large blobs should live: the same store with every blob inline
//    (in LMDB overflow pages) vs every blob a file, for 64 KiB..64 MiB:
//    put and get MiB/s (median of 3), and the space LMDB needs after churn
//    (evict half, write blobs of +-50% the size, four times), as data.mdb
//    size / live bytes. Non-durable, so that fsync does not hide the layout.
//
// MiB = 2^20 bytes. Prints markdown tables.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cas/store.h"
#include "scripts/bench/bench_util.h"

namespace {

namespace fs = std::filesystem;
using namespace kiln::cas;
using Clock = std::chrono::steady_clock;

double seconds_of(const std::function<void()>& work) {
  const auto start = Clock::now();
  work();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

using kiln::bench::die;

std::string make_bytes(std::uint64_t seed, std::size_t size) {
  std::string s(size, '\0');
  std::mt19937_64 rng(seed);
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    const std::uint64_t r = rng();
    std::memcpy(s.data() + i, &r, 8);
  }
  for (std::size_t i = size / 8 * 8; i < size; ++i) s[i] = static_cast<char>(rng());
  return s;
}

std::unique_ptr<Store> open_store(const fs::path& dir, bool durable, std::uint64_t threshold) {
  fs::remove_all(dir);
  StoreOptions o;
  o.dir = dir;
  o.durable = durable;
  o.map_size = std::uint64_t{64} << 30;
  if (threshold) o.file_threshold = threshold;
  auto s = Store::open(o);
  if (!s.ok()) die(s.error().message);
  return std::move(*s);
}

void write_plain(const std::string& path, const std::string& data, bool durable) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("cannot create " + path);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) die("cannot write " + path);
    done += static_cast<std::size_t>(n);
  }
  if (durable && ::fsync(fd) != 0) die("cannot fsync " + path);
  ::close(fd);
  if (durable) {  // a new file's name is durable only once its directory is
    const std::string parent = fs::path(path).parent_path().string();
    const int dir_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0 || ::fsync(dir_fd) != 0) die("cannot fsync " + parent);
    ::close(dir_fd);
  }
}

std::string read_plain(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open " + path);
  struct stat st {};
  ::fstat(fd, &st);
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n <= 0) die("cannot read " + path);
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return out;
}

std::string size_name(std::uint64_t bytes) {
  if (bytes >= (1u << 20)) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes >> 10) + " KiB";
}

std::string verdict(double ratio, double goal) { return ratio >= goal ? "met" : "NOT met"; }

// Section 1.
void put_get_vs_files(const fs::path& root, bool quick) {
  struct Case {
    std::size_t size;
    int count;
  };
  const std::vector<Case> cases = {
      {1u << 10, quick ? 50 : 200},
      {64u << 10, quick ? 50 : 200},
      {1u << 20, quick ? 16 : 64},
      {64u << 20, quick ? 1 : 2},
  };
  const int rounds = 5;
  std::printf("## put/get vs plain files (median of %d rounds, MiB/s)\n\n", rounds);
  std::printf(
      "| mode | size × count | store put | file write | put ratio | store get | file read | get "
      "ratio |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
  std::vector<std::string> goals;
  for (const bool durable : {true, false}) {
    for (const Case& c : cases) {
      auto store = open_store(root / "store", durable, 0);
      const fs::path plain = root / "plain";
      fs::remove_all(plain);
      fs::create_directories(plain);
      std::vector<double> put_rate, write_rate, get_rate, read_rate;
      // New files every round, as the store gets new blobs: overwriting
      // would let the kernel drop dirty pages instead of writing them.
      auto plain_name = [&](int round, std::size_t i) {
        return (plain / (std::to_string(round) + "_" + std::to_string(i))).string();
      };
      const double mib = static_cast<double>(c.size) * c.count / (1 << 20);
      for (int r = 0; r < rounds; ++r) {
        std::vector<std::string> blobs;
        for (int i = 0; i < c.count; ++i) {
          blobs.push_back(make_bytes((durable ? 1'000'000u : 0u) + r * 10'000u + i, c.size));
        }
        std::vector<Digest> digests(blobs.size());
        put_rate.push_back(mib / seconds_of([&] {
                             for (std::size_t i = 0; i < blobs.size(); ++i) {
                               auto d = store->put(blobs[i]);
                               if (!d.ok()) die(d.error().message);
                               digests[i] = *d;
                             }
                           }));
        write_rate.push_back(mib / seconds_of([&] {
                               for (std::size_t i = 0; i < blobs.size(); ++i) {
                                 write_plain(plain_name(r, i), blobs[i], durable);
                               }
                             }));
        get_rate.push_back(mib / seconds_of([&] {
                             for (const auto& d : digests) {
                               auto got = store->get(d);
                               if (!got.ok() || !got->has_value()) die("get failed");
                             }
                           }));
        read_rate.push_back(mib / seconds_of([&] {
                              for (std::size_t i = 0; i < blobs.size(); ++i) {
                                if (read_plain(plain_name(r, i)).size() != c.size) {
                                  die("short read");
                                }
                              }
                            }));
      }
      const double put = median(put_rate), write = median(write_rate);
      const double get = median(get_rate), read = median(read_rate);
      std::printf("| %s | %s × %d | %.1f | %.1f | %.2fx | %.0f | %.0f | %.2fx |\n",
                  durable ? "durable" : "non-durable", size_name(c.size).c_str(), c.count, put,
                  write, put / write, get, read, get / read);
      char line[160];
      std::snprintf(
          line, sizeof line, "%s %s: put %.2fx (goal 0.5x: %s), get %.2fx (goal 0.8x: %s)",
          durable ? "durable" : "non-durable", size_name(c.size).c_str(), put / write,
          verdict(put / write, 0.5).c_str(), get / read, verdict(get / read, 0.8).c_str());
      goals.emplace_back(line);
    }
  }
  std::printf("\n");
  for (const auto& g : goals) std::printf("- %s\n", g.c_str());
  std::printf("\n");
  fs::remove_all(root / "store");
  fs::remove_all(root / "plain");
}

// Section 2.
void lookups(const fs::path& root) {
  auto store = open_store(root / "lookup", false, 0);
  std::vector<Digest> present, mixed;
  for (int i = 0; i < 10'000; ++i) {
    auto d = store->put(make_bytes(7'000'000u + i, 100));
    if (!d.ok()) die(d.error().message);
    present.push_back(*d);
    mixed.push_back(i % 2 ? *d : digest_of(DigestFunction::kXxh3_128, make_bytes(i, 100)));
  }
  std::vector<double> rates;
  for (int r = 0; r < 5; ++r) {
    std::size_t n = 0;
    const double t = seconds_of([&] {
      const auto end = Clock::now() + std::chrono::milliseconds(300);
      while (Clock::now() < end) {
        for (int k = 0; k < 1000; ++k, ++n) {
          auto c = store->contains(present[n % present.size()]);
          if (!c.ok() || !*c) die("contains failed");
        }
      }
    });
    rates.push_back(static_cast<double>(n) / t);
  }
  std::vector<double> times;
  for (int r = 0; r < 5; ++r) {
    times.push_back(1000 * seconds_of([&] {
                      auto m = store->find_missing(mixed);
                      if (!m.ok() || m->size() != 5000) die("find_missing failed");
                    }));
  }
  const double contains = median(rates), find = median(times);
  std::printf("## lookups (median of 5)\n\n| operation | result | goal | |\n|---|---:|---:|---|\n");
  std::printf("| contains, 100-byte blobs, one core | %.0f /s | 200,000 /s | %s |\n", contains,
              contains >= 200'000 ? "met" : "NOT met");
  std::printf("| find_missing of 10,000 digests (half present) | %.2f ms | < 20 ms | %s |\n\n",
              find, find < 20 ? "met" : "NOT met");
  fs::remove_all(root / "lookup");
}

// Section 3.
void threshold(const fs::path& root, bool quick) {
  const std::uint64_t volume = quick ? (32u << 20) : (256u << 20);
  std::printf(
      "## inline (LMDB overflow pages) vs file beside LMDB (non-durable; %s per case)\n\n"
      "| size | inline put | file put | inline get | file get | inline: data.mdb / live "
      "after churn |\n|---|---:|---:|---:|---:|---:|\n",
      size_name(volume).c_str());
  for (std::uint64_t size = 64u << 10; size <= (64u << 20); size *= 4) {
    const int count = static_cast<int>(std::max<std::uint64_t>(4, volume / size));
    const double mib = static_cast<double>(size) * count / (1 << 20);
    double rates[2][2];
    double space = 0;
    for (int layout = 0; layout < 2; ++layout) {  // 0 inline, 1 file
      std::vector<double> put_rate, get_rate;
      for (int r = 0; r < 3; ++r) {
        auto store = open_store(root / "layout", false, layout == 0 ? UINT64_MAX : 1);
        std::vector<Digest> digests;
        std::vector<std::string> blobs;
        for (int i = 0; i < count; ++i)
          blobs.push_back(make_bytes(9'000'000u + r * 1000u + i, size));
        put_rate.push_back(mib / seconds_of([&] {
                             for (const auto& b : blobs) digests.push_back(*store->put(b));
                           }));
        get_rate.push_back(mib / seconds_of([&] {
                             for (const auto& d : digests) {
                               if (!store->get(d)->has_value()) die("get failed");
                             }
                           }));
        if (layout == 0 && r == 0) {
          std::mt19937 rng(1);
          for (int churn = 0; churn < 4; ++churn) {
            if (!store->gc(volume / 2).ok()) die("gc failed");
            for (int i = 0; i < count / 2; ++i) {
              const std::size_t jittered = size / 2 + rng() % size;
              if (!store->put(make_bytes(rng(), jittered)).ok()) die("put failed");
            }
          }
          const auto st = store->stats();
          space = static_cast<double>(fs::file_size(root / "layout" / "data.mdb")) /
                  static_cast<double>(st->total_bytes);
        }
      }
      rates[layout][0] = median(put_rate);
      rates[layout][1] = median(get_rate);
    }
    std::printf("| %s × %d | %.0f | %.0f | %.0f | %.0f | %.2f |\n", size_name(size).c_str(), count,
                rates[0][0], rates[1][0], rates[0][1], rates[1][1], space);
  }
  std::printf("\n");
  fs::remove_all(root / "layout");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_store <dir> [--quick] [--only put|lookup|layout]\n");
    return 2;
  }
  const fs::path root = argv[1];
  bool quick = false;
  std::string only;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") quick = true;
    if (arg == "--only" && i + 1 < argc) only = argv[++i];
  }
  fs::create_directories(root);
  if (only.empty() || only == "put") put_get_vs_files(root, quick);
  if (only.empty() || only == "lookup") lookups(root);
  if (only.empty() || only == "layout") threshold(root, quick);
  return 0;
}
