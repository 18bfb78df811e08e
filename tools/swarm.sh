#!/bin/bash
# make swarm-up / make swarm-down: the stack on Docker Swarm.
#
#   tools/swarm.sh up     (LB_TLS=1: with HTTPS, compose/swarm-tls.yml)
#                         initialises a single-node swarm when this engine
#                         is in none (and marks the node with a label, so
#                         that `down` knows it made it), deploys
#                         compose/swarm-stack.yml as stack "lbswarm", and
#                         waits until the data plane answers /rep
#   tools/swarm.sh down   removes the control plane first (and waits until
#                         its task is gone, so that it replaces nothing
#                         more), then its replica services and the stack;
#                         leaves the swarm only when `up` made it and
#                         nothing else uses it (or LB_SWARM_LEAVE=1)
#
# It removes only what it can tell is its own: the stack's services and
# networks (by the stack's label) and the replica services (by
# lb.instance=lbswarm).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK=lbswarm
INSTANCE=lbswarm
MARK=lb.swarm-made-by

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

init_swarm() {
	echo "swarm: initialising a single-node swarm on 127.0.0.1"
	docker swarm init --advertise-addr 127.0.0.1 >/dev/null
	# Marked at once; a swarm that could not be marked is left again, so
	# that no swarm of ours stays that `down` would not recognise.
	if ! docker node update --label-add "$MARK=lb" \
		"$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null; then
		docker swarm leave --force >/dev/null
		echo "swarm: cannot label the node; swarm left" >&2
		return 1
	fi
}

up() {
	local scope out
	# `make up`'s net1 is a local bridge: the stack's overlay of the same
	# name cannot be made while it is there.
	scope=$(docker network inspect net1 --format '{{.Scope}}' 2>/dev/null || true)
	if [ -n "$scope" ] && [ "$scope" != swarm ]; then
		echo "swarm: network net1 exists on this engine only ($scope):" \
			"run 'make down' first" >&2
		return 1
	fi
	[ "$(swarm_state)" = active ] || init_swarm
	local files=(-c "$ROOT/compose/swarm-stack.yml")
	# LB_TLS=1 (make swarm-up TLS=1): HTTPS too, the pair as secrets.
	if [ -n "${LB_TLS:-}" ]; then
		LB_TLS_CERT= LB_TLS_KEY= "$ROOT/tools/tls-cert.sh" "$LB_TLS_DIR"
		files+=(-c "$ROOT/compose/swarm-tls.yml")
	fi
	if ! out=$(docker stack deploy "${files[@]}" "$STACK" 2>&1); then
		echo "$out" >&2
		return 1
	fi
	# Images exist only on this engine (no registry): Swarm says so.
	grep -v "could not be accessed on a registry" <<<"$out" || true
	"$ROOT/tools/wait-http.sh" \
		"http://127.0.0.1:${LB_SWARM_PORT:-5000}/rep" 120
}

ours() {
	docker service ls -q --filter "label=com.docker.stack.namespace=$STACK"
	docker service ls -q --filter "label=lb.instance=$INSTANCE"
	docker ps -aq --filter "label=com.docker.stack.namespace=$STACK"
	docker ps -aq --filter "label=lb.instance=$INSTANCE"
	docker network ls -q --filter "label=com.docker.stack.namespace=$STACK"
}

# Waits (bounded) until nothing of ours is left; replica services that
# appear meanwhile are removed too.  A stack's networks go only once its
# tasks' containers are gone.
wait_gone() {
	local i ids
	for i in $(seq 120); do
		[ -n "$(ours)" ] || return 0
		ids=$(docker service ls -q --filter "label=lb.instance=$INSTANCE")
		[ -z "$ids" ] || docker service rm $ids >/dev/null 2>&1 || true
		sleep 0.5
	done
	echo "swarm: some of the stack is still there after 60 s" >&2
	return 1
}

down() {
	local made="" i ids rc=0
	if [ "$(swarm_state)" != active ]; then
		echo "swarm: this engine is in no swarm: nothing to remove"
		return 0
	fi
	if docker node inspect self --format "{{index .Spec.Labels \"$MARK\"}}" |
		grep -qx lb; then
		made=1
	fi
	docker service rm "${STACK}_controlplane" >/dev/null 2>&1 || true
	for i in $(seq 60); do
		[ -n "$(docker ps -q --filter \
			"label=com.docker.swarm.service.name=${STACK}_controlplane")" ] ||
			break
		sleep 0.5
	done
	ids=$(docker service ls -q --filter "label=lb.instance=$INSTANCE")
	[ -z "$ids" ] || docker service rm $ids >/dev/null
	docker stack rm "$STACK" >/dev/null 2>&1 || true
	wait_gone || rc=1
	if [ -n "$made" ] || [ "${LB_SWARM_LEAVE:-0}" = 1 ]; then
		if [ "${LB_SWARM_LEAVE:-0}" != 1 ] &&
			{ [ -n "$(docker service ls -q)" ] ||
				[ "$(docker node ls -q | wc -l)" -gt 1 ]; }; then
			echo "swarm: other services or nodes use the swarm that" \
				"swarm-up made: left in place (LB_SWARM_LEAVE=1 leaves it)"
			return $rc
		fi
		echo "swarm: leaving the swarm"
		docker swarm leave --force >/dev/null
		# Leaving keeps the gateway bridge: gone too.
		docker network rm docker_gwbridge >/dev/null 2>&1 || true
	fi
	return $rc
}

case "${1:-}" in
up) up ;;
down) down ;;
*)
	echo "usage: $0 up|down" >&2
	exit 2
	;;
esac
