"""Run a Pulumi program under mocks, keep what the engine would hand a policy pack, and drive the pack's real
analyzer servicer (pulumi_policy's `_PolicyAnalyzerServicer`) in-process: Configure, Analyze, AnalyzeStack.

Builds on tests/program/harness.py (its mocks, monitor and stack files) and on the verified research harness
(research/pulumi/policy_harness_demo.py). What it adds: component outputs (RegisterResourceOutputs), engine URNs,
engine-like previews (RandomBytes unknown until created), the CLI's policy config reconciliation (schema
defaults, levels for every policy) and the stack name the engine puts in PULUMI_STACK.

Fidelity gaps, as in the research notes: no provider Check, no default providers, remote components (helm.v4
Chart) keep the inputs the SDK sent (a real engine registers the Chart without inputs and analyzes its rendered
children instead; the policies read both), transforms are not run.
"""

from __future__ import annotations

import json
import os
import runpy
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pulumi
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped]
from pulumi.runtime import settings
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy import rules
from tests.program import harness

ROOT = harness.ROOT
PACK = ROOT / "policy"
POLICY_CONFIG = PACK / "policy-config.json"
SIG_KEY = harness.SIG_KEY
SECRET_SIG = harness.SECRET_VALUE
RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
UNKNOWN = harness.UNKNOWN
PACK_VERSION = "0.0.1"  # what PolicyPack() hands its servicer; the CLI reports PulumiPolicy.yaml's version instead


@dataclass
class Resource:
    """One registration or read as the engine would know it."""

    op: str  # "register" | "read"
    type: str
    name: str
    urn: str
    custom: bool
    remote: bool
    parent: str
    provider: str
    inputs: dict[str, Any]
    """The SDK-serialized inputs (secrets, unknowns and resource references still marked)."""
    state: dict[str, Any] = field(default_factory=dict)
    """A custom resource's state from the mocks, or a component's registered outputs."""
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Capture:
    stack: str
    preview: bool
    resources: list[Resource]
    exports: dict[str, Any]
    logs: list[tuple[str, str]]
    error: BaseException | None


class PolicyMonitor(harness.CapturingMonitor):
    """harness.CapturingMonitor, keeping everything an analyzer sees: parents, dependencies, component outputs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.records: list[Resource] = []  # MockMonitor keeps its own `resources` dict
        self.outputs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()  # RPCs arrive on executor threads

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine's rule (deployment.go generateURN): the root stack type is not part of a child's URN, and the
        # parent's full qualified type is.
        prefix = ""
        if parent:
            qualified = parent.split("::")[2]
            if qualified != "pulumi:pulumi:Stack":
                prefix = qualified + "$"
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{prefix}{type_}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)
        record = Resource(
            "register",
            request.type,
            request.name,
            response.urn,
            bool(request.custom),
            bool(request.remote),
            request.parent,
            request.provider,
            json_format.MessageToDict(request.object),
            dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
        )
        if request.custom and response.object is not None:
            record.state = json_format.MessageToDict(response.object)
        with self._lock:
            self.records.append(record)
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        response = super().ReadResource(request)
        record = Resource(
            "read",
            request.type,
            request.name,
            response.urn,
            True,
            False,
            request.parent,
            request.provider,
            json_format.MessageToDict(request.properties),
            state=json_format.MessageToDict(response.properties),
            dependencies=list(request.dependencies),
        )
        with self._lock:
            self.records.append(record)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        with self._lock:
            self.outputs[request.urn] = json_format.MessageToDict(request.outputs)
        return empty_pb2.Empty()


def capture(
    program: Callable[[], object],
    *,
    stack: str = "hand",
    config: Mapping[str, Any] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    preview: bool = False,
) -> Capture:
    """Run `program` as `pulumi preview` (preview=True) or `pulumi up` would, keeping every registration."""
    monitor = PolicyMonitor(harness.Mocks(stack_outputs or {}))
    records = harness.mock_runtime(stack, config or {}, monitor, preview=preview)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[Any] | None:
        result = program()  # an Output is awaited with every RPC; anything else (a resource) is just declared
        return result if isinstance(result, pulumi.Output) else None

    error: BaseException | None = None
    try:
        run()
    except Exception as exc:  # the tests assert on it
        error = exc
    for resource in monitor.records:
        if not resource.custom and resource.urn in monitor.outputs:
            resource.state = monitor.outputs[resource.urn]
    return Capture(stack, preview, list(monitor.records), {}, records.lines, error)


def capture_stack(
    stack: str,
    *,
    event_bus: Mapping[str, Any] | None = None,
    stack_outputs: Mapping[str, Mapping[str, Any]] | None = None,
    preview: bool = False,
) -> Capture:
    """The real `__main__.py` on an example stack (its config, or `event_bus` in place of dsx-bus:eventBus)."""
    config = harness.stack_config(stack)
    if event_bus is not None:
        config["dsx-bus:eventBus"] = dict(event_bus)
    exports: dict[str, Any] = {}

    def program() -> pulumi.Output[Any]:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        root = settings.get_root_resource()
        assert root is not None
        return pulumi.Output.from_input(dict(root.outputs)).apply(exports.update)  # type: ignore[attr-defined]

    result = capture(program, stack=stack, config=config, stack_outputs=stack_outputs, preview=preview)
    result.exports = exports
    return result


# ---- what the engine sends an analyzer ---------------------------------------------------------------------------


def engine_view(value: Any) -> Any:
    """The engine's marshalling for analyzers (KeepUnknowns, KeepSecrets, SkipInternalKeys, no resource references)."""
    if isinstance(value, list):
        return [engine_view(item) for item in value]
    if isinstance(value, dict):
        signature = value.get(SIG_KEY)
        if signature == RESOURCE_SIG:
            return value.get("id") or value.get("urn")
        if signature == OUTPUT_VALUE_SIG:
            if "value" not in value:
                return UNKNOWN
            inner = engine_view(value["value"])
            return {SIG_KEY: SECRET_SIG, "value": inner} if value.get("secret") else inner
        if signature == SECRET_SIG:
            return {SIG_KEY: SECRET_SIG, "value": engine_view(value.get("value"))}
        return {k: engine_view(v) for k, v in value.items() if not k.startswith("__")}
    return value


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(value))
    return struct


