// trace_command.h: `kiln trace`.
#include "client/trace_command.h"

#include <algorithm>
#include <array>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>

#include "base/files.h"
#include "client/journal.h"
#include "client/trace.h"

namespace kiln::client {
namespace {

struct TraceOptions {
  std::string invocation;
  std::string output = "trace.json";
  bool list = false;
};

// Local time to the second: when an invocation started, for people.
std::string local_time(std::int64_t us) {
  if (us <= 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(us / 1'000'000);
  std::tm local{};
  ::localtime_r(&seconds, &local);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
  return text;
}

// The lines of an invocation's journal (journal.h's layout): its records,
// counted without parsing them (a journal of a big build is megabytes).
std::size_t count_records(const Journal& journal, const std::string& id) {
  std::ifstream in(journal.dir() / (id + ".jsonl"), std::ios::binary);
  std::size_t lines = 0;
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    lines += static_cast<std::size_t>(std::count(buffer.data(), buffer.data() + in.gcount(), '\n'));
  }
  return lines;
}

int list(Context& ctx, const Journal& journal) {
  const auto known = journal.list();
  if (known.empty()) {
    ctx.err << "kiln trace: no invocations recorded in " << journal.dir().string() << '\n';
    return kExitOk;
  }
  // Newest first, as Journal::list orders them.
  for (const InvocationInfo& info : known) {
    const std::size_t actions = count_records(journal, info.invocation.id);
    ctx.out << info.invocation.id << "  " << local_time(info.started_us) << "  " << actions
            << " action" << (actions == 1 ? "" : "s");
    if (!info.invocation.labels.empty()) ctx.out << "  " << format_labels(info.invocation.labels);
    ctx.out << '\n';
  }
  return kExitOk;
}

int trace(Context& ctx, const TraceOptions& opts) {
  const Journal journal(ctx.config.dir(), ctx.config.keep_invocations(),
                        ctx.config.journal_max_size());
  if (opts.list) {
    if (!opts.invocation.empty())
      throw CommandError(kExitUsage, "kiln trace --list takes no invocation");
    return list(ctx, journal);
  }
  std::string id = opts.invocation;
  if (id.empty()) {
    const auto known = journal.list();
    if (known.empty()) {
      throw CommandError(kExitNotFound, "no invocations recorded in " + journal.dir().string() +
                                            " (is the journal off? see kiln config: journal)");
    }
    id = known.front().invocation.id;
  } else if (auto checked = check_invocation_id(id); !checked.ok()) {
    throw CommandError(kExitUsage,
                       "'" + id + "' is not an invocation id: " + checked.error().message);
  }
  auto info = journal.info(id);
  if (!info.ok() && info.error().code == Errc::kNotFound) {
    throw CommandError(kExitNotFound,
                       "no invocation " + id + " (kiln trace --list shows the known ones)");
  }
  const InvocationInfo known = check(std::move(info));
  const std::vector<ActionRecord> records = check(journal.records(id));
  const std::string text = chrome_trace(known, records);
  if (opts.output == "-") {
    ctx.out << text;
    ctx.out.flush();
    return kExitOk;
  }
  if (auto written = base::write_file_atomically(opts.output, text); !written.ok()) {
    throw CommandError(kExitFailure, "cannot write the trace: " + written.error().message);
  }
  ctx.err << "kiln trace: wrote " << opts.output << " (" << records.size() << " action"
          << (records.size() == 1 ? "" : "s") << " of invocation " << id
          << "); open it in ui.perfetto.dev or chrome://tracing\n";
  return kExitOk;
}

}  // namespace

std::function<int(Context&)> add_trace_command(CLI::App& app) {
  auto opts = std::make_shared<TraceOptions>();
  CLI::App* cmd = app.add_subcommand(
      "trace", "Write an invocation's actions as Chrome trace events (chrome://tracing, Perfetto)");
  cmd->add_option("invocation", opts->invocation,
                  "The invocation (default: the most recent; see --list)");
  cmd->add_option("-o,--output", opts->output,
                  "Where to write the trace ('-' = stdout; default trace.json)");
  cmd->add_flag("--list", opts->list, "List the known invocations, newest first");
  return [opts](Context& ctx) { return trace(ctx, *opts); };
}

}  // namespace kiln::client
