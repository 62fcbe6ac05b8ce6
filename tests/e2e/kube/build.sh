#!/usr/bin/env bash
# Builds kube-apiserver and etcd for the end-to-end suite from the official Go modules
# pinned in go.mod (fetched through the Go module proxy), once per machine, into a cache
# directory outside the work tree. Prints that directory on its last line.
#
# Where KUBEBUILDER_ASSETS names a directory holding both binaries (the envtest
# convention), that directory is used and nothing is built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "$KUBEBUILDER_ASSETS/kube-apiserver" && -x "$KUBEBUILDER_ASSETS/etcd" ]]; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi
# The cache key is the module graph and this script (its flags): a change builds anew.
key="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" | sha256sum | cut -c1-16)"
out="${MESHMIRROR_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/meshmirror/kube}/$key"
if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is needed to build kube-apiserver and etcd (or set KUBEBUILDER_ASSETS)" >&2; exit 2; }
mkdir -p "$out.tmp"
cd "$here"
# Two cores: one package at a time keeps the link steps within memory.
export GOFLAGS="-mod=readonly -trimpath" CGO_ENABLED=0
echo "building etcd and kube-apiserver into $out (10-15 minutes the first time)" >&2
go build -ldflags=-s -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3
# The version the module pins, stamped in (as the release build does), so /version
# and the server's Warning texts name it rather than v0.0.0-master.
version="$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)"
minor="$(echo "$version" | cut -d. -f2)"
pkg=k8s.io/component-base/version
go build -ldflags="-s -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
  -o "$out.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
