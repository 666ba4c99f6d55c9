"""Chart values, ConfigMaps and CRs carry exactly what the domain core renders for the same config."""

from __future__ import annotations

import json
from typing import Any

import yaml

from dsxbus import naming, natsconf, permissions, render, stackfile, streams
from dsxbus.config import CrossLayer, EventBus, fleet_defaults, inherit
from tests.program import harness
from tests.program.harness import Run, unwrap


def _bus(run: Run) -> EventBus:
    return stackfile.parse(run.config["dsx-bus:eventBus"])[0]


def _effective_cpc(cpc: Run, csc: Run) -> tuple[EventBus, str]:
    csc_bus = _bus(csc)
    return inherit(_bus(cpc), fleet_defaults(csc_bus)), csc_bus.leaf_endpoint or ""


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _exported_lists(*cpcs: Run) -> dict[str, CrossLayer]:
    return {cpc.stack.removeprefix("cpc-"): CrossLayer.model_validate(cpc.outputs["crossLayer"]) for cpc in cpcs}


def test_the_nats_charts_get_the_core_rendered_config_as_config_merge(csc: Run, cpc_a: Run, cpc_b: Run) -> None:
    # The CSC's accounts follow the lists each CPC's stack exports (each CPC's account there).
    csc_files = render.cluster_files(_bus(csc), cpc_lists=_exported_lists(cpc_a, cpc_b))
    bus, endpoint = _effective_cpc(cpc_a, csc)
    cpc_files = render.cluster_files(bus, csc_endpoint=endpoint)
    for run, files in ((csc, csc_files), (cpc_a, cpc_files)):
        charts = run.charts()
        conf = render.sharded_nats_conf(_bus(run), files.nats_conf)
        assert harness.plain(charts["nats"]["values"]["config"]["merge"]) == _json(natsconf.chart_merge(conf.tree))
        # The CSC's accounts that grow with its CPCs, as the ConfigMaps it includes hold them (a CPC has none).
        written = {
            name: unwrap(captured.inputs)["data"]
            for (kind, name), captured in run.k8s_objects().items()
            if kind == "ConfigMap" and name.startswith("nats-accounts-")
        }
        assert written == {shard.name: {naming.ACCOUNTS_FILE: shard.text} for shard in conf.shards}
        assert bool(written) == (run is csc)
        assert files.nats_mtls_conf is not None
        assert harness.plain(charts["nats-mtls"]["values"]["config"]["merge"]) == _json(
            natsconf.chart_merge(files.nats_mtls_conf)
        )


def test_every_config_variable_comes_from_an_upstream_secret_or_configmap(csc: Run, cpc_a: Run) -> None:
    bus, endpoint = _effective_cpc(cpc_a, csc)
    files = render.cluster_files(bus, csc_endpoint=endpoint)
    env = cpc_a.charts()["nats"]["values"]["container"]["env"]
    assert set(env) - {"GOMEMLIMIT"} == natsconf.variables_in(files.nats_conf) - {"SERVER_NAME"}
    assert env["LEAF_USER_SEED"] == {"valueFrom": {"secretKeyRef": {"name": "nats-leaf-csc", "key": "seed"}}}
    assert env["LEAF_LAUNCHLAYER_USER_SEED"]["valueFrom"]["secretKeyRef"]["name"] == "nats-leaf-launchlayer-csc"
    mtls_env = cpc_a.charts()["nats-mtls"]["values"]["container"]["env"]
    assert files.nats_mtls_conf is not None
    assert set(mtls_env) == natsconf.variables_in(files.nats_mtls_conf) - {"SERVER_NAME"}
    assert mtls_env["MTLS_SYS_LEAF_USER_SEED"]["valueFrom"]["secretKeyRef"] == {
        "name": "nats-mtls-sys-leaf",
        "key": "seed",
    }


def test_the_cpc_leaf_remotes_dial_the_endpoint_the_csc_stack_exports(cpc_a: Run, csc_first: Run) -> None:
    remotes = cpc_a.charts()["nats"]["values"]["config"]["merge"]["leafnodes"]["remotes"]
    assert {tuple(r["urls"]) for r in remotes} == {(csc_first.outputs["leafEndpoint"],)}
    assert {r["account"] for r in remotes} == {"CSC", "LaunchLayer"}
    assert cpc_a.outputs["cscEndpoint"] == csc_first.outputs["leafEndpoint"]


def test_the_permissions_configmap_is_the_core_permissions_document(csc: Run, cpc_a: Run) -> None:
    bus, _ = _effective_cpc(cpc_a, csc)
    data = unwrap(cpc_a.k8s_objects()[("ConfigMap", "auth-callout-permissions")].inputs)["data"]
    assert data["permissions.json"] == permissions.render(permissions.permissions_document(bus))


