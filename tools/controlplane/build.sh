#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kube-scheduler from the official Go
# modules pinned in this folder's go.mod, into a cache outside the repository keyed by version.
# Prints the folder that holds the binaries. Does nothing when they are already there.
# `build.sh [--cached] [NAME...]`: only the named binaries (default: all four).
# `--cached` only looks: prints the folder and exits 0 when the binaries are there,
# exits 1 otherwise (tenantc uses it to decide whether a build is needed).
#
# Version stamping: a plain `go build` leaves Kubernetes' version variables at their source
# defaults (`v0.0.0-master+$Format:%H$`), which kubectl and version-gated clients cannot parse.
# We set the variables the official build sets (hack/lib/version.sh of the release: -X on
# k8s.io/component-base/version and k8s.io/client-go/pkg/version for gitVersion, gitMajor,
# gitMinor, gitCommit, gitTreeState, buildDate), derived from the version go.mod pins; etcd
# gets its GitSHA the same way. The commit is the one the module proxy records for the tag
# (`go mod download -json`, "Origin"), when it records one; otherwise it is the tag itself,
# which names the release's commit unambiguously (the module zip carries no commit id, and
# `$Format` placeholders are not expanded in it). gitTreeState is "archive", as upstream says
# for a build from an exported tree rather than a git checkout. buildDate is the build time,
# or SOURCE_DATE_EPOCH when set (as upstream).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_version="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/go.mod")"
etcd_version="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$here/go.mod")"
cache="${TENANTC_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tenantc/controlplane}"
# The recipe version is part of the cache key: bump it whenever the way the binaries are built
# changes, so binaries built the old way are rebuilt (2: version information stamped in).
recipe=2
out="$cache/k8s-${k8s_version}_etcd-${etcd_version}_build${recipe}"
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

# The commit the module proxy recorded for module $1 at version $2, or nothing.
origin_commit() {
  go mod download -json "$1@$2" 2>/dev/null | awk -F'"' '$2=="Hash"{print $4; exit}' || true
}

kube_ldflags() {
  local version="$k8s_version" commit major minor date
  [[ "$version" =~ ^v([0-9]+)\.([0-9]+)(\.[0-9]+)?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$ ]] \
    || { echo "build.sh: k8s.io/kubernetes $version is not a semantic version" >&2; exit 2; }
  major="${BASH_REMATCH[1]}"
  minor="${BASH_REMATCH[2]}"
  [[ -z "${BASH_REMATCH[4]}" ]] || minor+="+"  # a pre-release, as upstream marks it
  commit="$(origin_commit k8s.io/kubernetes "$version")"
  date="$(date ${SOURCE_DATE_EPOCH:+"--date=@${SOURCE_DATE_EPOCH}"} -u +'%Y-%m-%dT%H:%M:%SZ')"
  local key val pkg flags=""
  for pair in "gitVersion=$version" "gitMajor=$major" "gitMinor=$minor" "gitCommit=${commit:-$version}" \
              "gitTreeState=archive" "buildDate=$date"; do
    key="${pair%%=*}"
    val="${pair#*=}"
    for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
      flags+=" -X '$pkg.$key=$val'"
    done
  done
  echo "$flags"
}

etcd_ldflags() {
  local commit
  commit="$(origin_commit go.etcd.io/etcd/server/v3 "$etcd_version")"
  # etcd's own build script stamps the short commit (git rev-parse --short HEAD).
  echo " -X 'go.etcd.io/etcd/api/v3/version.GitSHA=${commit:+${commit:0:7}}${commit:-$etcd_version}'"
}

for b in "${missing[@]}"; do
  case "$b" in
    etcd) pkg=./cmd/etcd; stamp="$(etcd_ldflags)" ;;
    *) pkg="k8s.io/kubernetes/cmd/$b"; stamp="$(kube_ldflags)" ;;
  esac
  start=$SECONDS
  echo "building $b ($pkg) ..." >&2
  go build -mod=mod -trimpath -ldflags="-s -w$stamp" -o "$tmp/$b" "$pkg"
  # The stamp must have taken: a binary that does not say its release is not cached.
  case "$b" in
    etcd) want="etcd Version: ${etcd_version#v}" ;;
    *) want="Kubernetes $k8s_version" ;;
  esac
  got="$("$tmp/$b" --version 2>&1 | head -n1)"
  [[ "$got" == "$want" ]] || { echo "build.sh: $b --version says '$got', expected '$want'" >&2; exit 1; }
  mv "$tmp/$b" "$out/$b"
  echo "built $b in $((SECONDS-start))s" >&2
done
echo "$out"
