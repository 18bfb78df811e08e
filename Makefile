# The README's commands.  Every target installs what it needs first
# (tools/setup.sh), so they work on a fresh Debian 12 machine as root.
BUILD      ?= build
ASAN_BUILD ?= build-asan
PYTHON     ?= /usr/bin/python3
PYTEST     ?= $(PYTHON) -m pytest -p no:cacheprovider
TESTS      ?= tests

.PHONY: all deps deps-docker deps-test build build-asan build-fuzz build-tsan fuzz run test \
        test-unit test-tsan \
        test-integration test-e2e up down logs swarm-up swarm-down images analysis bench docs soak format format-check clean

all: build

deps:
	@tools/setup.sh

deps-docker:
	@tools/setup.sh --docker

deps-test:
	@tools/setup.sh --docker --test

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug \
	  -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

TSAN_BUILD ?= build-tsan
$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) --buildtype=debugoptimized \
	  -Db_sanitize=thread -Db_lundef=false

build-tsan: deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)

# The data plane's concurrency tests under ThreadSanitizer (deadlines
# stretched: everything runs several times slower).  256 workers, not the
# default 2,048: under TSan each worker thread is costly to make (2,048 take
# 17 s to start, 256 take 2 s), and these tests hold at most ~100 clients.
TSAN_ENV = LB_BUILD=$(TSAN_BUILD) LB_TIME_FACTOR=3 LB_THREADS=256
TSAN_TESTS = tests/integration/test_proxy.py \
  tests/integration/test_faults.py::test_many_clients_do_not_starve_heartbeats \
  tests/integration/test_faults.py::test_kill9_replica_under_load_is_invisible \
  tests/integration/test_faults.py::test_two_data_planes_route_from_one_control_plane \
  tests/integration/test_hostile_input.py::test_slow_clients_do_not_stop_service
test-tsan: build-tsan
	$(TSAN_ENV) $(PYTEST) $(TSAN_TESTS)

FUZZ_BUILD ?= build-fuzz
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true \
	  -Db_sanitize=address,undefined -Db_lundef=false

build-fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

# Each libFuzzer target for a minute (FUZZ_SECONDS); make test runs 5 s each.
FUZZ_SECONDS ?= 60
fuzz: build-fuzz build
	LB_FUZZ_SECONDS=$(FUZZ_SECONDS) $(PYTEST) tests/test_fuzz.py

# HTTPS beside plain HTTP: `make run TLS=1`, `make up TLS=1`, `make
# swarm-up TLS=1` serve it on :5443 with TLS_DIR's cert.pem and key.pem (a
# self-signed certificate for localhost is made there when none is; `make
# run` also takes LB_TLS_CERT and LB_TLS_KEY from the environment).
TLS ?=
TLS_DIR ?= $(abspath $(BUILD))/tls
TLS_RUN_ENV = $(if $(TLS),LB_TLS_CERT=$${LB_TLS_CERT:-$(TLS_DIR)/cert.pem} \
  LB_TLS_KEY=$${LB_TLS_KEY:-$(TLS_DIR)/key.pem},)

# The whole system on the embedded default: control plane, data plane on
# 127.0.0.1:5000, replicas server1..3 as local processes, each plane
# restarted if it dies.  Ctrl-C stops all.
run: build
	@if [ -n "$(TLS)" ]; then tools/tls-cert.sh $(TLS_DIR); fi
	@$(TLS_RUN_ENV) $(PYTHON) tools/run.py $(BUILD)

# Every suite: unit and integration under ASan+UBSan, end-to-end against a
# real Docker engine.  The last line counts: "N passed, N failed".
test: deps-test build build-asan build-fuzz build-tsan format-check
	$(TSAN_ENV) $(PYTEST) -q $(TSAN_TESTS)
	LB_BUILD=$(ASAN_BUILD) LB_RELEASE_BUILD=$(BUILD) $(PYTEST) $(TESTS)

