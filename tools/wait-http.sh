#!/bin/sh
# wait-http.sh URL SECONDS [CAFILE]: waits until URL answers HTTP 200
# (an https URL verified with CAFILE when given).
url=$1
secs=${2:-30}
ca=${3:+--cacert $3}
i=0
while [ "$i" -lt $((secs * 10)) ]; do
	if [ "$(curl -s $ca -o /dev/null -w '%{http_code}' "$url")" = 200 ]; then
		exit 0
	fi
	i=$((i + 1))
	sleep 0.1
done
echo "wait-http: $url did not answer 200 within $secs s" >&2
exit 1
