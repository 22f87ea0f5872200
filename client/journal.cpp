// journal.h: the records, their JSON, and the files they live in.
#include "client/journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>

#include "base/files.h"
#include "base/os_error.h"
#include "base/unique_fd.h"

namespace kiln::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A journal line or invocation file longer than this is not kiln's.
constexpr std::size_t kMaxJournalBytes = std::size_t{256} << 20;

std::vector<FileRecord> files_from(const json& j) {
  std::vector<FileRecord> out;
  for (const auto& f : j) out.push_back({f.at("path").get<std::string>(), f.at("digest")});
  return out;
}

json labels_json(const Labels& labels) {
  json out = json::array();
  for (const auto& [name, value] : labels) out.push_back({name, value});
  return out;
}

Labels labels_from(const json& j) {
  Labels out;
  for (const auto& pair : j) out.emplace_back(pair.at(0).get<std::string>(), pair.at(1));
  return out;
}

fs::path journal_file(const fs::path& dir, std::string_view id) {
  return dir / (std::string(id) + ".jsonl");
}

fs::path info_file(const fs::path& dir, std::string_view id) {
  return dir / (std::string(id) + ".json");
}

std::string read_text(const fs::path& path) {
  auto text = base::read_file(path.string(), {.max_bytes = kMaxJournalBytes});
  return text.ok() ? std::move(text).value() : std::string();
}

// A small /proc file's text, read with one read(2): every launcher
// process that derives its invocation reads a few, and a derived id cost
// a warm leveldb build ~4 % with std::ifstream and istringstream here.
std::string read_small(const char* path) {
  std::array<char, 1024> buffer{};
  base::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
  return n > 0 ? std::string(buffer.data(), static_cast<std::size_t>(n)) : std::string();
}

// The boot id: the same for every process until the machine restarts.
std::string boot_id() {
  std::string id = read_small("/proc/sys/kernel/random/boot_id");
  if (const auto nl = id.find('\n'); nl != std::string::npos) id.resize(nl);
  return id;
}

// /proc/PID/stat: "pid (comm) state ppid ... starttime(22nd field) ...".
// comm may itself hold spaces and parentheses: the last ')' ends it.
std::optional<std::pair<AncestorProcess, int>> read_stat(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const std::string text = read_small(path.c_str());
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  AncestorProcess p;
  p.pid = pid;
  p.name = text.substr(open + 1, close - open - 1);
  std::string_view rest = std::string_view(text).substr(close + 1);
  int ppid = 0;
  // Fields after comm start at 3 (state); ppid is 4, starttime is 22.
  for (int index = 3; index <= 22; ++index) {
    const auto from = rest.find_first_not_of(' ');
    if (from == std::string_view::npos) break;
    rest.remove_prefix(from);
    const std::string_view field = rest.substr(0, rest.find(' '));
    if (index == 4) std::from_chars(field.data(), field.data() + field.size(), ppid);
    if (index == 22) std::from_chars(field.data(), field.data() + field.size(), p.start_ticks);
    rest.remove_prefix(field.size());
  }
  return std::pair{p, ppid};
}

