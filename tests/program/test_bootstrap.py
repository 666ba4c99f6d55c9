"""Stacks deployed out of order or partially: warn and keep going, never crash; config decides the resource set."""

from __future__ import annotations

import json
from typing import Any

from tests.program import harness
from tests.program.harness import UNKNOWN, Run, unwrap


def _permissions(run: Run) -> Any:
    data = unwrap(run.k8s_objects()[("ConfigMap", "auth-callout-permissions")].inputs)["data"]
    return json.loads(data["permissions.json"])


def _checksum(run: Run) -> Any:
    deployment = unwrap(run.k8s_objects()[("Deployment", "dsx-auth-callout")].inputs)
    return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_a_csc_before_any_cpc_lists_them_pending_and_warns(csc_first: Run) -> None:
    assert csc_first.error is None
    assert csc_first.outputs["pendingCpcs"] == ["a", "b"]
    warnings = [w for w in csc_first.warnings() if "has not been deployed yet" in w]
    assert len(warnings) == 2 and "organization/dsx-bus/cpc-a" in warnings[0]


def test_a_pending_cpc_gets_an_empty_key_secret_and_no_permission_entry(csc_first: Run) -> None:
    # The Secret exists so the auth-callout's non-optional secretKeyRef lets the pod start.
    secret = unwrap(csc_first.k8s_objects()[("Secret", "nats-leaf-cpc-a")].inputs)
    assert secret["stringData"] == {"pubkey": ""}
    assert not [name for name in _permissions(csc_first)["nkey"] if name.startswith("leaf-")]


def test_the_auth_callout_restarts_when_a_pending_cpc_arrives(csc_first: Run, csc: Run) -> None:
    assert _checksum(csc_first) != _checksum(csc)


def test_one_deployed_and_one_pending_cpc(cpc_a: Run) -> None:
    run = harness.run("csc", stack_outputs={"organization/dsx-bus/cpc-a": cpc_a.outputs})
    assert run.outputs["pendingCpcs"] == ["b"]
    assert "leaf-cpc-a" in _permissions(run)["nkey"] and "leaf-cpc-b" not in _permissions(run)["nkey"]


def test_a_cpc_before_its_csc_runs_on_a_placeholder_endpoint_and_warns() -> None:
    run = harness.run("cpc-a")  # the CSC stack exists but was never deployed: no outputs
    assert run.error is None
    assert run.outputs["cscEndpoint"] == "nats://csc-leaf.invalid:7422"
    remotes = run.charts()["nats"]["values"]["config"]["merge"]["leafnodes"]["remotes"]
    assert {r["urls"][0] for r in remotes} == {"nats://csc-leaf.invalid:7422"}
    assert any("exports no leafEndpoint" in w for w in run.warnings())
    assert any("exports no fleetDefaults" in w for w in run.warnings())
    assert run.outputs["crossLayer"] is None  # unknown yet: the CSC uses its fleet defaults meanwhile
    assert set(run.outputs["leafPublicKeys"]) == {"CSC", "LaunchLayer"}


def test_a_cpc_removed_from_the_csc_config_loses_its_resources(csc: Run, cpc_a: Run) -> None:
    bus = harness.stack_config("csc")["dsx-bus:eventBus"]
    bus["cpcs"] = {"a": "organization/dsx-bus/cpc-a"}
    run = harness.run("csc", event_bus=bus, stack_outputs={"organization/dsx-bus/cpc-a": cpc_a.outputs})
    assert run.error is None
    removed = set(csc.k8s_objects()) - set(run.k8s_objects())
    assert removed == {
        ("Secret", "nats-leaf-cpc-b"),
        ("Secret", "nats-leaf-launchlayer-cpc-b"),
        ("Stream", "mqtt-msgs-cpc-b"),
        ("Stream", "mqtt-rmsgs-cpc-b"),
        ("Stream", "mqtt-msgs-from-cpc-b"),
        ("Stream", "mqtt-rmsgs-from-cpc-b"),
    }
    assert not [c for c in run.captured if c.name.startswith("csc-cpc-b")]
    assert "leaf-cpc-b" not in _permissions(run)["nkey"]
    deployment = unwrap(run.k8s_objects()[("Deployment", "dsx-auth-callout")].inputs)
    env = [e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert not [n for n in env if "_CPC_b_" in n]


def test_a_preview_with_unknown_random_bytes_still_declares_everything(csc_first: Run) -> None:
    run = harness.run("csc", preview=True)
    assert run.error is None
    keys = run.k8s_objects()[("Secret", "auth-callout-keys")]
    assert UNKNOWN in json.dumps(keys.inputs)  # the seeds really are unknown in this preview
    cpc = harness.run("cpc-a", preview=True, stack_outputs={"organization/dsx-bus/csc": csc_first.outputs})
    assert cpc.error is None
    assert set(cpc.k8s_objects()) == {k for k in harness.run("cpc-a").k8s_objects()}


def test_a_cpc_without_a_csc_extra_account_key_is_warned_about(cpc_a: Run) -> None:
    outputs = dict(cpc_a.outputs, leafPublicKeys={"CSC": cpc_a.outputs["leafPublicKeys"]["CSC"]})
    run = harness.run("csc", stack_outputs={"organization/dsx-bus/cpc-a": outputs})
    assert any("exports no leaf key for LaunchLayer" in w for w in run.warnings())
    secret = unwrap(run.k8s_objects()[("Secret", "nats-leaf-launchlayer-cpc-a")].inputs)
    assert secret["stringData"] == {"pubkey": ""}
