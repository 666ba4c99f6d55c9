"""docs/operations.md's procedures, walked stack by stack under mocks (rotation: test_rollout.py; adding and
removing a CPC: test_bootstrap.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.program import harness
from tests.program.conftest import CSC_REF
from tests.program.test_rollout import CPC_REFS, rolled


def _leaf_entry(run: harness.Run) -> dict[str, Any]:
    cm = run.k8s_objects()[("ConfigMap", "auth-callout-permissions")]
    entry: dict[str, Any] = json.loads(harness.unwrap(cm.inputs)["data"]["permissions.json"])["nkey"]["leaf-cpc-a"]
    return entry


def test_upgrading_a_cpcs_nats_image_then_the_csc(
    csc_first: harness.Run, cpc_a: harness.Run, cpc_b: harness.Run, csc: harness.Run
) -> None:
    bus: dict[str, Any] = copy.deepcopy(harness.stack_config("cpc-a")["dsx-bus:eventBus"])
    bus.setdefault("images", {})["nats"] = "nats:2.15.1-alpine"
    # pulumi config set --path 'dsx-bus:eventBus.images.nats' nats:2.15.1-alpine -s cpc-a; pulumi up -s cpc-a
    upgraded = harness.run("cpc-a", event_bus=bus, stack_outputs={CSC_REF: csc_first.outputs})
    assert upgraded.error is None, upgraded.errors()
    image = {"repository": "nats", "tag": "2.15.1-alpine"}
    for release in ("nats", "nats-mtls"):  # the image is in the pod template: both roll
        assert upgraded.charts()[release]["values"]["container"]["image"] == image
    assert upgraded.outputs["natsServerVersion"] == "2.15.1"
    assert upgraded.outputs["leafPublicKeys"] == cpc_a.outputs["leafPublicKeys"]  # same identity
    # pulumi up -s csc: the leaf entry takes the shape 2.15.1 routes, reloaded in place (no auth-callout roll)
    after = harness.run("csc", stack_outputs={CPC_REFS["cpc-a"]: upgraded.outputs, CPC_REFS["cpc-b"]: cpc_b.outputs})
    assert _leaf_entry(after) != _leaf_entry(csc)
    assert rolled(csc, after) == set()
