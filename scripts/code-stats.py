#!/usr/bin/env python3
"""The shape of kiln's code, for reviews and closing notes: file sizes,
function lengths and the include graph by folder.

    scripts/code-stats.py [ROOT]        # ROOT: a checkout (default: this one)

Counts the C++ sources of the layers (base proto cas exec scheduler worker
client, with client's rooms), production files and tests apart. Function
spans come from universal-ctags (start and end line of every function
definition, lambdas excluded); a file's size is its number of lines.
Prints markdown tables: nothing here decides a test.
"""
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys

FOLDERS = ["base", "proto", "cas", "exec", "scheduler", "worker", "client"]


def sources(root):
    for top in FOLDERS:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith((".h", ".cpp")):
                    path = os.path.join(dirpath, name)
                    yield os.path.relpath(path, root)


def folder_of(rel):
    parts = rel.split("/")
    return "/".join(parts[:2]) if parts[0] == "client" and len(parts) > 2 else parts[0]


def is_test(rel):
    return rel.endswith("_test.cpp") or "_test_" in rel or rel.endswith("test_util.h")


def lines_of(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for _ in f)


def function_spans(root, files):
    ctags = shutil.which("ctags-universal") or shutil.which("ctags")
    if not ctags:
        sys.exit("code-stats: universal-ctags is needed (apt-get install universal-ctags)")
    out = subprocess.run(
        [ctags, "-x", "--kinds-c++=f", "--fields=+ne", "--_xformat=%N\t%F\t%n\t%e", *files],
        cwd=root, capture_output=True, text=True, check=True).stdout
    spans = []
    for line in out.splitlines():
        name, path, start, end = line.split("\t")
        if name.startswith("__anon") or not end.isdigit():
            continue
        spans.append((path, name, int(end) - int(start) + 1))
    return spans


def pct(values, p):
    if not values:
        return 0
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def summary_row(label, values, limit):
    if not values:
        return f"| {label} | 0 | | | | |"
    return (f"| {label} | {len(values)} | {statistics.median(values):.0f} | {pct(values, 90)} | "
            f"{max(values)} | {sum(1 for v in values if v > limit)} |")


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    files = list(sources(root))
    prod = [f for f in files if not is_test(f)]
    tests = [f for f in files if is_test(f)]
    sizes = {f: lines_of(os.path.join(root, f)) for f in files}

    print("## File sizes (lines)\n")
    print("| files | count | median | p90 | max | over 600 |")
    print("|---|---:|---:|---:|---:|---:|")
    print(summary_row("production", [sizes[f] for f in prod], 600))
    print(summary_row("tests", [sizes[f] for f in tests], 600))
    print("\nLargest production files: " +
          ", ".join(f"{f} ({sizes[f]})" for f in sorted(prod, key=sizes.get, reverse=True)[:5]))

    spans = function_spans(root, prod)
    print("\n## Function lengths (lines, production code)\n")
    print("| functions | count | median | p90 | max | over 80 |")
    print("|---|---:|---:|---:|---:|---:|")
    print(summary_row("all", [n for _, _, n in spans], 80))
    longest = sorted(spans, key=lambda s: s[2], reverse=True)[:8]
    print("\nLongest: " + ", ".join(f"{name} ({path}, {n})" for path, name, n in longest))

    graph = collections.Counter()
    include = re.compile(r'^#include "([^"]+)"')
    for f in files:
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            for line in fh:
                m = include.match(line)
                if not m:
                    continue
                target = m.group(1)
                if "/" not in target:
                    continue
                to = folder_of(target) if target.split("/")[0] in FOLDERS else target.split("/")[0]
                src = folder_of(f)
                if to != src:
                    graph[(src, to)] += 1
    print("\n## Includes between folders (count of #include lines)\n")
    print("| from | to |")
    print("|---|---|")
    by_source = collections.defaultdict(list)
    for (src, to), n in sorted(graph.items()):
        by_source[src].append(f"{to} ({n})")
    order = FOLDERS + sorted(k for k in by_source if k not in FOLDERS)
    for src in order:
        if src in by_source:
            print(f"| {src} | {', '.join(by_source[src])} |")


if __name__ == "__main__":
    main()
