"""A new key generation rolls exactly the workloads that read that key, across stacks, and nothing else.

Each case runs the program twice, differing only in one `keyGenerations` value, and diffs the pod-template
checksum of every workload (dsxbus.rollout): the stacks that carry the key, and the CSC that admits a CPC's leaf
keys with what that CPC exports.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dsxbus import natsconf, rollout
from tests.program import harness
from tests.program.conftest import CSC_REF

WORKLOADS = ("nats", "nats-mtls", "auth-callout", "nack", "surveyor")
CPC_REFS = {"cpc-a": "organization/dsx-bus/cpc-a", "cpc-b": "organization/dsx-bus/cpc-b"}


def pod_annotations(run: harness.Run) -> dict[str, str]:
    """Every workload's rollout checksum, by workload."""
    assert run.error is None, run.error
    charts = run.charts()
    surveyor = next(name for name in charts if name.endswith("-surveyor"))
    deployment = next(c for (kind, name), c in run.k8s_objects().items() if kind == "Deployment")
    template = harness.unwrap(deployment.inputs)["spec"]["template"]
    return {
        "nats": charts["nats"]["values"]["podTemplate"]["merge"]["metadata"]["annotations"][rollout.ANNOTATION],
        "nats-mtls": charts["nats-mtls"]["values"]["podTemplate"]["merge"]["metadata"]["annotations"][
            rollout.ANNOTATION
        ],
        "auth-callout": template["metadata"]["annotations"][rollout.AUTH_CALLOUT_ANNOTATION],
        "nack": charts["nack"]["values"]["podAnnotations"][rollout.ANNOTATION],
        "surveyor": charts[surveyor]["values"]["podAnnotations"][rollout.ANNOTATION],
    }


def with_generation(stack: str, family: str, generation: int) -> dict[str, Any]:
    bus: dict[str, Any] = copy.deepcopy(harness.stack_config(stack)["dsx-bus:eventBus"])
    bus["keyGenerations"] = {family: generation}
    return bus


def rolled(before: harness.Run, after: harness.Run) -> set[str]:
    old, new = pod_annotations(before), pod_annotations(after)
    assert set(old) == set(WORKLOADS)
    return {workload for workload in WORKLOADS if old[workload] != new[workload]}


@pytest.mark.parametrize(
    ("family", "readers"),
    [
        ("authCallout", {"nats", "nats-mtls", "auth-callout"}),
        ("nack", {"nack", "auth-callout"}),
        ("surveyor", {"surveyor", "auth-callout"}),
        ("mtlsLeaf", {"nats-mtls", "auth-callout"}),
    ],
)
def test_a_new_service_key_generation_rolls_exactly_the_workloads_that_read_that_key(
    csc_first: harness.Run, family: str, readers: set[str]
) -> None:
    after = harness.run("csc", event_bus=with_generation("csc", family, 1))
    assert rolled(csc_first, after) == readers


def test_a_cpcs_new_leaf_key_rolls_its_nats_and_on_the_csc_the_auth_callout_that_admits_it(
    csc_first: harness.Run, cpc_a: harness.Run, cpc_b: harness.Run, csc: harness.Run
) -> None:
    rotated = harness.run(
        "cpc-a", event_bus=with_generation("cpc-a", "leaf", 1), stack_outputs={CSC_REF: csc_first.outputs}
    )
    assert rolled(cpc_a, rotated) == {"nats"}
    assert rotated.outputs["leafPublicKeys"] != cpc_a.outputs["leafPublicKeys"]
    csc_after = harness.run("csc", stack_outputs={CPC_REFS["cpc-a"]: rotated.outputs, CPC_REFS["cpc-b"]: cpc_b.outputs})
    assert rolled(csc, csc_after) == {"auth-callout"}


def test_an_unchanged_config_rolls_nothing(csc: harness.Run, cpc_a: harness.Run, cpc_b: harness.Run) -> None:
    again = harness.run("csc", stack_outputs={CPC_REFS["cpc-a"]: cpc_a.outputs, CPC_REFS["cpc-b"]: cpc_b.outputs})
    assert rolled(csc, again) == set()


def test_generation_zero_draws_the_keys_stacks_had_before_generations_existed(csc_first: harness.Run) -> None:
    entropy = [r for r in csc_first.registered("randomBytes:RandomBytes")]
    assert entropy and all("keepers" not in harness.unwrap(r.inputs) for r in entropy)


FAMILY_SECRETS = {
    "authCallout": {"auth-callout-keys", "nats-auth-signing", "nats-xkey", "nats-authx-user"},
    "nack": {"nats-nack-user"},
    "surveyor": {"nats-surveyor"},
    "mtlsLeaf": {"nats-mtls-leaf", "nats-mtls-authx-leaf", "nats-mtls-sys-leaf"},
}


