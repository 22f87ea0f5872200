#!/bin/sh
# Stands in for Bazel's coverage tools in the offline fixture (see BUILD).
echo "coverage is not available in this offline workspace" >&2
exit 1
