#!/usr/bin/python3
"""Checks rendered Kubernetes manifests offline, with no cluster:

    kubectl kustomize overlays/example | scripts/deploy/k8s/check.py [--external KIND/NAME]... [FILE]

1. Schema: every object is decoded into the Kubernetes API's own model
   classes from Debian's python3-kubernetes (client 22.6, API 1.22): a field
   the API does not have, a value of the wrong type or a required field
   left out is an error. autoscaling/v2 is checked against autoscaling/
   v2beta2's models, the same fields for what kiln uses.
2. References, which the API server would not check either: workload
   selectors match their pod labels; each Service selects pods and its
   target ports are container ports of those pods; the PodDisruptionBudget
   selects pods; the autoscaler's target exists; a StatefulSet's
   serviceName is a headless Service; volume mounts name volumes; Secrets,
   ConfigMaps and their keys named by volumes, envFrom and env exist (or
   are --external: made elsewhere); $(VAR) in a command is defined; a file
   a command names under a Secret's or ConfigMap's mount is one of its keys.
3. kiln's own rules: the autoscaler follows kiln_queued_actions; a pod's
   terminationGracePeriodSeconds outlasts KILN_DRAIN_TIMEOUT_MS; a store's
   --max-size stays below the volume it lives on.

Prints one line per problem and exits 1 if there is any, else prints what
it checked and exits 0.
"""
import argparse
import re
import sys

import yaml

try:
    from kubernetes import client as k8s
except ImportError:  # pragma: no cover
    sys.exit("check.py: needs Debian's python3-kubernetes (and python3-yaml), run with /usr/bin/python3")

MODELS = {
    ("v1", "Namespace"): "V1Namespace",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("v1", "Service"): "V1Service",
    ("apps/v1", "StatefulSet"): "V1StatefulSet",
    ("apps/v1", "Deployment"): "V1Deployment",
    ("policy/v1", "PodDisruptionBudget"): "V1PodDisruptionBudget",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "V2beta2HorizontalPodAutoscaler",
}
PRIMITIVES = {"str": str, "int": int, "bool": bool, "float": (int, float), "datetime": str}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
SIZE = re.compile(r"^([0-9]+)([KMGTP]?)(i?)$", re.IGNORECASE)


