"""Fixtures for every suite.  Helpers live in lbtest.py and lbstack.py."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The tools' Python helpers (lbclients) serve the tests too.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tools"))

from lbstack import Stack  # noqa: E402


@pytest.fixture
def stack_factory(tmp_path):
    """Makes stacks (control plane + data planes) that are stopped, and
    checked for sanitizer reports, when the test ends."""
    made = []

    def make(**kw):
        d = tmp_path / f"s{len(made)}"
        d.mkdir()
        s = Stack(d, **kw)
        made.append(s)
        return s
    yield make
    for s in made:
        s.stop()


@pytest.fixture
def stack(stack_factory):
    """A running stack with three replicas, server1..3."""
    return stack_factory().start()


@pytest.fixture(scope="module")
def shared_stack(tmp_path_factory):
    """One running stack for a module's tests that change nothing (each of
    them checks that it did not)."""
    d = tmp_path_factory.mktemp("shared")
    s = Stack(d).start()
    yield s
    s.stop()


# A plain closing line that any reader can count: "N passed, N failed".
_counts = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report):
    # A test counts once: by its call, or by a setup that did not pass; a
    # failing teardown (say, a sanitizer report) fails it too.
    if report.when == "call" or (report.when == "setup" and
                                 report.outcome != "passed"):
        if report.outcome in _counts:
            _counts[report.outcome] += 1
    elif report.when == "teardown" and report.outcome == "failed":
        _counts["failed"] += 1


def pytest_unconfigure(config):
    print(f"\n{_counts['passed']} passed, {_counts['failed']} failed, "
          f"{_counts['skipped']} skipped")
