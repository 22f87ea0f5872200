#!/usr/bin/python3
# The client side of scripts/bench/reapi.sh: times kiln-reapi's ByteStream
# and Execution services from Debian's gRPC and REAPI stubs (python3-grpcio,
# python3-buildstream: run with /usr/bin/python3), times the baselines of
# the same round (cp, cat, zstd, `kiln run`), and turns the rows the rounds
# printed into the markdown table of medians.
#
# Each measuring subcommand prints "KEY<TAB>VALUE" lines (seconds, or
# milliseconds for keys ending in _ms, or a count) that reapi.sh appends to
# one file; `table FILE` prints their medians over the rounds.
#
#   bytestream TARGET FILE CHUNK TAG PID  write FILE as a new blob in CHUNK
#       bytes per WriteRequest, write it again (already present), read it
#       back and check its SHA-256; before them, cp / cp + fsync / cat of
#       FILE (the baselines)
#   zstd TARGET FILE CHUNK PID  zstd -1 FILE to a file and zstd -d it back
#       (the baselines), then a compressed-blobs/zstd write of the .zst and
#       a compressed read of the blob (decompressed and checked untimed)
#   execute TARGET N ROUND PID  N Executes of /bin/true, each with a new
#       salt in its environment (a new action: the grid runs it)
#   kiln-run KILN N ROUND  N `kiln run --env KILN_BENCH_SALT=<new> --
#       /bin/true` (the environment names the grid), and N `kiln run --help`
#   table FILE  the markdown table (reapi.sh times the Bazel builds
#       itself: rows bazel_local and bazel_cache)
#
# PID is kiln-reapi's: its CPU time (utime + stime) over each measurement is
# printed too, as KEY_cpu.
import hashlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid

import grpc
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb2
from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildstream._protos.google.bytestream import bytestream_pb2, bytestream_pb2_grpc

MIB = 1 << 20
TICKS = os.sysconf("SC_CLK_TCK")


def channel(target):
    target = target.replace("grpc://", "", 1)
    return grpc.insecure_channel(
        target, options=[("grpc.max_receive_message_length", 64 * MIB),
                         ("grpc.max_send_message_length", 64 * MIB)])


def cpu_seconds(pid):
    """utime + stime of process pid, in seconds (0 if it is gone)."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


class Timer:
    """Wall time of a with-block and kiln-reapi's CPU time over it."""

    def __init__(self, pid):
        self.pid = pid

    def __enter__(self):
        os.sync()  # no dirty pages of an earlier step written back during this one
        self.cpu0 = cpu_seconds(self.pid)
        self.client0 = time.process_time()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.cpu = cpu_seconds(self.pid) - self.cpu0
        self.client = time.process_time() - self.client0

    def emit(self, key):
        emit(key, self.seconds)
        emit(key + "_cpu", self.cpu)
        emit(key + "_client", self.client)


def emit(key, value):
    print("%s\t%.6f" % (key, value), flush=True)


def timed(argv, stdout=None):
    os.sync()
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=stdout)
    return time.perf_counter() - t0


def digest_of(data):
    return re_pb2.Digest(hash=hashlib.sha256(data).hexdigest(), size_bytes=len(data))


def write_requests(name, data, chunk):
    view = memoryview(data)
    offset = 0
    while True:
        piece = bytes(view[offset:offset + chunk])
        last = offset + len(piece) >= len(data)
        yield bytestream_pb2.WriteRequest(resource_name=name if offset == 0 else "",
                                          write_offset=offset, data=piece, finish_write=last)
        offset += len(piece)
        if last:
            return


def write(stub, name, data, chunk):
    response = stub.Write(write_requests(name, data, chunk))
    return response.committed_size


def read(stub, name):
    return b"".join(r.data for r in stub.Read(bytestream_pb2.ReadRequest(resource_name=name)))


def baselines(path, tag):
    copy = path + ".copy"
    emit("cp", timed(["cp", path, copy]))
    os.unlink(copy)
    emit("cp_fsync", timed(["sh", "-c", 'cp "$1" "$2" && sync "$2"', "-", path, copy]))
    os.unlink(copy)
    with open(os.devnull, "wb") as null:
        emit("cat", timed(["cat", path], stdout=null))


