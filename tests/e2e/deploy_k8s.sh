#!/usr/bin/env bash
# The Kubernetes manifests of scripts/deploy/k8s/, offline: `kubectl
# kustomize` renders the base and both overlays (with keys made here by
# kiln keygen), with the kubectl on PATH and, when it is another one, with
# Debian 12's kubectl 1.20 too (its kustomize is the oldest the manifests
# promise to render with; the package is fetched with apt-get download and
# kept in ${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}), and scripts/deploy/k8s/
# check.py checks every render: the Kubernetes API's own schema (Debian's
# python3-kubernetes), the references between the objects, kiln's rules.
# Then broken manifests must be refused: ten mutations of a good render,
# each caught by check.py with its reason, and a patch naming no object,
# caught by kustomize.
# shellcheck source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
repo=$(cd "$(dirname "$0")/../.." && pwd)
python=/usr/bin/python3 # Debian's, which the python3-* packages serve

"$repo/scripts/install-packages.sh" python3 python3-yaml python3-kubernetes
command -v kubectl >/dev/null || "$repo/scripts/install-packages.sh" kubernetes-client
kubectls=("$(command -v kubectl)")
# sed, not head: head leaves before kubectl has written, and pipefail would
# end the script on the SIGPIPE kubectl then gets.
version=$(kubectl version --client 2>/dev/null | sed -n 1p)
echo "kubectl: $version"

