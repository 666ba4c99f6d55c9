"""Stack configs for tests that change one thing: bases shaped like the example stack files, and the files themselves.

`cpc()` and `csc()` are raw `dsx-bus:eventBus` values (what a stack file holds); `errors_of()` and `only_error()` parse
one as `dsx-bus validate` would. The rest starts from the example stacks in the project root.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsxbus import stackfile
from dsxbus.config import EventBus
from dsxbus.errors import ConfigError, Problem
from dsxbus.stackfile import load_stack

ROOT = Path(__file__).resolve().parents[2]
KEY = "dsx-bus:eventBus"
LEAF_PUBLIC_KEY = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"
TEST_ONLY = {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}}
"""Permissions that reach nothing dsxbus.grants refuses: entries added to test another rule carry them."""
STACKS = ("csc", "cpc-a", "cpc-b")
"""The example stack files."""

# --- Bases: a valid CPC and CSC ------------------------------------------------------------------

_CPC: dict[str, Any] = {
    "clusterType": "cpc",
    "clusterId": "a",
    "cscStack": "organization/dsx-bus/csc",
    "namespace": "dsx",
    "mtls": {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"],
        "certificateIssuer": {"name": "dsx-ca", "kind": "ClusterIssuer"},
        "clientUrls": ["ssl://mqtt-mtls.cpc-a.dsx.example.com:8883"],
    },
    "extraAccounts": {"LaunchLayer": {"enabled": True}},
    "auth": {
        "permissions": {
            "oauth2": {
                "mqtt-client": {
                    "azp": "mqtt-client",
                    "account": "CPC",
                    "permissions": {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}},
                },
                "launchlayer-client": {
                    "azp": "launchlayer-client",
                    "account": "LaunchLayer",
                    "permissions": {"pub": {"allow": ["launch.>"]}, "sub": {"allow": ["launch.>"]}},
                },
            },
            "mtls": {
                "mqtt-client": {
                    "identity": "CN=mqtt-client.cpc-a",
                    "account": "CPC",
                    "permissions": {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}},
                }
            },
            "noauth": {
                "account": "CPC",
                "permissions": {"pub": {"allow": ["sensor.>"]}, "sub": {"allow": ["broadcast.>", "command.>"]}},
            },
        }
    },
    "authCallout": {"image": "registry.dsx.example.com/dsx-exchange/auth-callout:v0.1.0"},
}

_CSC: dict[str, Any] = {
    "clusterType": "csc",
    "leafEndpoint": "nats://leaf.csc.dsx.example.com:7422",
    "cpcs": {"a": "organization/dsx-bus/cpc-a", "b": "organization/dsx-bus/cpc-b"},
    "namespace": "dsx",
    "crossLayer": {"cscExports": ["broadcast.>"], "cscPrefixedExports": ["command.>"], "cpcExports": ["sensor.>"]},
    "mtls": {
        "enabled": True,
        "hostnames": ["mqtt-mtls.csc.dsx.example.com"],
        "certificateIssuer": {"name": "dsx-ca", "kind": "ClusterIssuer"},
        "clientUrls": ["ssl://mqtt-mtls.csc.dsx.example.com:8883"],
    },
    "extraAccounts": {"LaunchLayer": {"enabled": True, "jetstream": True}},
    "auth": {
        "jwks": {
            "url": "https://idp.dsx.example.com/.well-known/jwks.json",
            "issuer": "https://idp.dsx.example.com",
            "audience": "dsx-exchange",
        },
        "permissions": {
            "oauth2": {
                "csc-admin": {
                    "subject": "csc-admin",
                    "account": "CSC",
                    "acknowledge": ["crossClusterCommands", "serverApis"],
                },
                "launchlayer-client": {
                    "azp": "launchlayer-client",
                    "account": "LaunchLayer",
                    "acknowledge": ["serverApis"],
                },
            },
            "mtls": {
                "mqtt-client": {
                    "identity": "CN=mqtt-client.csc",
                    "account": "CSC",
                    "permissions": {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}},
                }
            },
        },
    },
    "authCallout": {"image": "registry.dsx.example.com/dsx-exchange/auth-callout:v0.1.0"},
}


def cpc(**overrides: object) -> dict[str, Any]:
    raw = copy.deepcopy(_CPC)
    raw.update(copy.deepcopy(overrides))
    return raw


def csc(**overrides: object) -> dict[str, Any]:
    raw = copy.deepcopy(_CSC)
    raw.update(copy.deepcopy(overrides))
    return raw


def errors_of(raw: object) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(raw, source="Pulumi.test.yaml")
    return [p for p in caught.value.problems if not p.warning]


def only_error(raw: object) -> Problem:
    found = errors_of(raw)
    assert len(found) == 1, [str(e) for e in found]
    return found[0]


def with_permissions(base: dict[str, Any], kind: str, entries: object) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    raw["auth"]["permissions"][kind] = entries
    return raw


# --- The example stack files ---------------------------------------------------------------------


def example(stack: str) -> EventBus:
    return load_stack(ROOT, stack).bus


def example_fleet(tmp_path: Path, **edits: Callable[[dict[str, Any]], None]) -> Path:
    """The example stacks in tmp_path; `edits` maps a stack (cpc_a for cpc-a) to a change of its eventBus."""
    for stack in STACKS:
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    for name, edit in edits.items():
        path = tmp_path / f"Pulumi.{name.replace('_', '-')}.yaml"
        document = yaml.safe_load(path.read_text())
        edit(document["config"][KEY])
        path.write_text(yaml.safe_dump(document, sort_keys=False))
    return tmp_path


def cpc_with_sveltos(block: dict[str, Any], cross_layer: dict[str, Any] | None = None) -> EventBus:
    """Example CPC a with this `sveltos` block, and cross-layer lists of its own that route `command.>` to it."""
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    raw["sveltos"] = block
    raw["crossLayer"] = cross_layer or {"cscExports": ["broadcast.>"], "cscPrefixedExports": ["command.>"]}
    return EventBus.model_validate(raw)


def sveltos_block(**changes: Any) -> dict[str, Any]:
    """Example CPC a's `sveltos` block with `changes`."""
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]["sveltos"]
    block = copy.deepcopy(raw)
    block.update(changes)
    return dict(block)


def sveltos_rule(**trigger: Any) -> dict[str, Any]:
    """Example CPC a's event rule with `trigger` changes."""
    rule = copy.deepcopy(sveltos_block()["eventRules"][0])
    rule["trigger"].update(trigger)
    return dict(rule)
