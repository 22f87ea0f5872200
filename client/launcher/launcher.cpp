// launcher.h: the launcher's entry. It resolves the compiler, decides what
// the command is (compile, link, or neither), lets the job try the cache,
// and is the one place an invocation ends: a Fallback runs the real
// compiler here, exactly once, and every outcome is counted here, once (the
// model is ccache's cache_compilation around do_cache_compilation).
#include "client/launcher/launcher.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "base/process.h"
#include "base/program_path.h"
#include "client/launcher/compile.h"
#include "client/launcher/link.h"
#include "client/launcher/stats.h"

namespace kiln::client::launcher {
namespace {

namespace fs = std::filesystem;

// The real compiler: PATH lookup of `name`, skipping kiln itself (so a
// symlink named gcc in front of the real one works).
std::optional<std::string> resolve_compiler(const std::string& name,
                                            const std::map<std::string, std::string>& env) {
  // kiln itself: this binary, or its sibling (kiln hands grid work to
  // kiln-grid, which must skip the `gcc -> kiln` symlink just the same).
  // Compared by device and inode (stat follows symlinks): no readlink walk
  // on every compile.
  std::vector<std::pair<dev_t, ino_t>> selves;
  struct stat st {};
  if (::stat("/proc/self/exe", &st) == 0) selves.emplace_back(st.st_dev, st.st_ino);
  std::error_code ec;
  const fs::path self_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const char* sibling : {"kiln", "kiln-grid"}) {
    if (!ec && ::stat((self_dir / sibling).c_str(), &st) == 0) {
      selves.emplace_back(st.st_dev, st.st_ino);
    }
  }
  // Executable, not a directory, and not kiln.
  base::ProgramSearch search;
  const auto it = env.find("PATH");
  search.path = it != env.end() ? std::string_view(it->second) : base::kDefaultPath;
  search.accept = [&selves](const std::string& candidate) {
    struct stat cst {};
    if (::stat(candidate.c_str(), &cst) != 0 || !S_ISREG(cst.st_mode) ||
        ::access(candidate.c_str(), X_OK) != 0) {
      return false;
    }
    return std::find(selves.begin(), selves.end(), std::pair(cst.st_dev, cst.st_ino)) ==
           selves.end();
  };
  return base::find_program(name, search);
}

// The command passes through: the real compiler replaces this process.
[[noreturn]] void exec_compiler(const std::vector<std::string>& command) {
  std::vector<char*> args;
  args.reserve(command.size() + 1);
  for (const std::string& a : command) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(command[0].c_str(), args.data());
  std::cerr << "kiln: error: cannot run " << command[0] << ": " << std::strerror(errno) << '\n';
  std::_Exit(127);
}

// A Fallback that is compiled here: the real compiler, run once, its output
// passed on as it printed it, then what it produced stored. Its execute
// and upload (store) phases go to `phases`.
CompileOutcome compile_here(Job& job, const Fallback& fallback, std::vector<Phase>& phases) {
  const RealRun run = job.prepare(fallback);
  const std::int64_t started = wall_clock_us();
  auto ran = base::run_captured(run.argv);
  const std::int64_t ran_until = wall_clock_us();
  phases.push_back({"execute", started, ran_until});
  if (!ran.ok()) {
    std::cerr << "kiln: error: " << ran.error().message << '\n';
    return CompileOutcome{.outcome = unrunnable_outcome(fallback), .exit_code = 127};
  }
  write_output(STDOUT_FILENO, ran->out);
  write_output(STDERR_FILENO, ran->err);
  if (ran->exit_code != 0) {
    return CompileOutcome{.outcome = failed_outcome(fallback), .exit_code = ran->exit_code};
  }
  CompileOutcome stored = job.store(fallback, run, *ran);
  phases.push_back({"upload", ran_until, wall_clock_us()});
  return stored;
}

// The journal's record of a compile or link kiln cached (uncacheable
// commands and KILN_DISABLE pass through unrecorded: kiln did nothing
// for them).
void record(Recorder& recorder, Job& job, const std::vector<std::string>& argv,
            const CompileOutcome& outcome, std::int64_t started, std::int64_t attempted,
            std::vector<Phase> ran) {
  ActionRecord r;
  r.kind = job.kind();
  r.subject = job.subject();
  r.outcome = journal_outcome(outcome);
  r.cached = served_from_cache(outcome.outcome);
  r.command = argv;
  r.exit_code = outcome.exit_code;
  r.start_us = started;
  r.where = "local";
  job.describe(r);
  // The job times the lookup itself when it went to the grid; else the
  // lookup is the whole attempt.
  if (r.phases.empty()) r.phases.push_back({"lookup", started, attempted});
  r.phases.insert(r.phases.end(), ran.begin(), ran.end());
  r.end_us = wall_clock_us();
  recorder.record(std::move(r));
}

// Counts an invocation's outcome: one line in KILN_LOGFILE, one counter in
// the stats file (which is advisory: a failure to update it is ignored).
void count(const Config& config, const std::string& subject, const CompileOutcome& outcome) {
  if (!config.logfile().empty()) {
    if (auto line = outcome_log_line(outcome, subject)) append_log(config, *line);
  }
  if (auto counter = outcome_counter(outcome)) {
    (void)add_stats(config.dir() / "stats", {{*counter, 1}});
  }
}

}  // namespace

