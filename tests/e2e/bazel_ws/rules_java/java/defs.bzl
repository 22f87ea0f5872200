# A stand-in for @rules_java//java:defs.bzl, so that Bazel 4 analyses a C++
# build with no network: every build parses @bazel_tools//tools/jdk (its
# Java toolchains are registered by default), and that package loads these
# names from @rules_java, which Bazel would otherwise download. A C++ build
# runs none of them. Each name here is the native rule of that name.

def java_binary(**kwargs):
    native.java_binary(**kwargs)

def java_import(**kwargs):
    native.java_import(**kwargs)

def java_library(**kwargs):
    native.java_library(**kwargs)

def java_proto_library(**kwargs):
    native.java_proto_library(**kwargs)

def java_runtime(**kwargs):
    native.java_runtime(**kwargs)

def java_test(**kwargs):
    native.java_test(**kwargs)

def java_toolchain(**kwargs):
    native.java_toolchain(**kwargs)
