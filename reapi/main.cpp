// kiln-reapi: the Remote Execution API v2 front-end of a kiln grid
// (docs/reapi.md). It serves the API's services over gRPC on --endpoint,
// from the scheduler's central store (--store, a SHA-256 store; it opens
// the same LMDB directory as kiln-scheduler, on the same machine) and runs
// actions by submitting them to the scheduler (--scheduler) as a kiln
// client. main() wires the command line, logging and signals around the
// services and is the one place that turns a failure into
// "kiln-reapi: error: <what>" and an exit code:
//   0  stopped cleanly (SIGTERM/SIGINT)
//   1  failed: the store could not be opened, the endpoint not bound
//   2  usage: a bad option or value
//
// Trust (reapi/access.h): without --tokens the endpoint must be loopback,
// and every caller may read, upload and execute; --allow-updates lets them
// write the action cache too. With --tokens FILE, each call needs a bearer
// token of a role that may make it; off loopback, the endpoint also needs
// TLS (--tls-cert, --tls-key), or the tokens would travel in clear.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "base/files.h"
#include "base/log_spdlog.h"
#include "cas/store.h"
#include "proto/curve.h"
#include "reapi/action_cache.h"
#include "reapi/cas_services.h"
#include "reapi/execution.h"

namespace kiln::reapi {
namespace {

enum ExitCode : int { kExitOk = 0, kExitFailure = 1, kExitUsage = 2 };

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string read_file(const std::string& path, const char* option, bool secret) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw UsageError(std::string(option) + " " + path + ": " + std::strerror(errno));
  }
  if (secret && (st.st_mode & 0077) != 0) {
    throw UsageError(std::string(option) + " " + path +
                     " may be read by others; it holds secrets (chmod 600 it)");
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw UsageError(std::string(option) + " " + path + ": cannot read it");
  return text.str();
}

bool is_loopback(const std::string& endpoint) {
  for (const char* host : {"127.0.0.1:", "localhost:", "[::1]:"}) {
    if (endpoint.rfind(host, 0) == 0) return true;
  }
  return false;
}

std::optional<proto::CurveClientKeys> curve_keys(const std::string& key_file,
                                                 const std::string& scheduler_key, bool no_auth) {
  auto keys = proto::scheduler_client_keys(key_file, scheduler_key, no_auth);
  if (!keys.ok()) throw UsageError(keys.error().message);
  return *keys;
}

int run(int argc, char** argv) {
  // Before any thread exists (gRPC's, ZeroMQ's): the signals that stop the
  // server wait for sigwait() below instead of killing the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  CLI::App app{"kiln-reapi: the Remote Execution API v2 (gRPC) front-end of a kiln grid"};
  app.set_version_flag("--version", "kiln-reapi 0.1.0");
  app.footer(
      "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 failure, 2 usage error.\n"
      "Point Bazel at it with --remote_executor=grpc://HOST:PORT (docs/reapi.md).\n");
  std::string endpoint = "127.0.0.1:7020";
  std::string scheduler = "tcp://127.0.0.1:7010";
  std::string store_dir;
  std::string ready_file;
  std::string tokens_file;
  std::string tls_cert;
  std::string tls_key;
  std::string key_file;
  std::string scheduler_key;
  std::string log_level = "info";
  bool allow_updates = false;
  bool no_auth = false;
  app.add_option("--endpoint", endpoint, "HOST:PORT to serve the API on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--scheduler", scheduler, "The scheduler's client endpoint")
      ->capture_default_str();
  app.add_option("--store", store_dir, "The scheduler's central store directory (a sha256 store)")
      ->required();
  app.add_option("--ready-file", ready_file, "Write HOST:PORT here once serving");
  app.add_option("--tokens", tokens_file,
                 "Bearer tokens: lines 'ROLE NAME TOKEN' (readonly, client, writer)");
  app.add_flag("--allow-updates", allow_updates,
               "Without --tokens: let callers write the action cache (UpdateActionResult)");
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve TLS");
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  app.add_option("--key", key_file, "This front-end's CURVE key file, a client key (kiln keygen)");
  app.add_option("--scheduler-key", scheduler_key,
                 "The scheduler's public key: Z85 text or its .pub file");
  app.add_flag("--no-auth", no_auth, "Plain TCP to a scheduler started with --no-auth");
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    throw UsageError(std::string(e.what()) + " (see kiln-reapi --help)");
  }

