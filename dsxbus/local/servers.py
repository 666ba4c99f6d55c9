"""One nats-server process: find the binary, start it on free ports, read them from its log, stop it by PID."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dsxbus.errors import DsxBusError
from dsxbus.local import binaries

T = TypeVar("T")


class LocalError(DsxBusError):
    """The local federation could not do what was asked; the message says which cluster and why."""


class ServerStartError(LocalError):
    """A nats-server exited or never became ready."""


class WaitTimeoutError(LocalError):
    """A condition never held before its deadline."""


def nats_server_binary() -> str:
    try:
        return str(binaries.binary())
    except binaries.BinaryError as exc:
        raise LocalError(str(exc)) from None


@functools.cache
def _version_of(path: str) -> str:
    return binaries.version_of(Path(path))


def nats_server_version() -> str:
    """The version of the binary the local federation runs: `2.12.6`."""
    try:
        return _version_of(nats_server_binary())
    except binaries.BinaryError as exc:
        raise LocalError(str(exc)) from None


_PORT_LINES = {
    "client": re.compile(r"Listening for client connections on [\d.]+:(\d+)"),
    "http": re.compile(r"Starting http monitor on [\d.]+:(\d+)"),
    "leaf": re.compile(r"Listening for leafnode connections on [\d.]+:(\d+)"),
    "mqtt": re.compile(r"Listening for MQTT clients on \w+://[\d.]+:(\d+)"),
}
_READY = "Server is ready"
_PROBLEM = re.compile(r"\[(FTL|ERR)\].*")
_REFUSED = re.compile(r"Failed to reload server configuration: .*")


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.02) -> T:
    """Poll `probe` until it returns something other than None; raise WaitTimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Server:
    """A started nats-server: its name (`cpc-a`, `cpc-a-mtls`), files, PID and the ports it logged."""

    name: str
    conf: Path
    log: Path
    pid: int
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = None
    """Only in the process that started it; `local down` from another process has the PID alone."""

    @property
    def stderr_path(self) -> Path:
        return self.log.with_suffix(".stderr")

    def url(self, kind: str) -> str:
        scheme = {"client": "nats", "http": "http", "leaf": "nats", "mqtt": "tcp"}[kind]
        return f"{scheme}://127.0.0.1:{self.ports[kind]}"


def start(name: str, conf: Path, log: Path) -> Server:
    """Launch in its own session (so a terminal's Ctrl-C doesn't hit it and `local up` can exit)."""
    log.unlink(missing_ok=True)
    stderr_path = log.with_suffix(".stderr")
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf), "-l", str(log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    return Server(name, conf, log, process.pid, {}, process)


def problem_line(server: Server) -> str:
    """Why a server failed, for an error message: its last fatal or error line (stderr, then its log), else
    the last line it wrote."""
    texts = []
    for path in (server.stderr_path, server.log):
        with contextlib.suppress(OSError):
            texts.append(path.read_text(errors="replace"))
    lines = [m.group(0) for text in texts for m in _PROBLEM.finditer(text)]
    if not lines:
        lines = [line for text in texts for line in text.strip().splitlines()[-1:]]
    return lines[-1].strip() if lines else "(no output)"


def wait_ready(server: Server, expect: tuple[str, ...], timeout: float = 10.0) -> Server:
    """Block until the log says "Server is ready"; fill in the ports it chose. Fails fast if it exits."""

    def probe() -> Server | None:
        text = server.log.read_text(errors="replace") if server.log.exists() else ""
        if _READY in text:
            for kind in expect:
                match = _PORT_LINES[kind].search(text)
                if match is None:
                    raise ServerStartError(f"{server.name}: ready, but its log names no {kind} port")
                server.ports[kind] = int(match[1])
            return server
        if not is_running(server):
            raise ServerStartError(
                f"{server.name}: nats-server exited at start ({server.conf}): {problem_line(server)}"
            )
        return None

    try:
        return wait_for(probe, timeout, f"{server.name} to be ready")
    except WaitTimeoutError:
        raise ServerStartError(
            f"{server.name}: not ready after {timeout:g} s ({server.log}): {problem_line(server)}"
        ) from None


def _reap(server: Server) -> bool:
    """True if the process is gone. Reaps our own children so a zombie doesn't count as running."""
    if server.process is not None:
        return server.process.poll() is not None
    with contextlib.suppress(ChildProcessError):
        pid, _ = os.waitpid(server.pid, os.WNOHANG)
        if pid == server.pid:
            return True
    return False


def is_running(server: Server) -> bool:
    """Alive and still the nats-server we started on this config (a reused PID is not ours)."""
    if _reap(server):
        return False
    if server.process is not None:
        return True  # our own child; its cmdline may still be Python's until exec
    try:
        cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(server.conf).encode() in cmdline


def stop(server: Server, grace: float = 5.0, sig: signal.Signals = signal.SIGTERM) -> None:
    """Terminate this PID, kill it after `grace` seconds; never anything else."""
    if not is_running(server):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_running(server):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGKILL)
    wait_for(lambda: True if not is_running(server) else None, 5, f"{server.name} (PID {server.pid}) to exit")


