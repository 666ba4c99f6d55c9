"""The mock runtime itself: many program runs in one test process must not exhaust it."""

from __future__ import annotations

import gc
from pathlib import Path

from tests.program import harness

RUNS = 8


def _open_descriptors() -> int:
    gc.collect()  # the Pulumi SDK's own short-lived loops go with their garbage
    return len(list(Path("/proc/self/fd").iterdir()))


def test_runs_of_the_program_leave_no_file_descriptors_behind() -> None:
    # Each run used to leave its event loop open (with what the SDK hangs on it, about 20 descriptors a run); after
    # ~400 runs paho-mqtt's select(), which takes descriptors below 1024 only, failed in a later test of the process.
    harness.run("csc")
    before = _open_descriptors()
    for _ in range(RUNS):
        harness.run("csc")
    assert _open_descriptors() - before < 3 * RUNS