def _options(resource: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
    return analyzer_pb2.AnalyzerResourceOptions(parent=resource.parent)


def _provider(resource: Resource, by_urn: Mapping[str, Resource]) -> analyzer_pb2.AnalyzerProviderResource | None:
    provider = by_urn.get(resource.provider.rsplit("::", 1)[0]) if resource.provider else None
    if provider is None:
        return None
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider.type, urn=provider.urn, name=provider.name, properties=_struct(engine_view(provider.inputs))
    )


def analyze_requests(capture: Capture) -> list[analyzer_pb2.AnalyzeRequest]:
    """One Analyze per registration (reads are not analyzed), with its inputs."""
    by_urn = {r.urn: r for r in capture.resources}
    requests = []
    for resource in capture.resources:
        if resource.op != "register":
            continue
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            properties=_struct(engine_view(resource.inputs)),
            options=_options(resource),
        )
        provider = _provider(resource, by_urn)
        if provider is not None:
            request.provider.CopyFrom(provider)
        requests.append(request)
    return requests


def _outputs_view(resource: Resource) -> dict[str, Any]:
    """AnalyzeStack sees outputs: a component's registered outputs; else inputs plus what the provider computed."""
    if not resource.custom and resource.op == "register":
        return engine_view(resource.state) if resource.type != "pulumi:pulumi:Stack" else {}
    view = engine_view(resource.inputs) if resource.op == "register" else {}
    for key, value in resource.state.items():
        view.setdefault(key, engine_view(value))
    return view


def analyze_stack_request(capture: Capture) -> analyzer_pb2.AnalyzeStackRequest:
    by_urn = {r.urn: r for r in capture.resources}
    request = analyzer_pb2.AnalyzeStackRequest()
    for resource in capture.resources:
        item = analyzer_pb2.AnalyzerResource(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            parent=resource.parent,
            properties=_struct(_outputs_view(resource)),
            options=_options(resource),
            dependencies=resource.dependencies,
            propertyDependencies={
                k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                for k, v in resource.property_dependencies.items()
                if v
            },
        )
        provider = _provider(resource, by_urn)
        if provider is not None:
            item.provider.CopyFrom(provider)
        request.resources.append(item)
    return request


# ---- the pack, configured as the CLI configures it ---------------------------------------------------------------

_LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "disabled": analyzer_pb2.DISABLED,
    "remediate": analyzer_pb2.REMEDIATE,
}


def servicer() -> _PolicyAnalyzerServicer:
    """The servicer exactly as policy/__main__.py's PolicyPack(...) builds it (minus the gRPC server)."""
    return _PolicyAnalyzerServicer(
        rules.PACK_NAME, PACK_VERSION, rules.POLICIES, EnforcementLevel.ADVISORY, None, rules.PACK_DESCRIPTION
    )


