"""Routing by what the client sends (LB_KEY), bounded loads
(LB_BALANCE_FACTOR) and the sticky cookie (LB_SET_COOKIE)."""
import os
import socket
import subprocess

import pytest
import requests

from lbstack import server_id
from lbtest import binary, lb_load, lb_load_key_map

BAD = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "bad_replica.py")


def keyed_stack(stack_factory, key, **cp):
    env = {"LB_KEY": key, "LB_PRESET": "maglev"}
    env.update(cp)
    return stack_factory(cp_env=env).start()


def served_by(stack, n=20, path="/home", **kw):
    with requests.Session() as s:
        return {server_id(s.get(stack.url(path), timeout=5, **kw))
                for _ in range(n)}


@pytest.mark.parametrize("key,how", [
    ("header:X-User", lambda v: {"headers": {"X-User": v}}),
    ("cookie:sid", lambda v: {"cookies": {"sid": v}}),
    ("query:user", lambda v: {"path": f"/home?user={v}"}),
])
def test_the_same_key_reaches_the_same_replica(stack_factory, key, how):
    s = keyed_stack(stack_factory, key)
    seen = set()
    for user in ("alice", "bob", "carol", "dave", "erin", "frank"):
        ids = served_by(s, **how(user))
        assert len(ids) == 1, (user, ids)  # affinity
        seen |= ids
    assert len(seen) > 1  # and different keys spread
    # A request without its key is still answered.
    assert s.get("/home").status_code == 200


def test_path_key(stack_factory):
    s = keyed_stack(stack_factory, "path")
    ids = served_by(s, path="/home?x=1") | served_by(s, path="/home?x=2")
    assert len(ids) == 1  # the query is not part of the key


def test_ip_key_and_trusted_forwarded_for(stack_factory):
    s = keyed_stack(stack_factory, "ip")
    assert len(served_by(s)) == 1  # every request here is from 127.0.0.1
    assert len(served_by(s, headers={"X-Forwarded-For": "10.0.0.1"})) == 1
    # The client is the right-most hop that is no trusted proxy: here the
    # proxy in front (192.168.1.1) is trusted, so its word counts.
    t = stack_factory(cp_env={"LB_KEY": "ip", "LB_PRESET": "maglev",
                              "LB_TRUST_FORWARDED": "1"},
                      dp_env={"LB_TRUSTED_PROXIES":
                              "loopback,192.168.1.1"}).start()
    seen = set()
    for i in range(8):
        ids = served_by(t, 5, headers={
            "X-Forwarded-For": f"10.0.0.{i}, 192.168.1.1"})
        assert len(ids) == 1
        seen |= ids
    assert len(seen) > 1


def test_sticky_cookie(stack_factory):
    s = keyed_stack(stack_factory, "cookie:sid", LB_SET_COOKIE="1")
    with requests.Session() as sess:
        r = sess.get(s.url("/home"), timeout=5)
        cookie = r.headers["Set-Cookie"]
        assert cookie.startswith("sid=")
        assert "Path=/" in cookie and "HttpOnly" in cookie
        first = server_id(r)
        for _ in range(20):  # the session sends it back
            r = sess.get(s.url("/home"), timeout=5)
            assert "Set-Cookie" not in r.headers
            assert server_id(r) == first


