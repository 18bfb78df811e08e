"""Helpers for the suites that drive a real Docker engine: the CLI (as a
user would type it), and the images `make up` and `make swarm-up` use,
built from LB_RELEASE_BUILD."""
import os
import subprocess

from lbtest import ROOT

RELEASE_BUILD = os.path.abspath(os.path.join(
    ROOT, os.environ.get("LB_RELEASE_BUILD", "build")))


def sh(*argv, check=True, env=None, timeout=180):
    return subprocess.run(argv, capture_output=True, text=True, check=check,
                          env=env, timeout=timeout)


def docker(*args, check=True):
    return sh("docker", *args, check=check)


def engine_answers():
    return sh("docker", "info", check=False).returncode == 0


def build_images():
    assert engine_answers(), "no Docker engine: run tools/setup.sh --docker"
    sh(os.path.join(ROOT, "tools", "build-images.sh"), RELEASE_BUILD)


def make_down():
    """The compose stack of `make up`, stopped and removed."""
    return sh("make", "-C", ROOT, "down", check=False)
