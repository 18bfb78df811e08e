"""A short pass of each libFuzzer target (make fuzz runs each for a
minute): first every kept input (seeds, and the inputs of bugs found
before), then a few seconds of new ones.  A crash, leak or sanitizer report
fails the test; the input that caused it is left in the test's tmp dir."""
import os
import subprocess

import pytest

from lbtest import ROOT

FUZZ_BUILD = os.path.abspath(os.path.join(
    ROOT, os.environ.get("LB_FUZZ_BUILD", "build-fuzz")))
SECONDS = int(os.environ.get("LB_FUZZ_SECONDS", "5"))


# One target per corpus folder (tests/fuzz/meson.build builds fuzz_<name>).
TARGETS = sorted(os.listdir(os.path.join(ROOT, "tests", "fuzz", "corpus")))


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target(target, tmp_path):
    exe = os.path.join(FUZZ_BUILD, "tests", "fuzz", f"fuzz_{target}")
    assert os.access(exe, os.X_OK), f"{exe} is not built (make build-fuzz)"
    corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", target)
    new = tmp_path / "new"
    new.mkdir()
    r = subprocess.run([exe, f"-max_total_time={SECONDS}",
                        f"-artifact_prefix={tmp_path}/", str(new), corpus],
                       capture_output=True, text=True, timeout=SECONDS + 120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done" in r.stderr
