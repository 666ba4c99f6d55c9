"""Run the real `__main__.py` under Pulumi mocks for one stack and keep every registration, export and log line."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import logging
import runpy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings

from dsxbus import certs

ROOT = Path(__file__).resolve().parents[2]
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SIG_KEY = "4dabf18193072939515e22adb298388d"  # the SDK's special-signature key; secrets carry SECRET_VALUE
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # what the SDK sends for a value unknown in preview


@dataclass
class Captured:
    op: str  # "register" | "read"
    type: str
    name: str
    custom: bool
    parent: str
    inputs: dict[str, Any]
    """The request's serialized object as the engine would see it (secrets still wrapped)."""
    urn: str = ""
    provider: str = ""
    replace_on_changes: tuple[str, ...] = ()
    """Input paths whose change replaces the resource (e.g. one the API server refuses to update)."""
    delete_before_replace: bool = False


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """The research harness pattern: keep the raw request of every registration and read."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.captured: list[Captured] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.captured.append(
                Captured(
                    "register",
                    request.type,
                    request.name,
                    bool(request.custom),
                    request.parent,
                    json_format.MessageToDict(request.object),
                    response.urn,
                    request.provider,
                    tuple(request.replaceOnChanges),
                    bool(request.deleteBeforeReplace),
                )
            )
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        self.captured.append(
            Captured(
                "read",
                request.type,
                request.name,
                True,
                request.parent,
                json_format.MessageToDict(request.properties),
                response.urn,
            )
        )
        return response


class Mocks(pulumi.runtime.Mocks):
    """Stack references answer from `stack_outputs` (absent = initialised, never deployed: `{}`)."""

    def __init__(self, stack_outputs: Mapping[str, Mapping[str, Any]]) -> None:
        self.stack_outputs = stack_outputs

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            outputs = dict(self.stack_outputs.get(args.resource_id or "", {}))
            return args.resource_id or args.name, {
                "name": args.resource_id,
                "outputs": outputs,
                "secretOutputNames": [],
            }
        if args.typ == "kubernetes:core/v1:Secret" and args.resource_id:
            # A read (Secret.get): the TLS Secret cert-manager wrote for the Certificate the program declared.
            namespace, _, name = args.resource_id.partition("/")
            return args.resource_id, {"metadata": {"name": name, "namespace": namespace}, "data": issued_tls(name)}
        if args.typ == "random:index/randomBytes:RandomBytes":
            if pulumi.runtime.is_dry_run():
                return f"{args.name}-id", dict(args.inputs)  # a preview has no bytes yet: omitted = unknown
            # Deterministic per logical name and keepers (a new generation is new entropy, as a replacement is),
            # so tests can recompute a key the program derived.
            raw = entropy_for(args.name, args.inputs.get("keepers"))
            return f"{args.name}-id", {**args.inputs, "base64": base64.b64encode(raw).decode(), "hex": raw.hex()}
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


ISSUED_TLS: dict[str, dict[str, str]] = {}


def issued_tls(secret_name: str) -> dict[str, str]:
    """Secret data as cert-manager writes it (base64 PEM), one CA and client certificate per Secret name."""
    if secret_name not in ISSUED_TLS:
        ca = certs.LocalCa(f"test CA for {secret_name}")
        client = ca.client(secret_name)
        ISSUED_TLS[secret_name] = {
            key: base64.b64encode(pem).decode()
            for key, pem in (("ca.crt", ca.pem.certificate), ("tls.crt", client.certificate), ("tls.key", client.key))
        }
    return ISSUED_TLS[secret_name]


def entropy_for(name: str, keepers: Mapping[str, str] | None = None) -> bytes:
    """What the mock RandomBytes `name` draws; without keepers as before generations existed."""
    seed = name if not keepers else f"{name} {json.dumps(dict(keepers), sort_keys=True)}"
    return hashlib.sha256(seed.encode()).digest()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


@dataclass
class Run:
    stack: str
    captured: list[Captured]
    outputs: dict[str, Any]
    logs: list[tuple[str, str]]
    error: BaseException | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def registered(self, type_suffix: str | None = None) -> list[Captured]:
        return [
            c for c in self.captured if c.op == "register" and (type_suffix is None or c.type.endswith(type_suffix))
        ]

    def k8s_objects(self) -> dict[tuple[str, str], Captured]:
        """(kind, metadata.name) -> registration, for every Kubernetes object the program declares."""
        objects = {}
        for c in self.registered():
            if not c.type.startswith("kubernetes:") or c.type.startswith("kubernetes:helm.sh") or not c.custom:
                continue
            meta = unwrap(c.inputs.get("metadata", {}))
            kind = c.type.rsplit(":", 1)[-1]
            objects[(kind, meta["name"])] = c
        return objects

    def charts(self) -> dict[str, dict[str, Any]]:
        return {unwrap(c.inputs)["name"]: unwrap(c.inputs) for c in self.registered("helm.sh/v4:Chart")}

    def warnings(self) -> list[str]:
        return [m for level, m in self.logs if level == "WARNING"]

    def errors(self) -> list[str]:
        return [m for level, m in self.logs if level == "ERROR"]


def unwrap(value: Any) -> Any:
    """Drop secret wrappers: the plain value as the cluster would get it."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_VALUE:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """The wire carries every number as a float; whole ones back to the ints they are (as the provider sends
    them to the API server, and as helm reads them)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def strings(value: Any, secret: bool = False) -> Iterator[tuple[str, bool]]:
    """Every string in a serialized object, with whether it sits inside a secret."""
    if isinstance(value, dict):
        inner = secret or value.get(SIG_KEY) == SECRET_VALUE
        for v in value.values():
            yield from strings(v, inner)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v, secret)
    elif isinstance(value, str):
        yield value, secret