def test_bad_routing_settings_stop_the_start(tmp_path):
    exe = binary("controlplane/lb-controlplane")
    for env, needle in [
            ({"LB_KEY": "bogus"}, "LB_KEY=bogus: 'bogus' must be"),
            ({"LB_KEY": "header:"}, "needs a name"),
            ({"LB_KEY": "header:X User"}, "needs a name"),
            ({"LB_BALANCE_FACTOR": "0.5"}, "LB_BALANCE_FACTOR=0.5"),
            ({"LB_BALANCE_FACTOR": "x"}, "must be a number"),
            ({"LB_SET_COOKIE": "1"}, "LB_SET_COOKIE=1 needs LB_KEY=cookie"),
    ]:
        r = subprocess.run([exe], env=dict(os.environ, **env,
                                           LB_STATE_DIR=str(tmp_path)),
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 2, (env, r.stderr)
        assert needle in r.stderr, (env, r.stderr)


def hot_key_shares(stack, tmp_path):
    """32 concurrent requests of one hot key to replicas that take 20 ms:
    the share of each replica."""
    servers = lb_load(stack.url("/home?delay_ms=20"), tmp_path,
                      "--requests", "640", "--concurrency", "32", "--key",
                      "header:X-User", "--keys", "1", timeout=60)["servers"]
    total = sum(servers.values())
    return sorted((c / total for c in servers.values()), reverse=True)


def test_bounded_loads_spread_a_hot_key(stack_factory, tmp_path):
    plain = stack_factory(replica_bin=BAD, cp_env={
        "LB_KEY": "header:X-User", "LB_PRESET": "maglev"}).start()
    shares = hot_key_shares(plain, tmp_path)
    assert shares == [1.0]  # one replica takes it all
    bounded = stack_factory(replica_bin=BAD, cp_env={
        "LB_KEY": "header:X-User", "LB_PRESET": "maglev",
        "LB_BALANCE_FACTOR": "1.25"}).start()
    shares = hot_key_shares(bounded, tmp_path)
    assert len(shares) == 3
    # ceil(1.25 * 33 / 3) = 14 of the 32 in flight at most
    assert shares[0] < 0.6, shares


def key_map(stack, path, keys=10000):
    return lb_load_key_map(stack.url("/home"), path, keys)


def test_adding_a_replica_moves_about_its_share_of_users(stack_factory,
                                                         tmp_path):
    """maglev with LB_KEY=header:X-User at N = 3: one more replica moves
    at most 1.3x the ideal 1/4 of 10,000 users."""
    s = keyed_stack(stack_factory, "header:X-User")
    before = key_map(s, tmp_path / "before.csv")
    assert s.add({"n": 1}).status_code == 200
    s.wait_serving(4)
    after = key_map(s, tmp_path / "after.csv")
    assert -2 not in before.values() and -2 not in after.values()
    moved = sum(before[k] != after[k] for k in before) / len(before)
    assert moved <= 1.3 * 0.25, moved
    assert moved >= 0.15  # the new replica took its share


def raw_get(port, head_lines):
    """GET /home with these header lines, sent as they are (no client
    library tidies them); the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(("GET /home HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   + "".join(h + "\r\n" for h in head_lines)
                   + "\r\n").encode("latin-1"))
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# Client bytes that become keys: odd, empty, huge or malformed values of
# each source.  Each request is routed (a 200 from a replica), those whose
# key cannot be read falling back to a random id (counted), or refused
# with a 400 by civetweb's own head parser before any key is read.
KEYED, FALLBACK, REFUSED = "keyed", "fallback", 400
HOSTILE_KEYS = [
    ("ip", {"LB_TRUST_FORWARDED": "1"}, [
        (["X-Forwarded-For: "], KEYED),  # the peer's address
        (["X-Forwarded-For: , , ,"], KEYED),
        (["X-Forwarded-For: \t10.0.0.1\t,x"], REFUSED),
        (["X-Forwarded-For: " + "9" * 7000], KEYED),
        (["X-Forwarded-For: \xff\xfe, 1.2.3.4"], KEYED),
    ]),
    ("header:X-User", {}, [
        (["X-User: " + "u" * 7000], KEYED),
        (["X-User: \xff\x80\x01"], REFUSED),
        (["X-User: a", "X-User: b"], KEYED),
    ]),
    ("cookie:sid", {}, [
        (["Cookie: sid"], FALLBACK),
        (["Cookie: sid="], FALLBACK),
        (["Cookie: ;;;=;sid==;"], FALLBACK),
        (["Cookie: sid=" + "c" * 2000], FALLBACK),  # over the 1 KiB limit
        (["Cookie: xsid=1; sid=\"q\"; sid=2"], KEYED),
    ]),
]


@pytest.mark.parametrize("key,env,cases", HOSTILE_KEYS,
                         ids=[k[0] for k in HOSTILE_KEYS])
def test_hostile_key_values_are_routed(stack_factory, key, env, cases):
    s = keyed_stack(stack_factory, key, **env)
    before = s.metrics(s.site_url("/metrics"))["lb_key_fallbacks_total"]
    for lines, want in cases:
        status, body = raw_get(s.port, lines)
        if want == REFUSED:
            assert status == 400, (lines[0][:40], status, body[:200])
        else:
            assert status == 200, (lines[0][:40], status, body[:200])
            assert b"Hello from Server" in body
    dp = s.metrics(s.site_url("/metrics"))
    assert dp["lb_key_fallbacks_total"] - before == \
        sum(want == FALLBACK for _, want in cases)
    assert s.get("/home").status_code == 200  # and the plane serves on


def test_hostile_query_keys_are_routed(stack_factory):
    s = keyed_stack(stack_factory, "query:user")
    before = s.metrics(s.site_url("/metrics"))["lb_key_fallbacks_total"]
    targets = {"/home?user=%zz": False, "/home?user=%": False,
               "/home?user": True, "/home?user=&user=x": True,
               "/home?&&&=&user=%00x": False,
               "/home?user=" + "q" * 2000: True,  # over the key limit
               "/home?" + "a=1&" * 1000 + "user=z": False}
    with requests.Session() as sess:
        for target, _ in targets.items():
            r = sess.get(s.url(target), timeout=5)
            assert r.status_code == 200, (target[:40], r.status_code)
            assert "Hello from Server" in r.json()["message"]
    dp = s.metrics(s.site_url("/metrics"))
    assert dp["lb_key_fallbacks_total"] - before == sum(targets.values())