test-unit: build-asan
	LB_BUILD=$(ASAN_BUILD) $(PYTEST) tests/test_unit.py

test-integration: build-asan
	LB_BUILD=$(ASAN_BUILD) $(PYTEST) tests/integration

COMPOSE = docker-compose -p lb -f compose/docker-compose.yml
# TLS=1 adds the data plane's HTTPS listener, TLS_DIR mounted read-only.
COMPOSE_TLS = $(if $(TLS),-f compose/docker-compose.tls.yml,)
# make up MONITORING=1 adds Prometheus (the compose profile "monitoring").
MONITORING ?=
PROFILES = $(if $(MONITORING),--profile monitoring,)
INSTANCE ?= lb

# Images FROM scratch, built offline from the release build.
images: deps-docker build
	@if [ -n "$(MONITORING)" ]; then tools/setup.sh --monitoring; fi
	@tools/build-images.sh $(BUILD)

# The stack in Docker: control plane, data plane on 127.0.0.1:5000, and the
# replicas the control plane starts on net1.
up: images
	@if [ -n "$(TLS)" ]; then LB_TLS_CERT= LB_TLS_KEY= tools/tls-cert.sh $(TLS_DIR) 65534; fi
	LB_TLS_HOST_DIR=$(TLS_DIR) $(COMPOSE) $(COMPOSE_TLS) $(PROFILES) up -d
	@if [ -n "$(TLS)" ] && [ "$${LB_TLS_ONLY:-0}" = 1 ] && [ "$${LB_HTTP_REDIRECT:-0}" != 1 ]; then \
	  p=$${LB_TLS_PUBLISH:-127.0.0.1:5443}; tools/wait-http.sh https://localhost:$${p##*:}/rep 60 $(TLS_DIR)/cert.pem; \
	else tools/wait-http.sh http://$${LB_PUBLISH:-127.0.0.1:5000}/rep 60; fi

# Control plane first (so nothing replaces the replicas), then the replicas,
# then the rest and the network.
down:
	-$(COMPOSE) stop controlplane
	@ids=$$(docker ps -aq --filter label=lb.instance=$(INSTANCE)); \
	  [ -z "$$ids" ] || docker rm -f $$ids >/dev/null
	$(COMPOSE) --profile monitoring down --remove-orphans

logs:
	$(COMPOSE) logs -f --tail=100

# The stack on Docker Swarm (a single-node swarm is made when there is
# none, and left again by swarm-down): control plane on a manager, data
# planes on :5000 (one per node) and :5010, replicas as services on the
# overlay network net1.
swarm-up: images
	@LB_TLS=$(TLS) LB_TLS_DIR=$(TLS_DIR) tools/swarm.sh up

swarm-down:
	@tools/swarm.sh down

# Task 4 (A-1..A-5): charts and tables into docs/analysis/ and docs/analysis.md.
# Against the Docker stack; `make analysis STACK=local` uses local processes.
STACK ?= docker
analysis: build
	@tools/setup.sh --docker --analysis
	@if [ "$(STACK)" = docker ]; then tools/build-images.sh $(BUILD); fi
	$(PYTHON) tools/analysis.py --stack $(STACK) --build $(BUILD)

# Our data plane against HAProxy and nginx on the same replicas, plus the
# micro benchmarks, into docs/bench/ and docs/performance.md.  Timing lives
# here, never in the tests.
bench: build
	@tools/setup.sh --bench
	$(PYTHON) tools/bench.py --build $(BUILD)

# The settings tables of docs/operations.md, from the programs' --help.
docs: build
	$(PYTHON) tools/settings_doc.py --build $(BUILD)

# 1,000 concurrent keep-alive clients for 30 s: no error, memory flat.
soak: build
	$(PYTHON) tools/soak.py --build $(BUILD)

format:
	clang-format -i */*.c */*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c

format-check:
	clang-format --dry-run --Werror */*.c */*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
