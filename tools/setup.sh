#!/bin/sh
# Installs what the build and the tests need from Debian 12's packages, when
# it is missing, and (with --docker) makes sure a Docker engine answers.
# Idempotent: a second run changes nothing.  Needs root for installing.
set -eu

BUILD_PKGS="meson ninja-build pkg-config gcc cmake protobuf-c-compiler
libprotobuf-c-dev libnng-dev nng-utils libcivetweb-dev libcurl4-openssl-dev
libcjson-dev libhttp-parser-dev libxxhash-dev libssl-dev openssl python3 python3-pytest python3-requests curl clang-format
clang libclang-rt-14-dev"
DOCKER_PKGS="docker.io docker-compose"
ANALYSIS_PKGS="python3-matplotlib"
BENCH_PKGS="haproxy nginx-light wrk python3-matplotlib"
# What the suites use besides the build: a real Prometheus, a real browser.
TEST_PKGS="prometheus chromium chromium-driver python3-selenium"

want_docker=0
pkgs="$BUILD_PKGS"
for arg in "$@"; do
	case "$arg" in
	--docker) want_docker=1; pkgs="$pkgs $DOCKER_PKGS" ;;
	--analysis) pkgs="$pkgs $ANALYSIS_PKGS" ;;
	--bench) pkgs="$pkgs $BENCH_PKGS" ;;
	--test) pkgs="$pkgs $TEST_PKGS" ;;
	--monitoring) pkgs="$pkgs prometheus" ;;
	*) echo "usage: $0 [--docker] [--analysis] [--bench] [--test] [--monitoring]" >&2; exit 2 ;;
	esac
done

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

[ "$want_docker" = 1 ] || exit 0

if docker info >/dev/null 2>&1; then
	exit 0
fi
# No systemd here: start the engine in the background, then wait until
# `docker info` answers (a few seconds).  A killed dockerd leaves its pid
# file, and a new one refuses to start.
if ! pgrep -x dockerd >/dev/null 2>&1; then
	rm -f /var/run/docker.pid
	echo "setup: starting dockerd (log: /var/log/lb-dockerd.log)"
	nohup dockerd >/var/log/lb-dockerd.log 2>&1 &
fi
i=0
until docker info >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 60 ]; then
		echo "setup: dockerd did not answer within 30 s; see /var/log/lb-dockerd.log" >&2
		tail -20 /var/log/lb-dockerd.log >&2 || true
		exit 1
	fi
	sleep 0.5
done
echo "setup: docker engine is up"