// Appends JSON to a string: keys and values of one object, commas between
// them. Strings are escaped as JSON requires; bytes that are not UTF-8
// (a path is bytes) become U+FFFD, as nlohmann's error_handler_t::replace
// does.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}
  JsonWriter& key(std::string_view name) {
    if (!first_) out_ += ',';
    first_ = false;
    quoted(name);
    out_ += ':';
    return *this;
  }
  void string(std::string_view s) { quoted(s); }
  void boolean(bool b) { out_ += b ? "true" : "false"; }
  void number(std::int64_t n) { out_ += std::to_string(n); }
  void strings(const std::vector<std::string>& list) {
    out_ += '[';
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i != 0) out_ += ',';
      quoted(list[i]);
    }
    out_ += ']';
  }
  void files(const std::vector<FileRecord>& files) {
    out_ += '[';
    for (std::size_t i = 0; i < files.size(); ++i) {
      out_ += i != 0 ? ",{\"path\":" : "{\"path\":";
      quoted(files[i].path);
      out_ += ",\"digest\":";
      quoted(files[i].digest);
      out_ += '}';
    }
    out_ += ']';
  }

 private:
  void quoted(std::string_view s) {
    out_ += '"';
    std::size_t i = 0;
    while (i < s.size()) {
      // A run of characters that need no escaping, in one append.
      std::size_t plain = i;
      while (plain < s.size() && is_plain(static_cast<unsigned char>(s[plain]))) ++plain;
      out_.append(s.substr(i, plain - i));
      i = plain;
      if (i == s.size()) break;
      const auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        escape(c);
        ++i;
      } else {
        const std::size_t n = utf8_length(s.substr(i));
        if (n == 0) {
          out_ += "\xEF\xBF\xBD";  // U+FFFD
          ++i;
        } else {
          out_.append(s.substr(i, n));
          i += n;
        }
      }
    }
    out_ += '"';
  }
  static bool is_plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }
  void escape(unsigned char c) {
    switch (c) {
      case '"':
        out_ += "\\\"";
        return;
      case '\\':
        out_ += "\\\\";
        return;
      case '\n':
        out_ += "\\n";
        return;
      case '\t':
        out_ += "\\t";
        return;
      case '\r':
        out_ += "\\r";
        return;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out_ += "\\u00";
        out_ += kHex[c >> 4];
        out_ += kHex[c & 0xf];
      }
    }
  }
  // The length of the well-formed UTF-8 sequence `s` starts with, or 0.
  static std::size_t utf8_length(std::string_view s) {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return 0;
    }
    if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
    for (std::size_t i = 2; i < n; ++i) {
      if (b(i) < 0x80 || b(i) > 0xBF) return 0;
    }
    return n;
  }

  std::string& out_;
  bool first_ = true;
};

}  // namespace

// Written by hand, not through nlohmann::json: a compile's record names
// every header it read (a few hundred files, ~20 KB), and building the
// json tree for it cost ~10 % of a direct hit. decode_record reads it back
// with nlohmann; journal_test.cpp checks the two agree.
std::string encode_record(const ActionRecord& r) {
  std::string out;
  std::size_t guess = 512 + r.command.size() * 16;
  for (const auto& f : r.inputs) guess += f.path.size() + f.digest.size() + 32;
  out.reserve(guess);
  JsonWriter w(out);
  out += '{';
  w.key("invocation").string(r.invocation);
  w.key("kind").string(r.kind);
  w.key("subject").string(r.subject);
  w.key("outcome").string(r.outcome);
  w.key("cached").boolean(r.cached);
  w.key("where").string(r.where);
  w.key("scheduler").string(r.scheduler);
  w.key("digest_function").string(r.digest_function);
  w.key("action_digest").string(r.action_digest);
  w.key("toolchain").string(r.toolchain);
  w.key("toolchain_path").string(r.toolchain_path);
  w.key("command").strings(r.command);
  w.key("cwd").string(r.cwd);
  w.key("inputs").files(r.inputs);
  w.key("outputs").files(r.outputs);
  w.key("exit_code").number(r.exit_code);
  w.key("start_us").number(r.start_us);
  w.key("end_us").number(r.end_us);
  w.key("phases");
  out += '[';
  for (std::size_t i = 0; i < r.phases.size(); ++i) {
    if (i != 0) out += ',';
    out += '{';
    JsonWriter p(out);
    p.key("name").string(r.phases[i].name);
    p.key("start_us").number(r.phases[i].start_us);
    p.key("end_us").number(r.phases[i].end_us);
    out += '}';
  }
  out += ']';
  w.key("pid").number(r.pid);
  out += '}';
  return out;
}

Result<ActionRecord> decode_record(std::string_view line) {
  try {
    const json j = json::parse(line);
    ActionRecord r;
    j.at("invocation").get_to(r.invocation);
    j.at("kind").get_to(r.kind);
    j.at("subject").get_to(r.subject);
    j.at("outcome").get_to(r.outcome);
    j.at("cached").get_to(r.cached);
    j.at("where").get_to(r.where);
    j.at("scheduler").get_to(r.scheduler);
    j.at("digest_function").get_to(r.digest_function);
    j.at("action_digest").get_to(r.action_digest);
    j.at("toolchain").get_to(r.toolchain);
    j.at("toolchain_path").get_to(r.toolchain_path);
    j.at("command").get_to(r.command);
    j.at("cwd").get_to(r.cwd);
    r.inputs = files_from(j.at("inputs"));
    r.outputs = files_from(j.at("outputs"));
    j.at("exit_code").get_to(r.exit_code);
    j.at("start_us").get_to(r.start_us);
    j.at("end_us").get_to(r.end_us);
    for (const auto& p : j.at("phases")) {
      r.phases.push_back({p.at("name").get<std::string>(), p.at("start_us").get<std::int64_t>(),
                          p.at("end_us").get<std::int64_t>()});
    }
    j.at("pid").get_to(r.pid);
    return r;
  } catch (const json::exception& e) {
    return make_error(Errc::kInvalidArgument, std::string("not a journal record: ") + e.what());
  }
}

