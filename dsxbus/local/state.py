"""A local federation's run state: its clusters, servers and keys as `local up` started them, and the files in the
run dir that record them (state.json, keys.json, the lock) for `local status`, `check`, `down`, `restart` and the
tests."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from pydantic import Field, RootModel, ValidationError

from dsxbus import nkeys
from dsxbus.config import CrossLayer
from dsxbus.local.plan import MQTT_ADMIN_USER, ClusterKeys
from dsxbus.local.servers import LocalError, Server
from dsxbus.model import Model
from dsxbus.nkeys import KeyKind, KeyPair

STATE = "state.json"
KEYS = "keys.json"
LOCK = "local.lock"
STATE_VERSION = 2
"""The shape of state.json and keys.json; a file of another version is refused, never half-read."""
FORCE_DOWN = "dsx-bus local down --force"


def default_run_dir(project_dir: Path) -> Path:
    """Under the project (git-ignored `.dsx-bus/`), so two checkouts never share a federation."""
    return project_dir.resolve() / ".dsx-bus" / "local"


@dataclass
class MtlsClient:
    """A client certificate `local up` issued for one mTLS identity, for clients of nats-mtls (the tests)."""

    identity: str
    account: str
    cert: str
    key: str


@dataclass
class LocalCluster:
    """One running cluster as `local status`, `local check` and the tests see it."""

    stack: str
    role: str
    id: str
    dir: Path
    main: Server
    mtls: Server | None = None
    lists: CrossLayer = field(default_factory=CrossLayer)
    """CPC: its effective cross-layer lists (a CSC has none of its own: empty)."""
    extra_accounts: list[str] = field(default_factory=list)
    noauth_account: str | None = None
    mtls_clients: dict[str, MtlsClient] = field(default_factory=dict)
    expected_leafs: dict[str, int] = field(default_factory=dict)
    """Server name -> leaf connections it has once the federation is up."""
    uplinks: bool = False
    """CSC: mqttStreams.uplinks, whether a CPC's QoS 1 and retained publishes reach the CSC's QoS 1 subscribers."""

    @property
    def servers(self) -> list[Server]:
        return [self.main] + ([self.mtls] if self.mtls else [])


@dataclass
class Federation:
    """A started local federation: its clusters by stack name, their keys, and the throw-away CA's certificate."""

    run_dir: Path
    project: Path
    clusters: dict[str, LocalCluster]
    keys: dict[str, ClusterKeys]
    ca: Path | None = None
    nats_version: str = ""
    """The nats-server version every server of this federation runs."""

    @property
    def csc(self) -> LocalCluster:
        return next(c for c in self.clusters.values() if c.role == "csc")

    @property
    def cpcs(self) -> list[LocalCluster]:
        return [c for c in self.clusters.values() if c.role == "cpc"]

    def cluster(self, cluster_id: str) -> LocalCluster:
        return next(c for c in self.clusters.values() if c.id == cluster_id)

    def servers(self) -> list[Server]:
        return [s for c in self.clusters.values() for s in c.servers]


class CorruptStateError(LocalError):
    """state.json or keys.json cannot be read back: what `local up` started is unknown from the files alone."""

    def __init__(self, problem: str, recovery: str) -> None:
        super().__init__(f"{problem}; {recovery}")
        self.problem = problem
        """Which file, key and value, and what is wrong with it (without the way out)."""


class LockedError(LocalError):
    """Another `dsx-bus local` command is changing this run dir right now."""


# ---- the run dir -------------------------------------------------------------------------------------


def write_atomic(path: Path, text: str | bytes, mode: int = 0o600) -> None:
    """Readers see the old file or the new one, never a torn one, even if the writer is killed or the machine
    stops: a temp file in the same directory (so the rename stays on one file system), fsynced, renamed over."""
    data = text.encode() if isinstance(text, str) else text
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        Path(temp).replace(path)  # os.replace: atomic on POSIX
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def write_private(path: Path, text: str) -> None:
    write_atomic(path, text, 0o600)  # seeds are inlined in configs and keys.json; only the owner may read them


def save(federation: Federation) -> None:
    # keys.json first: a state.json always has its keys beside it.
    keys = {n: _keys_record(k) for n, k in federation.keys.items()}
    write_private(federation.run_dir / KEYS, json.dumps(keys, indent=2) + "\n")
    write_private(federation.run_dir / STATE, _state_record(federation).model_dump_json(indent=2) + "\n")