class Prober:
    """FindMissingBlobs of one absent digest, again and again on a thread of
    its own while a with-block runs: the longest answer is how long another
    client waited on kiln-reapi meanwhile."""

    def __init__(self, target):
        self.cas = re_grpc.ContentAddressableStorageStub(channel(target))
        self.request = re_pb2.FindMissingBlobsRequest(blob_digests=[digest_of(uuid.uuid4().bytes)])
        self.cas.FindMissingBlobs(self.request)  # connected

    def __enter__(self):
        self.stop = threading.Event()
        self.latencies = []

        def probe():
            while not self.stop.is_set():
                t0 = time.perf_counter()
                self.cas.FindMissingBlobs(self.request)
                self.latencies.append(time.perf_counter() - t0)
                self.stop.wait(0.01)

        self.thread = threading.Thread(target=probe)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def emit(self, key):
        emit(key + "_max_ms", max(self.latencies) * 1000)
        emit(key + "_median_ms", statistics.median(self.latencies) * 1000)


def bytestream(target, path, chunk, tag, pid):
    chunk = int(chunk)
    with open(path, "rb") as f:
        data = f.read()
    if tag == "1m":  # the baselines once a round
        baselines(path, tag)
    d = digest_of(data)
    stub = bytestream_pb2_grpc.ByteStreamStub(channel(target))
    prober = Prober(target)
    name = "uploads/%s/blobs/%s/%d" % (uuid.uuid4(), d.hash, d.size_bytes)
    with Timer(pid) as t, prober:
        committed = write(stub, name, data, chunk)
    if committed != len(data):
        sys.exit("reapi_bench: Write committed %d of %d bytes" % (committed, len(data)))
    t.emit("write_%s" % tag)
    prober.emit("probe_write_%s" % tag)
    name = "uploads/%s/blobs/%s/%d" % (uuid.uuid4(), d.hash, d.size_bytes)
    with Timer(pid) as t:
        committed = write(stub, name, data, chunk)
    if committed != len(data):
        sys.exit("reapi_bench: the second Write committed %d of %d bytes" % (committed, len(data)))
    emit("present_%s_ms" % tag, t.seconds * 1000)
    with Timer(pid) as t, prober:
        back = read(stub, "blobs/%s/%d" % (d.hash, d.size_bytes))
    if hashlib.sha256(back).hexdigest() != d.hash or len(back) != len(data):
        sys.exit("reapi_bench: Read gave %d bytes that do not match the blob" % len(back))
    t.emit("read_%s" % tag)
    prober.emit("probe_read_%s" % tag)
    with prober:
        time.sleep(0.5)
    prober.emit("probe_idle_%s" % tag)


def zstd(target, path, chunk, pid):
    import zstandard  # Debian's python3-zstandard, only for this check
    chunk = int(chunk)
    packed, unpacked = path + ".zst", path + ".unzst"
    emit("zstd_c", timed(["zstd", "-q", "-f", "-1", path, "-o", packed]))
    emit("zstd_d", timed(["zstd", "-q", "-f", "-d", packed, "-o", unpacked]))
    os.unlink(unpacked)
    with open(path, "rb") as f:
        d = digest_of(f.read())
    with open(packed, "rb") as f:
        compressed = f.read()
    os.unlink(packed)
    emit("zstd_ratio", d.size_bytes / len(compressed))
    stub = bytestream_pb2_grpc.ByteStreamStub(channel(target))
    name = "uploads/%s/compressed-blobs/zstd/%s/%d" % (uuid.uuid4(), d.hash, d.size_bytes)
    with Timer(pid) as t:
        committed = write(stub, name, compressed, chunk)
    if committed != len(compressed):
        sys.exit("reapi_bench: zstd Write committed %d of %d bytes" % (committed, len(compressed)))
    t.emit("zwrite")
    with Timer(pid) as t:
        back = read(stub, "compressed-blobs/zstd/%s/%d" % (d.hash, d.size_bytes))
    t.emit("zread")
    emit("zread_ratio", d.size_bytes / len(back))
    plain = zstandard.ZstdDecompressor().decompressobj().decompress(back)
    if hashlib.sha256(plain).hexdigest() != d.hash:
        sys.exit("reapi_bench: the zstd Read does not decompress to the blob")