int run_launcher(Context& ctx, const std::vector<std::string>& argv, const GridAccess& grid) {
  // The record of this compile spans the hand-over: kiln-grid goes on
  // with the start and the invocation kiln had.
  const std::optional<Handoff>& handed = grid.handed_over;
  const std::int64_t started =
      handed && handed->started_us != 0 ? handed->started_us : wall_clock_us();
  Recorder recorder(ctx.config, {},
                    [&ctx](const std::string& line) { append_log(ctx.config, line); });
  if (handed) recorder.adopt(handed->invocation);
  const JobJournal journal{recorder, started};
  std::string compiler;
  if (grid.handed_over) {
    compiler = grid.handed_over->compiler;  // resolved by kiln, for this very argv
  } else {
    auto found = resolve_compiler(argv[0], ctx.environment);
    if (!found) throw CommandError(127, "compiler '" + argv[0] + "' not found on PATH");
    compiler = std::move(*found);
  }
  std::vector<std::string> command = argv;  // the user's command, for the real compiler
  command[0] = compiler;

  // The inner step: the job tries the cache.
  std::unique_ptr<Job> job;
  Attempt attempt = Fallback{.outcome = Outcome::kCacheUnused};  // KILN_DISABLE
  if (!ctx.config.disable()) {
    auto analysis = analyze_command(argv, read_file_or_none);
    if (auto* why = std::get_if<Uncacheable>(&analysis)) {
      attempt = Fallback{.outcome = Outcome::kUncacheable, .reason = std::move(why->reason)};
    } else if (auto* args = std::get_if<CompileArgs>(&analysis)) {
      job = make_compile_job(ctx, argv, compiler, std::move(*args), grid, journal);
      attempt = job->attempt();
    } else {
      job = make_link_job(ctx, argv, compiler, std::get<LinkArgs>(std::move(analysis)), journal);
      attempt = job->attempt();
    }
  }

  // The outer step: a fallback runs the real compiler, once; the outcome is
  // counted, once; a command that passes through is counted before the
  // compiler replaces this process.
  const std::int64_t attempted = wall_clock_us();
  std::vector<Phase> ran;  // execute and upload, when compiled here
  CompileOutcome outcome;
  if (auto* done = std::get_if<CompileOutcome>(&attempt)) {
    outcome = std::move(*done);
  } else if (Fallback& fallback = std::get<Fallback>(attempt); passes_through(fallback.outcome)) {
    outcome = CompileOutcome{.outcome = fallback.outcome, .reason = std::move(fallback.reason)};
  } else {
    outcome = compile_here(*job, fallback, ran);
  }
  count(ctx.config, job ? job->subject() : std::string(), outcome);
  if (job && !passes_through(outcome.outcome) && recorder.enabled()) {
    record(recorder, *job, argv, outcome, started, attempted, std::move(ran));
  }
  if (passes_through(outcome.outcome)) exec_compiler(command);
  return outcome.exit_code;
}

std::optional<Handoff> take_handoff(char** argv) {
  const char* text = std::getenv(kHandoffVariable);
  if (text == nullptr) return std::nullopt;
  const std::string record = text;
  ::unsetenv(kHandoffVariable);
  std::vector<std::string> args;
  for (char** arg = argv; *arg != nullptr; ++arg) args.emplace_back(*arg);
  auto handoff = decode_handoff(record, ::getpid(), args);
  if (!handoff.ok()) return std::nullopt;  // not for this process: do the work anew
  return std::move(handoff).value();
}

}  // namespace kiln::client::launcher
