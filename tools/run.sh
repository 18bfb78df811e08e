#!/bin/bash
# Runs the control plane and the data plane in the foreground (make run).
# Ctrl-C reaches both; the control plane then stops its replicas, so nothing
# is left behind.  Settings come from the LB_* environment (see README).
set -u
B=${1:-build}
export LB_STATE_DIR=${LB_STATE_DIR:-/tmp/lb-state}

"$B/controlplane/lb-controlplane" &
cp=$!
"$B/dataplane/lb-dataplane" &
dp=$!

stop() { kill -TERM "$dp" "$cp" 2>/dev/null; }
trap stop INT TERM
# When either ends (or on Ctrl-C), stop the other and wait for both.
wait -n "$cp" "$dp"
stop
wait "$cp" "$dp" 2>/dev/null
exit 0
