# A REAPI v2 client that checks kiln-reapi against the published protocol
# (driven by tests/e2e/reapi_conformance.sh): each scenario makes real gRPC
# calls, checks the exact status code, and then checks that nothing was
# lost or stored wrongly. It uses Debian's python3-grpcio and the REAPI
# stubs shipped in python3-buildstream; those predate some fields (every
# digest_function, CacheCapabilities.supported_compressors) and ship no
# google.rpc.PreconditionFailure, so those are written and read here in
# protobuf's wire format.
#
#   reapi_conformance.py grpc://127.0.0.1:PORT MODE [scenario...]
#
# MODE says how the server was started: `open` (no tokens, no
# --allow-updates), `updates` (--allow-updates), or `tokens=FILE` (--tokens
# FILE, lines `ROLE NAME TOKEN`). Prints one line a scenario and ends with
# "N passed, N failed"; exits 1 if any failed.
import hashlib
import os
import sys
import time
import uuid

import grpc
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildstream._protos.google.bytestream import bytestream_pb2 as bs_pb
from buildstream._protos.google.bytestream import bytestream_pb2_grpc as bs_grpc

try:
    import zstandard
except ImportError:  # the zstd scenario then uses the zstd command
    zstandard = None

C = grpc.StatusCode
MIB = 1024 * 1024
RPC_TIMEOUT = 60
SHA256, SHA1, MD5 = 1, 2, 3  # DigestFunction.Value
ZSTD = 1  # Compressor.Value
STAGES = re_pb.ExecuteOperationMetadata.Stage
UNKNOWN_STAGE, CACHE_CHECK, QUEUED, EXECUTING, COMPLETED = (
    STAGES.Value(n) for n in ("UNKNOWN", "CACHE_CHECK", "QUEUED", "EXECUTING", "COMPLETED"))


class Failure(Exception):
    pass


STEP = [""]  # what the running scenario is doing, for its FAIL line


def step(text):
    STEP[0] = text


def check(cond, what):
    if not cond:
        raise Failure(what)


# --- protobuf wire format, for the fields the stubs lack -------------------

def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def varint_field(number, value):
    """A varint field (wire type 0) to append to a serialized message."""
    return varint(number << 3) + varint(value)


