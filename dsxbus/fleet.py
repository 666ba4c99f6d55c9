"""What one stack takes from another: `inherit_from_csc` for the program (from stack references) and for the CLI
and local runner, which `resolve` among stack files what stack references would give."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dsxbus import checks, render, stackfile
from dsxbus.config import CrossLayer, EventBus, FleetDefaults, fleet_defaults, inherit
from dsxbus.errors import ConfigError, Problem


@dataclass(frozen=True)
class CscExports:
    """What a CSC stack exports for its CPCs: its `leafEndpoint` and `fleetDefaults` outputs."""

    leaf_endpoint: str | None
    fleet_defaults: FleetDefaults

    @classmethod
    def of(cls, csc: EventBus) -> CscExports:
        return cls(csc.leaf_endpoint, fleet_defaults(csc))


@dataclass(frozen=True)
class Inherited:
    """A CPC as it runs under its CSC."""

    bus: EventBus
    """The CPC's config with the CSC's fleet defaults filled in where it sets none."""
    csc_endpoint: str | None
    """The leaf URL it dials: its own cscEndpoint, else the CSC's leafEndpoint; None while neither is known."""

    @property
    def leaf_url(self) -> str:
        """What its leaf remotes name: the placeholder while no CSC endpoint is known (as render.cluster_files)."""
        return self.csc_endpoint or render.PLACEHOLDER_CSC_ENDPOINT


def inherit_from_csc(cpc: EventBus, csc: CscExports | None) -> Inherited:
    """What a CPC takes from its CSC; `None` is a CSC not deployed yet (or not known), which gives nothing.

    The Pulumi program (from the CSC stack's outputs) and the CLI and local runner (from its stack file, `resolve`)
    both come here, so a CPC runs the same under either.
    """
    if csc is None:
        return Inherited(cpc, cpc.csc_endpoint)
    return Inherited(inherit(cpc, csc.fleet_defaults), cpc.csc_endpoint or csc.leaf_endpoint)


@dataclass(frozen=True)
class Resolved:
    """One cluster as its stack would see it once every referenced stack is deployed."""

    stack: str
    bus: EventBus
    """With the CSC's fleet defaults filled in (CPC)."""
    csc_endpoint: str | None
    """CPC: the leaf URL it dials (its own cscEndpoint, else the CSC's leafEndpoint)."""
    cpc_lists: Mapping[str, CrossLayer]
    """CSC: each listed CPC's effective cross-layer lists (for its leaf permissions)."""
    cpc_versions: Mapping[str, str | None] = field(default_factory=dict)
    """CSC: the nats-server each listed CPC runs (its leaf permissions' shape depends on it)."""


def load(project_dir: Path, names: Iterable[str] | None = None) -> dict[str, stackfile.Stack]:
    """Load and validate stack files; raise one ConfigError listing every problem in every file."""
    chosen = list(names) if names else stackfile.stack_names(project_dir)
    if not chosen:
        raise ConfigError([Problem(str(project_dir), None, "no Pulumi.<stack>.yaml files here")])
    stacks: dict[str, stackfile.Stack] = {}
    problems: list[Problem] = []
    for name in chosen:
        try:
            stacks[name] = stackfile.load_stack(project_dir, name)
        except ConfigError as exc:
            problems += [Problem(f"{name}: {p.key}", p.value, p.fix, p.warning) for p in exc.problems]
    if problems:
        raise ConfigError(problems)  # each problem already names its stack
    return stacks


def problems(stacks: Mapping[str, stackfile.Stack], unchecked: Collection[str] = ()) -> list[Problem]:
    """Cross-stack problems and every file's warnings; `unchecked` stacks exist but were not loaded (notes)."""
    found = [
        Problem(f"{name}: {p.key}", p.value, p.fix, p.warning) for name, stack in stacks.items() for p in stack.warnings
    ]
    return found + checks.fleet_problems({name: s.bus for name, s in stacks.items()}, unchecked=unchecked)


def csc_stack(stacks: Mapping[str, stackfile.Stack]) -> stackfile.Stack | None:
    return next((s for s in stacks.values() if s.bus.cluster_type == "csc"), None)


def resolve(stacks: Mapping[str, stackfile.Stack], name: str) -> Resolved:
    stack = stacks[name]
    csc = csc_stack(stacks)
    if stack.bus.cluster_type == "csc":
        by_id = {
            s.bus.cluster_id: s.bus
            for s in stacks.values()
            if s.bus.cluster_type == "cpc" and s.bus.cluster_id is not None
        }
        exports = CscExports.of(stack.bus)
        lists = {
            cid: inherit_from_csc(by_id[cid], exports).bus.effective_cross_layer
            for cid in stack.bus.cpc_ids
            if cid in by_id
        }
        versions = {cid: by_id[cid].nats_server_version for cid in stack.bus.cpc_ids if cid in by_id}
        return Resolved(name, stack.bus, None, lists, versions)
    inherited = inherit_from_csc(stack.bus, CscExports.of(csc.bus) if csc is not None else None)
    return Resolved(name, inherited.bus, inherited.csc_endpoint, {})
