#!/usr/bin/env python3
"""Writes a seccomp profile for a kiln-worker container that sandboxes its
actions with bubblewrap: the container engine's default profile, with
sethostname and setdomainname allowed without CAP_SYS_ADMIN.

    scripts/deploy/image/seccomp-profile.py [DEFAULT_PROFILE] > kiln-worker-seccomp.json

DEFAULT_PROFILE is the engine's own (podman on Debian:
/usr/share/containers/seccomp.json, the default here). The default
profiles allow unshare, mount and pivot_root already, and those two calls
only to a process holding CAP_SYS_ADMIN, which the worker, an ordinary
user, never has; but bubblewrap names the action's own UTS namespace
"kiln" (sethostname), inside that namespace, and stops if it may not.
Nothing else is changed, so the profile follows the engine's as it is
updated: make it again after upgrading podman (docs/deploy.md).
"""
import json
import sys

WANTED = ("sethostname", "setdomainname")


def widen(profile):
    rules = []
    for rule in profile.get("syscalls", []):
        names = rule.get("names", [])
        conditional = bool(rule.get("includes") or rule.get("excludes"))
        # Drop the calls from every rule that refuses them or allows them
        # only under a condition; one plain rule below allows them.
        if rule.get("action") != "SCMP_ACT_ALLOW" or conditional:
            names = [n for n in names if n not in WANTED]
        if names:
            rules.append(dict(rule, names=names))
    rules.append({"names": list(WANTED), "action": "SCMP_ACT_ALLOW", "args": [],
                  "comment": "kiln: bubblewrap sets the hostname of its own UTS namespace",
                  "includes": {}, "excludes": {}})
    return dict(profile, syscalls=rules)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"
    with open(path, encoding="utf-8") as f:
        profile = json.load(f)
    if profile.get("defaultAction") == "SCMP_ACT_ALLOW":
        sys.exit(f"{path}: allows every call by default; nothing to widen")
    json.dump(widen(profile), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