def wire_fields(buf):
    """[(number, value)] of a serialized message: ints for varints, bytes
    for length-delimited fields (fixed-width fields are skipped)."""
    out, i = [], 0

    def read_varint():
        nonlocal i
        shift = value = 0
        while True:
            byte = buf[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while i < len(buf):
        key = read_varint()
        number, kind = key >> 3, key & 7
        if kind == 0:
            out.append((number, read_varint()))
        elif kind == 2:
            n = read_varint()
            out.append((number, bytes(buf[i:i + n])))
            i += n
        elif kind == 1:
            i += 8
        elif kind == 5:
            i += 4
        else:
            raise Failure(f"unparseable protobuf (wire type {kind})")
    return out


def repeated_varints(buf, number):
    """The values of a repeated varint field, packed or not."""
    values = []
    for num, value in wire_fields(buf):
        if num != number:
            continue
        if isinstance(value, int):
            values.append(value)
        else:  # packed
            i = 0
            while i < len(value):
                shift = v = 0
                while True:
                    byte = value[i]
                    i += 1
                    v |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                values.append(v)
    return values


def precondition_violations(status):
    """(type, subject) of every google.rpc.PreconditionFailure violation in a
    google.rpc.Status's details."""
    out = []
    for detail in status.details:
        if not detail.type_url.endswith("/google.rpc.PreconditionFailure"):
            continue
        for num, violation in wire_fields(detail.value):
            if num != 1:
                continue
            fields = dict((n, v) for n, v in wire_fields(violation) if n in (1, 2))
            out.append((fields.get(1, b"").decode(), fields.get(2, b"").decode()))
    return out


# --- the client -------------------------------------------------------------

def digest_of(data):
    return re_pb.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def dkey(d):
    return (d.hash, d.size_bytes)


def unique(label, size=64):
    """size bytes no earlier run stored (so nothing is found by accident)."""
    seed = f"{label} {uuid.uuid4()} ".encode()
    return (seed * (size // len(seed) + 1))[:size]


class Client:
    def __init__(self, target, token=None):
        self.channel = grpc.insecure_channel(target, options=[
            ("grpc.max_send_message_length", 64 * MIB),
            ("grpc.max_receive_message_length", 64 * MIB)])
        self.metadata = [("authorization", f"Bearer {token}")] if token else []
        self.cas = re_grpc.ContentAddressableStorageStub(self.channel)
        self.ac = re_grpc.ActionCacheStub(self.channel)
        self.ex = re_grpc.ExecutionStub(self.channel)
        self.caps = re_grpc.CapabilitiesStub(self.channel)
        self.bs = bs_grpc.ByteStreamStub(self.channel)

    def call(self, method, request, timeout=RPC_TIMEOUT):
        return method(request, metadata=self.metadata, timeout=timeout)

    def stream(self, method, request, timeout=RPC_TIMEOUT):
        return method(request, metadata=self.metadata, timeout=timeout)

    def raw_unary(self, path, request_bytes, response_type):
        """A unary call whose request is given as bytes (fields the stubs lack)."""
        method = self.channel.unary_unary(path, request_serializer=None,
                                          response_deserializer=response_type.FromString)
        return method(request_bytes, metadata=self.metadata, timeout=RPC_TIMEOUT)

    def raw_stream(self, path, request_bytes, response_type):
        method = self.channel.unary_stream(path, request_serializer=None,
                                           response_deserializer=response_type.FromString)
        return method(request_bytes, metadata=self.metadata, timeout=RPC_TIMEOUT)

    # CAS helpers
    def upload(self, *blobs):
        """BatchUpdateBlobs of blobs, but for the empty blob, which Bazel
        never uploads (an empty Directory message is the empty blob too):
        the server must have it without (empty_blob_upload uploads it)."""
        request = re_pb.BatchUpdateBlobsRequest(requests=[
            re_pb.BatchUpdateBlobsRequest.Request(digest=digest_of(b), data=b) for b in blobs if b])
        response = self.call(self.cas.BatchUpdateBlobs, request)
        for r in response.responses:
            check(r.status.code == 0, f"BatchUpdateBlobs refused {r.digest.hash}: {r.status}")
        return [digest_of(b) for b in blobs]

    def upload_message(self, message):
        return self.upload(message.SerializeToString())[0]

    def missing(self, *digests):
        response = self.call(self.cas.FindMissingBlobs,
                             re_pb.FindMissingBlobsRequest(blob_digests=digests))
        return {dkey(d) for d in response.missing_blob_digests}

    def read(self, digest):
        response = self.call(self.cas.BatchReadBlobs, re_pb.BatchReadBlobsRequest(digests=[digest]))
        check(len(response.responses) == 1, f"BatchReadBlobs: {len(response.responses)} answers for 1")
        r = response.responses[0]
        check(r.status.code == 0, f"BatchReadBlobs {digest.hash}: status {r.status}")
        return r.data

    def bs_read(self, resource, offset=0, limit=0):
        chunks = self.stream(self.bs.Read, bs_pb.ReadRequest(
            resource_name=resource, read_offset=offset, read_limit=limit))
        return b"".join(c.data for c in chunks)

    def bs_write(self, resource, data, chunk=MIB, declared_finish=True):
        def requests():
            offset = 0
            while True:
                piece = data[offset:offset + chunk]
                last = offset + len(piece) >= len(data)
                yield bs_pb.WriteRequest(resource_name=resource if offset == 0 else "",
                                         write_offset=offset, data=piece,
                                         finish_write=last and declared_finish)
                offset += len(piece)
                if last:
                    return
        return self.bs.Write(requests(), metadata=self.metadata, timeout=RPC_TIMEOUT)

    def execute(self, action_digest, skip_cache=False):
        """Runs Execute to the end: (stages seen, last Operation, ExecuteResponse)."""
        ops = list(self.stream(self.ex.Execute, re_pb.ExecuteRequest(
            action_digest=action_digest, skip_cache_lookup=skip_cache), timeout=120))
        return finish_operation(ops, action_digest)

    def action(self, argv, outputs=(), input_root=None, env=None, do_not_cache=False):
        """Uploads a Command and an Action (empty input root by default)."""
        command = re_pb.Command(arguments=argv, output_files=sorted(outputs),
                                environment_variables=[
                                    re_pb.Command.EnvironmentVariable(name=k, value=v)
                                    for k, v in sorted((env or {"PATH": "/usr/bin:/bin"}).items())])
        command_digest = self.upload_message(command)
        root = input_root or self.upload_message(re_pb.Directory())
        action = re_pb.Action(command_digest=command_digest, input_root_digest=root,
                              do_not_cache=do_not_cache)
        action.timeout.seconds = 60
        return self.upload_message(action), command_digest


def finish_operation(ops, action_digest=None):
    check(ops, "Execute returned no operation")
    stages = []
    for op in ops:
        if op.HasField("metadata"):
            md = re_pb.ExecuteOperationMetadata()
            check(op.metadata.Unpack(md), f"operation metadata is a {op.metadata.type_url}")
            stages.append(md.stage)
            if action_digest is not None:
                check(dkey(md.action_digest) == dkey(action_digest),
                      f"metadata names action {md.action_digest.hash}")
    last = ops[-1]
    check(last.done, "the stream ended before the operation was done")
    check(last.name, "the operation has no name")
    check(all(not op.done for op in ops[:-1]), "an operation after the done one")
    check(not last.HasField("error"), f"operation error {last.error}")
    response = re_pb.ExecuteResponse()
    check(last.response.Unpack(response), f"operation response is a {last.response.type_url}")
    check(stages == sorted(stages), f"stages out of order: {stage_names(stages)}")
    check(UNKNOWN_STAGE not in stages, f"a stage UNKNOWN among {stage_names(stages)}")
    return stages, last, response


def describe(status):
    """A google.rpc.Status for a failure message: code, message, violations."""
    names = {code.value[0]: code.name for code in C}
    return (f"status {status.code} ({names.get(status.code, '?')}) "
            f"'{status.message}' {precondition_violations(status)}")


def stage_names(stages):
    return [STAGES.Name(s) for s in stages]


def expect_codes(codes, fn, *args, **kwargs):
    """Calls fn and checks it fails with one of codes (a stream is read to
    its end); returns the error."""
    names = " or ".join(code.name for code in codes)
    try:
        result = fn(*args, **kwargs)
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str)):
            result = list(result)
    except grpc.RpcError as e:
        check(e.code() in codes, f"expected {names}, got {e.code().name}: {e.details()}")
        return e
    raise Failure(f"expected {names}, got success: {str(result)[:200]}")


def expect_code(code, fn, *args, **kwargs):
    return expect_codes((code,), fn, *args, **kwargs)


def zstd_compress(data):
    if zstandard:
        return zstandard.ZstdCompressor().compress(data)
    import subprocess
    return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout


def zstd_decompress(data):
    if zstandard:
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    import subprocess
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, stdout=subprocess.PIPE,
                          check=True).stdout


CAS = "/build.bazel.remote.execution.v2.ContentAddressableStorage/"
AC = "/build.bazel.remote.execution.v2.ActionCache/"
EXEC = "/build.bazel.remote.execution.v2.Execution/"


# --- scenarios --------------------------------------------------------------
# Each takes the Run and returns a short note for its line; Failure (or any
# exception) fails it. `modes` says under which server modes it runs.

SCENARIOS = []


def scenario(*modes):
    def register(fn):
        SCENARIOS.append((fn.__name__, modes or ("open", "updates", "tokens"), fn))
        return fn
    return register