std::string encode_invocation(const InvocationInfo& info) {
  const json j = {{"id", info.invocation.id},
                  {"labels", labels_json(info.invocation.labels)},
                  {"started_us", info.started_us},
                  {"cwd", info.cwd},
                  {"command", info.command}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<InvocationInfo> decode_invocation(std::string_view text) {
  try {
    const json j = json::parse(text);
    InvocationInfo info;
    j.at("id").get_to(info.invocation.id);
    info.invocation.labels = labels_from(j.at("labels"));
    j.at("started_us").get_to(info.started_us);
    j.at("cwd").get_to(info.cwd);
    j.at("command").get_to(info.command);
    return info;
  } catch (const json::exception& e) {
    return make_error(Errc::kInvalidArgument, std::string("not an invocation record: ") + e.what());
  }
}

std::vector<AncestorProcess> process_ancestry() {
  std::vector<AncestorProcess> out;
  int pid = ::getppid();
  while (pid > 1 && out.size() < 32) {
    auto stat = read_stat(pid);
    if (!stat) break;
    out.push_back(stat->first);
    pid = stat->second;
  }
  return out;
}

Invocation current_invocation(const std::string& configured_id, const Labels& labels) {
  Invocation invocation{configured_id, labels};
  if (!invocation.id.empty()) return invocation;
  // Up to the first process outside the build chain: find_anchor looks no
  // further, and every /proc read is time on each compile.
  std::vector<AncestorProcess> ancestors;
  for (int pid = ::getppid(); pid > 1 && ancestors.size() < 32;) {
    auto stat = read_stat(pid);
    if (!stat) break;
    ancestors.push_back(stat->first);
    if (!in_build_chain(stat->first.name)) break;
    pid = stat->second;
  }
  if (auto anchor = find_anchor(ancestors)) {
    invocation.id = derive_invocation_id(boot_id(), ancestors[*anchor]);
  } else if (auto self = read_stat(::getpid())) {
    invocation.id = derive_invocation_id(boot_id(), self->first);
  } else {
    invocation.id = derive_invocation_id(boot_id(), AncestorProcess{::getpid(), "", 0});
  }
  return invocation;
}

std::int64_t wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Journal::Journal(fs::path cache_dir, std::size_t keep, std::uint64_t max_bytes)
    : dir_(std::move(cache_dir) / "invocations"),
      keep_(std::max<std::size_t>(keep, 1)),
      max_bytes_(max_bytes) {}

Status Journal::begin(const InvocationInfo& info) {
  if (auto checked = check_invocation_id(info.invocation.id); !checked.ok()) return checked;
  const fs::path path = info_file(dir_, info.invocation.id);
  if (::access(path.c_str(), F_OK) == 0) return {};
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + dir_.string() + ": " + ec.message());
  // Written whole under a name of this process's, then linked into place:
  // of the processes that start together, the first link wins and the
  // others find the file there (EEXIST).
  const std::string mine = path.string() + ".new." + std::to_string(::getpid());
  if (auto written = base::write_file_atomically(mine, encode_invocation(info)); !written.ok()) {
    return written;
  }
  const int linked = ::link(mine.c_str(), path.c_str());
  const int err = errno;
  ::unlink(mine.c_str());
  if (linked != 0) {
    if (err == EEXIST) return {};
    return base::os_error(err, "cannot record " + path.string());
  }
  prune();
  return {};
}

Status Journal::append(const ActionRecord& record) {
  if (auto checked = check_invocation_id(record.invocation); !checked.ok()) return checked;
  std::string line = encode_record(record);
  line += '\n';
  const fs::path path = journal_file(dir_, record.invocation);
  base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid() && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    fd = base::UniqueFd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  }
  if (!fd.valid()) return base::os_error(errno, "cannot open " + path.string());
  // One write: the line lands whole next to other processes' lines.
  const ssize_t n = ::write(fd.get(), line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    return base::os_error(n < 0 ? errno : EIO, "cannot append to " + path.string());
  }
  return {};
}

