"""What one stack reads from another's outputs, checked: a referenced stack is input like any other.

The CSC reads each listed CPC's `clusterType`, `clusterId`, `leafPublicKeys`, `nextLeafPublicKeys`, `crossLayer`
and `natsServerVersion`; a CPC reads its CSC's `clusterType`, `leafEndpoint` and `fleetDefaults`. A stack that
exports none of them has not been deployed yet (the bootstrap state: `None`). Anything else that is not what
that kind of stack exports, or that names another cluster than the reference expects, is one `Problem` each,
raised together as a `StackOutputError` before anything is admitted.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from dsxbus import naming, nkeys, versions
from dsxbus.config import ClusterType, CrossLayer, FleetDefaults
from dsxbus.domains import LEAF_SCHEMES, leaf_url_problem
from dsxbus.errors import ConfigError, Problem, key_path

CLUSTER_TYPE = "clusterType"
CLUSTER_ID = "clusterId"
LEAF_PUBLIC_KEYS = "leafPublicKeys"
NEXT_LEAF_PUBLIC_KEYS = "nextLeafPublicKeys"
CROSS_LAYER = "crossLayer"
NATS_SERVER_VERSION = "natsServerVersion"
LEAF_ENDPOINT = "leafEndpoint"
FLEET_DEFAULTS = "fleetDefaults"

CPC_OUTPUTS = (CLUSTER_TYPE, CLUSTER_ID, LEAF_PUBLIC_KEYS, NEXT_LEAF_PUBLIC_KEYS, CROSS_LAYER, NATS_SERVER_VERSION)
"""What the CSC reads from each CPC stack in its `cpcs`."""
CSC_OUTPUTS = (CLUSTER_TYPE, LEAF_ENDPOINT, FLEET_DEFAULTS)
"""What a CPC reads from the CSC stack its `cscStack` names."""

_M = TypeVar("_M", bound=BaseModel)


class StackOutputError(ConfigError):
    """A referenced stack exports something its kind of stack never does, or names another cluster."""


@dataclass(frozen=True)
class Reference:
    """One stack reference, as the referencing stack's config writes it."""

    stack: str
    """The referencing stack (`csc`)."""
    key: str
    """Its config key that names the other stack (`dsx-bus:eventBus.cpcs.a`)."""
    target: str
    """The referenced stack (`organization/dsx-bus/cpc-a`)."""

    def problem(self, output: str, value: object, fix: str) -> Problem:
        return Problem(self.output_key(output), value, fix)

    def output_key(self, output: str, *loc: str | int) -> str:
        return key_path(*loc, root=f"{self.key} -> {self.target} output {output}")


@dataclass(frozen=True)
class CpcOutputs:
    """A deployed CPC stack's outputs, as the CSC uses them."""

    leaf_public_keys: Mapping[str, str]
    """Account (`CSC`, or an extra account's name) -> the public NKey (`U...`) its leaf connects with."""
    cross_layer: CrossLayer | None
    """Its effective cross-layer lists; None while unknown (the CSC then uses its fleet defaults)."""
    nats_server_version: str | None
    """`2.12.6`; None from a CPC deployed before it exported one (unknown)."""
    next_leaf_public_keys: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """The keys its leafs rotate to next, admitted ahead (`dsxbus.rotation`); empty from a CPC that exports none."""


@dataclass(frozen=True)
class CscOutputs:
    """A CSC stack's outputs, as a CPC uses them; a None field is one it does not export (yet)."""

    leaf_endpoint: str | None
    fleet_defaults: FleetDefaults | None


def read_cpcs(
    stack: str, cpcs: Mapping[str, str], exported: Mapping[str, Mapping[str, object]]
) -> dict[str, CpcOutputs | None]:
    """The CSC's view of each CPC in its `cpcs` (id -> stack); None for one not deployed yet.

    `exported` holds, per id, what that stack exports under `CPC_OUTPUTS` (absent or None: not exported).
    """
    found: dict[str, CpcOutputs | None] = {}
    problems: list[Problem] = []
    for cluster_id, target in cpcs.items():
        ref = Reference(stack, key_path("cpcs", cluster_id), target)
        outputs, wrong = _read_cpc(ref, cluster_id, exported.get(cluster_id, {}))
        found[cluster_id] = outputs
        problems += wrong
    if problems:
        raise StackOutputError(problems, f"Pulumi.{stack}.yaml")
    return found


def read_csc(stack: str, target: str, exported: Mapping[str, object]) -> CscOutputs:
    """A CPC's view of the CSC stack its `cscStack` names (`CSC_OUTPUTS`; absent or None: not exported)."""
    ref = Reference(stack, key_path("cscStack"), target)
    problems = _kind_problems(ref, exported, "csc", CSC_OUTPUTS)
    if problems:
        raise StackOutputError(problems, f"Pulumi.{stack}.yaml")  # not a CSC stack: the rest would only repeat it
    endpoint = exported.get(LEAF_ENDPOINT)
    if endpoint is not None and not (isinstance(endpoint, str) and leaf_url_problem(endpoint) is None):
        problems.append(
            ref.problem(
                LEAF_ENDPOINT,
                endpoint,
                f"not a leaf URL (scheme {', '.join(LEAF_SCHEMES)}, a host, a port 1-65535, e.g. "
                "nats://leaf.csc.example.com:7422): fix the CSC's leafEndpoint and run `pulumi up` on the CSC stack, "
                "or set cscEndpoint here",
            )
        )
    defaults = _model(ref, FLEET_DEFAULTS, FleetDefaults, exported.get(FLEET_DEFAULTS), problems)
    if problems:
        raise StackOutputError(problems, f"Pulumi.{stack}.yaml")
    return CscOutputs(endpoint if isinstance(endpoint, str) and endpoint else None, defaults)


