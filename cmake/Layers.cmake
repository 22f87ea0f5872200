# kiln_check_layers(): the dependency direction between kiln's folders,
# checked at configure time on the sources themselves. An #include is a
# dependency even where nothing is linked, so this reads every header and
# source of each folder and fails the configure step on an include from a
# folder that may not be seen from there.
#
#   base  <-  proto  <-  cas  <-  exec  <-  {scheduler, worker, client}
#                             cas  <-  reapi
#
# scheduler, worker and client never include each other; only client/'s
# top level (main.cpp and the command wiring) sees all three of client's
# rooms, and the rooms see the top level and client/grid's options but
# not each other. Every folder's tests may use tests/support. fuzz/ (the
# libFuzzer harnesses) is a top consumer like the tests: it may include
# from every folder.

set(kiln_layer_rules
  "base:base"
  "proto:base,proto"
  "cas:base,proto,cas"
  "exec:base,proto,cas,exec"
  "scheduler:base,proto,cas,scheduler"
  "worker:base,proto,cas,exec,worker"
  "reapi:base,proto,cas,reapi"
  "client:base,proto,cas,exec,client,client/grid,client/launcher,client/testing"
  "client/grid:base,proto,cas,exec,client,client/grid"
  "client/launcher:base,proto,cas,exec,client,client/grid,client/launcher"
  "client/testing:base,proto,cas,exec,client,client/grid,client/testing"
  "fuzz:base,proto,cas,exec,scheduler,worker,reapi,client,client/grid,client/launcher,client/testing,fuzz")

function(kiln_check_layers)
  set(problems "")
  foreach(rule IN LISTS kiln_layer_rules)
    string(REPLACE ":" ";" parts "${rule}")
    list(GET parts 0 folder)
    list(GET parts 1 allowed)
    string(REPLACE "," ";" allowed "${allowed}")
    list(APPEND allowed tests/support)
    file(GLOB sources LIST_DIRECTORIES false
         ${PROJECT_SOURCE_DIR}/${folder}/*.h ${PROJECT_SOURCE_DIR}/${folder}/*.cpp)
    foreach(source IN LISTS sources)
      file(STRINGS ${source} includes REGEX "^#include \"[^\"]+\"")
      foreach(line IN LISTS includes)
        string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" header "${line}")
        get_filename_component(header_dir "${header}" DIRECTORY)
        if(NOT header_dir IN_LIST allowed)
          file(RELATIVE_PATH where ${PROJECT_SOURCE_DIR} ${source})
          list(APPEND problems "${where} includes ${header} (${folder}/ may include: ${allowed})")
        endif()
      endforeach()
    endforeach()
  endforeach()
  if(problems)
    list(JOIN problems "\n  " text)
    message(FATAL_ERROR "kiln: includes against the layer order (cmake/Layers.cmake):\n  ${text}")
  endif()
endfunction()
