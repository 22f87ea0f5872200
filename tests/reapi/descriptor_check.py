#!/usr/bin/python3
"""Checks kiln's hand-written REAPI .proto files against an independent copy
of the interface: the generated stubs Debian ships in python3-buildstream.

Usage: descriptor_check.py PROTOC PROTO_ROOT

For every message and enum both define, every field (and enum value) they
both name must have the same number, type and label, and every field the
stubs have must be in kiln's files too, unless it is named in KILN_OMITS
(fields kiln neither reads nor writes). Service methods must match by name,
types and streaming. Exits 77 (skip) when the stubs are not installed.
"""
import os
import subprocess
import sys
import tempfile

try:
    from google.protobuf import descriptor_pb2
    from buildstream._protos.build.bazel.remote.execution.v2 import remote_execution_pb2
    from buildstream._protos.google.bytestream import bytestream_pb2
    from buildstream._protos.google.longrunning import operations_pb2
    from buildstream._protos.google.rpc import status_pb2
except ImportError as e:
    print(f"skip: the REAPI stubs of python3-buildstream are not installed ({e})")
    sys.exit(77)

# Fields of the published API that kiln leaves out of its files on purpose:
# deprecated, or of features kiln does not serve.
KILN_OMITS = {
    "build.bazel.remote.execution.v2.ServerCapabilities.deprecated_api_version",
}


def load(fd_bytes):
    fd = descriptor_pb2.FileDescriptorProto()
    fd.ParseFromString(fd_bytes)
    return fd


def walk(fd):
    """(full name -> DescriptorProto or EnumDescriptorProto) of one file."""
    out = {}

    def msg(prefix, m):
        name = f"{prefix}.{m.name}"
        out[name] = m
        for nested in m.nested_type:
            msg(name, nested)
        for e in m.enum_type:
            out[f"{name}.{e.name}"] = e

    for m in fd.message_type:
        msg(fd.package, m)
    for e in fd.enum_type:
        out[f"{fd.package}.{e.name}"] = e
    return out


def services(fd):
    return {f"{fd.package}.{s.name}": s for s in fd.service}


def main():
    protoc, root = sys.argv[1], sys.argv[2]
    files = []
    for d, _, names in os.walk(root):
        files += [os.path.relpath(os.path.join(d, n), root) for n in names if n.endswith(".proto")]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "set.pb")
        subprocess.run([protoc, f"-I{root}", "-I/usr/include", f"--descriptor_set_out={out}",
                        *sorted(files)], check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    ours, our_services = {}, {}
    for fd in fds.file:
        ours.update(walk(fd))
        our_services.update(services(fd))

    theirs, their_services = {}, {}
    for module in (remote_execution_pb2, bytestream_pb2, operations_pb2, status_pb2):
        fd = load(module.DESCRIPTOR.serialized_pb)
        theirs.update(walk(fd))
        their_services.update(services(fd))

    problems, compared = [], 0
    for name, t in sorted(theirs.items()):
        o = ours.get(name)
        if o is None:
            continue
        if type(o) is not type(t):
            # An enum of API 2.0 that later versions wrap in a message
            # (DigestFunction, ExecutionStage): the values are compared below.
            print(f"note: {name} is a {type(t).__name__} in the stubs (an older API)")
            continue
        compared += 1
        if isinstance(t, descriptor_pb2.EnumDescriptorProto):
            ov = {v.name: v.number for v in o.value}
            for v in t.value:
                if ov.get(v.name, v.number) != v.number:
                    problems.append(f"{name}.{v.name}: {ov[v.name]} here, {v.number} in the stubs")
            continue
        of = {f.name: f for f in o.field}
        for f in t.field:
            full = f"{name}.{f.name}"
            mine = of.get(f.name)
            if mine is None:
                by_number = [m for m in o.field if m.number == f.number]
                if by_number and by_number[0].type == f.type and by_number[0].label == f.label:
                    print(f"note: {full} is {by_number[0].name} here (renamed in a later API)")
                    continue
                if full not in KILN_OMITS:
                    problems.append(f"{full} (field {f.number}) is missing here")
                continue
            for attr in ("number", "type", "label", "type_name"):
                if (attr == "type_name" and f.type == descriptor_pb2.FieldDescriptorProto.TYPE_ENUM
                        and mine.type == f.type):
                    continue  # an enum moved in a later API; values compared on their own
                if getattr(mine, attr) != getattr(f, attr):
                    problems.append(f"{full}: {attr} {getattr(mine, attr)!r} here, "
                                    f"{getattr(f, attr)!r} in the stubs")
    # The 2.0 top-level enums against their 2.1 wrapped form.
    pkg = "build.bazel.remote.execution.v2"
    for old, new in (("DigestFunction", "DigestFunction.Value"),
                     ("ExecuteOperationMetadata.Stage", "ExecutionStage.Value"),
                     ("CacheCapabilities.SymlinkAbsolutePathStrategy",
                      "SymlinkAbsolutePathStrategy.Value")):
        full = f"{pkg}.{old}"
        t, o = theirs.get(full), ours.get(f"{pkg}.{new}")
        if isinstance(t, descriptor_pb2.EnumDescriptorProto) and o is not None:
            compared += 1
            ov = {v.name: v.number for v in o.value}
            for v in t.value:
                if ov.get(v.name) != v.number:
                    problems.append(f"{full}.{v.name}: {ov.get(v.name)} here, {v.number} in the stubs")
    for name, t in sorted(their_services.items()):
        o = our_services.get(name)
        if o is None:
            continue
        om = {m.name: m for m in o.method}
        for m in t.method:
            mine = om.get(m.name)
            if mine is None:
                continue  # a method kiln does not serve
            for attr in ("input_type", "output_type", "client_streaming", "server_streaming"):
                if getattr(mine, attr) != getattr(m, attr):
                    problems.append(f"{name}.{m.name}: {attr} differs")
    for p in problems:
        print("mismatch:", p)
    print(f"{compared} messages and enums compared, {len(problems)} mismatches")
    sys.exit(1 if problems or compared < 40 else 0)


main()
