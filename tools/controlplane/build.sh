#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler from the official Go
# modules pinned in this folder's go.mod, into a cache outside the repository keyed by version.
# Prints the folder that holds the binaries. Does nothing when they are already there.
# `build.sh [--cached] [NAME...]`: only the named binaries (default: all four).
# `--cached` only looks: prints the folder and exits 0 when the binaries are there,
# exits 1 otherwise (tenantc uses it to decide whether a build is needed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_version="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/go.mod")"
etcd_version="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$here/go.mod")"
cache="${TENANTC_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tenantc/controlplane}"
out="$cache/k8s-${k8s_version}_etcd-${etcd_version}"
all=(etcd kube-apiserver kube-controller-manager kube-scheduler)
cached_only=false
if [[ "${1:-}" == "--cached" ]]; then cached_only=true; shift; fi
bins=("$@")
[[ ${#bins[@]} -gt 0 ]] || bins=("${all[@]}")
for b in "${bins[@]}"; do
  [[ " ${all[*]} " == *" $b "* ]] || { echo "build.sh: unknown binary $b (one of: ${all[*]})" >&2; exit 2; }
done
missing=()
for b in "${bins[@]}"; do [[ -x "$out/$b" ]] || missing+=("$b"); done
if [[ ${#missing[@]} -eq 0 ]]; then echo "$out"; exit 0; fi
if $cached_only; then echo "missing in $out: ${missing[*]}" >&2; exit 1; fi
command -v go >/dev/null || { echo "build.sh: Go toolchain not found; install Go to build the control plane" >&2; exit 3; }
mkdir -p "$out"
tmp="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cd "$here"
export CGO_ENABLED=0
for b in "${missing[@]}"; do
  case "$b" in
    etcd) pkg=./cmd/etcd ;;
    *) pkg="k8s.io/kubernetes/cmd/$b" ;;
  esac
  start=$SECONDS
  echo "building $b ($pkg) ..." >&2
  go build -mod=mod -trimpath -ldflags='-s -w' -o "$tmp/$b" "$pkg"
  mv "$tmp/$b" "$out/$b"
  echo "built $b in $((SECONDS-start))s" >&2
done
echo "$out"
