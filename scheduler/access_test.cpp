// Who may send what where: access.h's table.
#include "scheduler/access.h"

#include <gtest/gtest.h>

namespace kiln::scheduler {
namespace {

using Which = schema::Envelope::Body::Which;
using proto::Role;

TEST(Access, EachRoleConnectsToItsEndpointOnly) {
  EXPECT_TRUE(may_connect(Role::kWorker, Endpoint::kWorkers));
  EXPECT_FALSE(may_connect(Role::kWorker, Endpoint::kClients));
  EXPECT_TRUE(may_connect(Role::kClient, Endpoint::kClients));
  EXPECT_FALSE(may_connect(Role::kClient, Endpoint::kWorkers));
  EXPECT_TRUE(may_connect(Role::kReadOnly, Endpoint::kClients));
  EXPECT_FALSE(may_connect(Role::kReadOnly, Endpoint::kWorkers));
}

TEST(Access, AReadOnlyKeyReadsButNeverWritesOrSubmits) {
  for (Which kind :
       {Which::GET_ACTION_RESULT_REQUEST, Which::FIND_MISSING_REQUEST, Which::DOWNLOAD_REQUEST,
        Which::STATUS_REQUEST, Which::GET_RECORDS_REQUEST, Which::ERROR}) {
    EXPECT_TRUE(may_send(Role::kReadOnly, Endpoint::kClients, kind)) << static_cast<int>(kind);
  }
  for (Which kind : {Which::EXECUTE_REQUEST, Which::UPLOAD_CHUNK, Which::CANCEL_REQUEST,
                     Which::LEASE_RESULT, Which::WORKER_HELLO, Which::PUT_RECORDS_REQUEST}) {
    EXPECT_FALSE(may_send(Role::kReadOnly, Endpoint::kClients, kind)) << static_cast<int>(kind);
  }
}

TEST(Access, ClientsAndWorkersSendWhatTheirEndpointServes) {
  EXPECT_TRUE(may_send(Role::kClient, Endpoint::kClients, Which::EXECUTE_REQUEST));
  EXPECT_TRUE(may_send(Role::kClient, Endpoint::kClients, Which::UPLOAD_CHUNK));
  EXPECT_TRUE(may_send(Role::kWorker, Endpoint::kWorkers, Which::LEASE_RESULT));
  EXPECT_TRUE(may_send(Role::kWorker, Endpoint::kWorkers, Which::UPLOAD_CHUNK));
  // The action cache is written only through a worker's leaseResult: no
  // client key reaches the worker endpoint at all.
  EXPECT_FALSE(may_send(Role::kClient, Endpoint::kWorkers, Which::LEASE_RESULT));
  EXPECT_FALSE(may_send(Role::kWorker, Endpoint::kClients, Which::EXECUTE_REQUEST));
}

TEST(Access, WithoutAuthenticationEverythingIsAsBefore) {
  EXPECT_TRUE(may_send(std::nullopt, Endpoint::kClients, Which::EXECUTE_REQUEST));
  EXPECT_TRUE(may_send(std::nullopt, Endpoint::kWorkers, Which::LEASE_RESULT));
}

TEST(Access, DomainsNameTheEndpoints) {
  EXPECT_EQ(endpoint_of_domain(zap_domain(Endpoint::kClients)), Endpoint::kClients);
  EXPECT_EQ(endpoint_of_domain(zap_domain(Endpoint::kWorkers)), Endpoint::kWorkers);
  EXPECT_EQ(endpoint_of_domain(""), std::nullopt);
  EXPECT_EQ(endpoint_of_domain("global"), std::nullopt);
}

}  // namespace
}  // namespace kiln::scheduler
