"""Sizing under Pulumi's mocks: every workload's resources from the config (upstream's by default), the
auth-callout's replicas and PodDisruptionBudget, Surveyor's JetStream metrics and the alerts the program declares."""

from __future__ import annotations

from typing import Any

from tests.program import harness
from tests.program.harness import Run, unwrap

UPSTREAM_SMALL = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "128Mi"}}


def _object(run: Run, kind: str, name: str) -> dict[str, Any]:
    inputs: dict[str, Any] = unwrap(run.k8s_objects()[(kind, name)].inputs)
    return inputs


def test_the_auth_callout_runs_two_pods_with_upstreams_resources_and_a_disruption_budget(cpc_a: Run) -> None:
    deployment = _object(cpc_a, "Deployment", "dsx-auth-callout")
    assert deployment["spec"]["replicas"] == 2  # nats.replicas is 3 in the examples
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["resources"] == UPSTREAM_SMALL
    budget = _object(cpc_a, "PodDisruptionBudget", "dsx-auth-callout")
    assert budget["spec"] == {"maxUnavailable": 1, "selector": deployment["spec"]["selector"]}


def test_every_chart_gets_its_resources_from_the_config(csc: Run) -> None:
    charts = csc.charts()
    assert harness.plain(charts["nack"]["values"]["resources"]) == UPSTREAM_SMALL
    assert harness.plain(charts["dsx-surveyor"]["values"]["resources"]) == UPSTREAM_SMALL
    nats = harness.plain(charts["nats"]["values"]["container"])
    assert nats["merge"]["resources"]["limits"] == {"cpu": "1000m", "memory": "2Gi"}
    assert nats["env"]["GOMEMLIMIT"] == "1638MiB"
    mtls = harness.plain(charts["nats-mtls"]["values"]["container"])
    assert mtls["merge"]["resources"]["limits"] == {"cpu": "500m", "memory": "1Gi"}


def test_a_larger_nats_memory_limit_moves_gomemlimit_with_it_and_a_single_server_gets_one_callout() -> None:
    bus = harness.stack_config("cpc-a")["dsx-bus:eventBus"]
    bus = {
        **bus,
        "resources": {"nats": {"limits": {"memory": "4Gi"}}},
        "nats": {"replicas": 1},
        "mqttStreams": {"replicas": 1},
    }
    run = harness.run("cpc-a", event_bus=bus, stack_outputs={"organization/dsx-bus/csc": {}})
    assert run.error is None
    nats = harness.plain(run.charts()["nats"]["values"]["container"])
    assert nats["env"]["GOMEMLIMIT"] == "3276MiB"
    assert _object(run, "Deployment", "dsx-auth-callout")["spec"]["replicas"] == 1
    assert ("PodDisruptionBudget", "dsx-auth-callout") not in run.k8s_objects()


def test_surveyor_collects_jetstream_metrics_of_every_account(csc: Run) -> None:
    config = harness.plain(csc.charts()["dsx-surveyor"]["values"]["config"])
    assert config["jsz"] == "all" and config["accounts"] is True


def test_the_csc_alerts_on_missing_cpc_leafs_source_lag_and_the_auth_callout(csc: Run) -> None:
    rules = _object(csc, "PrometheusRule", "dsx-alerts")["spec"]["groups"][0]["rules"]
    names = [(r["alert"], r["labels"].get("cpc") or r["labels"].get("account")) for r in rules]
    assert ("NATSCpcLeafsMissing", "CSC") in names and ("NATSCpcLeafsMissing", "LaunchLayer") in names
    assert ("NATSStreamSourceLag", "a") in names and ("NATSStreamSourceLag", "b") in names
    assert {"AuthCalloutErrors", "AuthCalloutDisconnected", "NATSSlowConsumers"} <= {r["alert"] for r in rules}


def test_a_cpc_with_alerts_watches_each_of_its_leafs_to_the_csc_by_name() -> None:
    bus = harness.stack_config("cpc-a")["dsx-bus:eventBus"]
    bus = {**bus, "monitoring": {"alerts": {"enabled": True, "team": "ops"}}}
    run = harness.run("cpc-a", event_bus=bus, stack_outputs={"organization/dsx-bus/csc": {}})
    assert run.error is None
    rules = _object(run, "PrometheusRule", "dsx-alerts")["spec"]["groups"][0]["rules"]
    lost = [r for r in rules if r["alert"] == "NATSLeafToCscLost"]
    assert [(r["labels"]["cpc"], r["labels"]["account"], r["labels"]["team"]) for r in lost] == [
        ("a", "CSC", "ops"),
        ("a", "LaunchLayer", "ops"),
    ]
    assert not [r for r in rules if r["alert"] in ("NATSCpcLeafsMissing", "NATSStreamSourceLag")]
