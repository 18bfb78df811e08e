#!/bin/sh
# The certificate of `make run TLS=1`, `make up TLS=1` and `make swarm-up
# TLS=1`: the operator's own (LB_TLS_CERT and LB_TLS_KEY) when given, else a
# self-signed one for localhost (Debian's openssl), made once in DIR and
# made again when it expires within a day.  Prints where it is and its
# SHA-256 fingerprint (what a browser shows, to compare).
#
#   tools/tls-cert.sh DIR [GROUP]   GROUP: gid that must read a key made
#                                   here (the data plane's container runs
#                                   as 65534:65534)
set -eu
dir=$1
group=${2:-}
if { [ -n "${LB_TLS_CERT:-}" ] && [ -z "${LB_TLS_KEY:-}" ]; } ||
	{ [ -z "${LB_TLS_CERT:-}" ] && [ -n "${LB_TLS_KEY:-}" ]; }; then
	echo "tls: LB_TLS_CERT and LB_TLS_KEY go together (one is empty)" >&2
	exit 2
fi
cert=${LB_TLS_CERT:-$dir/cert.pem}
key=${LB_TLS_KEY:-$dir/key.pem}

if [ -z "${LB_TLS_CERT:-}" ] &&
	! openssl x509 -in "$cert" -noout -checkend 86400 >/dev/null 2>&1; then
	mkdir -p "$dir"
	# Key and certificate written under new names, then renamed: a data
	# plane that watches them never reads half a file.
	umask 077
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$key.new" -out "$cert.new" -days 90 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
		2>/dev/null
	chmod 644 "$cert.new"
	mv "$key.new" "$key"
	mv "$cert.new" "$cert"
	chmod 755 "$dir"
	echo "tls: made a self-signed certificate for localhost (90 days)"
fi
# Only a key made here changes group: an operator's own stays as it is.
if [ -z "${LB_TLS_KEY:-}" ] && [ -n "$group" ] &&
	[ "$(stat -c %g "$key")" != "$group" ]; then
	if chgrp "$group" "$key" 2>/dev/null; then
		chmod 640 "$key"
	else
		echo "tls: cannot give group $group the key $key: the data plane's" \
			"container may not read it" >&2
	fi
fi
echo "tls: certificate $cert"
echo "tls: key         $key"
echo "tls: $(openssl x509 -in "$cert" -noout -fingerprint -sha256)"
