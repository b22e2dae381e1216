#!/usr/bin/env bash
# Builds a real kube-apiserver (v1.20.2) for the integration tests from Debian
# 12's `kubernetes` source package, offline against its vendor/ tree, and
# caches the binary outside the repository, keyed by the orig tarball's hash:
#
#   ${ZONEWRIGHT_CACHE_DIR:-/var/cache/zonewright}/kube-apiserver-<sha256>/kube-apiserver
#
# When that file exists (and runs) nothing is downloaded or built. When the
# environment variable ZONEWRIGHT_KUBE_APISERVER names a binary, that binary is
# used and nothing is built. Prints the binary's path on stdout; logs on stderr.
#
# Needs: golang-go (1.19), golang-github-modern-go-reflect2-dev, dpkg-dev
# (apt-get source unpacking tools), network access to the Debian mirror this
# machine already uses. /etc/apt is never modified: the source list, the
# package lists and the download cache are private to this script.
set -euo pipefail

readonly source_package=kubernetes
readonly source_version='1.20.5+really1.20.2-1.1+deb12u1'
readonly tarball_sha256=b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc
readonly git_version=v1.20.2
readonly reflect2_dir=/usr/share/gocode/src/github.com/modern-go/reflect2

log() { printf 'build-kube-apiserver: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

binary_runs() {
  [[ -x "$1" ]] && "$1" --version >/dev/null 2>&1
}

if [[ -n "${ZONEWRIGHT_KUBE_APISERVER:-}" ]]; then
  binary_runs "$ZONEWRIGHT_KUBE_APISERVER" ||
    die "ZONEWRIGHT_KUBE_APISERVER=$ZONEWRIGHT_KUBE_APISERVER is not an executable kube-apiserver"
  log "using ZONEWRIGHT_KUBE_APISERVER=$ZONEWRIGHT_KUBE_APISERVER"
  printf '%s\n' "$ZONEWRIGHT_KUBE_APISERVER"
  exit 0
fi

cache_root="${ZONEWRIGHT_CACHE_DIR:-/var/cache/zonewright}"
cache_dir="$cache_root/kube-apiserver-$tarball_sha256"
binary="$cache_dir/kube-apiserver"

if binary_runs "$binary"; then
  log "cached: $binary ($("$binary" --version 2>&1))"
  printf '%s\n' "$binary"
  exit 0
fi

command -v go >/dev/null 2>&1 || die 'go is not installed (apt-get install golang-go)'
command -v apt-get >/dev/null 2>&1 || die 'apt-get is missing: this script needs Debian'
command -v dpkg-source >/dev/null 2>&1 || die 'dpkg-source is missing (apt-get install dpkg-dev)'
[[ -f "$reflect2_dir/reflect2.go" ]] ||
  die "$reflect2_dir is missing (apt-get install golang-github-modern-go-reflect2-dev)"

# The Debian mirror this machine already uses (deb822 or one-line format).
mirror="${ZONEWRIGHT_DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }')"
fi
if [[ -z "$mirror" ]]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '$1 == "deb" && $0 ~ /bookworm/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }')"
fi
[[ -n "$mirror" ]] || die 'no Debian mirror found in /etc/apt (set ZONEWRIGHT_DEBIAN_MIRROR)'
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f "$keyring" ]] || die "$keyring is missing (debian-archive-keyring)"

mkdir -p "$cache_root" 2>/dev/null && [[ -w "$cache_root" ]] ||
  die "cannot write the cache directory $cache_root (run as root, or set ZONEWRIGHT_CACHE_DIR)"
work="$(mktemp -d "$cache_root/build.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
log "building in $work (removed afterwards)"

# 1. Download the source package with a private apt configuration.
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts"
printf 'deb-src [signed-by=%s] %s bookworm main\n' "$keyring" "$mirror" >"$apt_dir/sources.list"
apt_options=(
  -o "Dir::Etc::SourceList=$apt_dir/sources.list"
  -o "Dir::Etc::SourceParts=$apt_dir/parts"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "Debug::NoLocking=true"
  # The private directories belong to root; apt's _apt user could not write them.
  -o "APT::Sandbox::User=root"
)
log "apt-get update (private lists; deb-src $mirror bookworm main)"
apt-get "${apt_options[@]}" -qq update || die 'apt-get update of the private source list failed'
mkdir -p "$work/source"
log "apt-get source --download-only $source_package=$source_version"
(cd "$work/source" &&
  apt-get "${apt_options[@]}" -qq source --download-only "$source_package=$source_version") ||
  die "could not download source package $source_package=$source_version"