def policy_infos(analyzer: _PolicyAnalyzerServicer) -> dict[str, dict[str, Any]]:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), None)  # type: ignore[no-untyped-call]
    return {p["name"]: p for p in json_format.MessageToDict(info).get("policies", [])}


def reconcile(analyzer: _PolicyAnalyzerServicer, file_config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What the CLI sends for a --policy-pack-config file: every policy's level and config, schema defaults filled
    in and the result validated against the schema (precedence: the policy's entry > `all` > the policy's level)."""
    reconciled: dict[str, dict[str, Any]] = {}
    for name, info in policy_infos(analyzer).items():
        entry = file_config.get(name, {})
        entry = {"enforcementLevel": entry} if isinstance(entry, str) else dict(entry)
        level = (
            entry.pop("enforcementLevel", None) or file_config.get("all") or info.get("enforcementLevel", "ADVISORY")
        )
        schema = info.get("configSchema", {})
        properties = {k: v["default"] for k, v in schema.get("properties", {}).items() if "default" in v}
        properties |= entry
        if schema.get("properties"):
            jsonschema.validate(properties, {"type": "object", **schema})
        elif properties:
            raise ValueError(f"policy {name} takes no config, got {properties}")
        reconciled[name] = {"enforcementLevel": str(level).lower(), **properties}
    return reconciled


def configure(analyzer: _PolicyAnalyzerServicer, file_config: Mapping[str, Any] | None = None) -> None:
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, entry in reconcile(analyzer, file_config or {}).items():
        values = dict(entry)
        config = analyzer_pb2.PolicyConfig(enforcementLevel=_LEVELS[values.pop("enforcementLevel")])
        config.properties.update(values)
        request.policyConfig[name].CopyFrom(config)
    analyzer.Configure(request, None)  # type: ignore[no-untyped-call]


def example_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(POLICY_CONFIG.read_text())
    return config


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    level: str  # ADVISORY | MANDATORY
    resource: str
    """The Pulumi name of the resource it is about ("" for a stack-wide finding)."""
    message: str
    """The violation message, without the policy description the analyzer puts before it."""


@contextmanager
def _engine_environment(stack: str) -> Iterator[None]:
    # The engine starts a pack with PULUMI_STACK (and PULUMI_PROJECT, PULUMI_DRY_RUN, which would make the
    # servicer reconfigure the Pulumi runtime; the policies read only the stack name).
    before = os.environ.get("PULUMI_STACK")
    os.environ["PULUMI_STACK"] = stack
    try:
        yield
    finally:
        if before is None:
            del os.environ["PULUMI_STACK"]
        else:
            os.environ["PULUMI_STACK"] = before


def analyze(capture: Capture, file_config: Mapping[str, Any] | None = None) -> list[Diagnostic]:
    """Every diagnostic of a preview/up of `capture` with the pack configured from `file_config`."""
    assert capture.error is None, capture.error
    analyzer = servicer()
    configure(analyzer, file_config)
    responses: list[tuple[analyzer_pb2.AnalyzeResponse, str]] = []
    with _engine_environment(capture.stack):
        for request in analyze_requests(capture):
            responses.append((analyzer.Analyze(request, None), request.urn))  # type: ignore[no-untyped-call]
        responses.append((analyzer.AnalyzeStack(analyze_stack_request(capture), None), ""))  # type: ignore[no-untyped-call]
    found = []
    for response, urn in responses:
        for diagnostic in response.diagnostics:
            message = diagnostic.message.removeprefix(diagnostic.description + "\n")
            level = analyzer_pb2.EnforcementLevel.Name(diagnostic.enforcementLevel)
            where = diagnostic.urn or urn
            found.append(Diagnostic(diagnostic.policyName, level, where.rsplit("::", 1)[-1] if where else "", message))
    return found


def summary(diagnostics: list[Diagnostic]) -> list[tuple[str, str, str]]:
    """(policy, level, resource) sorted: what most tests compare exactly."""
    return sorted((d.policy, d.level, d.resource) for d in diagnostics)


def mandatory(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.level == "MANDATORY"]


def only(diagnostics: list[Diagnostic], policy: str) -> Diagnostic:
    """The one diagnostic of `policy` (fails if there are none or several)."""
    (found,) = [d for d in diagnostics if d.policy == policy]
    return found
