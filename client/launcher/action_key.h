// The launcher's keys beside the direct-mode manifest key (compile_key.h):
// the preprocessed action and the link key. Pure, so every byte that
// enters them is pinned by unit tests: a changed byte is a changed key,
// and every existing cache entry and grid result would stop hitting.
//
// The preprocessed action is "compile this preprocessed file with these
// options on a machine with this compiler":
//   command     = compiler path, the compiler arguments of the command line,
//                 -x <preprocessed language> -c in.ii -o out.o; environment
//                 PATH plus the compile_environment_names() that are set,
//                 sorted by name; output out.o; platform property
//                 "toolchain:<compiler path>" = the compiler's identity
//   input root  = one file, in.i / in.ii / in.s: the preprocessed text
//   action      = the command's and the input root's digests
// Its digest is the key of its result, locally (preprocessor mode, for
// sources that use __TIME__) and on the grid, where a worker whose
// toolchain property matches runs it.
//
// A link's manifest key covers the compiler identity (which includes ld),
// the arguments after base-directory rewriting, the compile environment and
// LIBRARY_PATH; the manifest then lists every file the linker read.
#pragma once

#include <map>
#include <string>

#include "base/result.h"
#include "cas/digest.h"
#include "cas/model.h"
#include "client/launcher/compile_key.h"
#include "client/launcher/compiler_args.h"
#include "client/launcher/link_args.h"

namespace kiln::client::launcher {

// The object's name inside an action and in every stored compile result.
inline constexpr const char* kObjectName = "out.o";

// The language of the preprocessed text of `language` ("c" -> "cpp-output",
// "c++" -> "c++-cpp-output", "assembler-with-cpp" -> "assembler", …); a
// language that is already preprocessed is returned as it is.
std::string preprocessed_language(const std::string& language);

// Whether `language` is a preprocessed one ("cpp-output", "assembler", …):
// the source itself is the action's input.
bool is_preprocessed(const std::string& language);

// The input file's name in the action for a preprocessed language:
// "in.i" (C), "in.s" (assembler), "in.ii" (the others).
std::string preprocessed_input_name(const std::string& preprocessed_language);

struct PreprocessedActionInput {
  std::string compiler;               // the resolved path: the command's arguments[0]
  std::string toolchain_property;     // exec::toolchain_property(compiler)
  cas::Digest identity;               // the compiler's identity: the property's value
  const CompileArgs* args = nullptr;  // language and compiler_args are used
  // The whole environment (filtered here); may be null: none.
  const std::map<std::string, std::string>* environment = nullptr;
  cas::Digest preprocessed;  // digest of the preprocessed text, the input file
  cas::DigestFunction fn = cas::DigestFunction::kXxh3_128;
};

struct PreprocessedAction {
  std::string input_name;  // the input file's name in the input root
  // The blobs the action names, to store beside the preprocessed text.
  std::string encoded_command;
  std::string encoded_input_root;
  cas::Action action;
  std::string encoded_action;
  cas::Digest digest;  // the action's digest: the key of its result
};

// Fails (kInvalidArgument) only when a value cannot be encoded canonically:
// a NUL in an argument or an environment value, a digest of another
// function than `fn`.
Result<PreprocessedAction> preprocessed_action(const PreprocessedActionInput& input);

struct LinkKeyInput {
  cas::Digest identity;  // the compiler driver's
  const LinkArgs* link = nullptr;
  PathRewrite rewrite;
  // The whole environment (filtered here); may be null: none.
  const std::map<std::string, std::string>* environment = nullptr;
};

// The bytes whose digest is a link's manifest key.
std::string link_key_material(const LinkKeyInput& input);

}  // namespace kiln::client::launcher
