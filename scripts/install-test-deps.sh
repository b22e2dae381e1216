#!/usr/bin/env bash
# Installs what the tests need besides npm packages: real DNS peers (named,
# named-checkzone, dig, knotd + knotc), Go + miekg/dns for the CoreDNS-parser zone checker,
# containerd/runc/CNI plugins, iptables and iproute2 for the integration tests,
# gcc + libc6-dev to build the static pause binary, prometheus for promtool
# (the alerting rules' checks and unit tests), and etcd, openssl and the build
# deps of a real kube-apiserver. Then builds tools/zonecheck/zonecheck and
# (once per machine, cached) kube-apiserver: scripts/build-kube-apiserver.sh.
#
# Debian 12, run as root (no sudo). Idempotent: when everything is present it
# only checks, and rebuilds the checker only when its source is newer.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(
  bind9 bind9-utils bind9-dnsutils
  knot
  golang-go golang-github-miekg-dns-dev
  containerd runc containernetworking-plugins
  iptables iproute2 curl
  gcc libc6-dev
  etcd-server etcd-client openssl dpkg-dev golang-github-modern-go-reflect2-dev
  prometheus
)

log() { printf 'install-test-deps: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == 'install ok installed' ]]
}

if [[ "$(id -u)" -ne 0 ]]; then
  missing_any=0
  for pkg in "${packages[@]}"; do is_installed "$pkg" || missing_any=1; done
  if [[ "$missing_any" -eq 1 ]]; then
    die "Debian packages are missing and this script must run as root to install them (no sudo is used)"
  fi
fi

command -v node >/dev/null 2>&1 || die 'node is not installed (Node 20 is required)'
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$node_major" -lt 20 ]]; then
  die "node $(node --version) is too old: Node 20 or newer is required"
fi

missing=()
for pkg in "${packages[@]}"; do
  is_installed "$pkg" || missing+=("$pkg")
done
want_kubectl=0
command -v kubectl >/dev/null 2>&1 || want_kubectl=1

if [[ "${#missing[@]}" -gt 0 || "$want_kubectl" -eq 1 ]]; then
  # Package scripts must not start daemons (bind9 would start named, knot
  # knotd, on port 53): block service starts for the duration of the install
  # unless a policy exists.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  log "apt-get update"
  apt-get update -qq
  if [[ "${#missing[@]}" -gt 0 ]]; then
    log "installing: ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if [[ " ${missing[*]} " == *' knot '* ]]; then
    # knot's package links its system service into the runlevels and enables
    # knot.service (policy-rc.d only kept it from starting now). The tests
    # start their own knotd on loopback (packages/testkit/src/knot.ts): no
    # system knotd may start at a later boot and take port 53.
    log "disabling the knot system service"
    update-rc.d knot disable >/dev/null 2>&1 || true
    rm -f /etc/systemd/system/multi-user.target.wants/knot.service
  fi
  if [[ "$want_kubectl" -eq 1 ]]; then
    candidate="$(apt-cache policy kubectl 2>/dev/null | awk '/Candidate:/ { print $2 }')"
    if [[ -n "$candidate" && "$candidate" != '(none)' ]]; then
      log "installing: kubectl"
      apt-get install -y -qq --no-install-recommends kubectl
    else
      log "WARNING: kubectl is not installed and no apt source offers it; tests that need kubectl will fail"
    fi
  fi
else
  log "all Debian packages present"
fi

for tool in named named-checkzone dig knotd knotc go ctr containerd runc iptables ip gcc curl etcd etcdctl openssl promtool; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is still missing after installing packages"
done
[[ -x /usr/lib/cni/bridge ]] || die '/usr/lib/cni/bridge is missing (containernetworking-plugins)'
[[ -d /usr/share/gocode/src/github.com/miekg/dns ]] ||
  die '/usr/share/gocode/src/github.com/miekg/dns is missing (golang-github-miekg-dns-dev)'

# Build the CoreDNS-parser zone checker offline, in GOPATH mode against the
# Go sources Debian installs under /usr/share/gocode.
checker_dir="$repo_root/tools/zonecheck"
checker="$checker_dir/zonecheck"
checker_is_current() {
  [[ -x "$checker" ]] || return 1
  [[ -z "$(find "$checker_dir" -name '*.go' -newer "$checker" -print -quit)" ]] || return 1
  # An empty file has no SOA: a working checker exits 1 for it.
  local status=0
  "$checker" -origin example.test /dev/null >/dev/null 2>&1 || status=$?
  [[ "$status" -eq 1 ]]
}
if checker_is_current; then
  log "zonecheck is up to date"
else
  log "building $checker"
  if [[ -z "${GOCACHE:-}" && -z "${HOME:-}" && -z "${XDG_CACHE_HOME:-}" ]]; then
    export GOCACHE=/tmp/zonewright-go-cache
  fi
  start=$(date +%s%N)
  (cd "$checker_dir" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off \
    go build -o zonecheck.tmp . && mv -f zonecheck.tmp zonecheck)
  log "built zonecheck in $((($(date +%s%N) - start) / 1000000)) ms"
fi

# A real CoreDNS for the integration tests (not packaged by Debian). This
# script cannot export variables to later commands: testkit resolves the same
# default itself (packages/testkit/src/coredns.ts, findCoreDns).
coredns="${ZONEWRIGHT_COREDNS:-$repo_root/../shared/tools/coredns/coredns}"
coredns_min=1.11.4
coredns_how="set ZONEWRIGHT_COREDNS to an official CoreDNS >= $coredns_min binary (https://github.com/coredns/coredns/releases)"
if [[ -x "$coredns" ]]; then
  coredns_version="$("$coredns" -version 2>/dev/null | sed -n 's/^CoreDNS-\([0-9.]*\).*/\1/p')"
  if [[ -z "$coredns_version" ]]; then
    die "$coredns is not a CoreDNS binary: $coredns_how"
  elif [[ "$(printf '%s\n%s\n' "$coredns_min" "$coredns_version" | sort -V | head -n1)" != "$coredns_min" ]]; then
    die "$coredns is CoreDNS $coredns_version, older than $coredns_min: $coredns_how"
  fi
  log "CoreDNS $coredns_version at $coredns"
elif [[ "${CI:-}" == 'true' ]]; then
  die "no CoreDNS at $coredns and CI=true: $coredns_how"
else
  log "WARNING: no CoreDNS at $coredns: the CoreDNS integration tests will be SKIPPED; $coredns_how"
fi

# A real kube-apiserver for integration/kube-apiserver: built from Debian's
# source package once (10+ minutes) and cached outside the repository.
if [[ "${ZONEWRIGHT_SKIP_KUBE_APISERVER:-}" == 1 ]]; then
  log "WARNING: ZONEWRIGHT_SKIP_KUBE_APISERVER=1: not building kube-apiserver; its tests will be skipped"
else
  "$repo_root/scripts/build-kube-apiserver.sh" >/dev/null
fi
log "done"
