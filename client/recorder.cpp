// recorder.h: a process's records into the journal.
#include "client/recorder.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

namespace kiln::client {

Recorder::Recorder(const Config& config, std::vector<std::string> command, Log log)
    : config_(config),
      command_(std::move(command)),
      log_(std::move(log)),
      enabled_(config.journal()) {}

const Invocation& Recorder::invocation() {
  if (!invocation_) invocation_ = current_invocation(config_.invocation_id(), config_.labels());
  return *invocation_;
}

void Recorder::adopt(const std::string& id) {
  if (!id.empty() && check_invocation_id(id).ok()) invocation_ = Invocation{id, config_.labels()};
}

void Recorder::record(ActionRecord record) {
  if (!enabled_) return;
  Journal journal(config_.dir(), config_.keep_invocations(), config_.journal_max_size());
  record.invocation = invocation().id;
  record.pid = static_cast<int>(::getpid());
  if (!begun_) {
    // The invocation begins no later than this process's first action.
    const std::int64_t first = record.start_us != 0 ? record.start_us : started_us_;
    InvocationInfo info{invocation(), std::min(started_us_, first), record.cwd,
                        command_.empty() ? record.command : command_};
    if (info.cwd.empty()) {
      std::error_code ec;
      info.cwd = std::filesystem::current_path(ec).string();
    }
    if (auto begun = journal.begin(info); !begun.ok()) {
      if (log_) log_("journal: " + begun.error().message);
      enabled_ = false;  // said once; the records would fail the same way
      return;
    }
    begun_ = true;
  }
  if (auto appended = journal.append(record); !appended.ok() && log_) {
    log_("journal: " + appended.error().message);
  }
}

std::vector<Phase> executed_phases(const cas::ExecutionMetadata& m) {
  std::vector<Phase> out;
  const auto add = [&out](const char* name, std::uint64_t start, std::uint64_t end) {
    if (start == 0 || end == 0 || end < start) return;
    out.push_back({name, static_cast<std::int64_t>(start), static_cast<std::int64_t>(end)});
  };
  add("queue", m.queued_us, m.worker_start_us);
  add("input_fetch", m.input_fetch_start_us, m.input_fetch_end_us);
  add("execute", m.execution_start_us, m.execution_end_us);
  add("upload", m.output_upload_start_us, m.output_upload_end_us);
  return out;
}

std::string digest_text(const cas::Digest& digest) {
  return digest == cas::Digest{} ? std::string() : digest.to_string();
}

}  // namespace kiln::client
