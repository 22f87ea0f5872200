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

bool may_send(std::optional<proto::Role> role, Endpoint endpoint, Which kind) {
  if (!role) return true;
  if (!may_connect(*role, endpoint)) return false;
  if (*role != proto::Role::kReadOnly) return true;
  switch (kind) {
    case Which::GET_ACTION_RESULT_REQUEST:
    case Which::FIND_MISSING_REQUEST:
    case Which::DOWNLOAD_REQUEST:
    case Which::STATUS_REQUEST:
    case Which::GET_RECORDS_REQUEST:
    case Which::ERROR:
      return true;
    default:
      return false;
  }
}

}  // namespace kiln::scheduler
