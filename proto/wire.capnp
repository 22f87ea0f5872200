# kiln wire messages: every ZeroMQ message kiln sends carries exactly one
# Envelope (see PROTOCOL.md for the frame layout and the rules a peer follows
# for versions, unknown kinds and malformed input).
#
# Compatibility rules: fields and union members are only ever appended; a
# peer that reads a union member it does not know answers with an Error of
# code `unknownKind` (requests) or ignores it (replies and notifications).
@0xad7fd56b5e2a5848;

$import "/capnp/c++.capnp".namespace("kiln::schema");

using Model = import "model.capnp";

# Major version of this contract. A peer rejects a message whose major
# version differs from its own with Error.code = badVersion.
const protocolVersion :UInt16 = 1;

struct Envelope {
  version @0 :UInt16;       # the sender's protocolVersion
  requestId @1 :UInt64;     # chosen by the requester, echoed in its reply
  body :union {
    error @2 :Error;

    # Worker session (worker DEALER -> scheduler ROUTER), Paranoid Pirate.
    workerHello @3 :WorkerHello;
    heartbeat @4 :Heartbeat;
    disconnect @5 :Text;                  # reason; the peer forgets the session

    # CAS service, served by the scheduler (central tier).
    findMissingRequest @6 :FindMissingRequest;
    findMissingResponse @7 :FindMissingResponse;
    uploadChunk @8 :BlobChunk;            # client -> store
    uploadResponse @9 :UploadResponse;
    downloadRequest @10 :DownloadRequest;
    downloadChunk @11 :BlobChunk;         # store -> client

    # Action cache.
    getActionResultRequest @12 :GetActionResultRequest;
    getActionResultResponse @13 :GetActionResultResponse;

    # Execution (client -> scheduler -> worker and back).
    executeRequest @14 :ExecuteRequest;
    executeResponse @15 :ExecuteResponse;
    cancelRequest @16 :CancelRequest;
    lease @17 :Lease;                     # scheduler -> worker
    leaseResult @18 :LeaseResult;         # worker -> scheduler
    cancelLease @19 :CancelLease;         # scheduler -> worker

    # Observability.
    statusRequest @20 :StatusRequest;     # anyone -> scheduler (client endpoint)
    statusResponse @21 :StatusResponse;

    # Client records: what clients keep for each other (kiln test's
    # duration books, per-test pass records, slice plans), in a namespace
    # of the sender's key apart from the action cache (PROTOCOL.md §9).
    getRecordsRequest @22 :GetRecordsRequest;
    getRecordsResponse @23 :GetRecordsResponse;
    putRecordsRequest @24 :PutRecordsRequest;
    putRecordsResponse @25 :PutRecordsResponse;

    # scheduler -> client: an interim reply to an executeRequest that set
    # `progress` (same requestId; the executeResponse still follows).
    executeProgress @26 :ExecuteProgress;
  }
}

struct Error {
  code @0 :Code;
  message @1 :Text;
  enum Code {
    internal @0;
    badVersion @1;
    malformed @2;        # the message could not be decoded
    unknownKind @3;      # a body this peer does not implement
    notFound @4;
    invalidArgument @5;
    digestMismatch @6;   # uploaded bytes do not hash to the claimed digest
    resourceExhausted @7;
    timedOut @8;
    cancelled @9;
    unavailable @10;     # e.g. no worker matches, retries exhausted
    permissionDenied @11; # the sender's key may not do this (a read-only key submitting)
  }
}

struct WorkerHello {
  workerId @0 :Text;
  slots @1 :UInt32;
  platform @2 :List(Model.Property);
  heartbeatIntervalMs @3 :UInt32;
}

struct Heartbeat {
  busySlots @0 :UInt32;
}

struct FindMissingRequest {
  digestFunction @0 :Model.DigestFunction;
  digests @1 :List(Model.Digest);
}

struct FindMissingResponse {
  missing @0 :List(Model.Digest);
}

# One piece of a blob. Blobs larger than one frame travel as consecutive
# chunks with increasing offsets; `last` marks the final chunk.
struct BlobChunk {
  digestFunction @0 :Model.DigestFunction;
  digest @1 :Model.Digest;
  offset @2 :UInt64;
  data @3 :Data;
  last @4 :Bool;
}

struct UploadResponse {
  digest @0 :Model.Digest;
  committed @1 :Bool;     # true once the whole blob was verified and stored
}

struct DownloadRequest {
  digestFunction @0 :Model.DigestFunction;
  digest @1 :Model.Digest;
  offset @2 :UInt64;
  maxBytes @3 :UInt64;
}

struct GetActionResultRequest {
  digestFunction @0 :Model.DigestFunction;
  actionDigest @1 :Model.Digest;
}

struct GetActionResultResponse {
  found @0 :Bool;
  result @1 :Model.ActionResult;
}

