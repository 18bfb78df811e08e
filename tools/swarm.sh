#!/bin/bash
# make swarm-up / make swarm-down: the stack on Docker Swarm.
#
#   tools/swarm.sh up     joins nothing: initialises a single-node swarm
#                         when this engine is in none (and remembers that
#                         it did, in a label of the node), then deploys
#                         compose/swarm-stack.yml as stack "lbswarm" and
#                         waits until the data plane answers /rep
#   tools/swarm.sh down   removes the control plane first (so that it
#                         makes nothing more), then its replica services,
#                         the stack and its networks; leaves the swarm only
#                         when `up` made it (or LB_SWARM_LEAVE=1)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STACK=lbswarm
INSTANCE=lbswarm
MARK=lb.swarm-made-by=lb

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}'; }

up() {
	local scope
	# `make up`'s net1 is a local bridge: the stack's overlay of the same
	# name cannot be made while it is there.
	scope=$(docker network inspect net1 --format '{{.Scope}}' 2>/dev/null || true)
	if [ -n "$scope" ] && [ "$scope" != swarm ]; then
		echo "swarm: network net1 exists on this engine only ($scope):" \
			"run 'make down' first" >&2
		return 1
	fi
	if [ "$(swarm_state)" != active ]; then
		echo "swarm: initialising a single-node swarm on 127.0.0.1"
		docker swarm init --advertise-addr 127.0.0.1 >/dev/null
		docker node update --label-add "$MARK" \
			"$(docker info --format "{{.Swarm.NodeID}}")" >/dev/null
	fi
	docker stack deploy -c "$ROOT/compose/swarm-stack.yml" "$STACK" \
		2>&1 | grep -v "image .* could not be accessed on a registry" || true
	"$ROOT/tools/wait-http.sh" \
		"http://127.0.0.1:${LB_SWARM_PORT:-5000}/rep" 120
}

# Waits (bounded) until nothing of ours is left: a stack's networks can
# only go once its tasks' containers are gone.
wait_gone() {
	local i
	for i in $(seq 120); do
		if [ -z "$(docker service ls -q --filter "label=com.docker.stack.namespace=$STACK")" ] &&
			[ -z "$(docker service ls -q --filter "label=lb.instance=$INSTANCE")" ] &&
			[ -z "$(docker ps -aq --filter "label=lb.instance=$INSTANCE")" ] &&
			[ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] &&
			! docker network inspect net1 lbctl >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	echo "swarm: some of the stack is still there after 60 s" >&2
	return 1
}

down() {
	local made=""
	if [ "$(swarm_state)" != active ]; then
		echo "swarm: this engine is in no swarm: nothing to remove"
		return 0
	fi
	if docker node inspect self --format '{{index .Spec.Labels "lb.swarm-made-by"}}' |
		grep -qx lb; then
		made=1
	fi
	docker service rm "${STACK}_controlplane" >/dev/null 2>&1 || true
	ids=$(docker service ls -q --filter "label=lb.instance=$INSTANCE")
	[ -z "$ids" ] || docker service rm $ids >/dev/null
	docker stack rm "$STACK" >/dev/null 2>&1 || true
	wait_gone || true
	# Networks the stack created are removed by `stack rm`; the replicas'
	# net1 when the control plane made it.
	docker network rm net1 lbctl >/dev/null 2>&1 || true
	if [ -n "$made" ] || [ "${LB_SWARM_LEAVE:-0}" = 1 ]; then
		echo "swarm: leaving the swarm that swarm-up made"
		docker swarm leave --force >/dev/null
		# Leaving keeps the gateway bridge: gone too.
		docker network rm docker_gwbridge >/dev/null 2>&1 || true
	fi
}

case "${1:-}" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