def _read_cpc(
    ref: Reference, cluster_id: str, exported: Mapping[str, object]
) -> tuple[CpcOutputs | None, list[Problem]]:
    if all(exported.get(name) is None for name in CPC_OUTPUTS):
        return None, []  # initialised, never deployed: pending
    problems = _kind_problems(ref, exported, "cpc", CPC_OUTPUTS)
    if problems:
        return None, problems  # not a CPC stack at all: its other outputs would only repeat that
    exported_id = exported.get(CLUSTER_ID)
    if exported_id != cluster_id:
        problems.append(
            ref.problem(
                CLUSTER_ID,
                exported_id,
                f"the CSC lists this stack as CPC {cluster_id!r}, but it is "
                + (f"CPC {exported_id!r}" if _is_cluster_id(exported_id) else "no CPC")
                + f": point cpcs.{cluster_id} at CPC {cluster_id}'s stack",
            )
        )
    keys = _leaf_public_keys(ref, LEAF_PUBLIC_KEYS, exported.get(LEAF_PUBLIC_KEYS), problems)
    raw_next = exported.get(NEXT_LEAF_PUBLIC_KEYS)
    # Absent: a CPC deployed before it pre-published keys; nothing is admitted ahead of its rotation.
    next_keys = {} if raw_next is None else _leaf_public_keys(ref, NEXT_LEAF_PUBLIC_KEYS, raw_next, problems)
    raw_lists = exported.get(CROSS_LAYER)
    # Falsy is unknown, as before these outputs were checked: a CPC exports null until its lists are known.
    lists = _model(ref, CROSS_LAYER, CrossLayer, raw_lists or None, problems)
    version = exported.get(NATS_SERVER_VERSION)
    if version is not None and not (isinstance(version, str) and versions.parse(version)):
        problems.append(
            ref.problem(
                NATS_SERVER_VERSION,
                version,
                "not a nats-server version (e.g. 2.12.6): run `pulumi up` on that CPC stack with this dsx-bus",
            )
        )
    if problems or keys is None or next_keys is None:
        return None, problems
    return CpcOutputs(keys, lists, version if isinstance(version, str) else None, next_keys), []


def _kind_problems(
    ref: Reference, exported: Mapping[str, object], kind: ClusterType, outputs: tuple[str, ...]
) -> list[Problem]:
    """A deployed stack must say it is the kind the reference expects (every dsx-bus stack exports clusterType)."""
    if all(exported.get(name) is None for name in outputs):
        return []
    value = exported.get(CLUSTER_TYPE)
    if value == kind:
        return []
    what = f"a {value.upper()} stack" if value in ("csc", "cpc") and isinstance(value, str) else "no dsx-bus stack"
    return [
        ref.problem(
            CLUSTER_TYPE,
            value,
            f"{ref.key} must name a {kind.upper()} stack, and this is {what}: point it at the {kind.upper()}'s stack",
        )
    ]


def _leaf_public_keys(ref: Reference, output: str, value: object, problems: list[Problem]) -> dict[str, str] | None:
    if not isinstance(value, Mapping) or not value:
        problems.append(
            ref.problem(
                output,
                value,
                "a deployed CPC exports a mapping of account -> leaf public key (U...): run `pulumi up` on that CPC "
                "stack with this dsx-bus",
            )
        )
        return None
    keys: dict[str, str] = {}
    for account, key in value.items():
        if not isinstance(account, str) or not isinstance(key, str) or not nkeys.is_public_key(key, nkeys.KeyKind.USER):
            problems.append(
                Problem(
                    ref.output_key(output, str(account)),
                    key,
                    "not a user public NKey (U..., valid checksum): run `pulumi up` on that CPC stack again",
                )
            )
        else:
            keys[account] = key
    if naming.CSC not in value:
        problems.append(
            ref.problem(
                output,
                value,
                f"has no key for the {naming.CSC} account, the leaf every CPC dials: run `pulumi up` on that CPC stack",
            )
        )
    return keys if len(keys) == len(value) and naming.CSC in keys else None


def _model(ref: Reference, output: str, model: type[_M], value: object, problems: list[Problem]) -> _M | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append(ref.problem(output, value, f"must be a mapping ({model.__name__}): redeploy that stack"))
        return None
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(
                Problem(ref.output_key(output, *error["loc"]), error.get("input"), f"{message}: redeploy that stack")
            )
        return None


def _is_cluster_id(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(naming.CLUSTER_ID_PATTERN, value) is not None
