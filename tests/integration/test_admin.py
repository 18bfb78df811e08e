"""/rep, /add and /rm through the data plane, beyond docs/contract.md's
lines: each of those (its status and exact message, for the doc's example
requests) is checked by test_contract_doc.py, which reads the doc.  Here:
more inputs of each kind, and what the doc says in words."""
import pytest
import requests

from lbtest import wait_for


def test_add_generates_missing_names(stack):
    r = stack.add({"n": 3, "hostnames": ["A1"]})
    assert r.status_code == 200, r.text
    reps = r.json()["message"]["replicas"]
    assert len(reps) == 6 and reps[3] == "A1"
    generated = reps[4:]
    assert len(set(generated)) == 2
    for name in generated:
        assert name.startswith("srv-") and len(name) == 10


def test_add_without_hostnames(stack):
    r = stack.add({"n": 1})
    assert r.status_code == 200, r.text
    assert r.json()["message"]["N"] == 4


# Inputs past the doc's examples (test_contract_doc.py sends those).
BAD_ADD = [
    ('{"n": 1e300}', "too large"),
    ('{"n": 1, "hostnames": ["-bad"]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": [""]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": ["' + "x" * 64 + '"]}', "not a valid replica name"),
    ('{"n": 48}', "maximum of 50"),
    ('{"n": 2000000}', "maximum of 50"),
]


@pytest.mark.parametrize("body,needle", BAD_ADD)
def test_bad_add_changes_nothing(shared_stack, body, needle):
    r = requests.post(shared_stack.url("/add"), data=body.encode(), timeout=10)
    assert r.status_code == 400, r.text
    j = r.json()
    assert j["status"] == "failure"
    assert j["message"].startswith("<Error> ")
    assert needle in j["message"]
    assert shared_stack.rep()["message"]["replicas"] == ["server1", "server2",
                                                  "server3"]


def test_rm_then_processes_are_gone(stack):
    before = len(stack.replica_pids())
    assert stack.rm({"n": 2}).status_code == 200
    assert stack.rep()["message"]["N"] == 1
    # Stopped once drained: nothing was in flight to them.
    wait_for(lambda: len(stack.replica_pids()) == before - 2, 5,
             what="the removed replicas stopped")


BAD_RM = [
    ('{"n": 4}', "only 3 exist"),
    ('{"n": 0}', "at least 1"),
    ("{}", "'n' is missing"),
    ('{"n": 2, "hostnames": ["server1", "server9"]}', "does not exist"),
    ('{"n": 1, "hostnames": [1]}', "array of strings"),
]


@pytest.mark.parametrize("body,needle", BAD_RM)
def test_bad_rm_changes_nothing(shared_stack, body, needle):
    r = requests.delete(shared_stack.url("/rm"), data=body.encode(), timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == "failure"
    assert needle in r.json()["message"]
    assert shared_stack.rep()["message"]["N"] == 3


@pytest.mark.parametrize("method,path,allow", [
    ("POST", "/rep", "GET"), ("DELETE", "/rep", "GET"),
    ("GET", "/add", "POST"), ("PUT", "/add", "POST"),
    ("GET", "/rm", "DELETE"), ("POST", "/rm", "DELETE"),
])
def test_wrong_method_is_405_with_allow(shared_stack, method, path, allow):
    r = requests.request(method, shared_stack.url(path), timeout=10)
    assert r.status_code == 405
    assert r.headers["Allow"] == allow
    assert r.json()["status"] == "failure"


def test_admin_token(stack_factory):
    s = stack_factory(dp_env={"LB_ADMIN_TOKEN": "s3cret"}).start()
    assert s.add({"n": 1}).status_code == 401
    r = s.add({"n": 1}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    assert r.json()["message"].startswith("<Error> ")
    assert s.rm({"n": 1}).status_code == 401
    assert s.rep()["message"]["N"] == 3  # /rep needs no token
    r = s.add({"n": 1}, headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 200
    assert r.json()["message"]["N"] == 4
