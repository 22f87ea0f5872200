# kiln data model: the content-addressed, Merkle-linked description of work.
#
# These structs are stored in the CAS in Cap'n Proto *canonical* form, and a
# struct's digest is the digest of those canonical bytes. Canonical form is
# fully specified by Cap'n Proto (one segment, preorder, no padding, trimmed
# trailing zero words), so the same value gives the same digest on every
# machine. Adding a field with its default value leaves existing digests
# unchanged; never reorder or renumber fields.
@0xf836bbc2a53dfd52;

$import "/capnp/c++.capnp".namespace("kiln::schema");

enum DigestFunction {
  xxh3128 @0;   # XXH3-128: fast, not collision-resistant against attackers
  sha256 @1;    # SHA-256: for deployments that do not trust their clients
}

# A blob's identity: hash of its bytes and their count. The function that
# made `hash` is named by the enclosing message, never mixed within one tree.
struct Digest {
  hash @0 :Data;        # 16 bytes (xxh3128) or 32 bytes (sha256)
  sizeBytes @1 :UInt64;
}

struct FileNode {
  name @0 :Text;
  digest @1 :Digest;
  isExecutable @2 :Bool;
}

struct DirectoryNode {
  name @0 :Text;        # its Directory's digest follows
  digest @1 :Digest;
}

struct SymlinkNode {
  name @0 :Text;
  target @1 :Text;      # relative, never escapes the tree root
}

# One directory level. Each list is sorted by name (bytewise) and names are
# unique across all three lists; this is what makes the encoding canonical.
struct Directory {
  files @0 :List(FileNode);
  directories @1 :List(DirectoryNode);
  symlinks @2 :List(SymlinkNode);
}

struct EnvironmentVariable {
  name @0 :Text;
  value @1 :Text;
}

struct Property {
  name @0 :Text;
  value @1 :Text;
}

struct Command {
  arguments @0 :List(Text);
  environment @1 :List(EnvironmentVariable);   # sorted by name
  workingDirectory @2 :Text;                    # relative to the input root
  outputFiles @3 :List(Text);                   # sorted, relative paths
  outputDirectories @4 :List(Text);             # sorted, relative paths
  platform @5 :List(Property);                  # sorted by name, then value
}

# The unit of work and the action cache's key (its digest).
struct Action {
  digestFunction @0 :DigestFunction;
  commandDigest @1 :Digest;
  inputRootDigest @2 :Digest;
  timeoutMs @3 :UInt64;          # 0: the executor's default
  doNotCache @4 :Bool;
  salt @5 :Data;                 # lets a user force a distinct key
}

struct OutputFile {
  path @0 :Text;
  digest @1 :Digest;
  isExecutable @2 :Bool;
}

struct OutputDirectory {
  path @0 :Text;
  treeDigest @1 :Digest;         # digest of the root Directory
}

struct ExecutionMetadata {
  workerId @0 :Text;
  # Microseconds since the Unix epoch; 0 where a phase did not happen.
  queuedUs @1 :UInt64;
  workerStartUs @2 :UInt64;
  inputFetchStartUs @3 :UInt64;
  inputFetchEndUs @4 :UInt64;
  executionStartUs @5 :UInt64;
  executionEndUs @6 :UInt64;
  outputUploadStartUs @7 :UInt64;
  outputUploadEndUs @8 :UInt64;
  workerEndUs @9 :UInt64;
}

struct ActionResult {
  exitCode @0 :Int32;
  outputFiles @1 :List(OutputFile);
  outputDirectories @2 :List(OutputDirectory);
  stdoutDigest @3 :Digest;
  stderrDigest @4 :Digest;
  metadata @5 :ExecutionMetadata;
}
