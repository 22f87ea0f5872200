// provenance.h: the in-toto Statement with its SLSA v1 predicate.
#include "client/provenance.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace kiln::client {
namespace {

using nlohmann::ordered_json;

// The hash of "<hex>/<size>" (a digest without a size is taken whole).
std::string hex_of(std::string_view digest) {
  return std::string(digest.substr(0, digest.find('/')));
}

ordered_json digest_set(std::string_view function, std::string_view digest) {
  ordered_json set = ordered_json::object();
  set[digest_set_key(function)] = hex_of(digest);
  return set;
}

bool uri_safe(char c) {
  const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  return alnum || std::string_view("-._~!$&'()*+,;=:/").find(c) != std::string_view::npos;
}

std::string percent_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (uri_safe(c)) {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

}  // namespace

std::string digest_set_key(std::string_view function) {
  if (function == "sha256") return "sha256";
  return "kiln-" + std::string(function);
}

std::string rfc3339_utc(std::int64_t unix_us) {
  using namespace std::chrono;
  const sys_time<microseconds> t{microseconds(unix_us)};
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buf;
}

std::string builder_id(std::string_view where, std::string_view scheduler) {
  if (where.empty() || where == "local") return "urn:kiln:builder:local";
  std::string id = "urn:kiln:builder:worker:" + percent_encode(where);
  if (!scheduler.empty()) id += "@" + percent_encode(scheduler);
  return id;
}

std::string provenance_statement(const ProvenanceInput& in) {
  const ActionRecord& r = in.record;

  ordered_json labels = ordered_json::object();
  for (const auto& [name, value] : in.invocation.labels) labels[name] = value;

  ordered_json dependencies = ordered_json::array();
  for (const auto& input : r.inputs) {
    dependencies.push_back(
        {{"name", input.path}, {"digest", digest_set(r.digest_function, input.digest)}});
  }
  if (!r.toolchain.empty() || !r.toolchain_path.empty()) {
    ordered_json toolchain = {{"name", "toolchain"}};
    if (!r.toolchain_path.empty()) toolchain["uri"] = "file://" + percent_encode(r.toolchain_path);
    if (!r.toolchain.empty()) toolchain["digest"] = {{"kiln-toolchain", hex_of(r.toolchain)}};
    dependencies.push_back(std::move(toolchain));
  }

  ordered_json byproducts = ordered_json::array();
  for (const auto& output : r.outputs) {
    if (output.path == in.subject_name) continue;
    byproducts.push_back(
        {{"name", output.path}, {"digest", digest_set(r.digest_function, output.digest)}});
  }

  ordered_json subject_digest = {{"sha256", in.sha256_hex}};
  subject_digest["kiln-" + r.digest_function] = hex_of(in.kiln_digest);

  const ordered_json statement = {
      {"_type", kStatementType},
      {"subject", {{{"name", in.subject_name}, {"digest", subject_digest}}}},
      {"predicateType", kSlsaPredicateType},
      {"predicate",
       {{"buildDefinition",
         {{"buildType", kBuildType},
          {"externalParameters",
           {{"kind", r.kind}, {"command", r.command}, {"cwd", r.cwd}, {"labels", labels}}},
          {"internalParameters",
           {{"actionDigest", r.action_digest},
            {"digestFunction", r.digest_function},
            {"toolchain", {{"path", r.toolchain_path}, {"identity", r.toolchain}}},
            {"outcome", r.outcome},
            {"cached", r.cached}}},
          {"resolvedDependencies", dependencies}}},
        {"runDetails",
         {{"builder", {{"id", builder_id(r.where, r.scheduler)}}},
          {"metadata",
           {{"invocationId", in.invocation.id},
            {"startedOn", rfc3339_utc(r.start_us)},
            {"finishedOn", rfc3339_utc(r.end_us)}}},
          {"byproducts", byproducts}}}}}};
  return statement.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace kiln::client
