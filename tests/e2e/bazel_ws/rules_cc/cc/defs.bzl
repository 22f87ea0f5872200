# A stand-in for @rules_cc//cc:defs.bzl, so that Bazel 4 builds C++ with no
# network. Bazel 4's own @bazel_tools//tools/cpp loads its C++ rules from
# @rules_cc, which it would otherwise download; the rules themselves are
# native in Bazel 4, and Debian's bazel-rules-cc (0.0.4) is written for a
# later Bazel (it loads use_cpp_toolchain, which Bazel 4.2 lacks). Each name
# here is the native rule of that name.

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)
