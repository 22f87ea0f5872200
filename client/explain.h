// `kiln explain FILE`: which action made a file, from the journal
// (client/journal.h). A file is known by its content: the journal's
// records name each output with its digest, so FILE is hashed (with each
// record's digest function) and the newest record with an output of that
// digest is the answer. Newest means: the most recently active invocation
// first, and in it the last record appended; among an invocation's
// matches, one whose output path is FILE itself wins over another output
// with the same bytes (two objects of one empty source).
//
// Pure: the caller reads the journal and hashes the file; this picks the
// record and writes the text and JSON a person or a script reads.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/journal.h"

namespace kiln::client {

// FILE's digest for a digest function's name ("xxh3-128", "sha256"), as
// "<hex>/<size>"; "" when it cannot be computed.
using DigestOf = std::function<std::string(std::string_view function)>;

struct RecordMatch {
  std::size_t record = 0;  // index into the records searched
  std::size_t output = 0;  // index into that record's outputs
};

// The match in one invocation's records (in append order), or nullopt.
// `file` is FILE's absolute, lexically normal path; a record's output path
// is taken relative to its cwd.
std::optional<RecordMatch> find_producer(const std::vector<ActionRecord>& records,
                                         const DigestOf& digest_of, const std::string& file);

struct Explanation {
  std::string file;         // as the user named it
  std::string file_digest;  // "<hex>/<size>", in the record's digest function
  InvocationInfo invocation;
  ActionRecord record;
  std::string output_path;  // the matching output, as the record names it
};

// For a person: a block of "name: value" lines and indented lists.
std::string explain_text(const Explanation& e);
// The same as one JSON object (pretty-printed, ends in a newline).
std::string explain_json(const Explanation& e);

// Whether `outcome` (ActionRecord::outcome) served a cached result, and
// its words for a person: "hit (direct_hit: …)" or "executed (…)".
std::string describe_outcome(const ActionRecord& record);

}  // namespace kiln::client
