// action_key.h: the preprocessed action and the link key, byte for byte
// what the launcher has always stored (the unit tests pin the digests).
#include "client/launcher/action_key.h"

#include <algorithm>

namespace kiln::client::launcher {
namespace {

// The PATH of every preprocessed action: glibc's default without ".", so
// the command does not depend on the client's PATH.
constexpr const char* kActionPath = "/usr/local/bin:/usr/bin:/bin";

}  // namespace

std::string preprocessed_language(const std::string& language) {
  if (language == "c") return "cpp-output";
  if (language == "c++") return "c++-cpp-output";
  if (language == "objective-c") return "objective-c-cpp-output";
  if (language == "objective-c++") return "objective-c++-cpp-output";
  if (language == "assembler-with-cpp") return "assembler";
  return language;  // already preprocessed
}

bool is_preprocessed(const std::string& language) {
  return language == "cpp-output" || language == "c++-cpp-output" || language == "assembler" ||
         language == "objective-c-cpp-output" || language == "objective-c++-cpp-output";
}

std::string preprocessed_input_name(const std::string& preprocessed_language) {
  if (preprocessed_language == "cpp-output") return "in.i";
  if (preprocessed_language == "assembler") return "in.s";
  return "in.ii";
}

Result<PreprocessedAction> preprocessed_action(const PreprocessedActionInput& input) {
  const CompileArgs& args = *input.args;
  const std::string language = preprocessed_language(args.language);
  PreprocessedAction out;
  out.input_name = preprocessed_input_name(language);

  cas::Command command;
  command.arguments.push_back(input.compiler);
  command.arguments.insert(command.arguments.end(), args.compiler_args.begin(),
                           args.compiler_args.end());
  command.arguments.insert(command.arguments.end(),
                           {"-x", language, "-c", out.input_name, "-o", kObjectName});
  command.environment.push_back({"PATH", kActionPath});
  add_compile_environment(input.environment, command.environment);
  command.output_files = {kObjectName};
  command.platform = {{input.toolchain_property, input.identity.to_string()}};
  auto encoded_command = cas::encode_command(command);
  if (!encoded_command.ok()) return encoded_command.error();
  out.encoded_command = std::move(encoded_command).value();

  cas::Directory root;
  root.files.push_back({out.input_name, input.preprocessed, false});
  auto encoded_root = cas::encode_directory(root, input.fn);
  if (!encoded_root.ok()) return encoded_root.error();
  out.encoded_input_root = std::move(encoded_root).value();

  out.action.command_digest = cas::digest_of(input.fn, out.encoded_command);
  out.action.input_root_digest = cas::digest_of(input.fn, out.encoded_input_root);
  auto encoded_action = cas::encode_action(out.action, input.fn);
  if (!encoded_action.ok()) return encoded_action.error();
  out.encoded_action = std::move(encoded_action).value();
  out.digest = cas::digest_of(input.fn, out.encoded_action);
  return out;
}

std::string link_key_material(const LinkKeyInput& input) {
  std::string material = "kiln-link-v1\n" + input.identity.to_string() + "\n";
  for (const std::string& arg : input.link->args) material += input.rewrite.arg_to_key(arg) + "\n";
  if (input.environment == nullptr) return material;
  const auto& env = *input.environment;
  for (std::string_view name : compile_environment_names()) {
    if (auto it = env.find(std::string(name)); it != env.end()) {
      material += std::string(name) + "=" + it->second + "\n";
    }
  }
  if (auto it = env.find("LIBRARY_PATH"); it != env.end()) {
    material += "LIBRARY_PATH=" + it->second + "\n";
  }
  return material;
}

}  // namespace kiln::client::launcher
