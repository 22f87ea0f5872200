# Test-only schema for codec_test.cpp; never linked into kiln itself.
#
# FutureEnvelope is Envelope as a newer peer would define it: the same fields
# in the same order, plus one union member appended. Messages built with it
# are wire-compatible with Envelope, which is how the tests produce an
# unknown body kind and arbitrarily deep nesting (Nest is recursive).
@0x8ac95faef28e5a54;

$import "/capnp/c++.capnp".namespace("kiln::testschema");

using Wire = import "wire.capnp";

struct Nest {
  child @0 :Nest;
  payload @1 :UInt64;
}

struct FutureEnvelope {
  version @0 :UInt16;
  requestId @1 :UInt64;
  body :union {
    error @2 :Wire.Error;
    workerHello @3 :Wire.WorkerHello;
    heartbeat @4 :Wire.Heartbeat;
    disconnect @5 :Text;
    findMissingRequest @6 :Wire.FindMissingRequest;
    findMissingResponse @7 :Wire.FindMissingResponse;
    uploadChunk @8 :Wire.BlobChunk;
    uploadResponse @9 :Wire.UploadResponse;
    downloadRequest @10 :Wire.DownloadRequest;
    downloadChunk @11 :Wire.BlobChunk;
    getActionResultRequest @12 :Wire.GetActionResultRequest;
    getActionResultResponse @13 :Wire.GetActionResultResponse;
    executeRequest @14 :Wire.ExecuteRequest;
    executeResponse @15 :Wire.ExecuteResponse;
    cancelRequest @16 :Wire.CancelRequest;
    lease @17 :Wire.Lease;
    leaseResult @18 :Wire.LeaseResult;
    cancelLease @19 :Wire.CancelLease;
    statusRequest @20 :Wire.StatusRequest;
    statusResponse @21 :Wire.StatusResponse;
    getRecordsRequest @22 :Wire.GetRecordsRequest;
    getRecordsResponse @23 :Wire.GetRecordsResponse;
    putRecordsRequest @24 :Wire.PutRecordsRequest;
    putRecordsResponse @25 :Wire.PutRecordsResponse;
    executeProgress @26 :Wire.ExecuteProgress;
    nest @27 :Nest;                       # the member this build lacks
  }
}