@pytest.mark.parametrize("family", sorted(FAMILY_SECRETS))
def test_a_new_generation_draws_new_keys_for_its_family_only(csc_first: harness.Run, family: str) -> None:
    def secrets(run: harness.Run) -> dict[str, Any]:
        return {
            name: harness.unwrap(c.inputs).get("stringData")
            for (kind, name), c in run.k8s_objects().items()
            if kind == "Secret"
        }

    before, after = secrets(csc_first), secrets(harness.run("csc", event_bus=with_generation("csc", family, 2)))
    assert {name for name in before if before[name] != after[name]} == FAMILY_SECRETS[family]


def with_endpoint(image: str, endpoint: str) -> dict[str, Any]:
    bus: dict[str, Any] = copy.deepcopy(harness.stack_config("cpc-a")["dsx-bus:eventBus"])
    bus["cscEndpoint"] = endpoint
    bus.setdefault("images", {})["nats"] = image
    return bus


@pytest.mark.parametrize(("version", "rolls"), [("2.12.6", True), ("2.15.1", False)])
def test_a_changed_leaf_remote_rolls_nats_only_where_a_reload_cannot_apply_it(
    csc_first: harness.Run, version: str, rolls: bool
) -> None:
    runs = [
        harness.run(
            "cpc-a",
            event_bus=with_endpoint(f"nats:{version}-alpine", endpoint),
            stack_outputs={CSC_REF: csc_first.outputs},
        )
        for endpoint in ("nats://leaf-1.example.com:7422", "nats://leaf-2.example.com:7422")
    ]
    assert rolled(*runs) == ({"nats"} if rolls else set())


def mtls_certificate(run: harness.Run) -> dict[str, Any]:
    assert run.error is None, run.error
    spec: dict[str, Any] = harness.unwrap(run.k8s_objects()[("Certificate", "nats-mtls-server-tls")].inputs)["spec"]
    return spec


def test_a_new_mtls_server_generation_reissues_the_certificate_with_a_new_key_and_rolls_nothing(
    csc_first: harness.Run,
) -> None:
    after = harness.run("csc", event_bus=with_generation("csc", "mtlsServer", 1))
    old, new = mtls_certificate(csc_first), mtls_certificate(after)
    # cert-manager re-issues when the spec's subject no longer matches its last CertificateRequest
    # (dsxbus.rotation.mtls_server_certificate_fields), and draws a new key for it.
    assert "subject" not in old
    assert new["subject"] == {"serialNumber": "dsx-bus-generation-1"}
    assert old["privateKey"] == new["privateKey"] == {"rotationPolicy": "Always"}
    assert {k: v for k, v in new.items() if k != "subject"} == old
    # nats-mtls's reloader picks up the re-issued files: no workload restarts.
    assert rolled(csc_first, after) == set()


def with_cpc_c(image: str, added: bool) -> dict[str, Any]:
    bus: dict[str, Any] = copy.deepcopy(harness.stack_config("csc")["dsx-bus:eventBus"])
    if added:
        bus["cpcs"]["c"] = "organization/dsx-bus/cpc-c"
    bus.setdefault("images", {})["nats"] = image
    return bus


def server_configs(run: harness.Run) -> dict[str, dict[str, Any]]:
    assert run.error is None, run.error
    charts = run.charts()
    return {name: charts[name]["values"]["config"]["merge"] for name in ("nats", "nats-mtls")}


def accounts_files(run: harness.Run) -> dict[str, Any]:
    """The CSC's `nats-accounts-<n>` ConfigMaps' data (render.sharded_nats_conf)."""
    return {
        name: harness.unwrap(captured.inputs)["data"]
        for (kind, name), captured in run.k8s_objects().items()
        if kind == "ConfigMap" and name.startswith("nats-accounts-")
    }


@pytest.mark.parametrize("version", ["2.12.6", "2.15.1"])
def test_an_added_cpc_is_reloaded_on_every_version_because_the_mqtt_block_sets_max_ack_pending(version: str) -> None:
    """Before 2.15.1 a reload with max_ack_pending unset can silence held QoS 1 subscriptions
    (versions.MQTT_RELOAD_KEEPS_MAX_ACK_PENDING); written out, the reload is safe and nothing needs to roll."""
    before, after = (
        harness.run("csc", event_bus=with_cpc_c(f"nats:{version}-alpine", added)) for added in (False, True)
    )
    # The reloader reloads nats: the CPC's account (and its imports and exports in CSC and SOURCES) are in the
    # accounts file nats.conf includes, which it watches.
    assert accounts_files(before) != accounts_files(after)
    assert server_configs(before)["nats"] == server_configs(after)["nats"]
    assert rolled(before, after) == {"auth-callout"}  # which admits the new CPC's leaf key; nats only reloads
    for config in server_configs(after).values():
        assert config["mqtt"]["max_ack_pending"] == natsconf.MQTT_MAX_ACK_PENDING
