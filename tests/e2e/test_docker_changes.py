"""Changes without loss with the Docker driver: the compose stack of
`make up`, its replicas lb-stream-replica containers (they stream slowly
and die at once on SIGTERM), so that a request cut by a change shows."""
import threading
import time

import pytest
import requests

from lbdocker import make_down
from lbtest import wait_for
from test_docker import compose_up, managed_running

SIZE = 2_000_000
RATE = 1_000_000


@pytest.fixture(scope="module")
def stack():
    yield compose_up(LB_IMAGE="lb-stream-replica:latest")
    make_down()


def downloads(stack, n):
    results = [None] * n

    def one(i):
        try:
            r = requests.get(stack.url(f"/stream?size={SIZE}&rate={RATE}"),
                             timeout=60)
            results[i] = (r.status_code, len(r.content))
        except requests.RequestException as e:
            results[i] = ("cut", repr(e)[:100])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def test_rm_and_add_with_downloads_in_flight_lose_nothing(stack):
    threads, results = downloads(stack, 6)
    time.sleep(0.5)
    r = requests.delete(stack.url("/rm"), json={"n": 2}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["message"]["N"] == 1
    r = requests.post(stack.url("/add"), json={"n": 1}, timeout=120)
    assert r.status_code == 200, r.text
    for t in threads:
        t.join(60)
    assert results == [(200, SIZE)] * 6, results
    # The drained containers are gone once nothing is in flight to them.
    m = stack.rep()
    wait_for(lambda: managed_running() == sorted(m["replicas"]), 20,
             what="drained containers removed")