def one_execute(cas, execution, salt):
    """Uploads a /bin/true action salted with `salt`, executes it; returns
    (upload seconds, execute seconds)."""
    command = re_pb2.Command(
        arguments=["/bin/true"],
        environment_variables=[re_pb2.Command.EnvironmentVariable(name="KILN_BENCH_SALT", value=salt)])
    command_bytes = command.SerializeToString()
    action = re_pb2.Action(command_digest=digest_of(command_bytes), input_root_digest=digest_of(b""))
    action_bytes = action.SerializeToString()
    blobs = {digest_of(command_bytes).hash: command_bytes, digest_of(action_bytes).hash: action_bytes}
    t0 = time.perf_counter()
    missing = cas.FindMissingBlobs(re_pb2.FindMissingBlobsRequest(
        blob_digests=[digest_of(b) for b in blobs.values()]))
    update = re_pb2.BatchUpdateBlobsRequest()
    for m in missing.missing_blob_digests:
        update.requests.add(digest=m, data=blobs[m.hash])
    if update.requests:
        for r in cas.BatchUpdateBlobs(update).responses:
            if r.status.code != 0:
                sys.exit("reapi_bench: upload: %s" % r.status.message)
    t1 = time.perf_counter()
    last = None
    for op in execution.Execute(re_pb2.ExecuteRequest(action_digest=digest_of(action_bytes))):
        last = op
    t2 = time.perf_counter()
    if last is None or not last.done:
        sys.exit("reapi_bench: the Execute stream ended before COMPLETED")
    response = re_pb2.ExecuteResponse()
    last.response.Unpack(response)
    if response.status.code != 0 or response.result.exit_code != 0 or response.cached_result:
        sys.exit("reapi_bench: Execute: status %d %s, exit %d, cached %s" % (
            response.status.code, response.status.message, response.result.exit_code,
            response.cached_result))
    return t1 - t0, t2 - t1


def execute(target, n, round_, pid):
    ch = channel(target)
    cas = re_grpc.ContentAddressableStorageStub(ch)
    execution = re_grpc.ExecutionStub(ch)
    one_execute(cas, execution, "warm-%s-%s" % (round_, uuid.uuid4()))  # the channel connected
    uploads, runs = [], []
    with Timer(pid) as t:
        for i in range(int(n)):
            up, run = one_execute(cas, execution, "%s-%d-%s" % (round_, i, uuid.uuid4()))
            uploads.append(up)
            runs.append(run)
    emit("exec_ms", statistics.median(runs) * 1000)
    emit("exec_upload_ms", statistics.median(u + r for u, r in zip(uploads, runs)) * 1000)
    emit("exec_cpu_ms", t.cpu / int(n) * 1000)


