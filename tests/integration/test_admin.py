"""/rep, /add and /rm through the data plane (contract.md)."""
import pytest
import requests

from lbtest import wait_for

ADD_TOO_MANY = "<Error> Length of hostname list is more than newly added instances"
RM_TOO_MANY = "<Error> Length of hostname list is more than removable instances"


def test_rep_at_start(shared_stack):
    r = shared_stack.get("/rep")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"message": {"N": 3, "replicas":
                                    ["server1", "server2", "server3"]},
                        "status": "successful"}


def test_add_assignment_example(stack):
    r = stack.add({"n": 4, "hostnames": ["S5", "S4", "S10", "S11"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "successful"
    assert body["message"]["replicas"] == ["server1", "server2", "server3",
                                           "S5", "S4", "S10", "S11"]
    assert body["message"]["N"] == 7
    # Answered only once they serve: all seven are in the ring already.
    assert sorted(stack.routable()) == sorted(body["message"]["replicas"])
    assert stack.rep() == body


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


def test_add_hostnames_longer_than_n(stack):
    r = stack.add({"n": 2, "hostnames": ["S5", "S4", "S10"]})
    assert r.status_code == 400
    assert r.json() == {"message": ADD_TOO_MANY, "status": "failure"}
    assert stack.rep()["message"]["N"] == 3


BAD_ADD = [
    ("not json", "must be a JSON object"),
    ("[1, 2]", "must be a JSON object"),
    ('"n"', "must be a JSON object"),
    ("{}", "'n' is missing"),
    ('{"n": "2"}', "'n' must be an integer"),
    ('{"n": 1.5}', "'n' must be an integer"),
    ('{"n": true}', "'n' must be an integer"),
    ('{"n": null}', "'n' must be an integer"),
    ('{"n": 0}', "at least 1"),
    ('{"n": -3}', "at least 1"),
    ('{"n": 1e300}', "too large"),
    ('{"n": 1, "hostnames": "S5"}', "array of strings"),
    ('{"n": 2, "hostnames": ["S5", 7]}', "array of strings"),
    ('{"n": 2, "hostnames": ["S5", "S5"]}', "listed twice"),
    ('{"n": 1, "hostnames": ["server2"]}', "already exists"),
    ('{"n": 1, "hostnames": ["-bad"]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": ["a b"]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": [""]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": ["' + "x" * 64 + '"]}', "not a valid replica name"),
    ('{"n": 1, "hostnames": ["sérver"]}', "not a valid replica name"),
    ('{"n": 48}', "maximum of 50"),
    ('{"n": 2000000}', "maximum of 50"),
    ('{"n": 1', "must be a JSON object"),
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


def test_rm_assignment_example(stack):
    assert stack.add({"n": 4, "hostnames": ["S5", "S4", "S10", "S11"]}
                     ).status_code == 200
    r = stack.rm({"n": 3, "hostnames": ["S5", "S4"]})
    assert r.status_code == 200, r.text
    reps = r.json()["message"]["replicas"]
    assert r.json()["message"]["N"] == 4 == len(reps)
    assert "S5" not in reps and "S4" not in reps
    assert sorted(stack.routable()) == sorted(reps)


def test_rm_then_processes_are_gone(stack):
    before = len(stack.replica_pids())
    assert stack.rm({"n": 2}).status_code == 200
    assert stack.rep()["message"]["N"] == 1
    # Stopped once drained: nothing was in flight to them.
    wait_for(lambda: len(stack.replica_pids()) == before - 2, 5,
             what="the removed replicas stopped")


BAD_RM = [
    ('{"n": 1, "hostnames": ["server1", "server2"]}', RM_TOO_MANY),
    ('{"n": 4}', "only 3 exist"),
    ('{"n": 0}', "at least 1"),
    ("{}", "'n' is missing"),
    ('{"n": 1, "hostnames": ["nope"]}', "does not exist"),
    ('{"n": 2, "hostnames": ["server1", "server1"]}', "listed twice"),
    ('{"n": 1, "hostnames": [1]}', "array of strings"),
    ("nope", "must be a JSON object"),
]


@pytest.mark.parametrize("body,needle", BAD_RM)
def test_bad_rm_changes_nothing(shared_stack, body, needle):
    r = requests.delete(shared_stack.url("/rm"), data=body.encode(), timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == "failure"
    assert needle in r.json()["message"]
    if needle == RM_TOO_MANY:
        assert r.json()["message"] == RM_TOO_MANY
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


def test_oversized_admin_body_is_413(shared_stack):
    r = requests.post(shared_stack.url("/add"), data=b"{" + b" " * 70000 + b"}",
                      timeout=10)
    assert r.status_code == 413
    assert shared_stack.rep()["message"]["N"] == 3


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


def test_add_that_cannot_start_leaves_nothing(stack_factory, tmp_path):
    """A replica that never answers /heartbeat: 5xx, and no process, no
    state and no N change is left behind."""
    never = tmp_path / "never_healthy.sh"
    never.write_text("#!/bin/sh\nexec sleep 30\n")
    never.chmod(0o755)
    s = stack_factory(replicas=0, replica_bin=str(never),
                      cp_env={"LB_START_TIMEOUT_MS": "700"}).start()
    r = s.add({"n": 2, "hostnames": ["X1"]})
    assert r.status_code == 504, r.text
    assert "did not answer /heartbeat" in r.json()["message"]
    assert s.rep()["message"] == {"N": 0, "replicas": []}
    assert s.replica_pids() == []