struct ExecuteRequest {
  digestFunction @0 :Model.DigestFunction;
  actionDigest @1 :Model.Digest;
  action @2 :Model.Action;
  priority @3 :Int32;              # higher runs first within one client
  skipCacheLookup @4 :Bool;
  # Which build or test run the action belongs to, for the scheduler's
  # invocation pages (client/invocation.h); unset from older clients.
  invocation @5 :InvocationTag;
  # Where the action's /.kiln-base directory is on the client (an absolute,
  # normalized path; empty: nowhere). A hermetic compile keys the files of
  # a checkout relative to it, so copies of a tree at other paths share one
  # action; the worker puts them back at this path before the command runs
  # (docs/launcher.md, "Any checkout path"). Not part of the action digest:
  # identical actions are run once, for the first request's path.
  baseDir @6 :Text;
  # Ask for an executeProgress when a worker takes the action (kiln-reapi
  # reports the REAPI's EXECUTING stage with it). Older schedulers ignore it.
  progress @7 :Bool;
}

struct ExecuteProgress {
  actionDigest @0 :Model.Digest;
  workerId @1 :Text;               # the worker that took the action
}

# Untrusted like everything a client sends: the scheduler keeps an id only
# of 1-128 characters of [A-Za-z0-9._-], at most 16 labels, and cuts long
# texts (scheduler/invocations.h).
struct InvocationTag {
  id @0 :Text;
  labels @1 :List(Model.Property);  # NAME=VALUE: work item, commit, ...
  kind @2 :Text;                    # "compile", "link", "test", "run"
  subject @3 :Text;                 # what the action is about, for people
}

struct ExecuteResponse {
  actionDigest @0 :Model.Digest;
  result @1 :Model.ActionResult;
  cached @2 :Bool;
  status @3 :Error;                # meaningful only when hasStatus
  hasStatus @4 :Bool;              # true: the action did not produce `result`
  timedOut @5 :Bool;
  missingOutputs @6 :List(Text);
}

struct CancelRequest {
  actionDigest @0 :Model.Digest;
  executeRequestId @1 :UInt64;     # the requestId of the executeRequest to drop
}

struct CancelLease {
  leaseId @0 :UInt64;
}

struct StatusRequest {}

struct WorkerStatus {
  workerId @0 :Text;
  slots @1 :UInt32;
  busy @2 :UInt32;
  lastHeardMsAgo @3 :UInt64;
  platform @4 :List(Model.Property);
  quarantinedMsLeft @5 :UInt64;   # > 0: its leases kept failing, it gets none for now
}

struct StatusResponse {
  workers @0 :List(WorkerStatus);
  queued @1 :UInt64;              # distinct actions waiting for a slot
  running @2 :UInt64;             # distinct actions under lease
  waitingRequests @3 :UInt64;
  cacheBlobs @4 :UInt64;          # central store
  cacheBytes @5 :UInt64;
  cacheMaxBytes @6 :UInt64;
  actionCacheHits @7 :UInt64;     # executeRequests answered from the cache
  actionCacheMisses @8 :UInt64;
  executed @9 :UInt64;            # results accepted from workers
  uptimeMs @10 :UInt64;
  draining @11 :Bool;
  # Trust (docs/security.md): whether peers must present an allowed CURVE
  # key, how many connections were refused (a key not allowed on that
  # endpoint, a handshake without CURVE), how many messages of allowed
  # peers were refused (a revoked key, a kind its role may not send), and
  # whether client actions must use SHA-256.
  authenticated @12 :Bool;
  refusedConnections @13 :UInt64;
  refusedMessages @14 :UInt64;
  requireSha256 @15 :Bool;
  # Backups: leases started on a free worker for actions running too long
  # elsewhere, and how many of those answered first.
  backups @16 :UInt64;
  backupsWon @17 :UInt64;
}

struct Lease {
  leaseId @0 :UInt64;
  digestFunction @1 :Model.DigestFunction;
  actionDigest @2 :Model.Digest;
  action @3 :Model.Action;
  queuedUs @4 :UInt64;
  baseDir @5 :Text;                # ExecuteRequest.baseDir of the request that queued it
}

struct LeaseResult {
  leaseId @0 :UInt64;
  actionDigest @1 :Model.Digest;
  result @2 :Model.ActionResult;
  hasError @3 :Bool;
  error @4 :Error;
  retryable @5 :Bool;              # with hasError: another worker may succeed
  # Set when the result deserves an action-cache entry (ran to completion,
  # exit 0, every output present, cacheable action); every blob it names,
  # already uploaded to the central store, is listed in `referenced`.
  cacheable @6 :Bool;
  referenced @7 :List(Model.Digest);
  timedOut @8 :Bool;
  missingOutputs @9 :List(Text);
}

# A record's key is the client's own digest (of what it describes); the
# scheduler files it under the sender's namespace, so the same key from
# another namespace is another record.
struct GetRecordsRequest {
  digestFunction @0 :Model.DigestFunction;
  keys @1 :List(Model.Digest);    # at most 1,000
}

struct FoundRecord {
  found @0 :Bool;
  document @1 :Data;
}

struct GetRecordsResponse {
  # One per key, in the request's order; fewer when the answer would not
  # fit in one message: the client asks again for the rest.
  records @0 :List(FoundRecord);
}

struct ClientRecord {
  key @0 :Model.Digest;
  document @1 :Data;              # at most 4 MiB
}

struct PutRecordsRequest {
  digestFunction @0 :Model.DigestFunction;
  records @1 :List(ClientRecord);
  # Keep a record already there: the first writer's document stays, and the
  # response says what is stored (how slices of one test run agree).
  ifAbsent @2 :Bool;
}

struct PutRecordsResponse {
  # With ifAbsent, the document now stored under each key, in order.
  stored @0 :List(Data);
}
