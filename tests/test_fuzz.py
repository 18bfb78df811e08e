"""A short pass of each libFuzzer target (make fuzz runs each for a
minute): first every kept input (seeds, and the inputs of bugs found
before), then a few seconds of new ones.  A crash, leak or sanitizer report
fails the test; the input that caused it is left in the test's tmp dir."""
import json
import os
import subprocess

import pytest

from lbtest import ROOT

FUZZ_BUILD = os.path.abspath(os.path.join(
    ROOT, os.environ.get("LB_FUZZ_BUILD", "build-fuzz")))
SECONDS = int(os.environ.get("LB_FUZZ_SECONDS", "5"))


CORPORA = os.path.join(ROOT, "tests", "fuzz", "corpus")


def built_targets():
    """{name: executable} of the fuzz_<name> targets of the fuzz build
    (tests/fuzz/meson.build is the one list)."""
    r = subprocess.run(["meson", "introspect", "--targets", FUZZ_BUILD],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return {}
    return {t["name"][len("fuzz_"):]: t["filename"][0]
            for t in json.loads(r.stdout) if t["name"].startswith("fuzz_")}


TARGETS = built_targets()


def test_every_target_has_a_corpus_and_every_corpus_a_target():
    assert TARGETS, f"no fuzz target in {FUZZ_BUILD} (make build-fuzz)"
    assert sorted(TARGETS) == sorted(os.listdir(CORPORA))


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzz_target(target, tmp_path):
    exe = TARGETS[target]
    assert os.access(exe, os.X_OK), f"{exe} is not built (make build-fuzz)"
    corpus = os.path.join(CORPORA, target)
    new = tmp_path / "new"
    new.mkdir()
    r = subprocess.run([exe, f"-max_total_time={SECONDS}",
                        f"-artifact_prefix={tmp_path}/", str(new), corpus],
                       capture_output=True, text=True, timeout=SECONDS + 120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Done" in r.stderr
