"""Runs every case of the C unit-test binaries as its own pytest item.
The binaries are the build's tests of suite 'unit' (tests/meson.build is
the one list), found with `meson introspect`."""
import json
import os
import subprocess

import pytest

from lbtest import BUILD, SAN_ENV


def unit_binaries():
    """(suite name, executable) of every test meson knows in suite 'unit'."""
    r = subprocess.run(["meson", "introspect", "--tests", BUILD],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return [("introspect", f"--failed-- {r.stderr.strip()}")]
    found = [(t["name"], t["cmd"][0]) for t in json.loads(r.stdout)
             if any(s.endswith("unit") for s in t["suite"])]
    return found or [("none", "--no unit test in the build--")]


def cases():
    out = []
    for suite, exe in unit_binaries():
        if not os.access(exe, os.X_OK):
            out.append(pytest.param(exe, "--missing--", id=f"{suite}-missing"))
            continue
        names = subprocess.run([exe, "--list"], capture_output=True,
                               text=True, check=True).stdout.split()
        out += [pytest.param(exe, n, id=f"{suite}::{n}") for n in names]
    return out


@pytest.mark.parametrize("exe,case", cases())
def test_c_unit(exe, case):
    assert case != "--missing--", f"{exe} is not built"
    env = dict(os.environ, **SAN_ENV)
    r = subprocess.run([exe, "--run", case], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "runtime error" not in r.stderr, r.stderr
