// Plain model values <-> Cap'n Proto structs (see wire_model.h).
//
// These converters are the only copies of this code: model.cpp builds its
// canonical encodings of Action and ActionResult with these to_wire()s and
// reads them back with these from_wire()s. So, as canonical form requires,
// to_wire() leaves empty texts, data and lists unset.
//
// from_wire() reads each field once into a value (the traversal budget of a
// decoded message allows reading every field twice), then checks the rules
// model.h states for the type.
#include "cas/wire_model.h"

#include <string>

namespace kiln::cas {
namespace {

Error invalid(std::string message) {
  return make_error(Errc::kInvalidArgument, std::move(message));
}

capnp::Text::Reader text(const std::string& s) { return {s.c_str(), s.size()}; }

std::string read_text(capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }

Error prefixed(std::string_view where, const Error& e) {
  return Error{e.code, std::string(where) + ": " + e.message};
}

}  // namespace

schema::DigestFunction to_wire(DigestFunction fn) {
  return fn == DigestFunction::kSha256 ? schema::DigestFunction::SHA256
                                       : schema::DigestFunction::XXH3128;
}

Result<DigestFunction> from_wire(schema::DigestFunction fn) {
  switch (fn) {
    case schema::DigestFunction::XXH3128:
      return DigestFunction::kXxh3_128;
    case schema::DigestFunction::SHA256:
      return DigestFunction::kSha256;
  }
  return invalid("unknown digest function " + std::to_string(static_cast<unsigned>(fn)));
}

void to_wire(const Digest& digest, schema::Digest::Builder out) {
  const auto h = digest.hash_bytes();
  out.setHash(capnp::Data::Reader(h.data(), h.size()));
  out.setSizeBytes(digest.size);
}

Result<Digest> from_wire(schema::Digest::Reader in, DigestFunction fn) {
  const auto h = in.getHash();
  return digest_from_bytes(fn, std::span<const std::uint8_t>(h.begin(), h.size()),
                           in.getSizeBytes());
}

void to_wire(const std::vector<Property>& properties, capnp::List<schema::Property>::Builder out) {
  for (unsigned i = 0; i < properties.size(); ++i) {
    if (!properties[i].name.empty()) out[i].setName(text(properties[i].name));
    if (!properties[i].value.empty()) out[i].setValue(text(properties[i].value));
  }
}

Result<std::vector<Property>> from_wire(capnp::List<schema::Property>::Reader in) {
  std::vector<Property> out;
  for (auto p : in) {
    Property property{read_text(p.getName()), read_text(p.getValue())};
    if ((property.name + property.value).find('\0') != std::string::npos) {
      return invalid("property '" + property.name + "' contains NUL");
    }
    if (!out.empty() && !(out.back() < property)) {
      return invalid("properties are not sorted by (name, value) and unique at '" + property.name +
                     "'");
    }
    out.push_back(std::move(property));
  }
  return out;
}

void to_wire(const Action& action, DigestFunction fn, schema::Action::Builder out) {
  out.setDigestFunction(to_wire(fn));
  to_wire(action.command_digest, out.initCommandDigest());
  to_wire(action.input_root_digest, out.initInputRootDigest());
  out.setTimeoutMs(action.timeout_ms);
  out.setDoNotCache(action.do_not_cache);
  if (!action.salt.empty()) {
    out.setSalt(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(action.salt.data()),
                                    action.salt.size()));
  }
}

Result<Action> from_wire(schema::Action::Reader in, DigestFunction fn) {
  if (in.getDigestFunction() != to_wire(fn)) {
    return invalid("digest function " +
                   std::to_string(static_cast<unsigned>(in.getDigestFunction())) + " is not " +
                   std::string(to_string(fn)));
  }
  Action a;
  auto command = from_wire(in.getCommandDigest(), fn);
  if (!command.ok()) return prefixed("command digest", command.error());
  auto input = from_wire(in.getInputRootDigest(), fn);
  if (!input.ok()) return prefixed("input root digest", input.error());
  a.command_digest = *command;
  a.input_root_digest = *input;
  a.timeout_ms = in.getTimeoutMs();
  a.do_not_cache = in.getDoNotCache();
  const auto salt = in.getSalt();
  a.salt.assign(reinterpret_cast<const char*>(salt.begin()), salt.size());
  return a;
}