  std::vector<Token> tokens;
  if (!tokens_file.empty()) {
    auto parsed = parse_tokens(read_file(tokens_file, "--tokens", true));
    if (!parsed.ok()) throw UsageError("--tokens " + tokens_file + ": " + parsed.error().message);
    if (parsed->empty()) throw UsageError("--tokens " + tokens_file + " holds no token");
    tokens = std::move(parsed).value();
    if (allow_updates)
      throw UsageError("--allow-updates is for servers without --tokens; give writer tokens");
  }
  if (tls_cert.empty() != tls_key.empty()) throw UsageError("--tls-cert and --tls-key go together");
  if (!is_loopback(endpoint) && (tokens.empty() || tls_cert.empty())) {
    throw UsageError("--endpoint " + endpoint +
                     " is not loopback: give --tokens and --tls-cert/--tls-key (docs/reapi.md)");
  }
  auto curve = curve_keys(key_file, scheduler_key, no_auth);

  auto log = spdlog::stderr_color_mt("kiln-reapi");
  log->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%t] %v");
  log->set_level(spdlog::level::from_str(log_level == "warn" ? "warning" : log_level));
  Logger logger = [log](LogLevel level, const std::string& text) {
    log->log(to_spdlog(level), text);
  };

  cas::StoreOptions store_options;
  store_options.dir = store_dir;
  store_options.function = cas::DigestFunction::kSha256;
  store_options.warn = [log](std::string_view text) { log->warn("store: {}", text); };
  auto opened = cas::Store::open(store_options);
  if (!opened.ok()) {
    std::string message = "store " + store_dir + ": " + opened.error().message;
    if (opened.error().code == Errc::kInvalidArgument) {
      message +=
          " (the REAPI needs a sha256 store: start the scheduler with --digest-function sha256)";
    }
    throw std::runtime_error(message);
  }
  SharedStore store(std::move(opened).value());
  Gate gate(std::move(tokens), allow_updates);
  zmq::context_t context;

  ServiceOptions service_options;
  CapabilitiesService capabilities(gate, service_options);
  CasService cas_service(store, gate);
  ByteStreamService bytestream(store, gate, std::filesystem::path(store_dir) / "reapi-uploads");
  ActionCacheService action_cache(store, gate);
  ExecutionOptions execution_options;
  execution_options.scheduler_endpoint = scheduler;
  execution_options.curve = curve;
  auto execution =
      std::make_unique<ExecutionService>(store, gate, context, execution_options, logger);

  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!tls_cert.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back(
        {read_file(tls_key, "--tls-key", true), read_file(tls_cert, "--tls-cert", false)});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(endpoint, credentials, &port);
  // A batch's blobs plus the message's own framing.
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxBatchBytes + (1 << 20)));
  builder.SetMaxSendMessageSize(static_cast<int>(kMaxBatchBytes + (1 << 20)));
  builder.RegisterService(&capabilities);
  builder.RegisterService(&cas_service);
  builder.RegisterService(&bytestream);
  builder.RegisterService(&action_cache);
  builder.RegisterService(execution.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) throw std::runtime_error("cannot serve on " + endpoint);
  const std::string bound = endpoint.substr(0, endpoint.rfind(':') + 1) + std::to_string(port);
  log->info("serving the Remote Execution API on {} (scheduler {}, store {})", bound, scheduler,
            store_dir);
  if (!ready_file.empty()) {
    const std::string tmp = ready_file + ".tmp." + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << bound << '\n';
      if (!out.flush()) throw std::runtime_error("cannot write the ready file " + ready_file);
    }
    std::filesystem::rename(tmp, ready_file);
  }

  int signal = 0;
  sigwait(&signals, &signal);
  log->info("stopping (signal {})", signal);
  // Streams end, operations are abandoned (the grid finishes what it
  // started; a client reattaches after a restart by executing again).
  execution->stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  execution.reset();
  return kExitOk;
}

}  // namespace
}  // namespace kiln::reapi

int main(int argc, char** argv) {
  try {
    return kiln::reapi::run(argc, argv);
  } catch (const kiln::reapi::UsageError& e) {
    std::cerr << "kiln-reapi: error: " << e.what() << '\n';
    return kiln::reapi::kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "kiln-reapi: error: " << e.what() << '\n';
    return kiln::reapi::kExitFailure;
  }
}
