"""What one stack exports reaches the right places in the other stacks."""

from __future__ import annotations

import json
from typing import Any

from dsxbus import versions
from tests.program import harness
from tests.program.conftest import CSC_REF
from tests.program.harness import Run, unwrap


def _pubkey(run: Run, secret: str) -> Any:
    return unwrap(run.k8s_objects()[("Secret", secret)].inputs)["stringData"]["pubkey"]


def _permissions(run: Run) -> Any:
    data = unwrap(run.k8s_objects()[("ConfigMap", "auth-callout-permissions")].inputs)["data"]
    return json.loads(data["permissions.json"])


def test_the_csc_reads_each_cpc_stack_by_its_diy_name(csc: Run) -> None:
    reads = [c for c in csc.captured if c.op == "read" and c.type == "pulumi:pulumi:StackReference"]
    assert sorted(unwrap(r.inputs)["name"] for r in reads) == [
        "organization/dsx-bus/cpc-a",
        "organization/dsx-bus/cpc-b",
    ]


def test_a_cpc_public_key_lands_in_the_csc_leaf_pubkey_secret(csc: Run, cpc_a: Run, cpc_b: Run) -> None:
    assert _pubkey(csc, "nats-leaf-cpc-a") == cpc_a.outputs["leafPublicKeys"]["CSC"]
    assert _pubkey(csc, "nats-leaf-launchlayer-cpc-a") == cpc_a.outputs["leafPublicKeys"]["LaunchLayer"]
    assert _pubkey(csc, "nats-leaf-cpc-b") == cpc_b.outputs["leafPublicKeys"]["CSC"]
    assert csc.outputs["pendingCpcs"] == []
    assert {"leaf-cpc-a", "leaf-cpc-b", "leaf-launchlayer-cpc-a"} <= set(_permissions(csc)["nkey"])


def test_the_csc_derives_a_cpc_leaf_permissions_from_the_lists_that_cpc_exports(cpc_a: Run, cpc_b: Run) -> None:
    b = dict(cpc_b.outputs, crossLayer={"cscExports": ["alerts.>"], "cscPrefixedExports": [], "cpcExports": []})
    run = harness.run(
        "csc", stack_outputs={"organization/dsx-bus/cpc-a": cpc_a.outputs, "organization/dsx-bus/cpc-b": b}
    )
    nkey = _permissions(run)["nkey"]
    assert "alerts.>" in nkey["leaf-cpc-b"]["permissions"]["sub"]["allow"]
    assert "alerts.>" not in nkey["leaf-cpc-a"]["permissions"]["sub"]["allow"]
    assert "broadcast.>" in nkey["leaf-cpc-a"]["permissions"]["sub"]["allow"]


def test_a_cpc_exports_its_own_cross_layer_override(cpc_b: Run, cpc_a: Run) -> None:
    assert cpc_b.outputs["crossLayer"]["cpcExports"] == ["sensor.>", "status.>"]
    assert cpc_a.outputs["crossLayer"]["cpcExports"] == ["sensor.>"]  # inherited from the CSC
    assert cpc_a.outputs["clusterId"] == "a"


def test_an_explicit_csc_endpoint_wins_over_the_csc_stack(csc_first: Run) -> None:
    bus = dict(harness.stack_config("cpc-a")["dsx-bus:eventBus"], cscEndpoint="tls://other.example.com:7422")
    run = harness.run("cpc-a", event_bus=bus, stack_outputs={CSC_REF: csc_first.outputs})
    assert run.error is None
    remotes = run.charts()["nats"]["values"]["config"]["merge"]["leafnodes"]["remotes"]
    assert {r["urls"][0] for r in remotes} == {"tls://other.example.com:7422"}


def test_the_csc_exports_fleet_defaults_as_plain_data(csc_first: Run) -> None:
    fleet = csc_first.outputs["fleetDefaults"]
    assert fleet["crossLayer"]["cscExports"] == ["broadcast.>"]
    assert fleet["jwks"]["issuer"] == "https://idp.dsx.example.com"
    assert csc_first.outputs["leafEndpoint"] == "nats://leaf.csc.dsx.example.com:7422"


def test_a_cpc_exports_the_nats_server_version_its_image_runs(cpc_a: Run) -> None:
    assert cpc_a.outputs["natsServerVersion"] == versions.DEPLOYED