def test_a_cpc_auth_callout_inherits_the_csc_jwks(cpc_a: Run) -> None:
    data = unwrap(cpc_a.k8s_objects()[("ConfigMap", "dsx-auth-callout-config")].inputs)["data"]
    config = yaml.safe_load(data["config.yaml"])
    assert config["jwks"]["url"] == "https://idp.dsx.example.com/.well-known/jwks.json"
    assert config["jwks"]["audience"] == "dsx-exchange"
    assert config["nats"]["url"] == "nats://nats:4222"


def test_the_stream_crs_are_the_core_nack_specs_with_inherited_sources(csc: Run, cpc_a: Run, cpc_b: Run) -> None:
    # Each CPC's streams on the CSC follow the lists that CPC's stack exports (cpc-b adds status.>).
    exported = _exported_lists(cpc_a, cpc_b)
    for run in (csc, cpc_a, cpc_b):
        bus = _bus(run) if run.stack == "csc" else _effective_cpc(run, csc)[0]
        objects = run.k8s_objects()
        for stream in streams.mqtt_streams(bus, exported if run.stack == "csc" else None):
            captured = unwrap(objects[("Stream", stream.resource_name)].inputs)
            assert captured["apiVersion"] == "jetstream.nats.io/v1beta2"
            assert harness.plain(captured["spec"]) == _json(streams.nack_spec(stream, bus.mqtt_streams))
    sources = unwrap(cpc_a.k8s_objects()[("Stream", "mqtt-msgs")].inputs)["spec"]["sources"]
    assert sources[0]["subjectTransforms"][0] == {"source": "$MQTT.msgs.broadcast.>", "dest": ""}