def stack_config(stack: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])


def _close_current_loop() -> None:
    policy = asyncio.get_event_loop_policy()
    loop = getattr(getattr(policy, "_local", None), "_loop", None)  # without creating one, unlike get_event_loop()
    if isinstance(loop, asyncio.AbstractEventLoop) and not loop.is_running() and not loop.is_closed():
        loop.close()


def mock_runtime(
    stack: str, config: Mapping[str, Any], monitor: pulumi_mocks.MockMonitor, *, preview: bool
) -> _Records:
    """A fresh Pulumi runtime on `monitor` for one run of a program; returns where its log lines go."""
    # The mocks do not merge project defaults; objects travel as JSON text, as the CLI sends them.
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
    records = _Records()
    logger = logging.getLogger(f"dsx-bus-test-{stack}")
    logger.handlers[:] = [records]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    settings.ROOT.set(None)  # a fresh root Stack per run
    # `asyncio.run()` in an earlier test (nats-py) leaves the main thread with no current loop, and
    # the Pulumi runtime asks for one with get_event_loop(). The previous run's loop is closed: left open, each
    # kept 3 file descriptors, and after ~400 runs paho-mqtt's select() (descriptors < 1024 only) failed.
    _close_current_loop()
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(
        monitor.mocks, project="dsx-bus", stack=stack, preview=preview, monitor=monitor, logger=logger
    )
    return records


def run(
    stack: str,
    *,
    event_bus: Mapping[str, Any] | None = None,
    extra_config: Mapping[str, Any] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    preview: bool = False,
    without: tuple[str, ...] = (),
) -> Run:
    """Run the program as `pulumi up` would for `stack` (its example config unless `event_bus` replaces it)."""
    config = stack_config(stack)
    if event_bus is not None:
        config["dsx-bus:eventBus"] = copy.deepcopy(dict(event_bus))
    config.update(extra_config or {})
    for key in without:
        config.pop(key, None)
    monitor = CapturingMonitor(Mocks(stack_outputs or {}))
    records = mock_runtime(stack, config, monitor, preview=preview)
    exports: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[Any]:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        root = settings.get_root_resource()
        assert root is not None
        return pulumi.Output.from_input(dict(root.outputs)).apply(exports.update)  # type: ignore[attr-defined]

    error: BaseException | None = None
    try:
        program()
    except Exception as exc:  # the tests assert on it
        error = exc
    return Run(stack, monitor.captured, exports, records.lines, error, config)