class ReloadRefusedError(LocalError):
    """nats-server logged that it cannot apply the new config (it keeps running on the old one)."""


def reload(server: Server, timeout: float = 5.0) -> None:
    """`nats-server --signal reload`: SIGHUP, then wait until the server has loaded its config file again (its
    varz `config_load_time` moves on); ReloadRefusedError with its log line if it refuses the new config."""
    before = (monitor(server, "varz") or {}).get("config_load_time")
    offset = server.log.stat().st_size if server.log.exists() else 0
    os.kill(server.pid, signal.SIGHUP)

    def probe() -> bool | None:
        with server.log.open("rb") as log:
            log.seek(offset)
            refused = _REFUSED.search(log.read().decode(errors="replace"))
        if refused:
            raise ReloadRefusedError(f"{server.name}: nats-server refused to reload {server.conf}: {refused[0]}")
        loaded = (monitor(server, "varz") or {}).get("config_load_time")
        return True if loaded is not None and loaded != before else None

    try:
        wait_for(probe, timeout, f"{server.name} to reload its config")
    except WaitTimeoutError:
        what = problem_line(server)
        raise LocalError(f"{server.name}: no reload of {server.conf} after {timeout:g} s: {what}") from None


def monitor(server: Server, endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """GET a monitoring endpoint (`leafz`); None if the server doesn't answer."""
    url = f"http://127.0.0.1:{server.ports['http']}/{endpoint}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except (OSError, urllib.error.URLError, ValueError):
        return None


def leaf_count(server: Server) -> int | None:
    data = monitor(server, "leafz")
    return None if data is None else len(data.get("leafs") or [])


# ---- processes found without a state file (`local down --force`) ------------------------------------------


def _config_under(pid: int, run_dir: Path) -> Path | None:
    """The config of PID if it is a nats-server of this user started with `-c <a file under run_dir>`."""
    proc = Path(f"/proc/{pid}")
    try:
        if proc.stat().st_uid != os.getuid():
            return None
        argv = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0")]
    except OSError:
        return None
    if not argv or not Path(argv[0]).name.startswith("nats-server"):
        return None
    for flag, value in itertools.pairwise(argv):
        if flag in ("-c", "--config"):
            conf = Path(os.path.normpath(value))  # `<run dir>/../x.conf` is not inside it
            return conf if conf.is_absolute() and conf.is_relative_to(run_dir) else None
    return None


def ours(run_dir: Path) -> dict[int, Path]:
    """Every live nats-server whose command line names a config inside `run_dir`: PID -> config.

    `local up` passes the absolute path of a config it wrote in the run dir, so this proves a process ours without
    the state file; a zombie has no command line and is not counted."""
    run_dir = run_dir.resolve()
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (conf := _config_under(int(entry.name), run_dir)) is not None:
            found[int(entry.name)] = conf
    return found


def stop_ours(run_dir: Path, grace: float = 5.0) -> dict[int, Path]:
    """Stop every process `ours(run_dir)` finds (SIGTERM, SIGKILL after `grace`); return what was stopped.

    Each signal goes through a pidfd opened before the command line is checked: if the PID was reused in between,
    the pidfd still names the old, dead process and the signal reaches no one."""
    found = ours(run_dir)
    signalled = {pid: conf for pid, conf in found.items() if _signal_if_ours(pid, run_dir, signal.SIGTERM)}
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_config_under(pid, run_dir.resolve()) for pid in signalled):
        time.sleep(0.02)
    for pid in signalled:
        _signal_if_ours(pid, run_dir, signal.SIGKILL)
    with contextlib.suppress(WaitTimeoutError):
        wait_for(lambda: None if any(_config_under(p, run_dir.resolve()) for p in signalled) else True, 5, "exit")
    left = [pid for pid in signalled if _config_under(pid, run_dir.resolve())]
    if left:
        raise LocalError(f"nats-server PID(s) {', '.join(map(str, left))} in {run_dir} survived SIGKILL")
    return signalled


def _signal_if_ours(pid: int, run_dir: Path, sig: signal.Signals) -> bool:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return False
    try:
        if _config_under(pid, run_dir.resolve()) is None:
            return False
        signal.pidfd_send_signal(pidfd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)
