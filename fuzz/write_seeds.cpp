// kiln_fuzz_seeds: writes the seed inputs of the harnesses whose input is
// kiln's own encoding, with kiln's own code (fuzz/make-corpus.sh runs it):
//
//   kiln_fuzz_seeds codec DIR        real messages, encoded by proto/codec
//                                    (signature frame + body frame), one
//                                    file per message kind
//   kiln_fuzz_seeds tree SRC FILE    the tree at SRC as build_tree() sees
//                                    it, in tree_fuzz's input format (file
//                                    contents cut to 64 bytes)
//
// Not a harness: an ordinary program, built only with KILN_FUZZ=ON.
#include <capnp/message.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/files.h"
#include "cas/digest.h"
#include "cas/model.h"
#include "cas/tree.h"
#include "cas/wire_model.h"
#include "proto/codec.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using cas::DigestFunction;

constexpr auto kXxh = DigestFunction::kXxh3_128;

bool write(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

std::string frames_of(capnp::MallocMessageBuilder& message) {
  const proto::Encoded encoded = proto::encode(message);
  std::string out;
  for (const auto frame : encoded.frames()) {
    out.append(reinterpret_cast<const char*>(frame.data()), frame.size());
  }
  return out;
}

capnp::Text::Reader text(const std::string& s) { return {s.data(), s.size()}; }

cas::Action sample_action() {
  cas::Action action;
  action.command_digest = cas::digest_of(kXxh, "g++ -c hello.cc -o hello.o");
  action.input_root_digest = cas::digest_of(kXxh, "input root");
  action.timeout_ms = 60000;
  return action;
}

cas::ActionResult sample_result() {
  cas::ActionResult result;
  result.exit_code = 0;
  result.output_files.push_back({"hello.o", cas::digest_of(kXxh, "object"), false});
  result.output_directories.push_back({"gen", cas::digest_of(kXxh, "tree")});
  result.stdout_digest = cas::digest_of(kXxh, "");
  result.stderr_digest = cas::digest_of(kXxh, "warning: unused variable");
  result.metadata.worker_id = "worker-1";
  return result;
}

int write_codec_seeds(const fs::path& dir) {
  fs::create_directories(dir);
  std::map<std::string, std::string> seeds;
  {
    capnp::MallocMessageBuilder m;
    proto::init_envelope(m, 1).getBody().initHeartbeat().setBusySlots(2);
    seeds["heartbeat"] = frames_of(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto hello = proto::init_envelope(m, 2).getBody().initWorkerHello();
    hello.setWorkerId("worker-1");
    hello.setSlots(4);
    hello.setHeartbeatIntervalMs(1000);
    const std::vector<cas::Property> platform = {{"OSFamily", "linux"},
                                                 {"toolchain:PATH", "/usr/bin"}};
    cas::to_wire(platform, hello.initPlatform(static_cast<unsigned>(platform.size())));
    seeds["worker_hello"] = frames_of(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto request = proto::init_envelope(m, 3).getBody().initFindMissingRequest();
    request.setDigestFunction(cas::to_wire(kXxh));
    const std::vector<cas::Digest> digests = {cas::digest_of(kXxh, "a"), cas::digest_of(kXxh, "b")};
    cas::to_wire(digests, request.initDigests(static_cast<unsigned>(digests.size())));
    seeds["find_missing_request"] = frames_of(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto chunk = proto::init_envelope(m, 4).getBody().initUploadChunk();
    const std::string data = "int main() { return 0; }\n";
    chunk.setDigestFunction(cas::to_wire(kXxh));
    cas::to_wire(cas::digest_of(kXxh, data), chunk.initDigest());
    chunk.setOffset(0);
    chunk.setData(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(data.data()), data.size()));
    chunk.setLast(true);
    seeds["upload_chunk"] = frames_of(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto request = proto::init_envelope(m, 5).getBody().initExecuteRequest();
    const cas::Action action = sample_action();
    request.setDigestFunction(cas::to_wire(kXxh));
    cas::to_wire(cas::digest_of(kXxh, "action"), request.initActionDigest());
    cas::to_wire(action, kXxh, request.initAction());
    request.setPriority(1);
    seeds["execute_request"] = frames_of(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto response = proto::init_envelope(m, 5).getBody().initExecuteResponse();
    cas::to_wire(cas::digest_of(kXxh, "action"), response.initActionDigest());
    cas::to_wire(sample_result(), response.initResult());
    auto missing = response.initMissingOutputs(1);
    missing.set(0, text("gen/extra.h"));
    seeds["execute_response"] = frames_of(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto result = proto::init_envelope(m, 6).getBody().initLeaseResult();
    result.setLeaseId(7);
    cas::to_wire(cas::digest_of(kXxh, "action"), result.initActionDigest());
    cas::to_wire(sample_result(), result.initResult());
    seeds["lease_result"] = frames_of(m);
  }
  {
    capnp::MallocMessageBuilder m;
    auto error = proto::init_envelope(m, 8).getBody().initError();
    error.setCode(schema::Error::Code::UNKNOWN_KIND);
    error.setMessage("unknown message kind 42");
    seeds["error"] = frames_of(m);
  }
  {
    capnp::MallocMessageBuilder m;
    proto::init_envelope(m, 9).getBody().setDisconnect("draining");
    seeds["disconnect"] = frames_of(m);
  }
  for (const auto& [name, bytes] : seeds) {
    if (!write(dir / name, bytes)) {
      std::fprintf(stderr, "kiln_fuzz_seeds: cannot write %s\n", (dir / name).c_str());
      return 1;
    }
  }
  return 0;
}

// Writes tree_fuzz's input for the tree build_tree() found (the format is
// documented in tree_fuzz.cpp): children before their parents, the root
// last.
class TreeSeed {
 public:
  explicit TreeSeed(const cas::BuiltTree& tree) : tree_(tree) { out_.push_back('\0'); }

  // Appends the records of Directory `digest` and everything under it;
  // returns its index among the DIR records, or -1 on an error.
  int add_directory(const cas::Digest& digest) {
    if (const auto it = dir_index_.find(digest); it != dir_index_.end()) return it->second;
    const std::string& blob = tree_.directories.at(digest);
    auto dir = cas::decode_directory(std::as_bytes(std::span(blob.data(), blob.size())), kXxh);
    if (!dir.ok()) return -1;
    std::vector<int> subdirs;
    for (const auto& d : dir->directories) {
      subdirs.push_back(add_directory(d.digest));
      if (subdirs.back() < 0) return -1;
    }
    std::vector<int> files;
    for (const auto& f : dir->files) {
      files.push_back(add_file(f.digest));
      if (files.back() < 0) return -1;
    }
    out_.push_back('\1');
    const std::size_t entries = dir->files.size() + dir->directories.size() + dir->symlinks.size();
    if (entries > 8) return -1;
    out_.push_back(static_cast<char>(entries));
    for (std::size_t i = 0; i < dir->files.size(); ++i) {
      out_.push_back(static_cast<char>(dir->files[i].executable ? 0x80 : 0));
      put_text(dir->files[i].name);
      out_.push_back(static_cast<char>(files[i]));
    }
    for (std::size_t i = 0; i < dir->directories.size(); ++i) {
      out_.push_back('\1');
      put_text(dir->directories[i].name);
      out_.push_back(static_cast<char>(subdirs[i]));
    }
    for (const auto& l : dir->symlinks) {
      out_.push_back('\2');
      put_text(l.name);
      put_text(l.target);
    }
    out_.push_back('\0');  // flags: sorted
    dir_index_[digest] = next_dir_;
    return next_dir_++;
  }

  const std::string& bytes() const { return out_; }

 private:
  int add_file(const cas::Digest& digest) {
    if (const auto it = file_index_.find(digest); it != file_index_.end()) return it->second;
    auto bytes = base::read_file(tree_.files.at(digest).string());
    if (!bytes.ok()) return -1;
    out_.push_back('\0');
    put_text(bytes->substr(0, 64));
    file_index_[digest] = next_file_;
    return next_file_++;
  }

  void put_text(const std::string& s) {
    out_.push_back(static_cast<char>(s.size()));
    out_ += s;
  }

  const cas::BuiltTree& tree_;
  std::string out_;
  std::map<cas::Digest, int> dir_index_;
  std::map<cas::Digest, int> file_index_;
  int next_dir_ = 0;
  int next_file_ = 0;
};

int write_tree_seed(const fs::path& source, const fs::path& file) {
  auto tree = cas::build_tree(source, kXxh);
  if (!tree.ok()) {
    std::fprintf(stderr, "kiln_fuzz_seeds: %s\n", tree.error().message.c_str());
    return 1;
  }
  TreeSeed seed(*tree);
  if (seed.add_directory(tree->root) < 0) {
    std::fprintf(stderr, "kiln_fuzz_seeds: %s does not fit the seed format\n", source.c_str());
    return 1;
  }
  fs::create_directories(file.parent_path());
  return write(file, seed.bytes()) ? 0 : 1;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 2 && args[0] == "codec") return kiln::write_codec_seeds(args[1]);
  if (args.size() == 3 && args[0] == "tree") return kiln::write_tree_seed(args[1], args[2]);
  std::fprintf(stderr, "usage: kiln_fuzz_seeds codec DIR | tree SRC FILE\n");
  return 2;
}
