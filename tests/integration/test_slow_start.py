"""Slow start (LB_SLOW_START_MS): an added replica takes 10 % of the keys
it owns, growing to all of them over the ramp; each key moves once, to it,
and stays; keys it does not own never move."""
import time

from lbtest import lb_load_key_map, wait_for

KEYS = 3000


def key_map(stack, tmp_path, label):
    """Which server answers each of KEYS keys: {key: server id}."""
    return lb_load_key_map(stack.url("/home"), tmp_path / f"{label}.csv",
                           KEYS, concurrency=16)


def on(m, sid):
    return {k for k, s in m.items() if s == sid}


def test_an_added_replica_ramps_up_key_by_key(stack_factory, tmp_path):
    ramp_s = 8
    s = stack_factory(cp_env={"LB_KEY": "header:X-User", "LB_PRESET": "mix",
                              "LB_SLOW_START_MS": str(ramp_s * 1000)}).start()
    before = key_map(s, tmp_path, "before")
    assert s.add({"n": 1, "hostnames": ["late"]}).status_code == 200
    t_add = time.monotonic()
    late = max(before.values()) + 1  # ids are handed out in order
    wait_for(lambda: late in set(key_map(s, tmp_path, "probe").values()),
             10, what="the new replica serving")
    early = key_map(s, tmp_path, "early")
    t_early = time.monotonic() - t_add
    time.sleep(max(0, ramp_s / 2 - (time.monotonic() - t_add)))
    mid = key_map(s, tmp_path, "mid")
    time.sleep(max(0, ramp_s + 0.5 - (time.monotonic() - t_add)))
    final = key_map(s, tmp_path, "final")
    got = [len(on(m, late)) for m in (early, mid, final)]
    assert got[-1] > 0.15 * KEYS, got  # about a quarter at full weight
    # Each stage takes a growing part of its final keys, never others.
    assert on(early, late) <= on(mid, late) <= on(final, late), got
    assert got[0] < got[1] < got[2], got
    share_early = 0.1 + 0.9 * min(1, t_early / ramp_s)
    assert got[0] / got[2] < share_early + 0.25, (got, t_early)
    # Keys it does not take stay where they were (linear placement: the
    # next replica on the ring is the one that had them).
    for m in (early, mid, final):
        for k, sid in m.items():
            if sid != late:
                assert sid == before[k], (k, sid, before[k])


def test_without_slow_start_an_added_replica_takes_its_share_at_once(
        stack_factory, tmp_path):
    s = stack_factory(cp_env={"LB_KEY": "header:X-User",
                              "LB_PRESET": "mix"}).start()
    assert s.add({"n": 1, "hostnames": ["late"]}).status_code == 200
    first = key_map(s, tmp_path, "first")
    time.sleep(1)
    again = key_map(s, tmp_path, "again")
    assert first == again
    assert len(on(first, 4)) > 0.15 * KEYS
