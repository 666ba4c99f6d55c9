"""The Kubernetes objects and charts each example stack declares, against the upstream inventory."""

from __future__ import annotations

from tests.program.harness import Run, unwrap

# INVENTORY §1 minus the objects the nats/nack/surveyor charts render (they are chart children), minus
# nats-accounts-config / nats-leafnodes-config / nats-mtls-accounts-config (the whole config is in
# `config.merge`), plus what dsx-bus adds: the namespace, the NKey Secrets of §2 and the mTLS Certificate.
COMMON = {
    ("Namespace", "dsx"),
    ("ConfigMap", "nats-env-config"),
    ("ConfigMap", "auth-callout-permissions"),
    ("ConfigMap", "dsx-auth-callout-config"),
    ("ServiceAccount", "dsx-auth-callout"),
    ("Deployment", "dsx-auth-callout"),
    ("PodDisruptionBudget", "dsx-auth-callout"),  # two callout pods in front of three nats servers (sizing)
    ("Service", "dsx-auth-callout"),
    ("Service", "dsx-auth-callout-metrics"),
    ("ServiceMonitor", "dsx-auth-callout"),
    ("PodMonitor", "nack"),
    ("Stream", "mqtt-msgs"),
    ("Stream", "mqtt-rmsgs"),
    ("Stream", "mqtt-sess"),
    ("Stream", "mqtt-qos2in"),
    ("Stream", "mqtt-out"),
    ("TCPRoute", "nats-mqtt"),
    ("TCPRoute", "nats-client"),
    ("TCPRoute", "nats-leafnode"),
    ("TLSRoute", "nats-mqtt-mtls"),
    ("Certificate", "nats-mtls-server-tls"),
    ("Secret", "nats-auth-signing"),
    ("Secret", "nats-xkey"),
    ("Secret", "nats-authx-user"),
    ("Secret", "auth-callout-keys"),
    ("Secret", "nats-nack-user"),
    ("Secret", "nats-surveyor"),
    ("Secret", "nats-mtls-leaf"),
    ("Secret", "nats-mtls-authx-leaf"),
    ("Secret", "nats-mtls-sys-leaf"),
}
CSC_ONLY = {
    # Its accounts that grow with its CPCs, which nats.conf includes (render.sharded_nats_conf): two CPCs, one.
    ("ConfigMap", "nats-accounts-0"),
    ("Secret", "nats-leaf-cpc-a"),
    ("Secret", "nats-leaf-launchlayer-cpc-a"),
    ("Secret", "nats-leaf-cpc-b"),
    ("Secret", "nats-leaf-launchlayer-cpc-b"),
    # What each CPC sources of the CSC's MQTT streams, apart (dsxbus.streams: its leaf reaches nothing else).
    ("Stream", "mqtt-msgs-cpc-a"),
    ("Stream", "mqtt-rmsgs-cpc-a"),
    ("Stream", "mqtt-msgs-cpc-b"),
    ("Stream", "mqtt-rmsgs-cpc-b"),
    # What the CSC sources of each CPC's MQTT streams (QoS 1 and retained up), before its own streams take it.
    ("Stream", "mqtt-msgs-from-cpc-a"),
    ("Stream", "mqtt-rmsgs-from-cpc-a"),
    ("Stream", "mqtt-msgs-from-cpc-b"),
    ("Stream", "mqtt-rmsgs-from-cpc-b"),
    ("PrometheusRule", "dsx-alerts"),
    ("ConfigMap", "dsx-surveyor-dashboard"),
}
CPC_ONLY = {("Secret", "nats-leaf-csc"), ("Secret", "nats-leaf-launchlayer-csc")}
# Where `sveltos.enabled` (the CSC and cpc-a examples): outside the bus namespace by design.
SVELTOS = {
    ("Certificate", "sveltos-nats-client-tls"),
    ("Secret", "sveltos-nats"),  # namespace projectsveltos, where the agent reads it
    ("EventSource", "user-operation"),  # cluster-scoped
    ("EventTrigger", "user-operation"),  # cluster-scoped
    ("ConfigMap", "namespace-template"),  # namespace default, as the rule says
    # The CronJob keeping sveltos-nats on the renewed certificate (dsxbus.sveltos.sync), its script and template,
    # and its rights: a Role + RoleBinding in the bus namespace and in projectsveltos each (same name).
    ("CronJob", "sveltos-nats-sync"),
    ("ConfigMap", "sveltos-nats-sync"),
    ("ServiceAccount", "sveltos-nats-sync"),
    ("Role", "sveltos-nats-sync"),
    ("RoleBinding", "sveltos-nats-sync"),
}
CHARTS = {
    "nats": ("nats", "2.12.6"),
    "nats-mtls": ("nats", "2.12.6"),
    "nack": ("nack", "0.33.2"),
    "dsx-surveyor": ("surveyor", "0.20.7"),
}


