// Hashing throughput of kiln::cas::digest_of against memcpy of the same
// buffer, measured in the same process. Run by scripts/bench/digest.sh, which
// adds `xxhsum -b` as a second baseline.
//
// Sizes: 100 KiB (xxhsum -b's default: the buffer stays in cache, so this is
// the hash's own speed) and 64 MiB (larger than any cache: memory bandwidth
// bounds both the hash and memcpy). Each case runs `reps` repetitions of at
// least `min_ms` milliseconds each; the median and the best are printed.
// MB here is 2^20 bytes, the unit xxhsum prints.
//
// Output, one line per case, tab-separated:
//   <case> <size> <median MB/s> <best MB/s>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "cas/digest.h"

namespace {

using Clock = std::chrono::steady_clock;

// Keeps the compiler from discarding work whose result is never used.
void escape(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

struct Stats {
  double median;
  double best;
};

// Runs `work` (which processes `bytes` bytes) for `reps` timed repetitions.
Stats measure(std::size_t bytes, int reps, double min_ms, const std::function<void()>& work) {
  work();  // warm up: page faults, caches, dispatch
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    std::size_t iterations = 0;
    const auto start = Clock::now();
    std::chrono::duration<double, std::milli> elapsed{};
    do {
      work();
      ++iterations;
      elapsed = Clock::now() - start;
    } while (elapsed.count() < min_ms);
    const double mb = static_cast<double>(bytes) * static_cast<double>(iterations) / (1 << 20);
    rates.push_back(mb / (elapsed.count() / 1000.0));
  }
  std::sort(rates.begin(), rates.end());
  return {rates[rates.size() / 2], rates.back()};
}

// A cache-line-aligned buffer, as in xxhsum's aligned cases (its odd
// benchmark ids; "XXH128" is id 11). A 16-byte-aligned buffer costs XXH3's
// AVX-512 loop about a fifth of its speed on split cache-line loads.
struct AlignedBuffer {
  explicit AlignedBuffer(std::size_t n)
      : data(static_cast<std::byte*>(::operator new (n, std::align_val_t{64}))), size(n) {}
  ~AlignedBuffer() { ::operator delete (data, std::align_val_t{64}); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  std::byte* data;
  std::size_t size;
};

std::string size_name(std::size_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes >> 10) + " KiB";
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  double min_ms = 200;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--min-ms" && i + 1 < argc) {
      min_ms = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--reps N] [--min-ms MS]\n", argv[0]);
      return 2;
    }
  }

  using kiln::cas::DigestFunction;
  std::mt19937_64 rng(1);
  for (const std::size_t bytes : {std::size_t{100} << 10, std::size_t{64} << 20}) {
    AlignedBuffer src(bytes);
    AlignedBuffer dst(bytes);
    for (std::size_t i = 0; i < bytes; ++i) src.data[i] = static_cast<std::byte>(rng());
    std::memset(dst.data, 0, bytes);
    const std::span<const std::byte> data(src.data, bytes);

    struct Case {
      const char* name;
      std::function<void()> work;
    };
    const Case cases[] = {
        {"memcpy",
         [&] {
           std::memcpy(dst.data, src.data, bytes);
           escape(dst.data);
         }},
        {"xxh3-128",
         [&] {
           const auto d = kiln::cas::digest_of(DigestFunction::kXxh3_128, data);
           escape(&d);
         }},
        {"sha256",
         [&] {
           const auto d = kiln::cas::digest_of(DigestFunction::kSha256, data);
           escape(&d);
         }},
    };
    for (const Case& c : cases) {
      const Stats s = measure(bytes, reps, min_ms, c.work);
      std::printf("%s\t%s\t%.1f\t%.1f\n", c.name, size_name(bytes).c_str(), s.median, s.best);
      std::fflush(stdout);
    }
  }
  return 0;
}