std::vector<InvocationInfo> Journal::list() const {
  std::vector<std::pair<fs::file_time_type, InvocationInfo>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const fs::path& p = entry.path();
    if (p.extension() != ".json") continue;
    auto info = decode_invocation(read_text(p));
    if (!info.ok() || !check_invocation_id(info->invocation.id).ok() ||
        p.stem() != info->invocation.id) {
      continue;
    }
    // Activity: the journal's last append, else the invocation file.
    std::error_code time_ec;
    auto when = fs::last_write_time(journal_file(dir_, info->invocation.id), time_ec);
    if (time_ec) when = fs::last_write_time(p, time_ec);
    found.emplace_back(when, std::move(info).value());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second.started_us > b.second.started_us;
  });
  std::vector<InvocationInfo> out;
  out.reserve(found.size());
  for (auto& [when, info] : found) out.push_back(std::move(info));
  return out;
}

Result<InvocationInfo> Journal::info(std::string_view id) const {
  if (auto checked = check_invocation_id(id); !checked.ok()) return checked.error();
  auto text =
      base::read_file_if_exists(info_file(dir_, id).string(), {.max_bytes = kMaxJournalBytes});
  if (!text.ok()) return text.error();
  if (!*text) {
    // Records without an invocation file (it was pruned, or never written).
    if (::access(journal_file(dir_, id).c_str(), F_OK) == 0) {
      return InvocationInfo{Invocation{std::string(id), {}}, 0, "", {}};
    }
    return make_error(Errc::kNotFound, "no invocation " + std::string(id) + " in " + dir_.string());
  }
  return decode_invocation(**text);
}

Result<std::vector<ActionRecord>> Journal::records(std::string_view id) const {
  if (auto known = info(id); !known.ok()) return known.error();
  auto text =
      base::read_file_if_exists(journal_file(dir_, id).string(), {.max_bytes = kMaxJournalBytes});
  if (!text.ok()) return text.error();
  std::vector<ActionRecord> out;
  if (!*text) return out;
  std::string_view rest = **text;
  while (!rest.empty()) {
    const std::size_t nl = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(std::min(nl + 1, rest.size()));
    if (line.empty()) continue;
    if (auto record = decode_record(line); record.ok()) out.push_back(std::move(record).value());
  }
  return out;
}

void Journal::prune() const {
  // From the directory alone (names, times, sizes): no file is read, so a
  // process that begins an invocation of its own (a compile run by hand)
  // pays a readdir and some stats, not a parse of every journal kept.
  // Activity, as list() orders it: the journal's last append, else the
  // invocation file's writing.
  struct Kept {
    std::string id;
    fs::file_time_type when;
    bool appended = false;
    std::uint64_t bytes = 0;
  };
  std::map<std::string, Kept> by_id;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const fs::path& p = entry.path();
    const std::string ext = p.extension().string();
    if (ext != ".json" && ext != ".jsonl") continue;
    const std::string id = p.stem().string();
    if (!check_invocation_id(id).ok()) continue;
    std::error_code file_ec;
    const auto when = entry.last_write_time(file_ec);
    const auto size = entry.file_size(file_ec);
    Kept& k = by_id[id];
    k.id = id;
    if (!file_ec) {
      k.bytes += size;
      if (ext == ".jsonl") {
        k.when = when;
        k.appended = true;
      } else if (!k.appended) {
        k.when = when;
      }
    }
  }
  if (by_id.size() <= keep_ && max_bytes_ == 0) return;
  std::vector<Kept> known;
  known.reserve(by_id.size());
  for (auto& [id, k] : by_id) known.push_back(std::move(k));
  std::sort(known.begin(), known.end(),
            [](const Kept& a, const Kept& b) { return a.when > b.when; });
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (i > 0) bytes += known[i].bytes;
    if (i >= keep_ || (max_bytes_ > 0 && bytes > max_bytes_)) {
      fs::remove(journal_file(dir_, known[i].id), ec);
      fs::remove(info_file(dir_, known[i].id), ec);
    }
  }
}

}  // namespace kiln::client