def _leaf_pub_allow(cpc_a: Run, cpc_b: Run, version_a: str | None) -> list[str]:
    outputs_a = {k: v for k, v in cpc_a.outputs.items() if k != "natsServerVersion"}
    if version_a is not None:
        outputs_a["natsServerVersion"] = version_a
    run = harness.run(
        "csc",
        stack_outputs={"organization/dsx-bus/cpc-a": outputs_a, "organization/dsx-bus/cpc-b": cpc_b.outputs},
    )
    assert run.error is None, run.errors()
    allow: list[str] = _permissions(run)["nkey"]["leaf-cpc-a"]["permissions"]["pub"]["allow"]
    return allow


def test_the_csc_shapes_a_cpc_leaf_permissions_for_the_nats_server_that_cpc_exports(cpc_a: Run, cpc_b: Run) -> None:
    assert "sensor.>" in _leaf_pub_allow(cpc_a, cpc_b, "2.12.6")
    assert "sensor.>" not in _leaf_pub_allow(cpc_a, cpc_b, "2.15.1")


def test_a_cpc_that_exports_no_nats_server_version_gets_the_shape_every_version_routes(cpc_a: Run, cpc_b: Run) -> None:
    assert "sensor.>" in _leaf_pub_allow(cpc_a, cpc_b, None)


def _leaf_urls(run: Run) -> set[str]:
    remotes = run.charts()["nats"]["values"]["config"]["merge"]["leafnodes"]["remotes"]
    return {r["urls"][0] for r in remotes}


def test_a_csc_with_nothing_to_inherit_still_gives_its_cpcs_its_leaf_endpoint() -> None:
    """A CSC with neither crossLayer nor jwks exports `fleetDefaults: {}`: deployed, with nothing to inherit."""
    bus = dict(harness.stack_config("cpc-a")["dsx-bus:eventBus"])
    # Nothing that needs what such a CSC cannot give: OAuth2 (jwks), Sveltos on a CSC subject (cross-layer lists).
    bus["auth"] = {**bus["auth"], "permissions": {**bus["auth"]["permissions"], "oauth2": {}}}
    bus["sveltos"] = {"enabled": False}
    outputs = {"clusterType": "csc", "leafEndpoint": "nats://leaf.csc.example.com:7422", "fleetDefaults": {}}
    run = harness.run("cpc-a", event_bus=bus, stack_outputs={CSC_REF: outputs})
    assert run.error is None
    assert _leaf_urls(run) == {"nats://leaf.csc.example.com:7422"}
    assert not [w for w in run.warnings() if "fleetDefaults" in w]


def test_a_csc_exporting_a_leaf_endpoint_but_no_fleet_defaults_still_gives_its_cpcs_the_endpoint() -> None:
    outputs = {"clusterType": "csc", "leafEndpoint": "nats://leaf.csc.example.com:7422"}
    run = harness.run("cpc-a", stack_outputs={CSC_REF: outputs})
    assert run.error is None
    assert _leaf_urls(run) == {"nats://leaf.csc.example.com:7422"}
    assert [w for w in run.warnings() if "exports no fleetDefaults yet" in w]


def _csc_without_uplinks(cpc_a: Run, cpc_b: Run) -> Run:
    bus = harness.stack_config("csc")["dsx-bus:eventBus"]
    bus["mqttStreams"] = {"uplinks": False}  # upstream's behaviour
    outputs = {"organization/dsx-bus/cpc-a": cpc_a.outputs, "organization/dsx-bus/cpc-b": cpc_b.outputs}
    run = harness.run("csc", event_bus=bus, stack_outputs=outputs)
    assert run.error is None, run.errors()
    return run


def test_a_csc_without_uplinks_declares_no_uplink_stream_and_grants_no_cpc_their_subjects(
    csc: Run, cpc_a: Run, cpc_b: Run
) -> None:
    run = _csc_without_uplinks(cpc_a, cpc_b)
    streams = {name for kind, name in run.k8s_objects() if kind == "Stream"}
    assert "mqtt-msgs-cpc-a" in streams and not [s for s in streams if "-from-cpc-" in s]
    assert "sources" not in unwrap(run.k8s_objects()[("Stream", "mqtt-msgs")].inputs)["spec"]
    for cid in "ab":
        grant = _permissions(run)["nkey"][f"leaf-cpc-{cid}"]["permissions"]
        assert not {f"cpc2csc.{cid}.>", "$JSC.R.>"} & set(grant["pub"]["allow"])
        assert not {"$JS.FC.$MQTT_msgs.>", "$JS.FC.$MQTT_rmsgs.>"} & set(grant["sub"]["allow"])
    # Positive control: the example CSC (uplinks on, the default) declares and grants them.
    assert ("Stream", "mqtt-msgs-from-cpc-a") in csc.k8s_objects()
    assert "cpc2csc.a.>" in _permissions(csc)["nkey"]["leaf-cpc-a"]["permissions"]["pub"]["allow"]