def load(run_dir: Path) -> Federation:
    """The federation `local up` recorded in `run_dir`; CorruptStateError if its files cannot be trusted."""
    try:
        state_text = _read(run_dir / STATE)
        keys_text = _read(run_dir / KEYS)
    except FileNotFoundError:
        raise LocalError(f"no local federation in {run_dir}: start one with `dsx-bus local up`") from None
    record = _parse(run_dir / STATE, state_text, _StateFile)
    keys = _parse(run_dir / KEYS, keys_text, _KeysFile)
    inside = run_dir.resolve()
    for stack, cluster in record.clusters.items():
        for kind, server in (("main", cluster.main), ("mtls", cluster.mtls)):
            for name, path in (("conf", server.conf), ("log", server.log)) if server else ():
                # `down` signals a recorded PID only if its command line names this config: outside the run dir,
                # that could be another federation's server.
                if not path.is_absolute() or not path.resolve().is_relative_to(inside):
                    where = f"clusters.{stack}.{kind}.{name}"
                    raise _corrupt(run_dir / STATE, where, repr(str(path)), f"is not inside the run dir {inside}")
    missing = sorted(set(record.clusters) - set(keys.root))
    if missing:
        raise _corrupt(run_dir / KEYS, missing[0], "(absent)", "has no keys for a stack state.json records")
    try:
        return Federation(
            run_dir,
            record.project,
            {n: _cluster_from_record(n, c) for n, c in record.clusters.items()},
            {n: _keys_from_record(keys.root[n]) for n in record.clusters},
            record.ca,
            record.nats_server_version,
        )
    except ValueError as exc:  # a seed that is no NKey seed
        raise _corrupt(run_dir / KEYS, "a seed", "(not shown)", str(exc)) from None


def forget(run_dir: Path) -> None:
    """After `local down`: nothing is recorded as running; keys.json, configs and logs stay for a look."""
    (run_dir / STATE).unlink(missing_ok=True)


def is_run_dir(directory: Path) -> bool:
    """A directory an earlier `local up` made (keys.json outlives `local down`): one `local up` may clear."""
    return any((directory / name).exists() for name in (KEYS, STATE, LOCK))