# Debian's kubectl 1.20 as a second renderer, where the one on PATH is not it.
if ! grep -q 'v1\.20\.' <<<"$version"; then
  debian=${KILN_E2E_CACHE:-/var/tmp/kiln-e2e}/kubectl-debian
  if [ ! -x "$debian/root/usr/bin/kubectl" ]; then
    mkdir -p "$debian" && rm -rf "$debian/root" "$debian"/*.deb
    if (cd "$debian" && { apt-get download kubernetes-client >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get download kubernetes-client >/dev/null 2>&1; }; }); then
      dpkg-deb -x "$debian"/kubernetes-client_*.deb "$debian/root"
    fi
  fi
  if [ -x "$debian/root/usr/bin/kubectl" ]; then
    kubectls+=("$debian/root/usr/bin/kubectl")
    echo "kubectl: also $("$debian/root/usr/bin/kubectl" version --client | head -1)"
  else
    echo "kubectl: Debian's kubernetes-client could not be fetched: rendering with one kubectl only"
  fi
fi

cp -r "$repo/scripts/deploy/k8s" "$WORK/k8s"
keys=$WORK/k8s/overlays/example/keys
rm -f "$keys"/*.key "$keys"/*.pub "$keys/authorized_keys" "$keys/http-token" # a developer's own, if any
for name in scheduler worker; do
  "$KILN" keygen -o "$keys/$name" >/dev/null 2>&1 || fail "kiln keygen $name failed"
done
echo "worker $(sed -n 's/^public = //p' "$keys/worker.pub") k8s-workers" >"$keys/authorized_keys"
(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$keys/http-token")

check() { "$python" "$WORK/k8s/check.py" "$@"; }
external=(--external Secret/kiln-scheduler-key --external Secret/kiln-worker-key
  --external Secret/kiln-http-token --external ConfigMap/kiln-authorized-keys)
for k in "${kubectls[@]}"; do
  for dir in base overlays/example overlays/unsandboxed; do
    "$k" kustomize "$WORK/k8s/$dir" >"$WORK/render.yaml" 2>"$WORK/render.err" ||
      fail "$k kustomize $dir failed: $(cat "$WORK/render.err")"
    args=()
    [ "$dir" = base ] && args=("${external[@]}")
    check "${args[@]}" "$WORK/render.yaml" >"$WORK/check.out" ||
      fail "check.py refused $dir as rendered by $k: $(cat "$WORK/check.out")"
    echo "$dir ($("$k" version --client 2>/dev/null | grep -o 'v1\.[0-9]*\.[0-9]*' | head -1)): $(cat "$WORK/check.out")"
  done
done

# What each overlay is about.
kubectl kustomize "$WORK/k8s/overlays/example" >"$WORK/example.yaml" 2>/dev/null
kubectl kustomize "$WORK/k8s/overlays/unsandboxed" >"$WORK/unsandboxed.yaml" 2>/dev/null
"$python" - "$WORK/example.yaml" "$WORK/unsandboxed.yaml" <<'EOF' || fail "the overlays do not say what they should"
import sys, yaml
def worker(path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    assert all(d["metadata"].get("namespace") == "kiln" for d in docs if d["kind"] != "Namespace"), path
    w = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "kiln-worker")
    return w["spec"]["template"]["spec"]["containers"][0], docs
c, docs = worker(sys.argv[1])
assert c["securityContext"].get("privileged") is True and "--sandbox=none" not in c["command"], c
assert c["image"] == "registry.example/kiln:0.1.0", c["image"]
ports = {p["name"]: p["port"] for d in docs if d["kind"] == "Service" for p in d["spec"]["ports"]}
assert ports == {"client": 7010, "worker": 7011, "http": 9090}, ports
c, docs = worker(sys.argv[2])
assert not c["securityContext"].get("privileged") and "--sandbox=none" in c["command"], c
ns = next(d for d in docs if d["kind"] == "Namespace")
assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted", ns
EOF
"$python" -c 'import sys, yaml; r = yaml.safe_load(open(sys.argv[1]))["externalRules"][0]; assert r["name"]["as"] == "kiln_queued_actions"' \
  "$WORK/k8s/prometheus-adapter-rules.yaml" || fail "prometheus-adapter-rules.yaml does not serve kiln_queued_actions"

# Broken manifests: each mutation of the example's render must be refused,
# for its reason.
mutate() {
  "$python" - "$WORK/example.yaml" "$1" >"$WORK/broken.yaml" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
def get(kind, prefix):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(prefix))
worker = get("Deployment", "kiln-worker")["spec"]["template"]["spec"]
what = sys.argv[2]
if what == "service-port":
    get("Service", "kiln-scheduler-workers")["spec"]["ports"][0]["targetPort"] = "wroker"
elif what == "unknown-field":
    worker["containers"][0]["volumeMount"] = worker["containers"][0].pop("volumeMounts")
elif what == "wrong-type":
    get("StatefulSet", "kiln-scheduler")["spec"]["replicas"] = "one"
elif what == "missing-required":
    del worker["containers"][0]["name"]
elif what == "pdb-selector":
    get("PodDisruptionBudget", "kiln-worker")["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "workers"
elif what == "volume-mount":
    worker["containers"][0]["volumeMounts"][0]["name"] = "stores"
elif what == "hpa-target":
    get("HorizontalPodAutoscaler", "kiln-worker")["spec"]["scaleTargetRef"]["name"] = "kiln-workers"
elif what == "secret-key":
    data = get("Secret", "kiln-worker-key")["data"]
    data["worker-key"] = data.pop("worker.key")
elif what == "drain":
    get("ConfigMap", "kiln-config")["data"]["KILN_DRAIN_TIMEOUT_MS"] = "120000"
elif what == "max-size":
    get("ConfigMap", "kiln-config")["data"]["KILN_WORKER_MAX_SIZE"] = "25G"
yaml.safe_dump_all(docs, sys.stdout)
EOF
}
for case in "service-port:target wroker is not a port" "unknown-field:unknown field 'volumeMount'" \
  "wrong-type:'one' is not a int" "missing-required:must not be \`None\`" \
  "pdb-selector:matches no pods" "volume-mount:names no volume" "hpa-target:does not exist" \
  "secret-key:has no key 'worker.key'" "drain:does not end within terminationGracePeriodSeconds" \
  "max-size:is not below its volume"; do
  what=${case%%:*} want=${case#*:}
  mutate "$what"
  if check "$WORK/broken.yaml" >"$WORK/check.out"; then
    fail "check.py passed a broken render ($what)"
  fi
  grep -qF -- "$want" "$WORK/check.out" || fail "check.py on $what: wanted '$want', got: $(cat "$WORK/check.out")"
done

# A patch naming no object stops kustomize itself.
cat >"$WORK/k8s/overlays/example/typo-patch.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kiln-wroker
spec:
  replicas: 3
EOF
echo "- typo-patch.yaml" >>"$WORK/k8s/overlays/example/kustomization.yaml"
for k in "${kubectls[@]}"; do
  if "$k" kustomize "$WORK/k8s/overlays/example" >/dev/null 2>"$WORK/render.err"; then
    fail "$k kustomize rendered an overlay whose patch names no object"
  fi
done
echo "deploy_k8s: renders checked with ${#kubectls[@]} kubectl(s); 11 broken manifests refused"
