"""Runs every case of the C unit-test binaries as its own pytest item."""
import os
import subprocess

import pytest

from lbtest import BUILD, SAN_ENV

SUITES = ["hash", "ring", "wire", "name", "config", "buf", "cidr", "answer", "gate", "ramp", "table",
          "state", "engine_json", "reports"]


def cases():
    out = []
    for suite in SUITES:
        exe = os.path.join(BUILD, "tests", f"test_{suite}")
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
