// Who may send what, where (docs/security.md): the rights of each key's
// role on each of the scheduler's endpoints, as pure functions the server
// asks for every connection (may_connect, through the ZAP handler) and
// every message (may_send).
//
//   role      endpoint  may send
//   worker    workers   everything the worker endpoint serves: sessions,
//                       leaseResult (the only way the action cache is
//                       written), CAS transfers
//   client    clients   everything the client endpoint serves: execute,
//                       cancel, uploads, reads, status, client records
//   readonly  clients   reads only: getActionResult, findMissing,
//                       download, status, getRecords
//
// A role never connects to the other endpoint. Without authentication
// (plain TCP on loopback) every peer may send everything its endpoint
// serves, as a client or a worker.
#pragma once

#include <optional>
#include <string_view>

#include "proto/keys.h"
#include "proto/wire.capnp.h"

namespace kiln::scheduler {

enum class Endpoint { kClients, kWorkers };

// The ZAP domain of each endpoint's socket, and back.
const char* zap_domain(Endpoint endpoint);
std::optional<Endpoint> endpoint_of_domain(std::string_view domain);

bool may_connect(proto::Role role, Endpoint endpoint);

// `role` nullopt: authentication is off. Kinds an endpoint does not serve
// at all are "allowed" here: the server answers them unknownKind as before.
bool may_send(std::optional<proto::Role> role, Endpoint endpoint,
              schema::Envelope::Body::Which kind);

}  // namespace kiln::scheduler
