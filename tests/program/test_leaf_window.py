"""A CPC's leaf key rotation never leaves the CPC refused: the CSC admits the next key before the CPC dials with it.

Walks docs/operations.md's order (`up` the CPC with a new leaf generation, then the CSC) and checks after every
`up` that the key the CPC dials with is one its CSC's last run admits.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from dsxbus import nkeys
from tests.program import harness
from tests.program.conftest import CSC_REF
from tests.program.test_rollout import CPC_REFS


def admitted(csc: harness.Run, cluster_id: str) -> set[str]:
    """Every key the CSC's auth-callout admits as that CPC's CSC-account leaf: its env (Secret) entry and its
    literal entries."""
    objects = csc.k8s_objects()
    secret = harness.unwrap(objects[("Secret", f"nats-leaf-cpc-{cluster_id}")].inputs)["stringData"]["pubkey"]
    document = json.loads(
        harness.unwrap(objects[("ConfigMap", "auth-callout-permissions")].inputs)["data"]["permissions.json"]
    )
    entries = {name: e for name, e in document["nkey"].items() if name.startswith(f"leaf-cpc-{cluster_id}")}
    assert f"leaf-cpc-{cluster_id}" in entries
    literal = {e["public_key"] for e in entries.values() if not e["public_key"].startswith("$")}
    return {secret, *literal} - {""}


def dialling(cpc: harness.Run) -> str:
    """The public key of the seed the CPC's nats pods dial the CSC with (Secret nats-leaf-csc)."""
    seed = harness.unwrap(cpc.k8s_objects()[("Secret", "nats-leaf-csc")].inputs)["stringData"]["seed"]
    return nkeys.public_key_from_seed(seed)


def _rotated(generation: int, csc_outputs: dict[str, Any]) -> harness.Run:
    bus = copy.deepcopy(harness.stack_config("cpc-a")["dsx-bus:eventBus"])
    bus["keyGenerations"] = {"leaf": generation}
    run = harness.run("cpc-a", event_bus=bus, stack_outputs={CSC_REF: csc_outputs})
    assert run.error is None, run.errors()
    return run


def test_a_cpc_pre_publishes_its_next_leaf_key_and_the_csc_admits_it(cpc_a: harness.Run, csc: harness.Run) -> None:
    current, upcoming = cpc_a.outputs["leafPublicKeys"]["CSC"], cpc_a.outputs["nextLeafPublicKeys"]["CSC"]
    assert dialling(cpc_a) == current != upcoming
    assert admitted(csc, "a") == {current, upcoming}


def test_rotating_a_cpcs_leaf_key_twice_never_dials_with_a_key_its_csc_does_not_admit(
    csc_first: harness.Run, cpc_a: harness.Run, cpc_b: harness.Run, csc: harness.Run
) -> None:
    last_csc, retired = csc, cpc_a.outputs["leafPublicKeys"]["CSC"]
    for generation in (1, 2):
        cpc = _rotated(generation, csc_first.outputs)  # pulumi up -s cpc-a
        assert dialling(cpc) in admitted(last_csc, "a")  # admitted before the CPC switched to it
        assert dialling(cpc) != retired
        last_csc = harness.run(  # pulumi up -s csc
            "csc", stack_outputs={CPC_REFS["cpc-a"]: cpc.outputs, CPC_REFS["cpc-b"]: cpc_b.outputs}
        )
        assert dialling(cpc) in admitted(last_csc, "a")
        assert retired not in admitted(last_csc, "a")  # the old key is refused from the CSC's up on
        retired = dialling(cpc)


def test_a_cpc_that_exports_no_next_key_is_admitted_with_its_current_key_alone(
    cpc_a: harness.Run, cpc_b: harness.Run
) -> None:
    outputs = {k: v for k, v in cpc_a.outputs.items() if k != "nextLeafPublicKeys"}
    run = harness.run("csc", stack_outputs={CPC_REFS["cpc-a"]: outputs, CPC_REFS["cpc-b"]: cpc_b.outputs})
    assert admitted(run, "a") == {cpc_a.outputs["leafPublicKeys"]["CSC"]}