def test_the_tlsroute_and_the_certificate_name_the_same_hosts(cpc_a: Run) -> None:
    objects = cpc_a.k8s_objects()
    route = unwrap(objects[("TLSRoute", "nats-mqtt-mtls")].inputs)
    certificate = unwrap(objects[("Certificate", "nats-mtls-server-tls")].inputs)
    assert route["spec"]["hostnames"] == ["mqtt-mtls.cpc-a.dsx.example.com"]
    # With Sveltos on, the in-cluster service names follow: the agent dials nats-mtls over TLS.
    assert certificate["spec"]["dnsNames"] == [
        "mqtt-mtls.cpc-a.dsx.example.com",
        "nats-mtls.dsx.svc.cluster.local",
        "nats-mtls.dsx.svc",
        "nats-mtls",
    ]
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1alpha2"
    assert route["spec"]["rules"] == [{"backendRefs": [{"name": "nats-mtls", "port": 1883}]}]
    assert certificate["spec"]["issuerRef"] == {"name": "dsx-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    for name, port in (("nats-mqtt", 1883), ("nats-client", 4222), ("nats-leafnode", 7422)):
        spec = unwrap(objects[("TCPRoute", name)].inputs)["spec"]
        assert spec["rules"] == [{"backendRefs": [{"name": "nats", "port": port}]}]
        assert "hostnames" not in spec


def test_the_auth_callout_gets_every_key_from_the_upstream_secrets(csc: Run) -> None:
    deployment = unwrap(csc.k8s_objects()[("Deployment", "dsx-auth-callout")].inputs)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs["AUTH_CALLOUT_NATS_ISSUER_SEED"] == {"name": "auth-callout-keys", "key": "issuer-seed"}
    assert refs["NKEY_LEAF_CPC_a_PUBKEY"] == {"name": "nats-leaf-cpc-a", "key": "pubkey"}
    assert refs["NKEY_LEAF_LAUNCHLAYER_CPC_b_PUBKEY"] == {"name": "nats-leaf-launchlayer-cpc-b", "key": "pubkey"}
    assert container["image"] == "registry.dsx.example.com/dsx-exchange/auth-callout:v0.1.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert [p["containerPort"] for p in container["ports"]] == [8000, 9090]
    names = [e["name"] for e in container["env"]]
    assert names[:5] == [
        "AUTH_CALLOUT_SERVICE_NAME",
        "AUTH_CALLOUT_SERVICE_SERVER_PORT",
        "POD_NAME",
        "POD_NAMESPACE",
        "NODE_NAME",
    ]
    assert names[-1] == "AUTH_CALLOUT_MTLS_CA_PATH"


def test_the_csc_alerts_are_upstream_rules_then_dsx_bus_rules_for_its_namespace(csc: Run) -> None:
    rule = unwrap(csc.k8s_objects()[("PrometheusRule", "dsx-alerts")].inputs)
    (group,) = rule["spec"]["groups"]
    assert [r["alert"] for r in group["rules"]][:6] == [
        "NATSSurveyorMetricsAbsent",
        "NATSSurveyIncomplete",
        "NATSRepeatedReconnects",
        "NATSSlowConsumers",
        "NATSHighMemoryUsage",
        "NATSRoutePendingData",
    ]
    assert all('namespace="dsx"' in r["expr"] and r["labels"]["team"] == "dsx" for r in group["rules"])
    dashboard = unwrap(csc.k8s_objects()[("ConfigMap", "dsx-surveyor-dashboard")].inputs)
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    json.loads(dashboard["data"]["nats-surveyor.json"])


def test_leaf_tls_files_the_config_names_are_mounted_into_the_nats_pods() -> None:
    bus = harness.stack_config("csc")["dsx-bus:eventBus"]
    bus["cscLeafServerTLS"] = {"secretName": "leaf-tls", "verify": True}
    run = harness.run("csc", event_bus=bus)
    assert run.error is None, run.errors()
    values = run.charts()["nats"]["values"]
    tls = values["config"]["merge"]["leafnodes"]["tls"]
    assert tls["ca_file"] == "/etc/nats-leaf-tls/ca.crt" and tls["verify"] is True
    # Beside the accounts ConfigMap's mount: the patches add to each other.
    volumes = [p["value"] for p in values["podTemplate"]["patch"]]
    assert volumes == [
        {"name": "nats-leaf-tls", "secret": {"secretName": "leaf-tls"}},
        {"name": "nats-accounts-0", "configMap": {"name": "nats-accounts-0"}},
    ]
    mounts = [p["value"]["mountPath"] for p in values["container"]["patch"] if p["path"] == "/volumeMounts/-"]
    assert mounts == ["/etc/nats-leaf-tls", "/etc/nats-accounts-0"]
    # The chart copies the nats container's mounts under reloader.natsVolumeMountPrefixes (default `/etc/`)
    # into the reloader, which watches the files the config names: a second mount there is refused.
    assert not [p for p in values["reloader"].get("patch", []) if p["path"] == "/volumeMounts/-"]
    prefixes = values["reloader"].get("natsVolumeMountPrefixes", ["/etc/"])
    assert all(any(tls[f].startswith(p) for p in prefixes) for f in ("ca_file", "cert_file", "key_file"))
    assert run.outputs["leafTls"] == {"secretName": "leaf-tls", "caKey": "ca.crt"}


def test_the_reloader_watches_the_leaf_remote_certificates_the_chart_does_not_find(csc_first: Run) -> None:
    # The chart passes the reloader only the cert files it finds in maps; a CPC's are in the leaf remotes list.
    bus = harness.stack_config("cpc-a")["dsx-bus:eventBus"]
    bus["cpcLeafClientTLS"] = {"secretName": "leaf-tls", "mountPath": "/var/lib/nats-leaf-tls"}
    run = harness.run("cpc-a", event_bus=bus, stack_outputs={"organization/dsx-bus/csc": csc_first.outputs})
    assert run.error is None, run.errors()
    reloader = run.charts()["nats"]["values"]["reloader"]
    args = [p["value"] for p in reloader["patch"] if p["path"] == "/args/-"]
    assert args == [
        "-config",
        "/var/lib/nats-leaf-tls/ca.crt",
        "-config",
        "/var/lib/nats-leaf-tls/tls.crt",
        "-config",
        "/var/lib/nats-leaf-tls/tls.key",
    ]
    # Outside `/etc/`, so the chart copies that mount into the reloader only when told to.
    assert reloader["natsVolumeMountPrefixes"] == ["/etc/", "/var/lib/nats-leaf-tls"]


def test_without_mtls_exactly_the_mtls_objects_disappear(cpc_b: Run) -> None:
    # cpc-b: no Sveltos, which needs mTLS.
    bus = harness.stack_config("cpc-b")["dsx-bus:eventBus"]
    bus["mtls"] = {"enabled": False}
    del bus["auth"]["permissions"]["mtls"]
    run = harness.run("cpc-b", event_bus=bus)
    assert run.error is None, run.errors()
    assert set(cpc_b.k8s_objects()) - set(run.k8s_objects()) == {
        ("TLSRoute", "nats-mqtt-mtls"),
        ("Certificate", "nats-mtls-server-tls"),
        ("Secret", "nats-mtls-leaf"),
        ("Secret", "nats-mtls-authx-leaf"),
        ("Secret", "nats-mtls-sys-leaf"),
    }
    assert "nats-mtls" not in run.charts()