class Checker:
    def __init__(self, docs, external):
        self.docs = docs
        self.external = set(external)
        self.errors = []
        self.checked = []

    def error(self, where, text):
        self.errors.append(f"{where}: {text}")

    # --- 1. schema ---------------------------------------------------------
    def decode(self, where, value, type_name):
        """Builds the model `type_name` from `value`, reporting mismatches."""
        if type_name == "object":
            return value
        if type_name in PRIMITIVES:
            if not isinstance(value, PRIMITIVES[type_name]) or isinstance(value, bool) != (type_name == "bool"):
                self.error(where, f"{value!r} is not a {type_name}")
            return value
        match = re.fullmatch(r"list\[(.+)\]", type_name)
        if match:
            if not isinstance(value, list):
                self.error(where, f"expected a list, got {type(value).__name__}")
                return []
            return [self.decode(f"{where}[{i}]", v, match.group(1)) for i, v in enumerate(value)]
        match = re.fullmatch(r"dict\(str, (.+)\)", type_name)
        if match:
            if not isinstance(value, dict):
                self.error(where, f"expected a map, got {type(value).__name__}")
                return {}
            return {k: self.decode(f"{where}.{k}", v, match.group(1)) for k, v in value.items()}
        model = getattr(k8s, type_name)
        if not isinstance(value, dict):
            self.error(where, f"expected an object ({type_name}), got {type(value).__name__}")
            return None
        by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
        kwargs = {}
        for key, item in value.items():
            if key not in by_json:
                self.error(where, f"unknown field '{key}' ({type_name})")
                continue
            attr = by_json[key]
            kwargs[attr] = self.decode(f"{where}.{key}", item, model.openapi_types[attr])
        try:
            return model(**kwargs)
        except (ValueError, TypeError) as e:
            self.error(where, f"{type_name}: {e}")
            return None

    def schema(self):
        for doc in self.docs:
            where = name_of(doc)
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key not in MODELS:
                self.error(where, f"apiVersion/kind {key[0]}/{key[1]} is not one kiln's manifests use")
                continue
            name = doc.get("metadata", {}).get("name", "")
            if not DNS_LABEL.match(name) or len(name) > 63:
                self.error(where, f"name '{name}' is not a DNS label")
            self.decode(where, doc, MODELS[key])
        self.checked.append(f"schema of {len(self.docs)} objects")

    # --- 2. references -----------------------------------------------------
    def find(self, kind, name):
        return next((d for d in self.docs if d.get("kind") == kind and d["metadata"]["name"] == name), None)

    def exists(self, kind, name):
        return self.find(kind, name) is not None or f"{kind}/{name}" in self.external

    def workloads(self):
        return [d for d in self.docs if d.get("kind") in ("Deployment", "StatefulSet")]

    def pods_selected(self, selector):
        """The workloads whose pod labels `selector` (a label map) matches."""
        if not selector:
            return []
        return [w for w in self.workloads()
                if selector.items() <= (w["spec"]["template"]["metadata"].get("labels") or {}).items()]

    def config_keys(self, kind, name):
        """The keys of a Secret or ConfigMap in the render, or None if it is external."""
        obj = self.find(kind, name)
        if obj is None:
            return None
        return set((obj.get("data") or {}).keys()) | set((obj.get("stringData") or {}).keys())

    def references(self):
        for w in self.workloads():
            self.workload(w)
        for svc in (d for d in self.docs if d.get("kind") == "Service"):
            self.service(svc)
        for pdb in (d for d in self.docs if d.get("kind") == "PodDisruptionBudget"):
            sel = pdb["spec"].get("selector", {}).get("matchLabels")
            if not self.pods_selected(sel):
                self.error(name_of(pdb), f"selector {sel} matches no pods")
            if ("minAvailable" in pdb["spec"]) == ("maxUnavailable" in pdb["spec"]):
                self.error(name_of(pdb), "give exactly one of minAvailable and maxUnavailable")
        for hpa in (d for d in self.docs if d.get("kind") == "HorizontalPodAutoscaler"):
            self.autoscaler(hpa)
        self.checked.append("selectors, ports, volumes, Secrets, ConfigMaps and their keys")

    def workload(self, w):
        where = name_of(w)
        spec = w["spec"]
        pod = spec["template"]
        labels = pod["metadata"].get("labels") or {}
        selector = spec.get("selector", {}).get("matchLabels") or {}
        if not selector or not selector.items() <= labels.items():
            self.error(where, f"selector {selector} does not match the pod labels {labels}")
        if w["kind"] == "StatefulSet":
            svc = self.find("Service", spec.get("serviceName", ""))
            if svc is None or svc["spec"].get("clusterIP") != "None":
                self.error(where, f"serviceName '{spec.get('serviceName')}' is not a headless Service here")
        podspec = pod["spec"]
        volumes = {v["name"]: v for v in podspec.get("volumes", [])}
        for claim in spec.get("volumeClaimTemplates", []):
            volumes[claim["metadata"]["name"]] = {"name": claim["metadata"]["name"], "claim": claim}
        for v in volumes.values():
            for kind, field, ref in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
                if field in v:
                    name = v[field].get(ref, "")
                    if not self.exists(kind, name) and not v[field].get("optional"):
                        self.error(where, f"volume {v['name']}: {kind} '{name}' does not exist")
                    keys = self.config_keys(kind, name)
                    for item in v[field].get("items", []):
                        if keys is not None and item["key"] not in keys:
                            self.error(where, f"volume {v['name']}: {kind} '{name}' has no key '{item['key']}'")
        for c in podspec.get("initContainers", []) + podspec.get("containers", []):
            self.container(where, c, volumes)
        # kiln: the drain must end before the kubelet kills the pod.
        env = self.container_env(podspec["containers"][0])
        drain = env.get("KILN_DRAIN_TIMEOUT_MS")
        grace = podspec.get("terminationGracePeriodSeconds", 30)
        if drain is not None and str(drain).isdigit() and int(drain) >= grace * 1000:
            self.error(where, f"KILN_DRAIN_TIMEOUT_MS {drain} does not end within "
                              f"terminationGracePeriodSeconds {grace}")

    def container_env(self, c):
        """The container's environment as far as this render says: env
        values, and every key of the ConfigMaps it takes whole."""
        env = {}
        for source in c.get("envFrom", []):
            ref = source.get("configMapRef") or source.get("secretRef") or {}
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            obj = self.find(kind, ref.get("name", ""))
            if obj is not None:
                env.update(obj.get("data") or {})
        for e in c.get("env", []):
            env[e["name"]] = e.get("value", "")
        return env

    def container(self, where, c, volumes):
        where = f"{where} container {c.get('name')}"
        names = [p.get("name") for p in c.get("ports", []) if p.get("name")]
        if len(names) != len(set(names)):
            self.error(where, f"port names repeat: {names}")
        for n in names:
            if len(n) > 15 or not DNS_LABEL.match(n):
                self.error(where, f"port name '{n}' is not an IANA service name (15 characters, a-z0-9-)")
        for source in c.get("envFrom", []):
            for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if field in source and not self.exists(kind, source[field]["name"]):
                    self.error(where, f"envFrom: {kind} '{source[field]['name']}' does not exist")
        for e in c.get("env", []):
            for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = e.get("valueFrom", {}).get(field)
                if ref:
                    keys = self.config_keys(kind, ref["name"])
                    if not self.exists(kind, ref["name"]):
                        self.error(where, f"env {e['name']}: {kind} '{ref['name']}' does not exist")
                    elif keys is not None and ref["key"] not in keys:
                        self.error(where, f"env {e['name']}: {kind} '{ref['name']}' has no key '{ref['key']}'")
        env = self.container_env(c)
        words = list(c.get("command", [])) + list(c.get("args", []))
        for word in words:
            for var in VAR_REF.findall(word):
                if var not in env and not self.is_external_env(c):
                    self.error(where, f"$({var}) is not in the container's environment")
        mounts = {}
        for m in c.get("volumeMounts", []):
            if m["name"] not in volumes:
                self.error(where, f"volumeMount '{m['name']}' names no volume of the pod")
            else:
                mounts[m["mountPath"].rstrip("/")] = volumes[m["name"]]
        # A file named in the command under a Secret's or ConfigMap's mount
        # must be one of its keys.
        for word in words:
            for path in re.findall(r"(/[\w./-]+)", word):
                for mount_path, volume in mounts.items():
                    if not path.startswith(mount_path + "/"):
                        continue
                    rest = path[len(mount_path) + 1:]
                    for kind, field, ref in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
                        if field not in volume or not rest:
                            continue
                        keys = self.config_keys(kind, volume[field].get(ref, ""))
                        items = volume[field].get("items")
                        if items:
                            keys = {i["path"] for i in items}
                        if keys is not None and rest not in keys:
                            self.error(where, f"{path}: {kind} '{volume[field].get(ref)}' mounted at "
                                              f"{mount_path} has no key '{rest}' (it has {sorted(keys)})")
        sc = c.get("securityContext", {})
        if sc.get("privileged") and sc.get("allowPrivilegeEscalation") is False:
            self.error(where, "privileged with allowPrivilegeEscalation false is refused by the API server")
        self.check_sizes(where, c, env, volumes, mounts)

    def is_external_env(self, c):
        return any(f"{'ConfigMap' if 'configMapRef' in s else 'Secret'}/"
                   f"{(s.get('configMapRef') or s.get('secretRef'))['name']}" in self.external
                   for s in c.get("envFrom", []))

    def check_sizes(self, where, c, env, volumes, mounts):
        """kiln: --max-size below the size of the volume --store is on."""
        words = list(c.get("command", [])) + list(c.get("args", []))
        opts = dict(w[2:].split("=", 1) for w in words if w.startswith("--") and "=" in w)
        if "store" not in opts or "max-size" not in opts:
            return
        max_size = to_bytes(VAR_REF.sub(lambda m: str(env.get(m.group(1), "")), opts["max-size"]), kiln=True)
        volume = mounts.get(opts["store"].rstrip("/"))
        if volume is None:
            self.error(where, f"--store {opts['store']} is not on a volume: the store would be lost with the container")
            return
        if "claim" in volume:
            size = volume["claim"]["spec"]["resources"]["requests"].get("storage")
        else:
            size = volume.get("emptyDir", {}).get("sizeLimit")
        if max_size and size and to_bytes(size) and max_size >= to_bytes(size):
            self.error(where, f"--max-size {opts['max-size']} ({max_size} bytes) is not below its volume's {size}")

    def service(self, svc):
        where = name_of(svc)
        selector = svc["spec"].get("selector")
        pods = self.pods_selected(selector)
        if not pods:
            self.error(where, f"selector {selector} matches no pods")
            return
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort", port.get("port"))
            for w in pods:
                cports = [p for c in w["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
                if isinstance(target, str):
                    ok = any(p.get("name") == target for p in cports)
                else:
                    ok = any(p.get("containerPort") == target for p in cports)
                if not ok:
                    self.error(where, f"port {port.get('name')}: target {target} is not a port of {name_of(w)}")

    def autoscaler(self, hpa):
        where = name_of(hpa)
        spec = hpa["spec"]
        ref = spec["scaleTargetRef"]
        if not self.exists(ref["kind"], ref["name"]):
            self.error(where, f"scaleTargetRef {ref['kind']}/{ref['name']} does not exist")
        if spec.get("minReplicas", 1) > spec["maxReplicas"]:
            self.error(where, "minReplicas is above maxReplicas")
        names = [m.get("external", {}).get("metric", {}).get("name") for m in spec.get("metrics", [])
                 if m.get("type") == "External"]
        if "kiln_queued_actions" not in names:
            self.error(where, f"does not follow the external metric kiln_queued_actions (it follows {names})")


def name_of(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def to_bytes(text, kiln=False):
    """A size as bytes, None if unreadable: Kubernetes' quantities ('50Gi'
    binary, '50G' decimal), or with kiln=True kiln's ('45G': binary,
    base/size.h)."""
    match = SIZE.match(str(text).strip())
    if not match:
        return None
    number, unit, binary = int(match.group(1)), match.group(2).upper(), match.group(3)
    if not unit:
        return number
    base = 1024 if (binary or kiln) else 1000
    return number * base ** ("KMGTP".index(unit) + 1)


def main():
    parser = argparse.ArgumentParser(description="Check rendered Kubernetes manifests offline.")
    parser.add_argument("file", nargs="?", default="-")
    parser.add_argument("--external", action="append", default=[], metavar="KIND/NAME",
                        help="an object the manifests use that is made elsewhere")
    args = parser.parse_args()
    text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as e:
        sys.exit(f"check.py: not YAML: {e}")
    if not docs:
        sys.exit("check.py: no objects")
    checker = Checker(docs, args.external)
    checker.schema()
    if not checker.errors:
        checker.references()
    for line in checker.errors:
        print(f"check.py: {line}")
    if checker.errors:
        return 1
    kinds = sorted({d["kind"] for d in docs})
    print(f"check.py: {len(docs)} objects ({', '.join(kinds)}) pass: {'; '.join(checker.checked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