@scenario()
def capabilities(run):
    c = run.client("client")
    caps = c.call(c.caps.GetCapabilities, re_pb.GetCapabilitiesRequest(instance_name="any/name"))
    cache = caps.cache_capabilities
    check(SHA256 in cache.digest_function, f"cache digest functions {list(cache.digest_function)}")
    check(cache.max_batch_total_size_bytes == 4 * MIB,
          f"max_batch_total_size_bytes {cache.max_batch_total_size_bytes}, expected 4 MiB")
    compressors = repeated_varints(cache.SerializeToString(), 6)  # supported_compressors
    check(ZSTD in compressors, f"supported_compressors {compressors} lacks ZSTD")
    ex = caps.execution_capabilities
    check(ex.exec_enabled, "exec_enabled is false")
    check(ex.digest_function == SHA256, f"execution digest function {ex.digest_function}")
    check(caps.low_api_version.major == 2 or caps.high_api_version.major == 2,
          f"api versions {caps.low_api_version} .. {caps.high_api_version}")
    update = cache.action_cache_update_capabilities.update_enabled
    return (f"max batch {cache.max_batch_total_size_bytes}, compressors {compressors}, "
            f"update_enabled {update}, api {caps.low_api_version.major}.{caps.low_api_version.minor}"
            f"..{caps.high_api_version.major}.{caps.high_api_version.minor}")


@scenario()
def find_missing(run):
    c = run.client("client")
    present = c.upload(unique("present"))[0]
    absent = digest_of(unique("absent"))
    empty = digest_of(b"")
    got = c.missing(present, absent, empty)
    check(got == {dkey(absent)}, f"missing {got}, expected only the absent blob")
    check(c.missing() == set(), "an empty request reports something missing")
    bad = {
        "uppercase hash": re_pb.Digest(hash=present.hash.upper(), size_bytes=present.size_bytes),
        "63-character hash": re_pb.Digest(hash=present.hash[:63], size_bytes=present.size_bytes),
        "non-hex hash": re_pb.Digest(hash="g" * 64, size_bytes=1),
        "empty hash": re_pb.Digest(hash="", size_bytes=1),
        "negative size": re_pb.Digest(hash=present.hash, size_bytes=-1),
    }
    for what, digest in bad.items():
        try:
            expect_code(C.INVALID_ARGUMENT, c.missing, present, digest)
        except Failure as e:
            raise Failure(f"{what}: {e}")
    return "present/absent/empty blob right; 5 malformed digests refused"


@scenario()
def batch_round_trip(run):
    c = run.client("client")
    # The empty blob is read, never uploaded (Client.upload)
    blobs = [unique("small", 10), bytes(range(256)) * 4 + unique("bin", 7), unique("mib", MIB), b""]
    digests = c.upload(*blobs)
    check(c.missing(*digests) == set(), "uploaded blobs reported missing")
    response = c.call(c.cas.BatchReadBlobs, re_pb.BatchReadBlobsRequest(
        instance_name="some/instance", digests=digests + [digest_of(unique("nope"))]))
    got = {dkey(r.digest): r for r in response.responses}
    check(len(response.responses) == len(blobs) + 1, f"{len(response.responses)} answers")
    for blob, digest in zip(blobs, digests):
        r = got.get(dkey(digest))
        check(r is not None and r.status.code == 0, f"read of {len(blob)}-byte blob: {r}")
        check(r.data == blob, f"{len(blob)}-byte blob read back different ({len(r.data)} bytes)")
    nope = [r for r in response.responses if dkey(r.digest) not in map(dkey, digests)]
    check(nope[0].status.code == C.NOT_FOUND.value[0],
          f"missing blob's status {nope[0].status.code}, expected NOT_FOUND")
    return f"{len(blobs) - 1} blobs (up to 1 MiB) round-trip, the empty one reads; a missing one NOT_FOUND"


@scenario()
def batch_wrong_digest(run):
    c = run.client("client")
    good1, good2, real, claimed = (unique(n) for n in ("good1", "good2", "real", "claimed"))
    request = re_pb.BatchUpdateBlobsRequest(requests=[
        re_pb.BatchUpdateBlobsRequest.Request(digest=digest_of(good1), data=good1),
        re_pb.BatchUpdateBlobsRequest.Request(digest=digest_of(claimed), data=real),
        re_pb.BatchUpdateBlobsRequest.Request(digest=digest_of(good2), data=good2)])
    response = c.call(c.cas.BatchUpdateBlobs, request)
    codes = {dkey(r.digest): r.status.code for r in response.responses}
    check(len(response.responses) == 3, f"{len(response.responses)} answers for 3 entries")
    check(codes.get(dkey(digest_of(claimed))) == C.INVALID_ARGUMENT.value[0],
          f"the mismatched entry's status {codes.get(dkey(digest_of(claimed)))}, expected INVALID_ARGUMENT")
    for blob in (good1, good2):
        check(codes.get(dkey(digest_of(blob))) == 0, "a good entry beside it was refused")
    got = c.missing(digest_of(good1), digest_of(good2), digest_of(claimed), digest_of(real))
    check(got == {dkey(digest_of(claimed)), dkey(digest_of(real))},
          f"after the batch, missing {got}: expected the claimed and the real digest of the bad entry")
    check(c.read(digest_of(good2)) == good2, "a good entry read back different")
    # A size that does not match the data, with the right hash
    sized = unique("sized")
    d = digest_of(sized)
    d.size_bytes += 1
    response = c.call(c.cas.BatchUpdateBlobs, re_pb.BatchUpdateBlobsRequest(requests=[
        re_pb.BatchUpdateBlobsRequest.Request(digest=d, data=sized)]))
    check(response.responses[0].status.code == C.INVALID_ARGUMENT.value[0],
          f"size mismatch: status {response.responses[0].status.code}")
    check(c.missing(d, digest_of(sized)) == {dkey(d), dkey(digest_of(sized))}, "size mismatch stored")
    return "bad entry INVALID_ARGUMENT and not stored; its neighbours stored"


