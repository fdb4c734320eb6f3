"""Shared fixtures of the binding's tests.

The tests import the package from this source tree (python/), so that
`pytest python/tests` tests the code next to it; TILEJIT_LIBRARY (set by
the meson test) or the tree's build/ provides the library.

At the end pytest's counts are also printed as the harness's last line,
"N passed, N failed, N skipped", which scripts/test-summary.py adds up.
With TJ_PYTEST_SKIP_IS_77=1 (the meson 'gpu' suite) a run where nothing
ran (all skipped, or none collected) exits 77, meson's "skipped".
"""
import os
import random
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tilejit  # noqa: E402


@pytest.fixture
def rng():
    """A seeded random source; the seed is printed on failure."""
    seed = int(os.environ.get("TJ_SEED", random.randrange(1 << 30)))
    print(f"TJ_SEED={seed}")
    return random.Random(seed)


def _nvrtc_reason():
    g = tilejit.recipe("eltwise", dtype="f32")
    try:
        g.compile("sm_80", {"rows": 16, "cols": 4096})
    except tilejit.UnsupportedError as e:
        return str(e)
    return None


_NVRTC = []


@pytest.fixture
def nvrtc():
    """Skips the test when NVRTC cannot be found (tests/test_emit.c does the same)."""
    if not _NVRTC:
        _NVRTC.append(_nvrtc_reason())
    if _NVRTC[0]:
        pytest.skip(f"NVRTC not found: {_NVRTC[0]}")


def _counts(config):
    rep = config.pluginmanager.get_plugin("terminalreporter")
    stats = rep.stats if rep else {}
    n = lambda key: len(stats.get(key, []))
    return n("passed"), n("failed") + n("error"), n("skipped")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    p, f, s = _counts(config)
    terminalreporter.write_line(f"{p} passed, {f} failed, {s} skipped")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("TJ_PYTEST_SKIP_IS_77") != "1":
        return
    p, f, s = _counts(session.config)
    if (p == 0 and f == 0) or exitstatus == 5:
        session.exitstatus = 77