@contextlib.contextmanager
def locked(run_dir: Path, command: str, *, create: bool = False) -> Iterator[None]:
    """Hold the run dir's lock while `command` changes it; LockedError at once if another process holds it.

    flock, not a PID file: the kernel drops it when its holder exits however it exits (kill -9 included), so a
    crashed `local up` never leaves a stale lock behind. The holder's PID in the file is only for the message.
    """
    if create:
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif run_dir.exists() and not run_dir.is_dir():
        raise LocalError(f"{run_dir} is not a directory, so it holds no local federation: choose another --run-dir")
    elif not run_dir.exists():
        raise LocalError(f"no local federation in {run_dir}: start one with `dsx-bus local up`")
    path = run_dir / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").split() or ["?", "?"]
            pid, what = holder[0], " ".join(holder[1:]) or "?"
            raise LockedError(
                f"another `dsx-bus local {what}` (PID {pid}) holds {path}: wait for it to finish, then run "
                f"`dsx-bus local {command}` again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


# ---- the files' shapes: what load accepts is exactly what save writes -------------------------------------


class _ServerRecord(Model):
    name: str
    conf: Path
    log: Path
    pid: Annotated[int, Field(gt=1)]
    """Checked against /proc before any signal: a reused PID is never signalled (servers.is_running)."""
    ports: dict[str, Annotated[int, Field(gt=0, lt=65536)]]


class _MtlsClientRecord(Model):
    identity: str
    account: str
    cert: str
    key: str


class _ClusterRecord(Model):
    role: Literal["csc", "cpc"]
    id: str
    dir: Path
    main: _ServerRecord
    mtls: _ServerRecord | None
    lists: CrossLayer
    """The stack files' own keys (cscExports, ...); a CSC's are empty."""
    extra_accounts: list[str]
    noauth_account: str | None
    mtls_clients: dict[str, _MtlsClientRecord]
    expected_leafs: dict[str, int]
    uplinks: bool


class _StateFile(Model):
    version: int
    """STATE_VERSION when written; checked before anything else is read."""
    project: Path
    ca: Path | None
    nats_server_version: str
    clusters: dict[str, _ClusterRecord]


class _ClusterKeysRecord(Model):
    leaf: dict[str, str]
    admin: dict[str, str]
    mtls_leaf: str
    mtls_sys_leaf: str
    mqtt_user: str = MQTT_ADMIN_USER
    """For a person reading keys.json; the loader needs only the password."""
    mqtt_password: str
    noauth_password: str


_Record = TypeVar("_Record", "_StateFile", "_KeysFile")


class _KeysFile(RootModel[dict[str, _ClusterKeysRecord]]):
    """Stack -> its keys; no version of its own (state.json's covers both): people read `<stack>.admin.<account>`."""


MAX_FILE_BYTES = 16 * 1024 * 1024
"""Far above any state dsx-bus writes (about 2 KB per cluster); a bigger file is not one of ours."""


def _read(path: Path) -> bytes:
    """The file's bytes, refusing what `save` never writes: a symlink (it could point anywhere), a FIFO or device
    (a read that never ends), a huge file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise _corrupt(path, "the file", "a symbolic link", "dsx-bus writes a regular file here") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _corrupt(path, "the file", "not a regular file", "dsx-bus writes a regular file here")
        if info.st_size > MAX_FILE_BYTES:
            raise _corrupt(path, "the file", f"{info.st_size} bytes", f"larger than {MAX_FILE_BYTES} bytes")
        return os.read(fd, MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)


def _corrupt(path: Path, where: str, value: object, what: str) -> CorruptStateError:
    return CorruptStateError(
        f"{path}: {where} = {value}: {what}",
        "the file is damaged, so what `local up` started is unknown. "
        f"Stop every nats-server running from {path.parent} with `{FORCE_DOWN}`, then `dsx-bus local up` again",
    )


def _parse(path: Path, text: bytes, model: type[_Record]) -> _Record:
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        cut = "empty" if not text.strip() else f"not JSON ({exc})"
        raise _corrupt(path, "the file", f"{len(text)} bytes", cut) from None
    if not isinstance(raw, dict):
        raise _corrupt(path, "the file", _shown(raw), "should be a JSON object")
    if model is _StateFile and raw.get("version") != STATE_VERSION:
        version = _shown(raw["version"]) if "version" in raw else "(absent)"
        raise _corrupt(path, "version", version, f"this dsx-bus reads version {STATE_VERSION}")
    try:
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        if first["type"] == "missing":
            shown = "(absent)"
        elif path.name == KEYS and isinstance(first["input"], str):
            shown = "(not shown)"  # never print a seed
        else:
            shown = _shown(first["input"])
        raise _corrupt(path, where, shown, first["msg"]) from None


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    return repr(value)[:80]


# ---- records <-> the federation ------------------------------------------------------------------------


def _server_record(server: Server) -> _ServerRecord:
    return _ServerRecord(name=server.name, conf=server.conf, log=server.log, pid=server.pid, ports=server.ports)


def _server_from_record(record: _ServerRecord) -> Server:
    return Server(record.name, record.conf, record.log, record.pid, dict(record.ports))


def _state_record(federation: Federation) -> _StateFile:
    return _StateFile(
        version=STATE_VERSION,
        project=federation.project,
        ca=federation.ca,
        nats_server_version=federation.nats_version,
        clusters={
            n: _ClusterRecord(
                role="csc" if c.role == "csc" else "cpc",
                id=c.id,
                dir=c.dir,
                main=_server_record(c.main),
                mtls=_server_record(c.mtls) if c.mtls else None,
                lists=c.lists,
                extra_accounts=c.extra_accounts,
                noauth_account=c.noauth_account,
                mtls_clients={m: _MtlsClientRecord(**vars(client)) for m, client in c.mtls_clients.items()},
                expected_leafs=c.expected_leafs,
                uplinks=c.uplinks,
            )
            for n, c in federation.clusters.items()
        },
    )


def _cluster_from_record(stack: str, record: _ClusterRecord) -> LocalCluster:
    return LocalCluster(
        stack,
        record.role,
        record.id,
        record.dir,
        _server_from_record(record.main),
        _server_from_record(record.mtls) if record.mtls else None,
        record.lists,
        list(record.extra_accounts),
        record.noauth_account,
        {n: MtlsClient(**c.model_dump(by_alias=False)) for n, c in record.mtls_clients.items()},
        dict(record.expected_leafs),
        record.uplinks,
    )


def _keys_record(keys: ClusterKeys) -> dict[str, object]:
    return _ClusterKeysRecord(
        leaf={a: k.seed for a, k in keys.leaf.items()},
        admin={a: k.seed for a, k in keys.admin.items()},
        mtls_leaf=keys.mtls_leaf.seed,
        mtls_sys_leaf=keys.mtls_sys_leaf.seed,
        mqtt_password=keys.mqtt_password,
        noauth_password=keys.noauth_password,
    ).model_dump(mode="json")


def _keys_from_record(record: _ClusterKeysRecord) -> ClusterKeys:
    def pair(seed: str) -> KeyPair:
        return KeyPair(KeyKind.USER, seed, nkeys.public_key_from_seed(seed))

    return ClusterKeys(
        leaf={a: pair(s) for a, s in record.leaf.items()},
        admin={a: pair(s) for a, s in record.admin.items()},
        mtls_leaf=pair(record.mtls_leaf),
        mtls_sys_leaf=pair(record.mtls_sys_leaf),
        mqtt_password=record.mqtt_password,
        noauth_password=record.noauth_password,
    )
