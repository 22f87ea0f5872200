// libFuzzer harness for materialize_tree() (cas/tree.h) against hostile
// Directory blobs. The input describes a set of blobs (see TreeInput); an
// in-memory BlobSource serves them, named by their real digests, and the
// tree named by the last Directory is materialized into a fresh empty
// directory inside a private temporary sandbox:
//
//   <tmp>/inside/dest   the destination
//   <tmp>/outside       an empty canary directory
//
// Beyond "no crash", it checks what materialize_tree() promises:
//   - confinement: afterwards the sandbox holds exactly inside/, dest and the
//     empty outside/ besides what is under dest, and every symlink under
//     dest has a relative target that, read component by component from
//     the link's directory, never climbs above dest (the lexical rule of
//     cas/tree.h), whether materialize_tree() succeeded or not;
//   - only regular files, directories and symlinks are created;
//   - round trip: when it succeeds, build_tree() of dest gives back the
//     root digest that was materialized;
//   - a failure is a refusal of the tree (kInvalidArgument, kNotFound,
//     kCorrupt, kResourceExhausted), never an error of the machine.
//
// Directories are written with Cap'n Proto directly, not encode_directory()
// (which refuses what is hostile), so names like "..", "a/b", "" or NUL,
// escaping symlink targets, unsorted or duplicate entries, missing blobs,
// digests of the other function and shared subtrees all reach
// materialize_tree(). Inputs whose honest tree would hold more than 4096
// nodes are skipped: materialize_tree() bounds a tree at 2^22 nodes, which
// is correct but too slow to write to disk for every input.
#include <capnp/message.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cas/digest.h"
#include "cas/tree.h"
#include "fuzz/invariant.h"
#include "proto/model.capnp.h"
#include "tests/support/temp_dir.h"

