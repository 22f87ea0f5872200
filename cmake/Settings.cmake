# kiln_settings: one INTERFACE target that every kiln target links, carrying
# warnings and the optional -Werror / sanitizer / clang-tidy switches.
#
#   -DKILN_WERROR=ON        turn warnings into errors (CI does)
#   -DKILN_SANITIZE=address turn on ASan+UBSan ("address") or TSan ("thread")
#   -DKILN_CLANG_TIDY=ON    run clang-tidy on every translation unit
#   -DKILN_UNIT_TESTS=OFF   leave out the unit-test binaries (one per folder);
#                           the end-to-end tests stay
#   -DKILN_BENCHMARKS=OFF   leave out the benchmarks (scripts/bench)
#   -DKILN_FUZZ=ON          build the libFuzzer harnesses in fuzz/ (clang only): every kiln
#                           target gets ASan+UBSan and libFuzzer's coverage instrumentation
#                           (scripts/fuzz.sh builds and runs them)

option(KILN_WERROR "Treat compiler warnings as errors" OFF)
set(KILN_SANITIZE "" CACHE STRING "Sanitizers: '' | address | thread")
set_property(CACHE KILN_SANITIZE PROPERTY STRINGS "" address thread)
option(KILN_CLANG_TIDY "Run clang-tidy while compiling" OFF)
option(KILN_UNIT_TESTS "Build and register the unit-test binaries" ON)
option(KILN_BENCHMARKS "Build the benchmarks" ON)
option(KILN_FUZZ "Build the libFuzzer harnesses (fuzz/; clang only)" OFF)

# kiln_warnings: the warnings alone; kiln_settings: the warnings and the
# sanitizers, what every kiln target links (kiln-run-as links only the
# warnings: it is static in every build, exec/CMakeLists.txt).
add_library(kiln_warnings INTERFACE)
target_compile_options(kiln_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough
  -Wformat=2)
if(KILN_WERROR)
  target_compile_options(kiln_warnings INTERFACE -Werror)
endif()
add_library(kiln_settings INTERFACE)
target_link_libraries(kiln_settings INTERFACE kiln_warnings)

if(KILN_SANITIZE STREQUAL "address")
  target_compile_options(kiln_settings INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(kiln_settings INTERFACE -fsanitize=address,undefined)
elseif(KILN_SANITIZE STREQUAL "thread")
  target_compile_options(kiln_settings INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(kiln_settings INTERFACE -fsanitize=thread)
elseif(NOT KILN_SANITIZE STREQUAL "")
  message(FATAL_ERROR "KILN_SANITIZE must be '', address or thread")
endif()

# libFuzzer: coverage instrumentation (fuzzer-no-link) and ASan+UBSan on
# every kiln target; the harnesses alone link libFuzzer (fuzz/CMakeLists.txt).
if(KILN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KILN_FUZZ needs clang (libFuzzer): configure with "
                        "-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(KILN_SANITIZE STREQUAL "thread")
    message(FATAL_ERROR "KILN_FUZZ brings ASan+UBSan; it cannot be combined with TSan")
  endif()
  target_compile_options(kiln_settings INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(kiln_settings INTERFACE -fsanitize=address,undefined)
endif()

if(KILN_CLANG_TIDY)
  find_program(CLANG_TIDY_EXE NAMES clang-tidy REQUIRED)
  set(CMAKE_CXX_CLANG_TIDY ${CLANG_TIDY_EXE} --quiet)
endif()

# kiln_assert_pure(target): fails the configure step if `target` links, even
# transitively through kiln targets, any I/O dependency: ZeroMQ, LMDB,
# libarchive, spdlog, or kiln's own libraries that touch files, sockets or
# processes. Pure libraries are the ones the design promises can be tested
# without sockets or disks; they may use kiln_base_core (Result, Error).
# Every target passed here is also in the build.purity test (tests/), which
# checks that its objects call no file, process or socket function.
set_property(GLOBAL PROPERTY KILN_PURE_TARGETS "")
function(kiln_assert_pure target)
  set_property(GLOBAL APPEND PROPERTY KILN_PURE_TARGETS ${target})
  set(forbidden cppzmq libzmq PkgConfig::LMDB kiln::dep::lmdb PkgConfig::LIBARCHIVE spdlog::spdlog
                PkgConfig::HTTPLIB kiln_http kiln_base kiln_cas_fs kiln_store kiln_exec kiln_transport kiln_remote_cas)
  set(queue ${target})
  set(seen "")
  while(queue)
    list(POP_FRONT queue current)
    if(current IN_LIST seen)
      continue()
    endif()
    list(APPEND seen ${current})
    if(current IN_LIST forbidden)
      message(FATAL_ERROR "${target} must stay pure but links ${current}")
    endif()
    if(TARGET ${current})
      get_target_property(libs ${current} LINK_LIBRARIES)
      get_target_property(ilibs ${current} INTERFACE_LINK_LIBRARIES)
      foreach(lib IN LISTS libs ilibs)
        if(lib AND NOT lib MATCHES "NOTFOUND$")
          string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" lib "${lib}")
          list(APPEND queue ${lib})
        endif()
      endforeach()
    endif()
  endwhile()
endfunction()
