"""Each check fails on the mistake it is there for: the captured values, broken on purpose, then rendered by helm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dsxbus.config import Charts
from tests.charts import helm, serverconf, valuekeys
from tests.charts.cluster import Deployment, changed
from tests.charts.podspec import (
    PodSpec,
    monitor_problems,
    pod_spec_problems,
    pod_specs,
    reference_problems,
    reloader_watch_problems,
    repeated_flags,
    route_problems,
    service_problems,
    watched_files,
)


def _statefulset(deployment: Deployment, release: str) -> PodSpec:
    (pod,) = [p for p in pod_specs(deployment.rendered(release)) if p.owner.startswith("StatefulSet/")]
    return pod


def _load(deployment: Deployment, release: str, binary: str, root: Path) -> serverconf.Loaded:
    identity = serverconf.PodIdentity(f"{release}-0", "dsx")
    return serverconf.load(_statefulset(deployment, release), deployment.inventory(), binary, root, identity)


def test_a_certificate_mount_patched_into_the_reloader_as_well_is_a_duplicate_mount(
    deployments: dict[str, Deployment],
) -> None:
    deployment = deployments["cpc-a"]

    def mount_twice(values: dict[str, Any]) -> None:  # what components/nats.py used to do
        values["reloader"]["patch"] = values["container"]["patch"]

    broken = deployment.replacing(changed(deployment.releases["nats-mtls"], mount_twice))
    assert pod_spec_problems(_statefulset(broken, "nats-mtls")) == [
        "StatefulSet/nats-mtls: container 'reloader' mounts /etc/nats-certs more than once (mountPath must be unique)"
    ]


def test_a_misspelt_chart_value_key_is_reported(deployments: dict[str, Deployment]) -> None:
    release = deployments["csc"].releases["nats"]

    def misspell(values: dict[str, Any]) -> None:
        values["config"]["jetstream"]["memStore"] = values["config"]["jetstream"].pop("memoryStore")

    broken = changed(release, misspell)
    problems = valuekeys.unknown_keys("nats", broken.values, helm.default_values("nats", release.version))
    assert len(problems) == 1
    assert problems[0].startswith("nats: config.jetstream.memStore is not a value of the chart (it ignores it)")
    assert helm.render(broken)  # helm itself renders it without a word


def test_a_key_below_a_free_form_name_is_free_only_where_the_chart_has_that_name(chart_tools: None) -> None:
    defaults = helm.default_values("nats", Charts().nats)
    assert valuekeys.unknown_keys("nats", {"container": {"merge": {"anything": {"at": "all"}}}}, defaults) == []
    (problem,) = valuekeys.unknown_keys("nats", {"config": {"jetstream": {"fileStore": {"merge": {}}}}}, defaults)
    assert problem.startswith("nats: config.jetstream.fileStore.merge is not a value of the chart")


def test_an_account_renamed_in_config_merge_fails_the_nats_conf_load(
    deployments: dict[str, Deployment], deployed_nats_server: str, tmp_path: Path
) -> None:
    deployment = deployments["cpc-a"]

    def rename_csc(values: dict[str, Any]) -> None:
        accounts = values["config"]["merge"]["accounts"]
        accounts["CSC-RENAMED"] = accounts.pop("CSC")

    broken = deployment.replacing(changed(deployment.releases["nats"], rename_csc))
    loaded = _load(broken, "nats", deployed_nats_server, tmp_path)
    assert loaded.result.returncode != 0
    assert '"CSC" account not defined for stream import' in loaded.output


def test_an_account_renamed_under_a_leaf_remote_is_reported(deployments: dict[str, Deployment]) -> None:
    # `nats-server -t` does not check the account a leaf remote binds (the server refuses it only at start).
    deployment = deployments["csc"]

    def rename_csc(values: dict[str, Any]) -> None:
        accounts = values["config"]["merge"]["accounts"]
        accounts["CSC-RENAMED"] = accounts.pop("CSC")

    broken = deployment.replacing(changed(deployment.releases["nats-mtls"], rename_csc))
    (config_map,) = [m for m in broken.rendered("nats-mtls") if m["kind"] == "ConfigMap"]
    problems = serverconf.undefined_accounts(serverconf.document(config_map["data"]["nats.conf"]))
    assert problems == ["leafnodes.remotes[0].account names account 'CSC', which nats.conf does not define"]


def test_a_certificate_the_pod_does_not_mount_fails_the_nats_conf_load(
    deployments: dict[str, Deployment], deployed_nats_server: str, tmp_path: Path
) -> None:
    deployment = deployments["cpc-a"]

    def unmount(values: dict[str, Any]) -> None:
        del values["podTemplate"]["patch"], values["container"]["patch"]

    broken = deployment.replacing(changed(deployment.releases["nats-mtls"], unmount))
    loaded = _load(broken, "nats-mtls", deployed_nats_server, tmp_path)
    assert loaded.result.returncode != 0
    # Not relocated: the path is on no mount, so the file is looked for where the pod would look.
    assert "open /etc/nats-certs/tls.crt: no such file or directory" in loaded.output


def test_a_secret_key_no_secret_has_is_reported(deployments: dict[str, Deployment]) -> None:
    deployment = deployments["csc"]

    def wrong_key(values: dict[str, Any]) -> None:
        values["container"]["env"]["XKEY_PUBKEY"]["valueFrom"]["secretKeyRef"]["key"] = "public-key"

    broken = deployment.replacing(changed(deployment.releases["nats"], wrong_key))
    problems = reference_problems(_statefulset(broken, "nats"), broken.inventory())
    assert problems == [
        "StatefulSet/nats: container 'nats' env XKEY_PUBKEY names key 'public-key' of Secret 'nats-xkey', "
        "which has only pubkey"
    ]


def test_a_route_to_a_port_the_service_does_not_expose_is_reported(deployments: dict[str, Deployment]) -> None:
    deployment = deployments["cpc-b"]

    def hide_mqtt(values: dict[str, Any]) -> None:
        values["service"]["ports"]["mqtt"]["enabled"] = False

    broken = deployment.replacing(changed(deployment.releases["nats"], hide_mqtt))
    problems = [p for route in broken.routes() for p in route_problems(route, broken.inventory())]
    assert problems == ["TCPRoute/nats-mqtt: Service 'nats' has no port 1883 (it has 4222, 7422)"]


def test_a_certificate_outside_the_copied_mount_prefixes_is_reported_unmounted_in_the_reloader(
    deployments: dict[str, Deployment],
) -> None:
    deployment = deployments["cpc-a-leaf-tls-outside-etc"]
    broken = deployment.replacing(
        changed(deployment.releases["nats"], lambda values: values["reloader"].pop("natsVolumeMountPrefixes"))
    )
    problems = reloader_watch_problems(_statefulset(broken, "nats"))
    assert len(problems) == 3
    assert problems[0].startswith("StatefulSet/nats: the reloader watches /var/lib/nats-leaf-tls/ca.crt, but none")


def test_leaf_remote_certificates_the_chart_alone_would_not_watch_are_reported(
    deployments: dict[str, Deployment],
) -> None:
    deployment = deployments["cpc-a-leaf-tls"]
    broken = deployment.replacing(changed(deployment.releases["nats"], lambda values: values["reloader"].pop("patch")))
    (config_map,) = [m for m in broken.rendered("nats") if m["kind"] == "ConfigMap"]
    named = serverconf.certificate_files(serverconf.document(config_map["data"]["nats.conf"]))
    assert named - set(watched_files(_statefulset(broken, "nats"))) == {
        "/etc/nats-leaf-tls/ca.crt",
        "/etc/nats-leaf-tls/tls.crt",
        "/etc/nats-leaf-tls/tls.key",
    }


def test_a_flag_the_chart_already_passes_is_reported_when_passed_again(deployments: dict[str, Deployment]) -> None:
    deployment = deployments["cpc-b"]

    def namespace_again(values: dict[str, Any]) -> None:  # what components/nack.py used to do
        values["jetstream"]["additionalArgs"] = ["--namespace=dsx"]

    broken = deployment.replacing(changed(deployment.releases["nack"], namespace_again))
    (pod,) = pod_specs(broken.rendered("nack"))
    assert repeated_flags(pod) == ["Deployment/nack: container 'jsc' gets --namespace=dsx twice"]


def test_a_pod_monitor_that_selects_no_pod_is_reported(deployments: dict[str, Deployment]) -> None:
    deployment = deployments["cpc-a"]

    def modern_names(values: dict[str, Any]) -> None:  # the chart then labels app.kubernetes.io/name, not app
        values["useLegacyNames"] = False

    broken = deployment.replacing(changed(deployment.releases["nack"], modern_names))
    everything = broken.everything()
    problems = [p for m in everything if m.get("kind") == "PodMonitor" for p in monitor_problems(m, everything)]
    assert problems == ["PodMonitor/nack: its selector {'app': 'nack'} matches no pod"]


def test_a_service_port_targeting_a_port_no_pod_names_is_reported(deployments: dict[str, Deployment]) -> None:
    deployment = deployments["cpc-b"]

    def rename_port(values: dict[str, Any]) -> None:  # ports: nats, leafnodes, mqtt, cluster, monitor
        values["container"]["patch"] = [{"op": "replace", "path": "/ports/2/name", "value": "mqtt-tcp"}]

    broken = deployment.replacing(changed(deployment.releases["nats"], rename_port))
    problems = [
        p
        for m in broken.rendered("nats")
        if m["kind"] == "Service"
        for p in service_problems(m, pod_specs(broken.rendered("nats")))
    ]
    assert problems == [
        "Service/nats-headless: port mqtt targets 'mqtt', a port no selected pod names",
        "Service/nats: port mqtt targets 'mqtt', a port no selected pod names",
    ]
