// access.h: the table, as code.
#include "scheduler/access.h"

namespace kiln::scheduler {

using Which = schema::Envelope::Body::Which;

const char* zap_domain(Endpoint endpoint) {
  return endpoint == Endpoint::kWorkers ? "kiln-workers" : "kiln-clients";
}

std::optional<Endpoint> endpoint_of_domain(std::string_view domain) {
  if (domain == zap_domain(Endpoint::kWorkers)) return Endpoint::kWorkers;
  if (domain == zap_domain(Endpoint::kClients)) return Endpoint::kClients;
  return std::nullopt;
}

bool may_connect(proto::Role role, Endpoint endpoint) {
  return endpoint == Endpoint::kWorkers ? role == proto::Role::kWorker
                                        : role != proto::Role::kWorker;
}

bool is_loopback_endpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  const std::string_view rest = endpoint.substr(6);
  return rest.starts_with("127.") || rest.starts_with("localhost:") || rest.starts_with("[::1]:");
}

bool may_send(std::optional<proto::Role> role, Endpoint endpoint, Which kind) {
  if (!role) return true;
  if (!may_connect(*role, endpoint)) return false;
  if (*role != proto::Role::kReadOnly) return true;
  switch (kind) {
    case Which::GET_ACTION_RESULT_REQUEST:
    case Which::FIND_MISSING_REQUEST:
    case Which::DOWNLOAD_REQUEST:
    case Which::STATUS_REQUEST:
    case Which::ERROR:
      return true;
    default:
      return false;
  }
}

}  // namespace kiln::scheduler
