#!/usr/bin/env bash
# Regenerates go.mod's replace block after a Kubernetes bump (edit the k8s.io/kubernetes
# version in go.mod first). k8s.io/kubernetes requires its staging modules as v0.0.0 and
# points them at ./staging/src/...; a module depending on it must replace each with the
# published tag, v0.X.Y for Kubernetes v1.X.Y. The list is read from that release's own
# go.mod, never guessed, then `go mod tidy` pins everything else.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
k8s_version="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' go.mod)"
staging_version="v0.${k8s_version#v1.}"
upstream_gomod="$(go mod download -json "k8s.io/kubernetes@${k8s_version}" \
  | awk -F'"' '$2=="GoMod"{print $4; exit}')"
mapfile -t staging < <(awk '$2=="=>" && $3 ~ /^\.\/staging\/src\// {print $1}' "$upstream_gomod" | sort -u)
[[ ${#staging[@]} -gt 0 ]] || { echo "no staging replaces found in $upstream_gomod" >&2; exit 1; }
# Rewrite the one replace block (added at the end when there is none yet).
block="$(printf 'replace (\n'; for m in "${staging[@]}"; do printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"; done; printf ')')"
awk -v block="$block" '
  /^replace \($/ { print block; skip = 1; done = 1; next }
  skip && /^\)$/ { skip = 0; next }
  !skip { print }
  END { if (!done) print "\n" block }' go.mod > go.mod.new
mv go.mod.new go.mod
echo "replaced ${#staging[@]} staging modules with ${staging_version}" >&2
go mod tidy