@scenario()
def batch_oversize(run):
    """Over the advertised 4 MiB but within what gRPC lets through: the
    server's own INVALID_ARGUMENT. Far over it (8 MiB): INVALID_ARGUMENT, or
    RESOURCE_EXHAUSTED from gRPC's message size limit. Nothing stored."""
    c = run.client("client")
    notes = []
    for label, size in (("4.5 MiB", 9 * MIB // 4), ("8 MiB", 4 * MIB)):
        a, b = unique(label + "a", size), unique(label + "b", size)
        da, db = digest_of(a), digest_of(b)
        request = re_pb.BatchUpdateBlobsRequest(requests=[
            re_pb.BatchUpdateBlobsRequest.Request(digest=digest_of(x), data=x) for x in (a, b)])
        step(f"BatchUpdateBlobs of {label}")
        codes = (C.INVALID_ARGUMENT,) if size < 5 * MIB // 2 else (C.INVALID_ARGUMENT, C.RESOURCE_EXHAUSTED)
        e = expect_codes(codes, c.call, c.cas.BatchUpdateBlobs, request)
        check(c.missing(da, db) == {dkey(da), dkey(db)}, "part of a refused batch was stored")
        # The same blobs through ByteStream, then read in one oversize batch
        for x in (a, b):
            c.bs_write(f"uploads/{uuid.uuid4()}/blobs/{digest_of(x).hash}/{len(x)}", x)
        check(c.missing(da, db) == set(), "ByteStream uploads missing")
        step(f"BatchReadBlobs of {label}")
        e2 = expect_codes((C.INVALID_ARGUMENT,), c.call, c.cas.BatchReadBlobs,
                          re_pb.BatchReadBlobsRequest(digests=[da, db]))
        check(c.read(da) == a, f"a {size}-byte blob alone does not read back")
        notes.append(f"{label}: update {e.code().name}, read {e2.code().name}")
    return "; ".join(notes) + "; nothing stored"


@scenario("open", "updates", "tokens")
def digest_functions(run):
    c = run.client("writer" if run.mode == "tokens" else "client")
    blob = unique("df")
    d = c.upload(blob)[0]
    action_digest, _ = c.action(["/bin/true"])
    tree = c.upload_message(re_pb.Directory())
    messages = {
        "FindMissingBlobs": (CAS, re_pb.FindMissingBlobsRequest(blob_digests=[d]), 3,
                             re_pb.FindMissingBlobsResponse),
        "BatchUpdateBlobs": (CAS, re_pb.BatchUpdateBlobsRequest(requests=[
            re_pb.BatchUpdateBlobsRequest.Request(digest=d, data=blob)]), 5,
            re_pb.BatchUpdateBlobsResponse),
        "BatchReadBlobs": (CAS, re_pb.BatchReadBlobsRequest(digests=[d]), 4,
                           re_pb.BatchReadBlobsResponse),
        "GetActionResult": (AC, re_pb.GetActionResultRequest(action_digest=action_digest), 6,
                            re_pb.ActionResult),
        "GetTree": (CAS, re_pb.GetTreeRequest(root_digest=tree), 5, re_pb.GetTreeResponse),
        "Execute": (EXEC, re_pb.ExecuteRequest(action_digest=action_digest), 9, None),
    }
    if run.mode != "open":
        messages["UpdateActionResult"] = (AC, re_pb.UpdateActionResultRequest(
            action_digest=digest_of(unique("df-ac")), action_result=re_pb.ActionResult()), 5,
            re_pb.ActionResult)
    notes = []
    from buildstream._protos.google.longrunning import operations_pb2
    for name, (service, request, field, response_type) in messages.items():
        step(name)
        body = request.SerializeToString()
        streaming = name in ("GetTree", "Execute")
        rtype = operations_pb2.Operation if name == "Execute" else response_type

        def send(extra):
            if streaming:
                return list(c.raw_stream(service + name, body + extra, rtype))
            return c.raw_unary(service + name, body + extra, rtype)

        for bad in (SHA1, MD5):
            try:
                result = send(varint_field(field, bad))
            except grpc.RpcError as e:
                check(e.code() == C.INVALID_ARGUMENT,
                      f"{name} with digest_function {bad}: {e.code().name}, expected INVALID_ARGUMENT")
                continue
            if name == "Execute":  # refused inside the operation is acceptable too
                response = re_pb.ExecuteResponse()
                check(result and result[-1].done and result[-1].response.Unpack(response),
                      f"Execute with digest_function {bad}: no error and no ExecuteResponse")
                check(response.status.code == C.INVALID_ARGUMENT.value[0],
                      f"Execute with digest_function {bad}: ExecuteResponse.status "
                      f"{response.status.code}, expected INVALID_ARGUMENT")
                notes.append("Execute refuses in the operation")
                continue
            raise Failure(f"{name} with digest_function {bad} (field {field}) succeeded")
        if name in ("FindMissingBlobs", "BatchReadBlobs"):
            send(varint_field(field, SHA256))  # naming SHA256 is fine
    return f"{len(messages)} methods refuse SHA1 and MD5; SHA256 named explicitly accepted" + (
        f" ({notes[0]})" if notes else "")


@scenario()
def bytestream_10mib(run):
    c = run.client("client")
    data = os.urandom(10 * MIB)
    d = digest_of(data)
    step("write 10 MiB")
    response = c.bs_write(f"uploads/{uuid.uuid4()}/blobs/{d.hash}/{d.size_bytes}", data)
    check(response.committed_size == len(data), f"committed_size {response.committed_size}")
    check(c.missing(d) == set(), "the written blob is missing")
    step("read 10 MiB")
    check(c.bs_read(f"blobs/{d.hash}/{d.size_bytes}") == data, "10 MiB read back different")
    step("read a slice with an instance name")
    check(c.bs_read(f"an/instance/blobs/{d.hash}/{d.size_bytes}", 3 * MIB + 5, 1000) ==
          data[3 * MIB + 5:3 * MIB + 1005], "read_offset/read_limit slice differs")
    step("read a missing blob")
    expect_code(C.NOT_FOUND, c.bs_read, f"blobs/{'0' * 64}/5")
    notes = ["plain 10 MiB write+read"]
    # With an instance name prefix
    step("write and read with an instance name")
    small = unique("inst")
    ds = digest_of(small)
    c.bs_write(f"my/instance/uploads/{uuid.uuid4()}/blobs/{ds.hash}/{ds.size_bytes}", small)
    check(c.bs_read(f"my/instance/blobs/{ds.hash}/{ds.size_bytes}") == small, "instance-prefixed read")
    # zstd: half compressible (the compressed stream spans several write
    # requests), distinct from the plain blob
    zdata = b"".join(os.urandom(32 * 1024) + bytes(32 * 1024) for _ in range(10 * MIB // (64 * 1024)))
    zd = digest_of(zdata)
    compressed = zstd_compress(zdata)
    step("zstd write")
    response = c.bs_write(
        f"uploads/{uuid.uuid4()}/compressed-blobs/zstd/{zd.hash}/{zd.size_bytes}", compressed)
    check(response.committed_size in (len(compressed), -1, len(zdata)),
          f"zstd committed_size {response.committed_size}")
    check(c.missing(zd) == set(), "the zstd-written blob is missing")
    check(c.bs_read(f"blobs/{zd.hash}/{zd.size_bytes}") == zdata, "zstd-written blob reads back different")
    step("zstd read")
    back = c.bs_read(f"compressed-blobs/zstd/{zd.hash}/{zd.size_bytes}")
    check(zstd_decompress(back) == zdata, "compressed read decompresses to something else")
    back_plain = c.bs_read(f"compressed-blobs/zstd/{d.hash}/{d.size_bytes}")
    check(zstd_decompress(back_plain) == data, "compressed read of the plain-written blob differs")
    notes.append(f"zstd write ({len(compressed)} bytes for 10 MiB, committed_size "
                 f"{response.committed_size}) and read")
    return "; ".join(notes)


@scenario()
def bytestream_wrong_bytes(run):
    c = run.client("client")
    claimed, real = unique("claimed", 3 * MIB), unique("real", 3 * MIB)
    d = digest_of(claimed)
    expect_code(C.INVALID_ARGUMENT, c.bs_write,
                f"uploads/{uuid.uuid4()}/blobs/{d.hash}/{d.size_bytes}", real)
    short = unique("short", 1000)
    ds = digest_of(short)
    expect_code(C.INVALID_ARGUMENT, c.bs_write,
                f"uploads/{uuid.uuid4()}/blobs/{ds.hash}/{ds.size_bytes + 10}", short)
    zclaimed, zreal = unique("zc", MIB), unique("zr", MIB)
    zd = digest_of(zclaimed)
    expect_code(C.INVALID_ARGUMENT, c.bs_write,
                f"uploads/{uuid.uuid4()}/compressed-blobs/zstd/{zd.hash}/{zd.size_bytes}",
                zstd_compress(zreal))
    garbage = unique("garbage", 5000)
    gd = digest_of(garbage)
    expect_code(C.INVALID_ARGUMENT, c.bs_write,
                f"uploads/{uuid.uuid4()}/compressed-blobs/zstd/{gd.hash}/{gd.size_bytes}", garbage)
    all_digests = [d, digest_of(real), ds, zd, digest_of(zreal), gd]
    check(c.missing(*all_digests) == {dkey(x) for x in all_digests}, "a refused write stored something")
    return "mismatched bytes, short write, wrong zstd content, non-zstd bytes: INVALID_ARGUMENT, nothing stored"


def sample_result(c, text):
    out = text.encode()
    c.upload(out)
    result = re_pb.ActionResult(exit_code=0, stdout_raw=b"")
    result.output_files.add(path="out.txt", digest=digest_of(out))
    return result


@scenario("open")
def ac_update_refused(run):
    c = run.client("client")
    action = digest_of(unique("ac-refused"))
    expect_code(C.PERMISSION_DENIED, c.call, c.ac.UpdateActionResult, re_pb.UpdateActionResultRequest(
        action_digest=action, action_result=sample_result(c, "refused\n")))
    expect_code(C.NOT_FOUND, c.call, c.ac.GetActionResult,
                re_pb.GetActionResultRequest(action_digest=action))
    return "PERMISSION_DENIED without --allow-updates; nothing stored"


@scenario("updates")
def ac_update_allowed(run):
    c = run.client("client")
    action = digest_of(unique("ac-allowed"))
    result = sample_result(c, "allowed\n")
    # An empty output: Bazel never uploads the empty blob, and the result
    # is still valid (the empty blob is always present)
    result.output_files.add(path="empty.txt", digest=digest_of(b""))
    step("UpdateActionResult with an empty output")
    c.call(c.ac.UpdateActionResult, re_pb.UpdateActionResultRequest(
        action_digest=action, action_result=result))
    got = c.call(c.ac.GetActionResult, re_pb.GetActionResultRequest(action_digest=action))
    check(list(got.output_files) == list(result.output_files) and got.exit_code == 0,
          f"GetActionResult returned {got}")
    # An output missing from the CAS: refused, nothing stored
    step("UpdateActionResult naming a blob not in the CAS")
    lost = re_pb.ActionResult(exit_code=0)
    lost.output_files.add(path="lost.txt", digest=digest_of(unique("lost-output")))
    lost_action = digest_of(unique("ac-lost"))
    e = expect_codes((C.FAILED_PRECONDITION, C.INVALID_ARGUMENT), c.call, c.ac.UpdateActionResult,
                     re_pb.UpdateActionResultRequest(action_digest=lost_action, action_result=lost))
    expect_code(C.NOT_FOUND, c.call, c.ac.GetActionResult,
                re_pb.GetActionResultRequest(action_digest=lost_action))
    return (f"UpdateActionResult accepted with --allow-updates (an empty output never uploaded), "
            f"read back; one naming a missing blob {e.code().name}")


@scenario("tokens")
def ac_update_roles(run):
    action = digest_of(unique("ac-roles"))
    writer = run.client("writer")
    result = sample_result(writer, "writer\n")
    result.output_files.add(path="empty.txt", digest=digest_of(b""))  # never uploaded
    request = re_pb.UpdateActionResultRequest(action_digest=action, action_result=result)
    for role in ("readonly", "client"):
        step(f"UpdateActionResult as {role}")
        c = run.client(role)
        expect_code(C.PERMISSION_DENIED, c.call, c.ac.UpdateActionResult, request)
    step("UpdateActionResult as writer")
    expect_code(C.NOT_FOUND, writer.call, writer.ac.GetActionResult,
                re_pb.GetActionResultRequest(action_digest=action))
    writer.call(writer.ac.UpdateActionResult, request)
    got = run.client("readonly").call(run.client("readonly").ac.GetActionResult,
                                      re_pb.GetActionResultRequest(action_digest=action))
    check(list(got.output_files) == list(result.output_files), f"GetActionResult returned {got}")
    return "readonly and client PERMISSION_DENIED, writer accepted, readonly reads it"


@scenario("tokens")
def roles(run):
    ro, cl = run.client("readonly"), run.client("client")
    blob = unique("ro")
    d = cl.upload(blob)[0]
    tree = cl.upload_message(re_pb.Directory())
    step("readonly reads")
    ro.call(ro.caps.GetCapabilities, re_pb.GetCapabilitiesRequest())
    check(ro.missing(d) == set(), "readonly FindMissingBlobs")
    check(ro.read(d) == blob, "readonly BatchReadBlobs")
    check(ro.bs_read(f"blobs/{d.hash}/{d.size_bytes}") == blob, "readonly ByteStream Read")
    list(ro.stream(ro.cas.GetTree, re_pb.GetTreeRequest(root_digest=tree)))
    expect_code(C.NOT_FOUND, ro.call, ro.ac.GetActionResult,
                re_pb.GetActionResultRequest(action_digest=digest_of(unique("ro-ac"))))
    step("readonly writes")
    other = unique("ro-write")
    expect_code(C.PERMISSION_DENIED, ro.upload, other)
    od = digest_of(other)
    expect_code(C.PERMISSION_DENIED, ro.bs_write,
                f"uploads/{uuid.uuid4()}/blobs/{od.hash}/{od.size_bytes}", other)
    action, _ = cl.action(["/bin/true"])
    expect_code(C.PERMISSION_DENIED, lambda: list(ro.stream(ro.ex.Execute, re_pb.ExecuteRequest(
        action_digest=action))))
    check(cl.missing(od) == {dkey(od)}, "a refused readonly upload was stored")
    # no token, a wrong token
    for who, c in (("no token", Client(run.target)), ("a wrong token", Client(run.target, "x" * 32))):
        try:
            expect_code(C.UNAUTHENTICATED, c.missing, d)
            expect_code(C.UNAUTHENTICATED, c.call, c.caps.GetCapabilities, re_pb.GetCapabilitiesRequest())
        except Failure as e:
            raise Failure(f"{who}: {e}")
    return "readonly reads every way and writes none; no/wrong token UNAUTHENTICATED"


@scenario()
def get_action_result_unknown(run):
    c = run.client("client")
    expect_code(C.NOT_FOUND, c.call, c.ac.GetActionResult,
                re_pb.GetActionResultRequest(action_digest=digest_of(unique("unknown-action"))))
    return "NOT_FOUND"


@scenario()
def execute_echo(run):
    c = run.client("client")
    nonce = str(uuid.uuid4())  # a fresh action, whatever the store holds
    action, _ = c.action(["/bin/sh", "-c", "echo hi > out.txt"], outputs=["out.txt"],
                         env={"PATH": "/usr/bin:/bin", "NONCE": nonce})
    step("first Execute")
    stages, op, response = c.execute(action)
    check(response.status.code == 0, f"ExecuteResponse {describe(response.status)}")
    check(not response.cached_result, "the first run says cached_result")
    # A stream may skip a stage it had no time to send (under load); a 2 s
    # action must show EXECUTING (wait_execution)
    check(stages[-1] == COMPLETED and len(stages) >= 2,
          f"stages {stage_names(stages)}: expected CACHE_CHECK, QUEUED, EXECUTING, COMPLETED")
    result = response.result
    check(result.exit_code == 0, f"exit code {result.exit_code}, stderr {result.stderr_raw!r}")
    files = {f.path: f for f in result.output_files}
    check(set(files) == {"out.txt"}, f"output files {sorted(files)}")
    want = digest_of(b"hi\n")
    check(dkey(files["out.txt"].digest) == dkey(want), f"out.txt digest {files['out.txt'].digest}")
    check(c.read(want) == b"hi\n", "out.txt through BatchReadBlobs")
    check(c.bs_read(f"blobs/{want.hash}/3") == b"hi\n", "out.txt through ByteStream")
    first = stage_names(stages)
    # The same action again: the cache answers
    step("second Execute")
    stages2, _, response2 = c.execute(action)
    check(response2.status.code == 0 and response2.cached_result,
          f"second Execute: cached_result {response2.cached_result}, {describe(response2.status)}")
    check(list(response2.result.output_files) == list(result.output_files), "cached result differs")
    check(stages2[-1] == COMPLETED and QUEUED not in stages2 and EXECUTING not in stages2,
          f"a cached answer went through {stage_names(stages2)}")
    got = c.call(c.ac.GetActionResult, re_pb.GetActionResultRequest(action_digest=action))
    check(list(got.output_files) == list(result.output_files), "GetActionResult differs from Execute's")
    # skip_cache_lookup runs it again
    step("Execute with skip_cache_lookup")
    _, _, response3 = c.execute(action, skip_cache=True)
    check(response3.status.code == 0 and not response3.cached_result,
          f"skip_cache_lookup: cached_result {response3.cached_result}")
    return f"stages {first}; second run cached ({stage_names(stages2)}); skip_cache_lookup re-ran"


@scenario()
def execute_inputs(run):
    """An input root with a file, an empty file (never uploaded: Bazel does
    not upload empty blobs) and a subdirectory; outputs a file in a new
    directory, an executable, and stdout/stderr."""
    c = run.client("client")
    text = unique("input", 200)
    text_d = c.upload(text)[0]
    sub = re_pb.Directory()
    sub.files.add(name="data.txt", digest=text_d)
    sub_d = c.upload_message(sub)
    root = re_pb.Directory()
    root.files.add(name="empty", digest=digest_of(b""))
    root.directories.add(name="sub", digest=sub_d)
    root_d = c.upload_message(root)
    script = ("test -f empty && test ! -s empty && mkdir -p gen && "
              "cp sub/data.txt gen/copy.txt && printf '#!/bin/sh\\n' > tool && chmod +x tool && "
              "echo to-stdout && echo to-stderr >&2")
    action, _ = c.action(["/bin/sh", "-c", script], outputs=["gen/copy.txt", "tool"], input_root=root_d,
                         env={"PATH": "/usr/bin:/bin", "NONCE": str(uuid.uuid4())})
    _, _, response = c.execute(action)
    result = response.result
    check(response.status.code == 0 and result.exit_code == 0,
          f"{describe(response.status)}, exit {result.exit_code}, stderr {result.stderr_raw!r}")
    files = {f.path: f for f in result.output_files}
    check(set(files) == {"gen/copy.txt", "tool"}, f"output files {sorted(files)}")
    check(c.read(files["gen/copy.txt"].digest) == text, "gen/copy.txt differs from the input")
    check(files["tool"].is_executable and not files["gen/copy.txt"].is_executable,
          "is_executable wrong")

    def stream(raw, digest):
        return raw if raw or not digest.hash else c.read(digest)
    check(stream(result.stdout_raw, result.stdout_digest) == b"to-stdout\n", "stdout")
    check(stream(result.stderr_raw, result.stderr_digest) == b"to-stderr\n", "stderr")
    # A failing command is a result, not an error
    failing, _ = c.action(["/bin/sh", "-c", "exit 3"], env={"NONCE": str(uuid.uuid4())})
    _, _, response = c.execute(failing)
    check(response.status.code == 0 and response.result.exit_code == 3,
          f"exit 3: {describe(response.status)}, exit {response.result.exit_code}")
    return "inputs staged (empty blob never uploaded), outputs, is_executable, stdout/stderr; exit 3 reported"


@scenario()
def execute_optional_outputs(run):
    """Declared outputs the command does not make are left out of the
    result, which is still a success and is cached (Bazel's test actions
    declare nine such outputs and make none of them)."""
    c = run.client("client")
    action, _ = c.action(["/bin/sh", "-c", "echo made > made.txt"],
                         outputs=["made.txt", "not/made.txt", "never.txt"],
                         env={"PATH": "/usr/bin:/bin", "NONCE": str(uuid.uuid4())})
    step("first Execute")
    _, _, response = c.execute(action)
    check(response.status.code == 0 and response.result.exit_code == 0,
          f"{describe(response.status)}, exit {response.result.exit_code}")
    paths = sorted(f.path for f in response.result.output_files)
    check(paths == ["made.txt"], f"output files {paths}")
    step("second Execute")
    _, _, again = c.execute(action)
    check(again.cached_result, "a successful result with outputs not made was not cached")
    step("GetActionResult")
    c.call(c.ac.GetActionResult, re_pb.GetActionResultRequest(action_digest=action))
    return "outputs not made are left out; the result is cached"


@scenario()
def execute_missing_blobs(run):
    c = run.client("client")
    notes = []
    # The Command is missing
    command = re_pb.Command(arguments=["/bin/true"], environment_variables=[
        re_pb.Command.EnvironmentVariable(name="NONCE", value=str(uuid.uuid4()))])
    command_d = digest_of(command.SerializeToString())
    action = re_pb.Action(command_digest=command_d, input_root_digest=c.upload_message(re_pb.Directory()))
    cases = [("Command", c.upload_message(action), command_d)]
    # An input file is missing
    lost = unique("lost-input")
    root = re_pb.Directory()
    root.files.add(name="lost", digest=digest_of(lost))
    root_d = c.upload_message(root)
    action2 = re_pb.Action(command_digest=c.upload_message(re_pb.Command(arguments=["/bin/true"])),
                           input_root_digest=root_d)
    cases.append(("input file", c.upload_message(action2), digest_of(lost)))
    # The Action itself is missing
    ghost = digest_of(re_pb.Action(command_digest=command_d, do_not_cache=True).SerializeToString()
                      + unique("ghost", 8))
    cases.append(("Action", ghost, ghost))
    for what, action_d, missing in cases:
        step(f"{what} missing")
        ops = list(c.stream(c.ex.Execute, re_pb.ExecuteRequest(action_digest=action_d)))
        _, _, response = finish_operation(ops)
        check(response.status.code == C.FAILED_PRECONDITION.value[0],
              f"{what} missing: ExecuteResponse.status {response.status.code} "
              f"({response.status.message}), expected FAILED_PRECONDITION")
        violations = precondition_violations(response.status)
        subject = f"blobs/{missing.hash}/{missing.size_bytes}"
        check(("MISSING", subject) in violations,
              f"{what} missing: violations {violations}, expected MISSING {subject}")
        notes.append(what)
    return "FAILED_PRECONDITION with a MISSING violation naming the " + ", ".join(notes)


@scenario()
def wait_execution(run):
    c = run.client("client")
    nonce = str(uuid.uuid4())
    action, _ = c.action(["/bin/sh", "-c", f"sleep 2; echo {nonce} > out.txt"], outputs=["out.txt"])
    started = time.monotonic()
    call = c.stream(c.ex.Execute, re_pb.ExecuteRequest(action_digest=action), timeout=120)
    name, stage, before = None, None, []
    for op in call:
        md = re_pb.ExecuteOperationMetadata()
        op.metadata.Unpack(md)
        name, stage = op.name, md.stage
        before.append(stage)
        check(not op.done, f"the sleep 2 action was done at once ({STAGES.Name(stage)})")
        if stage in (QUEUED, EXECUTING):
            break
    check(name, "no operation name before the stream was cut")
    call.cancel()
    step("WaitExecution after cutting the stream")
    ops = list(c.stream(c.ex.WaitExecution, re_pb.WaitExecutionRequest(name=name), timeout=120))
    stages, last, response = finish_operation(ops, action)
    check(last.name == name, f"WaitExecution answered for {last.name}, not {name}")
    check(response.status.code == 0 and response.result.exit_code == 0,
          f"{describe(response.status)}, exit {response.result.exit_code}")
    files = {f.path: f for f in response.result.output_files}
    check("out.txt" in files and c.read(files["out.txt"].digest) == f"{nonce}\n".encode(),
          "out.txt after reattaching")
    elapsed = time.monotonic() - started
    check(elapsed >= 1.9, f"a sleep 2 finished in {elapsed:.1f} s")
    check(EXECUTING in before + stages, f"a 2 s action never reported EXECUTING: "
          f"{stage_names(before)}, reattached {stage_names(stages)}")
    # Once finished, WaitExecution still answers (recently finished)
    step("WaitExecution after the end")
    again = list(c.stream(c.ex.WaitExecution, re_pb.WaitExecutionRequest(name=name)))
    _, last2, response2 = finish_operation(again, action)
    check(list(response2.result.output_files) == list(response.result.output_files),
          "WaitExecution after the end answered something else")
    return (f"cut at {STAGES.Name(stage)}, reattached: {stage_names(stages)}, "
            f"{elapsed:.1f} s; again after the end: done")


@scenario()
def wait_execution_unknown(run):
    c = run.client("client")
    expect_code(C.NOT_FOUND, lambda: list(c.stream(c.ex.WaitExecution, re_pb.WaitExecutionRequest(
        name=f"operations/{uuid.uuid4()}"))))
    expect_code(C.NOT_FOUND, lambda: list(c.stream(c.ex.WaitExecution, re_pb.WaitExecutionRequest(
        name="no such operation"))))
    return "NOT_FOUND"


@scenario()
def get_tree(run):
    c = run.client("client")
    leaf = re_pb.Directory()
    leaf.files.add(name="c.txt", digest=c.upload(unique("c"))[0])
    middle = re_pb.Directory()
    middle.files.add(name="b.txt", digest=c.upload(unique("b"))[0])
    middle.directories.add(name="leaf", digest=c.upload_message(leaf))
    root = re_pb.Directory()
    root.files.add(name="a.txt", digest=c.upload(unique("a"))[0], is_executable=True)
    root.directories.add(name="middle", digest=c.upload_message(middle))
    root.directories.add(name="twin", digest=c.upload_message(leaf))  # the same leaf twice
    root_d = c.upload_message(root)
    want = {m.SerializeToString() for m in (root, middle, leaf)}

    def fetch(page_size):
        got, token, pages = [], "", 0
        while True:
            responses = list(c.stream(c.cas.GetTree, re_pb.GetTreeRequest(
                root_digest=root_d, page_size=page_size, page_token=token)))
            pages += len(responses)
            for r in responses:
                got.extend(d.SerializeToString() for d in r.directories)
            token = responses[-1].next_page_token if responses else ""
            if not token:
                return got, pages
            check(pages < 20, "GetTree pages never end")

    step("GetTree")
    got, pages = fetch(0)
    check(got and got[0] == root.SerializeToString(), "the root is not the first directory")
    check(set(got) == want, f"GetTree gave {len(got)} directories ({len(set(got))} distinct), expected 3")
    step("GetTree, page_size 1")
    paged, npages = fetch(1)
    check(set(paged) == want, "with page_size 1 the directories differ")
    expect_code(C.NOT_FOUND, lambda: list(c.stream(c.cas.GetTree, re_pb.GetTreeRequest(
        root_digest=digest_of(unique("no-tree"))))))
    return f"3 levels, {len(got)} directories in {pages} response(s); page_size 1: {npages}; unknown root NOT_FOUND"


@scenario()
def empty_blob_upload(run):
    """Last: a client may upload the empty blob too (the scenarios before
    check that nothing needs it uploaded)."""
    c = run.client("client")
    empty = digest_of(b"")
    response = c.call(c.cas.BatchUpdateBlobs, re_pb.BatchUpdateBlobsRequest(requests=[
        re_pb.BatchUpdateBlobsRequest.Request(digest=empty, data=b"")]))
    check([r.status.code for r in response.responses] == [0], f"BatchUpdateBlobs: {response}")
    response = c.bs_write(f"uploads/{uuid.uuid4()}/blobs/{empty.hash}/0", b"")
    check(response.committed_size == 0, f"committed_size {response.committed_size}")
    check(c.missing(empty) == set(), "the empty blob is missing")
    check(c.read(empty) == b"" and c.bs_read(f"blobs/{empty.hash}/0") == b"", "the empty blob reads")
    return "BatchUpdateBlobs and ByteStream Write of the empty blob accepted; it reads"


# --- running them -----------------------------------------------------------

class Run:
    def __init__(self, target, mode):
        self.target = target
        self.mode, self.tokens = mode, {}
        if mode.startswith("tokens="):
            self.mode = "tokens"
            for line in open(mode[len("tokens="):]):
                parts = line.split()
                if len(parts) == 3 and not line.startswith("#"):
                    self.tokens.setdefault(parts[0], parts[2])
        self.clients = {}

    def client(self, role):
        token = self.tokens.get(role) if self.mode == "tokens" else None
        if self.mode == "tokens" and token is None:
            raise Failure(f"no {role} token in the tokens file")
        if role not in self.clients:
            self.clients[role] = Client(self.target, token)
        return self.clients[role]


def main(argv):
    if len(argv) < 3 or not argv[1].startswith("grpc://"):
        sys.exit("usage: reapi_conformance.py grpc://HOST:PORT open|updates|tokens=FILE [scenario...]")
    run = Run(argv[1][len("grpc://"):], argv[2])
    wanted = set(argv[3:])
    unknown = wanted - {name for name, _, _ in SCENARIOS}
    if unknown:
        sys.exit(f"unknown scenarios: {sorted(unknown)}")
    passed = failed = 0
    for name, modes, fn in SCENARIOS:
        if (wanted and name not in wanted) or run.mode not in modes:
            continue
        started = time.monotonic()
        STEP[0] = ""
        try:
            note = fn(run)
            passed += 1
            print(f"ok   {name}: {note} ({time.monotonic() - started:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, the rest go on
            failed += 1
            detail = f"{e.code().name}: {e.details()}" if isinstance(e, grpc.RpcError) else f"{e}"
            at = f" (at: {STEP[0]})" if STEP[0] else ""
            print(f"FAIL {name}{at}: {type(e).__name__}: {detail}", flush=True)
    print(f"{run.mode}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
