#!/usr/bin/env bash
# Builds kwok (sigs.k8s.io/kwok: fake kubelets that keep Node objects Ready and move pods
# bound to them to Running) with `go install` from its own module, so it uses kwok's own
# dependency versions, not the control plane's go.mod. The binary goes into a cache outside
# the repository keyed by version; prints that folder. Does nothing when it is already there.
# `build.sh --cached` only looks: prints the folder and exits 0 when the binary is there,
# exits 1 otherwise. Exit 3: no Go toolchain.
set -euo pipefail
version="v0.8.0"  # kwok release; `go install` resolves its dependencies from kwok's own go.mod
cache="${TENANTC_KWOK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tenantc/kwok}"
out="$cache/$version"
if [[ -x "$out/kwok" ]]; then echo "$out"; exit 0; fi
if [[ "${1:-}" == "--cached" ]]; then echo "missing in $out: kwok" >&2; exit 1; fi
command -v go >/dev/null || { echo "build.sh: Go toolchain not found; install Go to build kwok" >&2; exit 3; }
mkdir -p "$out"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"  # outside any module: `go install pkg@version` builds in module mode from kwok's go.mod
start=$SECONDS
echo "building kwok (sigs.k8s.io/kwok/cmd/kwok@$version) ..." >&2
CGO_ENABLED=0 GOBIN="$tmp" go install -trimpath -ldflags='-s -w' "sigs.k8s.io/kwok/cmd/kwok@$version"
mv "$tmp/kwok" "$out/kwok"
echo "built kwok in $((SECONDS-start))s" >&2
echo "$out"