def test_the_csc_declares_the_upstream_objects_and_one_pubkey_secret_per_cpc_and_account(csc: Run) -> None:
    assert set(csc.k8s_objects()) == COMMON | CSC_ONLY | SVELTOS


def test_a_cpc_declares_the_upstream_objects_and_its_own_leaf_seeds(cpc_a: Run, cpc_b: Run) -> None:
    assert set(cpc_a.k8s_objects()) == COMMON | CPC_ONLY | SVELTOS
    assert set(cpc_b.k8s_objects()) == COMMON | CPC_ONLY


def test_the_upstream_charts_are_installed_at_the_pinned_versions(csc: Run, cpc_a: Run) -> None:
    for run in (csc, cpc_a):
        charts = run.charts()
        assert {name: (c["chart"], c["version"]) for name, c in charts.items()} == CHARTS
        assert {c["repositoryOpts"]["repo"] for c in charts.values()} == {"https://nats-io.github.io/k8s/helm/charts/"}
        assert {c["namespace"] for c in charts.values()} == {"dsx"}


def test_every_namespaced_object_lands_in_the_stack_namespace(csc: Run, cpc_a: Run) -> None:
    for run in (csc, cpc_a):
        for (kind, name), captured in run.k8s_objects().items():
            if kind != "Namespace" and (kind, name) not in SVELTOS - {("Certificate", "sveltos-nats-client-tls")}:
                assert unwrap(captured.inputs)["metadata"]["namespace"] == "dsx", (kind, name)


def test_every_resource_sits_in_a_dsx_bus_component_and_uses_the_explicit_provider(csc: Run, cpc_a: Run) -> None:
    for run in (csc, cpc_a):
        providers = run.registered("pulumi:providers:kubernetes")
        assert [p.name for p in providers] == [run.stack]
        components = {c.urn for c in run.registered() if not c.custom and c.type.startswith("dsx-bus:")}
        assert {c.type.split(":")[1] for c in run.registered() if c.type.startswith("dsx-bus:")} >= {
            "csc" if run.stack == "csc" else "cpc",
            "keys",
            "secrets",
            "nats",
            "auth_callout",
            "gateway",
            "streams",
            "monitoring",
            "nack",
            "surveyor",
            "certificates",
        }
        for captured in run.registered():
            if captured.type.startswith("pulumi:providers:") or captured.type.startswith(
                ("dsx-bus:csc", "dsx-bus:cpc")
            ):
                continue
            assert captured.parent in components, (captured.type, captured.name)
            if captured.type.startswith("kubernetes:"):
                assert f"pulumi:providers:kubernetes::{run.stack}::" in captured.provider, captured.name


def test_child_names_start_with_the_cluster_name_so_stacks_never_collide(csc: Run, cpc_a: Run) -> None:
    for run in (csc, cpc_a):
        names = [c.name for c in run.captured if not c.type.startswith("pulumi:providers:")]
        assert all(name.startswith(f"{run.stack}") for name in names), names
        urns = [c.urn for c in run.captured]
        assert len(urns) == len(set(urns))


def test_the_kubernetes_context_of_the_stack_is_used(csc: Run) -> None:
    (provider,) = csc.registered("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "csc"
