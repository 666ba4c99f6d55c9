"""The nats.conf the nats chart renders from `config.merge` loads on the deployed nats-server, as the pod has it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsxbus import versions
from dsxbus.local import servers
from tests.charts import serverconf
from tests.charts.cluster import Deployment
from tests.charts.podspec import PodSpec, pod_specs, watched_files


def _nats_releases(deployment: Deployment) -> list[str]:
    return sorted(name for name, release in deployment.releases.items() if release.chart == "nats")


def _pod(deployment: Deployment, release: str) -> PodSpec:
    (pod,) = [p for p in pod_specs(deployment.rendered(release)) if p.owner.startswith("StatefulSet/")]
    return pod


def _conf(deployment: Deployment, release: str) -> Any:
    """nats.conf as the chart wrote it into its ConfigMap, as data, with the files it includes as the pod has them."""
    (config_map,) = [m for m in deployment.rendered(release) if m["kind"] == "ConfigMap"]
    return serverconf.pod_document(config_map["data"]["nats.conf"], _pod(deployment, release), deployment.inventory())


def _load(deployment: Deployment, release: str, binary: str, root: Path) -> serverconf.Loaded:
    pod = _pod(deployment, release)
    name = pod.owner.partition("/")[2]
    identity = serverconf.PodIdentity(f"{name}-0", deployment.releases[release].namespace)
    return serverconf.load(pod, deployment.inventory(), binary, root / release, identity)


def test_the_nats_server_the_conf_is_checked_with_is_the_deployed_version(deployed_nats_server: str) -> None:
    assert servers.nats_server_version() == versions.DEPLOYED


def test_nats_server_loads_each_rendered_nats_conf_with_the_pods_env_and_files(
    deployment: Deployment, deployed_nats_server: str, tmp_path: Path
) -> None:
    releases = _nats_releases(deployment)
    assert releases == (["nats", "nats-mtls"] if deployment.bus.mtls.enabled else ["nats"])
    for release in releases:
        loaded = _load(deployment, release, deployed_nats_server, tmp_path)
        assert loaded.result.returncode == 0, f"{release}: {loaded.output}"
        assert "is valid" in loaded.output


def test_every_account_a_rendered_nats_conf_names_is_defined(deployment: Deployment) -> None:
    problems = []
    for release in _nats_releases(deployment):
        problems += [f"{release}: {problem}" for problem in serverconf.undefined_accounts(_conf(deployment, release))]
    assert problems == []


def test_the_reloader_watches_every_certificate_file_nats_conf_names(deployment: Deployment) -> None:
    for release in _nats_releases(deployment):
        (pod,) = [p for p in pod_specs(deployment.rendered(release)) if p.owner.startswith("StatefulSet/")]
        unwatched = serverconf.certificate_files(_conf(deployment, release)) - set(watched_files(pod))
        assert unwatched == set(), f"{release}: a renewed certificate would not reload the server"


LEAF_TLS_DEFECT = (
    "with cscLeafServerTLS the CSC's nats-mtls still dials nats:7422 without TLS (dsxbus.topology.mtls_leaf_remotes "
    "has no tls), so it cannot join the main servers; fixing it needs a client certificate for nats-mtls and a "
    "server certificate valid for the in-cluster name `nats`"
)


def test_every_leaf_remote_dialling_a_tls_leaf_listener_in_the_namespace_uses_tls(
    deployment: Deployment, request: pytest.FixtureRequest
) -> None:
    if deployment.name == "csc-leaf-tls":
        request.applymarker(pytest.mark.xfail(strict=True, reason=LEAF_TLS_DEFECT))
    releases = _nats_releases(deployment)
    confs = {release: _conf(deployment, release) for release in releases}
    services = {
        m["metadata"]["name"]: release
        for release in releases
        for m in deployment.rendered(release)
        if m["kind"] == "Service"
    }
    assert serverconf.leaf_tls_problems(confs, services, deployment.bus.namespace) == []


def test_file_storage_gives_each_nats_server_a_pvc_of_max_file_store_where_nats_conf_stores_jetstream(
    deployments: dict[str, Deployment],
) -> None:
    deployment = deployments["csc-file-storage"]
    (stateful_set,) = [m for m in deployment.rendered("nats") if m["kind"] == "StatefulSet"]
    (claim,) = stateful_set["spec"]["volumeClaimTemplates"]
    (container,) = [c for c in stateful_set["spec"]["template"]["spec"]["containers"] if c["name"] == "nats"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    jetstream = _conf(deployment, "nats")["jetstream"]

    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert mounts[claim["metadata"]["name"]] == jetstream["store_dir"] == "/data"
    assert jetstream["max_file_store"] == 20 * 2**30
    assert _conf(deployment, "nats")["mqtt"]["consumer_memory_storage"] is False


def test_memory_storage_gives_the_nats_servers_no_pvc_and_no_file_store(deployments: dict[str, Deployment]) -> None:
    (stateful_set,) = [m for m in deployments["csc"].rendered("nats") if m["kind"] == "StatefulSet"]

    assert not stateful_set["spec"].get("volumeClaimTemplates")  # the chart renders the key, empty
    assert _conf(deployments["csc"], "nats")["jetstream"]["max_file_store"] == 0
