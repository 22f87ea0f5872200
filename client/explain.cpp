// explain.h: picking the record that made a file, and saying so.
#include "client/explain.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "client/provenance.h"

namespace kiln::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

std::string absolute_in(const std::string& cwd, const std::string& path) {
  const fs::path p(path);
  if (p.is_absolute() || cwd.empty()) return p.lexically_normal().string();
  return (fs::path(cwd) / p).lexically_normal().string();
}

// A word a shell would read back as the same argument.
std::string shell_word(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789-_./=:,+@%") == std::string::npos) {
    return arg;
  }
  std::string out = "'";
  for (const char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ms(std::int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(us) / 1000.0);
  return buf;
}

std::string where_text(const ActionRecord& r) {
  std::string out =
      r.where.empty() || r.where == "local" ? "this machine (local)" : "worker " + r.where;
  if (!r.scheduler.empty()) out += ", scheduler " + r.scheduler;
  return out;
}

}  // namespace

std::optional<RecordMatch> find_producer(const std::vector<ActionRecord>& records,
                                         const DigestOf& digest_of, const std::string& file) {
  std::map<std::string, std::string, std::less<>> digests;  // per function, computed once
  std::optional<RecordMatch> newest;
  for (std::size_t i = records.size(); i-- > 0;) {
    const ActionRecord& r = records[i];
    auto known = digests.find(r.digest_function);
    if (known == digests.end()) {
      known = digests.emplace(r.digest_function, digest_of(r.digest_function)).first;
    }
    if (known->second.empty()) continue;
    for (std::size_t o = 0; o < r.outputs.size(); ++o) {
      if (r.outputs[o].digest != known->second) continue;
      if (absolute_in(r.cwd, r.outputs[o].path) == file) return RecordMatch{i, o};
      if (!newest) newest = RecordMatch{i, o};
    }
  }
  return newest;
}

std::string describe_outcome(const ActionRecord& r) {
  static const std::map<std::string, std::string, std::less<>> kWords = {
      {"direct_hit", "hit: the local cache, by the sources' manifest"},
      {"preprocessed_hit", "hit: the local cache, by the preprocessed source"},
      {"remote_hit", "hit: the grid's cache"},
      {"link_hit", "hit: the link cache"},
      {"cached", "hit: a cached result"},
      {"miss_local", "miss: executed here"},
      {"miss_remote", "miss: executed on the grid (preprocessed)"},
      {"miss_remote_headers", "miss: executed on the grid (headers and toolchain shipped)"},
      {"miss_remote_fallback", "miss: executed here after the grid failed"},
      {"link_miss", "miss: linked"},
      {"executed", "miss: executed"},
      {"failed", "failed"},
  };
  const auto found = kWords.find(r.outcome);
  std::string text = found != kWords.end() ? found->second : (r.cached ? "hit" : "executed");
  return text + " (" + r.outcome + ")";
}

std::string explain_text(const Explanation& e) {
  const ActionRecord& r = e.record;
  std::string out;
  auto line = [&out](std::string_view name, const std::string& value) {
    out += name;
    out.append(name.size() < 14 ? 14 - name.size() : 1, ' ');
    out += value;
    out += '\n';
  };
  line("file:", e.file);
  line("digest:", e.file_digest + " (" + r.digest_function + ")");
  if (e.output_path != e.file) line("recorded as:", e.output_path);
  line("made by:", r.kind + " of " + r.subject);
  line("cache:", describe_outcome(r));
  line("where:", where_text(r));
  line("action:", r.action_digest.empty() ? "-" : r.action_digest);
  std::string command;
  for (const auto& arg : r.command) command += (command.empty() ? "" : " ") + shell_word(arg);
  line("command:", command);
  line("cwd:", r.cwd);
  if (!r.toolchain.empty() || !r.toolchain_path.empty()) {
    line("toolchain:",
         (r.toolchain.empty() ? std::string("-") : r.toolchain) + "  " + r.toolchain_path);
  }
  line("exit code:", std::to_string(r.exit_code));
  out += "inputs (" + std::to_string(r.inputs.size()) + "):\n";
  for (const auto& f : r.inputs) out += "  " + f.digest + "  " + f.path + "\n";
  out += "outputs (" + std::to_string(r.outputs.size()) + "):\n";
  for (const auto& f : r.outputs) out += "  " + f.digest + "  " + f.path + "\n";
  line("started:", rfc3339_utc(r.start_us));
  line("total:", ms(r.end_us - r.start_us));
  for (const auto& p : r.phases) {
    out += "  " + p.name;
    out.append(p.name.size() < 12 ? 12 - p.name.size() : 1, ' ');
    out += ms(p.end_us - p.start_us) + "  (at +" + ms(p.start_us - r.start_us) + ")\n";
  }
  line("invocation:", e.invocation.invocation.id);
  std::string labels;
  for (const auto& [name, value] : e.invocation.invocation.labels) {
    labels += (labels.empty() ? "" : ", ") + name + "=" + value;
  }
  line("labels:", labels.empty() ? "-" : labels);
  return out;
}

std::string explain_json(const Explanation& e) {
  const ActionRecord& r = e.record;
  auto files = [](const std::vector<FileRecord>& list) {
    ordered_json out = ordered_json::array();
    for (const auto& f : list) out.push_back({{"path", f.path}, {"digest", f.digest}});
    return out;
  };
  ordered_json phases = ordered_json::array();
  for (const auto& p : r.phases) {
    phases.push_back({{"name", p.name},
                      {"start_us", p.start_us},
                      {"end_us", p.end_us},
                      {"duration_us", p.end_us - p.start_us}});
  }
  ordered_json labels = ordered_json::object();
  for (const auto& [name, value] : e.invocation.invocation.labels) labels[name] = value;
  const ordered_json j = {{"file", e.file},
                          {"digest", e.file_digest},
                          {"digest_function", r.digest_function},
                          {"output_path", e.output_path},
                          {"kind", r.kind},
                          {"subject", r.subject},
                          {"outcome", r.outcome},
                          {"cached", r.cached},
                          {"description", describe_outcome(r)},
                          {"where", r.where},
                          {"scheduler", r.scheduler},
                          {"action_digest", r.action_digest},
                          {"command", r.command},
                          {"cwd", r.cwd},
                          {"toolchain", r.toolchain},
                          {"toolchain_path", r.toolchain_path},
                          {"exit_code", r.exit_code},
                          {"inputs", files(r.inputs)},
                          {"outputs", files(r.outputs)},
                          {"start_us", r.start_us},
                          {"end_us", r.end_us},
                          {"started", rfc3339_utc(r.start_us)},
                          {"duration_us", r.end_us - r.start_us},
                          {"phases", phases},
                          {"invocation", e.invocation.invocation.id},
                          {"labels", labels}};
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace kiln::client