void to_wire(const ActionResult& result, schema::ActionResult::Builder out) {
  out.setExitCode(result.exit_code);
  if (!result.output_files.empty()) {
    auto list = out.initOutputFiles(static_cast<unsigned>(result.output_files.size()));
    for (unsigned i = 0; i < result.output_files.size(); ++i) {
      list[i].setPath(text(result.output_files[i].path));
      to_wire(result.output_files[i].digest, list[i].initDigest());
      list[i].setIsExecutable(result.output_files[i].executable);
    }
  }
  if (!result.output_directories.empty()) {
    auto list = out.initOutputDirectories(static_cast<unsigned>(result.output_directories.size()));
    for (unsigned i = 0; i < result.output_directories.size(); ++i) {
      list[i].setPath(text(result.output_directories[i].path));
      to_wire(result.output_directories[i].tree_digest, list[i].initTreeDigest());
    }
  }
  to_wire(result.stdout_digest, out.initStdoutDigest());
  to_wire(result.stderr_digest, out.initStderrDigest());
  const ExecutionMetadata& m = result.metadata;
  auto meta = out.initMetadata();
  if (!m.worker_id.empty()) meta.setWorkerId(text(m.worker_id));
  meta.setQueuedUs(m.queued_us);
  meta.setWorkerStartUs(m.worker_start_us);
  meta.setInputFetchStartUs(m.input_fetch_start_us);
  meta.setInputFetchEndUs(m.input_fetch_end_us);
  meta.setExecutionStartUs(m.execution_start_us);
  meta.setExecutionEndUs(m.execution_end_us);
  meta.setOutputUploadStartUs(m.output_upload_start_us);
  meta.setOutputUploadEndUs(m.output_upload_end_us);
  meta.setWorkerEndUs(m.worker_end_us);
}

namespace {

Result<ActionResult> read_action_result(schema::ActionResult::Reader in, DigestFunction fn) {
  ActionResult out;
  out.exit_code = in.getExitCode();
  for (auto f : in.getOutputFiles()) {
    auto d = from_wire(f.getDigest(), fn);
    if (!d.ok()) return prefixed("output file digest", d.error());
    out.output_files.push_back(OutputFile{read_text(f.getPath()), *d, f.getIsExecutable()});
  }
  for (auto o : in.getOutputDirectories()) {
    auto d = from_wire(o.getTreeDigest(), fn);
    if (!d.ok()) return prefixed("output directory digest", d.error());
    out.output_directories.push_back(OutputDirectory{read_text(o.getPath()), *d});
  }
  auto out_digest = from_wire(in.getStdoutDigest(), fn);
  if (!out_digest.ok()) return prefixed("stdout digest", out_digest.error());
  auto err_digest = from_wire(in.getStderrDigest(), fn);
  if (!err_digest.ok()) return prefixed("stderr digest", err_digest.error());
  out.stdout_digest = *out_digest;
  out.stderr_digest = *err_digest;
  const auto m = in.getMetadata();
  out.metadata = ExecutionMetadata{read_text(m.getWorkerId()), m.getQueuedUs(),
                                   m.getWorkerStartUs(),       m.getInputFetchStartUs(),
                                   m.getInputFetchEndUs(),     m.getExecutionStartUs(),
                                   m.getExecutionEndUs(),      m.getOutputUploadStartUs(),
                                   m.getOutputUploadEndUs(),   m.getWorkerEndUs()};
  return out;
}

}  // namespace

Result<ActionResult> from_wire(schema::ActionResult::Reader in, DigestFunction fn) {
  auto result = read_action_result(in, fn);
  if (!result.ok()) return result;
  if (auto s = check_action_result(*result, fn); !s) return s.error();
  return result;
}

void to_wire(const std::vector<Digest>& digests, capnp::List<schema::Digest>::Builder out) {
  for (unsigned i = 0; i < digests.size(); ++i) to_wire(digests[i], out[i]);
}

Result<std::vector<Digest>> from_wire(capnp::List<schema::Digest>::Reader in, DigestFunction fn) {
  std::vector<Digest> out;
  // Nothing reserved from the count: see model.cpp (zero-sized structs).
  for (auto d : in) {
    auto digest = from_wire(d, fn);
    if (!digest.ok()) return prefixed("digest " + std::to_string(out.size()), digest.error());
    out.push_back(*digest);
  }
  return out;
}

}  // namespace kiln::cas
