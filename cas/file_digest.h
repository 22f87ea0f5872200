// Digests of files on disk: what the pure digest library (digest.h) leaves
// to the layers that may read files.
#pragma once

#include <string>

#include "base/result.h"
#include "cas/digest.h"

namespace kiln::cas {

// Digest of a file's contents, read in large blocks. Fails with kNotFound
// when it does not exist, kIo otherwise (a directory is kIo: read fails).
Result<Digest> digest_file(DigestFunction fn, const std::string& path);

// Digest of what remains to be read from the open file `fd`, read to its end
// (the caller keeps the descriptor). `what` names the file in errors. Lets a
// caller hash exactly the file it opened (e.g. with O_NOFOLLOW) and fstat'ed.
// Fails with kIo.
Result<Digest> digest_fd(DigestFunction fn, int fd, const std::string& what);

}  // namespace kiln::cas