namespace kiln::cas {
namespace {

namespace fs = std::filesystem;
using fuzz::require;

constexpr std::size_t kMaxRecords = 64;
constexpr std::size_t kMaxEntries = 8;
constexpr std::uint64_t kMaxHonestNodes = 4096;

// Reads the input front to back; past the end every byte is 0.
class Bytes {
 public:
  explicit Bytes(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  std::uint8_t byte() { return done() ? 0 : static_cast<std::uint8_t>(data_[pos_++]); }
  std::string text(std::size_t max_len) {
    const std::size_t n = std::min<std::size_t>(byte(), max_len);
    const std::size_t take = std::min(n, data_.size() - std::min(pos_, data_.size()));
    std::string out(data_.substr(std::min(pos_, data_.size()), take));
    pos_ += take;
    return out;
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

struct Entry {
  enum class Kind { kFile, kDirectory, kSymlink } kind = Kind::kFile;
  std::string name;
  Digest digest;  // file or directory
  bool executable = false;
  std::string target;  // symlink
};

capnp::Text::Reader text(const std::string& s) { return {s.data(), s.size()}; }

void set_digest(const Digest& d, schema::Digest::Builder out) {
  out.setHash(capnp::Data::Reader(d.hash_bytes().data(), d.hash_bytes().size()));
  out.setSizeBytes(d.size);
}

// The canonical Cap'n Proto bytes of a Directory holding `entries` as they
// are: no rule of model.h is applied. Empty texts and lists stay unset, as
// encode_directory() leaves them.
std::string raw_directory(const std::vector<Entry>& entries) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<schema::Directory>();
  const auto count = [&](Entry::Kind kind) {
    return static_cast<unsigned>(std::count_if(entries.begin(), entries.end(),
                                               [kind](const Entry& e) { return e.kind == kind; }));
  };
  const unsigned files = count(Entry::Kind::kFile);
  const unsigned dirs = count(Entry::Kind::kDirectory);
  const unsigned links = count(Entry::Kind::kSymlink);
  capnp::List<schema::FileNode>::Builder file_list;
  capnp::List<schema::DirectoryNode>::Builder dir_list;
  capnp::List<schema::SymlinkNode>::Builder link_list;
  if (files > 0) file_list = root.initFiles(files);
  if (dirs > 0) dir_list = root.initDirectories(dirs);
  if (links > 0) link_list = root.initSymlinks(links);
  unsigned f = 0, d = 0, l = 0;
  for (const Entry& e : entries) {
    switch (e.kind) {
      case Entry::Kind::kFile: {
        auto out = file_list[f++];
        if (!e.name.empty()) out.setName(text(e.name));
        set_digest(e.digest, out.initDigest());
        out.setIsExecutable(e.executable);
        break;
      }
      case Entry::Kind::kDirectory: {
        auto out = dir_list[d++];
        if (!e.name.empty()) out.setName(text(e.name));
        set_digest(e.digest, out.initDigest());
        break;
      }
      case Entry::Kind::kSymlink: {
        auto out = link_list[l++];
        if (!e.name.empty()) out.setName(text(e.name));
        if (!e.target.empty()) out.setTarget(text(e.target));
        break;
      }
    }
  }
  const auto words = capnp::canonicalize(root.asReader());
  const auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

class MemorySource final : public BlobSource {
 public:
  Result<std::optional<std::string>> read_blob(const Digest& digest) override {
    const auto it = blobs_.find(digest);
    if (it == blobs_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  void put(const Digest& digest, std::string bytes) { blobs_[digest] = std::move(bytes); }
  void drop(const Digest& digest) { blobs_.erase(digest); }

 private:
  std::map<Digest, std::string> blobs_;
};

// The input, decoded:
//   byte 0, bit 0: the digest function (0 XXH3-128, 1 SHA-256)
//   then up to 64 records, each an op byte (op % 4) and its operands:
//     0 FILE  text(<=64)                 a file blob
//     1 DIR   n, n % 9 times an entry, then a flags byte: a Directory
//             entry: kind byte (bits 0-5 % 3: file, directory, symlink;
//             bit 6: a long name; bit 7: executable), name text(<=24) (long:
//             text(<=255) twice), then
//               file:      ref byte (a FILE; bit 7: a digest of the other
//                          function; none yet: a missing blob)
//               directory: ref byte (an earlier DIR or RAW, likewise)
//               symlink:   target text(<=32)
//             flags bit 0 clear: entries sorted by name, one per name
//             (what a valid Directory needs); set: as given
//     2 RAW   text(<=255)                taken as a Directory blob as is
//     3 DROP  the last blob leaves the source (it goes missing)
//   text(max) is a length byte (capped at max) and that many bytes.
// The root is the last DIR or RAW.
struct TreeInput {
  DigestFunction fn = DigestFunction::kXxh3_128;
  MemorySource source;
  std::optional<Digest> root;
  bool too_big = false;
};

TreeInput parse(std::string_view data) {
  TreeInput in;
  Bytes bytes(data);
  in.fn = (bytes.byte() & 1) != 0 ? DigestFunction::kSha256 : DigestFunction::kXxh3_128;
  const DigestFunction other =
      in.fn == DigestFunction::kSha256 ? DigestFunction::kXxh3_128 : DigestFunction::kSha256;
  std::vector<Digest> files;
  // Directories with an upper bound of the nodes their honest tree holds.
  std::vector<std::pair<Digest, std::uint64_t>> dirs;
  std::optional<Digest> last;
  const auto pick = [&](std::uint8_t ref, const Digest& chosen) {
    return (ref & 0x80) != 0 ? digest_of(other, "other function") : chosen;
  };
  for (std::size_t record = 0; record < kMaxRecords && !bytes.done(); ++record) {
    switch (bytes.byte() % 4) {
      case 0: {
        std::string blob = bytes.text(64);
        const Digest digest = digest_of(in.fn, blob);
        in.source.put(digest, std::move(blob));
        files.push_back(digest);
        last = digest;
        break;
      }
      case 1: {
        std::vector<Entry> entries;
        std::uint64_t nodes = 0;
        const std::size_t n = bytes.byte() % (kMaxEntries + 1);
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint8_t kind = bytes.byte();
          Entry e;
          e.kind = static_cast<Entry::Kind>((kind & 0x3f) % 3);
          e.executable = (kind & 0x80) != 0;
          // Mostly short names; bit 6 asks for a long one (up to 510
          // bytes, past NAME_MAX).
          e.name = (kind & 0x40) != 0 ? bytes.text(255) + bytes.text(255) : bytes.text(24);
          ++nodes;
          if (e.kind == Entry::Kind::kFile) {
            const std::uint8_t ref = bytes.byte();
            e.digest = pick(ref, files.empty() ? digest_of(in.fn, "missing file")
                                               : files[(ref & 0x7f) % files.size()]);
          } else if (e.kind == Entry::Kind::kDirectory) {
            const std::uint8_t ref = bytes.byte();
            if (dirs.empty()) {
              e.digest = pick(ref, digest_of(in.fn, "missing directory"));
            } else {
              const auto& [digest, below] = dirs[(ref & 0x7f) % dirs.size()];
              e.digest = pick(ref, digest);
              nodes += below;
            }
          } else {
            e.target = bytes.text(32);
          }
          entries.push_back(std::move(e));
        }
        if ((bytes.byte() & 1) == 0) {
          std::stable_sort(entries.begin(), entries.end(),
                           [](const Entry& a, const Entry& b) { return a.name < b.name; });
          entries.erase(
              std::unique(entries.begin(), entries.end(),
                          [](const Entry& a, const Entry& b) { return a.name == b.name; }),
              entries.end());
        }
        std::string blob = raw_directory(entries);
        const Digest digest = digest_of(in.fn, blob);
        in.source.put(digest, std::move(blob));
        dirs.emplace_back(digest, std::min(nodes, kMaxHonestNodes + 1));
        in.root = digest;
        in.too_big = nodes > kMaxHonestNodes;
        last = digest;
        break;
      }
      case 2: {
        std::string blob = bytes.text(255);
        const Digest digest = digest_of(in.fn, blob);
        in.source.put(digest, std::move(blob));
        dirs.emplace_back(digest, 0);
        in.root = digest;
        in.too_big = false;
        last = digest;
        break;
      }
      default:
        if (last) in.source.drop(*last);
        break;
    }
  }
  return in;
}

// Whether `target`, a symlink in a directory `depth` levels below dest,
// stays inside dest when read component by component (cas/tree.h's rule),
// written here independently of tree.cpp.
bool target_confined(const std::string& target, int depth) {
  if (target.empty() || target.front() == '/') return false;
  int level = depth;
  std::size_t start = 0;
  while (start <= target.size()) {
    const std::size_t slash = std::min(target.find('/', start), target.size());
    const std::string_view part = std::string_view(target).substr(start, slash - start);
    if (part == "..") {
      if (--level < 0) return false;
    } else if (!part.empty() && part != ".") {
      ++level;
    }
    start = slash + 1;
  }
  return true;
}

// Checks everything under `dir` (depth levels below dest) without following
// symlinks.
void check_confined(const fs::path& dir, int depth) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::file_status st = entry.symlink_status(ec);
    require(!ec, "a materialized entry can be looked at");
    if (fs::is_symlink(st)) {
      const fs::path target = fs::read_symlink(entry.path(), ec);
      require(!ec, "a materialized symlink can be read");
      require(target_confined(target.string(), depth), "every symlink stays inside dest");
    } else if (fs::is_directory(st)) {
      check_confined(entry.path(), depth + 1);
    } else {
      require(fs::is_regular_file(st), "only files, directories and symlinks are created");
    }
  }
  require(!ec, "dest can be listed");
}

void run(std::string_view data) {
  TreeInput in = parse(data);
  if (!in.root || in.too_big) return;

  const test_support::TempDir sandbox("kiln-tree-fuzz");
  const fs::path dest = sandbox.path() / "inside" / "dest";
  const fs::path outside = sandbox.path() / "outside";
  fs::create_directories(dest);
  fs::create_directory(outside);

  const Status status = materialize_tree(in.source, *in.root, dest);

  // Nothing beside dest: the sandbox holds exactly these three paths above it.
  std::vector<fs::path> seen;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(sandbox.path(), ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path() == dest) {
      it.disable_recursion_pending();
    }
    seen.push_back(it->path());
  }
  require(!ec, "the sandbox can be listed");
  std::sort(seen.begin(), seen.end());
  const std::vector<fs::path> expected = {sandbox.path() / "inside", dest, outside};
  require(seen == expected, "nothing is written outside dest");
  check_confined(dest, 0);

  if (status.ok()) {
    auto built = build_tree(dest, in.fn);
    require(built.ok(), "a materialized tree can be read back");
    require(built->root == *in.root, "the materialized tree has the digest it was named by");
  } else {
    const Errc code = status.error().code;
    require(code == Errc::kInvalidArgument || code == Errc::kNotFound || code == Errc::kCorrupt ||
                code == Errc::kResourceExhausted,
            "a failure is a refusal of the tree, not an error of the machine");
  }
}

}  // namespace
}  // namespace kiln::cas

// libFuzzer's entry point, named by libFuzzer.
// NOLINTNEXTLINE(readability-identifier-naming)
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiln::cas::run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
