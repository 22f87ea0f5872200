#!/usr/bin/env bash
# The pure libraries' promise, checked on their objects: none of them calls
# a function that touches files, processes, sockets, the environment or a
# clock. (cmake/Settings.cmake's kiln_assert_pure checks what they link;
# this checks what they call, so a stray ::open or std::ifstream fails the
# build's tests instead of hiding behind a "pure" label.)
#
#   tests/purity.sh LIBRARY.a...
set -euo pipefail

# Undefined symbols that no pure code may reference (demangled).
forbidden='^(open|openat|creat|read|write|pread|pwrite|readv|writev|close|lseek|fopen|fread|fwrite|'
forbidden+='stat|lstat|fstat|statx|access|mkdir|rmdir|unlink|unlinkat|rename|renameat|link|symlink|'
forbidden+='readlink|opendir|readdir|chdir|getcwd|socket|connect|bind|listen|accept|send|recv|poll|'
forbidden+='posix_spawn|posix_spawnp|fork|vfork|execv|execve|execvp|waitpid|kill|getenv|setenv|'
forbidden+='clock_gettime|gettimeofday|time|mmap|dlopen)(64)?$'
# std::filesystem's operations (path arithmetic is fine), file streams, clocks.
forbidden+='|std::filesystem::(?!(__cxx11::)?(path\b|path::|filesystem_error))'
forbidden+='|basic_filebuf|basic_[io]?fstream|std::chrono::_V2::(system|steady)_clock::now'

status=0
for lib in "$@"; do
  bad=$(nm -u -C -j "$lib" | sort -u | grep -P "$forbidden" || true)
  if [ -n "$bad" ]; then
    echo "purity: $(basename "$lib") is declared pure but calls:" >&2
    sed 's/^/  /' <<<"$bad" >&2
    status=1
  else
    echo "purity: $(basename "$lib") ok"
  fi
done
exit $status
