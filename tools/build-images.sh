#!/bin/bash
# Builds the three images offline: no base image can be pulled, so each is
# FROM scratch with the binary, the shared libraries ldd names for it, the
# dynamic loader, and the few files glibc reads (name resolution).
#
#   tools/build-images.sh [build-dir]   -> lb-replica, lb-controlplane,
#                                          lb-dataplane, lb-stream-replica
#                                          (tests; tag :latest), and
#                                          lb-prometheus when Debian's
#                                          prometheus is installed
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# rootfs DIR BINARY: copies the binary to /usr/local/bin and its libraries
# to the paths the loader looks for them.
rootfs() {
	local dir=$1 bin=$2
	mkdir -p "$dir/usr/local/bin" "$dir/etc" "$dir/tmp"
	chmod 1777 "$dir/tmp"
	cp "$bin" "$dir/usr/local/bin/"
	strip --strip-unneeded "$dir/usr/local/bin/$(basename "$bin")"
	ldd "$bin" | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }' |
		while read -r lib; do
			[ -n "$lib" ] || continue
			mkdir -p "$dir$(dirname "$lib")"
			cp -L "$lib" "$dir$lib"
		done
	# glibc resolves service names through NSS (built into libc in 2.36).
	printf 'hosts: files dns\n' >"$dir/etc/nsswitch.conf"
	printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/:/nonexistent\n' >"$dir/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
}

# build NAME BINARY DOCKERFILE [FILE...]: FILEs go beside the binary (the
# data plane's TLS shims, which it loads from there).
build() {
	local name=$1 bin=$2 dockerfile=$3
	local ctx="$WORK/$name"
	shift 3
	mkdir -p "$ctx"
	rootfs "$ctx/rootfs" "$bin"
	for extra in "$@"; do
		cp "$extra" "$ctx/rootfs/usr/local/bin/"
	done
	cp "$dockerfile" "$ctx/Dockerfile"
	# The legacy builder: BuildKit may be absent, and nothing is pulled.
	DOCKER_BUILDKIT=0 docker build -q -t "$name:latest" "$ctx" \
		>/dev/null 2>"$WORK/build.log" || { cat "$WORK/build.log" >&2; exit 1; }
	printf '%-16s %s\n' "$name" \
		"$(docker image inspect -f '{{.Size}}' "$name:latest" |
			awk '{ printf "%.1f MB", $1 / 1e6 }')"
}

build lb-replica "$B/replica/lb-replica" "$ROOT/compose/images/replica.Dockerfile"
build lb-controlplane "$B/controlplane/lb-controlplane" "$ROOT/compose/images/controlplane.Dockerfile"
# Its OpenSSL (libssl.so.3, libcrypto.so.3) is among the libraries ldd names.
build lb-dataplane "$B/dataplane/lb-dataplane" "$ROOT/compose/images/dataplane.Dockerfile" \
	"$B/dataplane/lb-dataplane-libssl.so" "$B/dataplane/lb-dataplane-libcrypto.so"
# The tests' replica that streams slowly and dies at once on SIGTERM.
build lb-stream-replica "$B/tools/lb-stream-replica" "$ROOT/compose/images/stream-replica.Dockerfile"
# The monitoring profile's Prometheus: Debian's binary (it links libc only)
# and the stack's scrape configuration.
if [ -x /usr/bin/prometheus ]; then
	build_extra() { mkdir -p "$WORK/lb-prometheus/rootfs/etc" &&
		cp "$ROOT/compose/prometheus.yml" "$WORK/lb-prometheus/rootfs/etc/"; }
	build_extra
	build lb-prometheus /usr/bin/prometheus "$ROOT/compose/images/prometheus.Dockerfile"
fi