shopt -s nullglob
tarballs=("$work/source/${source_package}_"*.orig.tar.*)
shopt -u nullglob
[[ "${#tarballs[@]}" -eq 1 ]] || die "expected one orig tarball, found: ${tarballs[*]:-none}"
tarball="${tarballs[0]}"
actual_sha256="$(sha256sum "$tarball" | awk '{ print $1 }')"
[[ "$actual_sha256" == "$tarball_sha256" ]] ||
  die "sha256 of $(basename "$tarball") is $actual_sha256, expected $tarball_sha256"
log "verified $(basename "$tarball") sha256 $actual_sha256"

# 2. Unpack the upstream tree into a GOPATH (module mode fails on this tree).
tree="$work/tree"
mkdir -p "$tree"
tar -xf "$tarball" -C "$tree" --strip-components=1
[[ -f "$tree/cmd/kube-apiserver/apiserver.go" && -d "$tree/vendor" ]] ||
  die 'the orig tarball does not contain cmd/kube-apiserver and vendor/'
export GOPATH="$work/gopath"
mkdir -p "$GOPATH/src/k8s.io"
ln -s "$tree" "$GOPATH/src/k8s.io/kubernetes"
export GO111MODULE=off GOFLAGS= GOPROXY=off CGO_ENABLED=0
export GOCACHE="$work/go-cache"

# 3. The vendored reflect2 1.0.1 predates Go 1.18; use Debian's 1.0.2.
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
mkdir -p "$tree/vendor/github.com/modern-go/reflect2"
cp "$reflect2_dir"/*.go "$reflect2_dir"/*.s "$tree/vendor/github.com/modern-go/reflect2/"
log "replaced vendor/github.com/modern-go/reflect2 with Debian's ($(dpkg-query -W -f='${Version}' golang-github-modern-go-reflect2-dev))"

# 4. Generate pkg/generated/openapi/zz_generated.openapi.go (not in the tarball)
#    with the vendored openapi-gen over every package tagged +k8s:openapi-gen=.
cd "$GOPATH/src/k8s.io/kubernetes"
log 'building the vendored openapi-gen'
go build -o "$work/openapi-gen" k8s.io/kubernetes/vendor/k8s.io/kube-openapi/cmd/openapi-gen
mapfile -t openapi_dirs < <(
  find -L pkg staging/src/k8s.io -name '*.go' -not -path '*/testdata/*' -print0 |
    xargs -0 grep -l --no-messages '^// *+k8s:openapi-gen=' |
    xargs -n1 dirname | sort -u
)
[[ "${#openapi_dirs[@]}" -gt 0 ]] || die 'no package is tagged +k8s:openapi-gen='
input_dirs=()
for dir in "${openapi_dirs[@]}"; do
  case "$dir" in
    staging/src/*) input_dirs+=("k8s.io/kubernetes/vendor/${dir#staging/src/}") ;;
    *) input_dirs+=("k8s.io/kubernetes/$dir") ;;
  esac
done
log "openapi-gen over ${#input_dirs[@]} packages"
touch "$work/boilerplate.go.txt"
"$work/openapi-gen" \
  --input-dirs "$(
    IFS=,
    printf '%s' "${input_dirs[*]}"
  )" \
  --output-base "$GOPATH/src" \
  --output-package k8s.io/kubernetes/pkg/generated/openapi \
  --output-file-base zz_generated.openapi \
  --go-header-file "$work/boilerplate.go.txt" \
  --report-filename "$work/openapi-violations.txt" ||
  die 'openapi-gen failed'
[[ -s pkg/generated/openapi/zz_generated.openapi.go ]] || die 'openapi-gen wrote no zz_generated.openapi.go'

# 5. Build kube-apiserver.
version_pkg=k8s.io/kubernetes/vendor/k8s.io/component-base/version
ldflags="-s -w -X $version_pkg.gitVersion=$git_version -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=20"
ldflags+=" -X $version_pkg.gitTreeState=archive -X $version_pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "go build k8s.io/kubernetes/cmd/kube-apiserver ($(go version | awk '{ print $3 }'), $(nproc) cores; takes 10+ minutes)"
build_start=$(date +%s)
go build -tags 'selinux,notest' -ldflags "$ldflags" -o "$work/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver ||
  die 'go build of kube-apiserver failed'
log "built in $(($(date +%s) - build_start)) s"
binary_runs "$work/kube-apiserver" || die 'the built kube-apiserver does not run --version'

mkdir -p "$cache_dir"
mv -f "$work/kube-apiserver" "$binary.tmp"
mv -f "$binary.tmp" "$binary"
log "cached: $binary ($("$binary" --version 2>&1), $(($(stat -c %s "$binary") / 1048576)) MiB)"
printf '%s\n' "$binary"