def kiln_run(kiln, n, round_):
    cwd = os.environ.get("KILN_BENCH_CWD", ".")
    invocation = "reapi-bench-%s-%s" % (round_, uuid.uuid4())
    env = dict(os.environ, KILN_INVOCATION_ID=invocation)
    grid = os.path.join(os.path.dirname(kiln), "kiln-grid")
    runs, helps = [], []
    for i in range(int(n)):
        salt = "KILN_BENCH_SALT=%s-%d-%s" % (round_, i, uuid.uuid4())
        t0 = time.perf_counter()
        subprocess.run([kiln, "run", "--env", salt, "--", "/bin/true"], check=True, cwd=cwd, env=env)
        runs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([kiln, "run", "--help"], check=True, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
        subprocess.run([grid, "run", "--help"], check=True, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
        helps.append(time.perf_counter() - t0)
    # The journal's record of each run: from the end of its local lookup
    # to the result (the grid client's whole part, connection included).
    trips = []
    with open(os.path.join(os.environ["KILN_DIR"], "invocations", invocation + ".jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind") != "run" or r.get("outcome") != "executed" or r.get("cached"):
                sys.exit("reapi_bench: kiln run was not executed on the grid: %s" % line.strip())
            lookup = [p for p in r["phases"] if p["name"] == "lookup"][0]
            trips.append((r["end_us"] - lookup["end_us"]) / 1000)
    if len(trips) != int(n):
        sys.exit("reapi_bench: the journal has %d runs, not %s" % (len(trips), n))
    emit("kiln_run_ms", statistics.median(runs) * 1000)
    emit("kiln_help_ms", statistics.median(helps) * 1000)
    emit("kiln_grid_ms", statistics.median(trips))


def table(path):
    values = {}
    for line in open(path):
        key, value = line.rstrip("\n").split("\t")
        values.setdefault(key, []).append(float(value))
    m = {k: statistics.median(v) for k, v in values.items()}
    rounds = len(values.get("cp", []))
    size = float(os.environ.get("KILN_BENCH_MIB", "256"))

    if "cp" in m:
        bytestream_table(m, rounds, size)
    if "exec_ms" in m:
        execute_table(m, values)
    if "bazel_local" in m:
        print()
        print("| Bazel 4.2, tests/e2e/bazel_ws `bazel build //...` after `bazel clean` (median of %d rounds) | time | vs local | notes |" % (
            len(values["bazel_local"])))
        print("|---|---:|---:|---|")
        print("| local build (Bazel's own strategy) | %.2f s | 1.00x | |" % m["bazel_local"])
        print("| `--remote_cache` on kiln-reapi, every action a hit | %.2f s | %.2fx | last round: %s |" % (
            m["bazel_cache"], m["bazel_cache"] / m["bazel_local"],
            os.environ.get("KILN_BENCH_BAZEL_SUMMARY") or "no process summary"))


def bytestream_table(m, rounds, size):
    chunks = {"1m": "1 MiB", "16k": "16 KiB (Bazel's)"}

    def mibs(key):
        return size / m[key] if key in m else None

    def row(label, key, base_key, note=""):
        if key not in m:
            print("| %s | n/a | | | %s |" % (label, note))
            return
        cpu = "kiln-reapi CPU %.2f s, client CPU %.2f s" % (m.get(key + "_cpu", 0), m.get(key + "_client", 0))
        print("| %s | %.0f MiB/s | %.0f MiB/s | %.2fx | %s%s |" % (
            label, mibs(key), mibs(base_key), mibs(key) / mibs(base_key), cpu, "; " + note if note else ""))

    print("| 256 MiB blob, kiln-reapi ByteStream (medians of %d rounds) | kiln-reapi | baseline | vs baseline | notes |" % rounds)
    print("|---|---:|---:|---:|---|")
    print("| baseline: `cp` to a new file, same filesystem | %.0f MiB/s | | | |" % mibs("cp"))
    print("| baseline: `cp` + `sync FILE` (fsync; the store is durable) | %.0f MiB/s | | | |" % mibs("cp_fsync"))
    print("| baseline: `cat FILE > /dev/null`, warm page cache | %.0f MiB/s | | | |" % mibs("cat"))
    for tag in ("16k", "1m"):
        row("Write, new random blob, %s chunks, vs cp" % chunks[tag], "write_" + tag, "cp",
            "vs cp + fsync: %.2fx" % (mibs("write_" + tag) / mibs("cp_fsync")) if "write_" + tag in m else "")
        row("Read of that blob (hash checked), vs cat", "read_" + tag, "cat",
            "the server sends 1 MiB messages")
    for tag in ("16k", "1m"):
        if "present_%s_ms" % tag in m:
            print("| Write of a blob already present, %s chunks | %.1f ms | | | the early answer (committed_size) |" % (
                chunks[tag], m["present_%s_ms" % tag]))
    if "probe_idle_1m_max_ms" in m:
        print("| another client's FindMissingBlobs (every 10 ms) while the 1 MiB-chunk Write runs: longest wait | %.0f ms | %.1f ms | %.0fx | baseline: the same probe on an idle kiln-reapi for 0.5 s (its longest); median during the Write %.1f ms |" % (
            m["probe_write_1m_max_ms"], m["probe_idle_1m_max_ms"],
            m["probe_write_1m_max_ms"] / m["probe_idle_1m_max_ms"], m["probe_write_1m_median_ms"]))
        print("| the same while the Read runs: longest wait | %.0f ms | %.1f ms | %.0fx | median during the Read %.1f ms |" % (
            m["probe_read_1m_max_ms"], m["probe_idle_1m_max_ms"],
            m["probe_read_1m_max_ms"] / m["probe_idle_1m_max_ms"], m["probe_read_1m_median_ms"]))
    if "zwrite" in m:
        zr = m.get("zstd_ratio", 0)
        print("| baseline: `zstd -1 FILE -o FILE.zst` (compressible text, %.0f:1) | %.0f MiB/s | | | |" % (zr, mibs("zstd_c")))
        print("| baseline: `zstd -d FILE.zst -o FILE` | %.0f MiB/s | | | |" % mibs("zstd_d"))
        row("compressed-blobs/zstd Write of the .zst (server decompresses), vs zstd -d", "zwrite", "zstd_d",
            "vs zstd -1: %.2fx" % (mibs("zwrite") / mibs("zstd_c")))
        row("compressed-blobs/zstd Read (server compresses, level 1), vs zstd -1", "zread", "zstd_c",
            "%.0f:1 on the wire" % m.get("zread_ratio", 0))


def execute_table(m, values):
    n = os.environ.get("KILN_BENCH_N", "30")
    print()
    print("| no-op action (/bin/true, new salt each: really runs), `kiln up --workers 1 --no-auth` (median of %d rounds of %s) | time | vs kiln protocol | notes |" % (
        len(values["exec_ms"]), n))
    print("|---|---:|---:|---|")
    kr, kh, kg = m["kiln_run_ms"], m["kiln_help_ms"], m["kiln_grid_ms"]

    def spread(key):
        return "rounds %.1f-%.1f ms" % (min(values[key]), max(values[key]))

    print("| `kiln run --env KILN_BENCH_SALT=<new> -- /bin/true`, whole process | %.1f ms | %.2fx | its own KILN_DIR, KILN_DIGEST_FUNCTION=sha256 |" % (kr, kr / kg))
    print("| process start: `kiln run --help` + `kiln-grid run --help` (kiln hands over to kiln-grid) | %.1f ms | | |" % kh)
    print("| **kiln protocol**: kiln run's grid round trip (its journal: end of the local lookup to the result) | %.1f ms | 1.00x | connection, upload, queue, run, result; %s |" % (kg, spread("kiln_grid_ms")))
    print("| REAPI Execute, request to COMPLETED (Python gRPC, one channel) | %.1f ms | **%.2fx** | kiln-reapi CPU %.1f ms per action; %s; median of the rounds' own ratios %.2fx |" % (
        m["exec_ms"], m["exec_ms"] / kg, m.get("exec_cpu_ms", 0), spread("exec_ms"),
        statistics.median(a / b for a, b in zip(values["exec_ms"], values["kiln_grid_ms"]))))
    print("| REAPI FindMissingBlobs + BatchUpdateBlobs + Execute | %.1f ms | %.2fx | what a client does for a new action |" % (
        m["exec_upload_ms"], m["exec_upload_ms"] / kg))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__ if __doc__ else "usage: reapi_bench.py SUBCOMMAND ...")
    cmd, args = sys.argv[1], sys.argv[2:]
    commands = {"bytestream": bytestream, "zstd": zstd, "execute": execute, "kiln-run": kiln_run,
                "table": table}
    if cmd not in commands:
        sys.exit("reapi_bench.py: unknown subcommand %s" % cmd)
    commands[cmd](*args)


if __name__ == "__main__":
    main()
