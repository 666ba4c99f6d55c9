"""The CSC's accounts that grow with its CPCs live in `nats-accounts-<n>` ConfigMaps, which its nats.conf includes:
as the pod mounts them, real nats-server loads them, and the config reloader watches them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from components.nats import main_values
from dsxbus import naming, render, stackfile, topology
from dsxbus.checks import configmaps
from dsxbus.naming import NATS_CONFIG_MAP
from tests.charts import helm, serverconf
from tests.charts.cluster import Deployment
from tests.charts.podspec import Inventory, Manifest, PodSpec, container, inventory, is_under, pod_specs, watched_files
from tests.unit.stackconfigs import csc


def _nats_pod(manifests: Sequence[Manifest]) -> PodSpec:
    (pod,) = [p for p in pod_specs(manifests) if p.owner == "StatefulSet/nats"]
    return pod


def _nats_conf_text(manifests: Sequence[Manifest]) -> str:
    (config_map,) = [m for m in manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"] == NATS_CONFIG_MAP]
    text: str = config_map["data"]["nats.conf"]
    return text


def _shards(available: Inventory) -> dict[str, str]:
    """ConfigMap name -> its accounts file, for every `nats-accounts-<n>`."""
    names = {naming.accounts_config_map(i) for i in range(len(available.config_maps))}
    return {name: data[naming.ACCOUNTS_FILE] for name, data in available.config_maps.items() if name in names}


def _load(pod: PodSpec, available: Inventory, binary: str, root: Path) -> serverconf.Loaded:
    return serverconf.load(pod, available, binary, root, serverconf.PodIdentity("nats-0", "dsx"))


def test_the_cscs_nats_conf_includes_each_accounts_config_map_the_program_declares(
    deployments: dict[str, Deployment],
) -> None:
    deployment = deployments["csc"]
    text = _nats_conf_text(deployment.rendered("nats"))
    shards = _shards(deployment.inventory())
    assert list(shards) == [naming.accounts_config_map(0)]  # two CPCs: one shard
    assert "include ../nats-accounts-0/accounts.conf;" in text
    # Not a word of the moved accounts stays in the chart's ConfigMap: only the include.
    assert "CPC-a" not in text and "SOURCES" not in text and '"CSC": {' not in text


def test_the_accounts_that_grow_with_the_fleet_come_from_the_included_file_and_the_rest_stay_inline(
    deployments: dict[str, Deployment],
) -> None:
    deployment = deployments["csc"]
    manifests = deployment.rendered("nats")
    text, pod = _nats_conf_text(manifests), _nats_pod(manifests)
    accounts = serverconf.pod_document(text, pod, deployment.inventory())["accounts"]
    moved = set(topology.csc_fleet_account_names(deployment.bus))
    assert moved == {"CSC", "SOURCES", "CPC-a", "CPC-b"}
    assert moved < set(accounts)
    inline = serverconf.document(text)["accounts"]  # includes dropped
    assert set(inline) == set(accounts) - moved
    assert {naming.AUTH, naming.AUTHX, naming.SYS} <= set(inline)


def test_nats_server_refuses_the_cscs_nats_conf_without_its_accounts_config_maps(
    deployments: dict[str, Deployment], deployed_nats_server: str, tmp_path: Path
) -> None:
    deployment = deployments["csc"]
    pod, available = _nats_pod(deployment.rendered("nats")), deployment.inventory()
    assert _load(pod, available, deployed_nats_server, tmp_path / "with").result.returncode == 0
    config_maps = {name: data for name, data in available.config_maps.items() if name not in _shards(available)}
    without = dataclasses.replace(available, config_maps=config_maps)
    loaded = _load(pod, without, deployed_nats_server, tmp_path / "without")
    assert loaded.result.returncode != 0
    assert "accounts.conf" in loaded.output


def test_the_nats_container_mounts_each_accounts_config_map_beside_the_leaf_tls_and_the_reloader_watches_it(
    deployments: dict[str, Deployment],
) -> None:
    deployment = deployments["csc-leaf-tls"]
    pod = _nats_pod(deployment.rendered("nats"))
    tls = deployment.bus.csc_leaf_server_tls
    assert tls is not None
    mounts = {m["mountPath"] for m in container(pod, "nats")["volumeMounts"]}
    assert {"/etc/nats-accounts-0", tls.mount_path} <= mounts
    watched = "/etc/nats-accounts-0/accounts.conf"
    assert watched in watched_files(pod)
    assert any(is_under(watched, m["mountPath"]) for m in container(pod, "reloader")["volumeMounts"])


CPCS = 300


def test_a_csc_of_300_cpcs_shares_its_accounts_among_config_maps_under_the_limit_and_loads_them_all(
    chart_tools: None, deployed_nats_server: str, tmp_path: Path
) -> None:
    raw = csc(
        cpcs={f"c{i}": f"organization/dsx-bus/cpc-c{i}" for i in range(CPCS)}, mqttStreams={"perCpcMaxBytes": 1024}
    )
    bus, _ = stackfile.parse(raw, source="Pulumi.test.yaml")
    files = render.cluster_files(bus)
    conf = render.sharded_nats_conf(bus, files.nats_conf)
    release = helm.Release("nats", "nats", bus.charts.nats, bus.namespace, main_values(bus, files.nats_conf, conf))
    manifests = helm.render(release)
    shards = [
        {"kind": "ConfigMap", "metadata": {"name": s.name}, "data": {naming.ACCOUNTS_FILE: s.text}} for s in conf.shards
    ]
    env = {"kind": "ConfigMap", "metadata": {"name": naming.ENV_CONFIG_MAP}, "data": files.environment}
    available = inventory([*manifests, *shards, env])
    text = _nats_conf_text(manifests)

    assert len(conf.shards) > 1
    assert all(len(s.text.encode()) <= configmaps.CONFIGMAP_LIMIT for s in conf.shards)
    assert len(text.encode()) < configmaps.CONFIGMAP_LIMIT
    for shard in conf.shards:
        assert f"include ../{shard.name}/accounts.conf;" in text
    pod = _nats_pod(manifests)
    loaded = _load(pod, available, deployed_nats_server, tmp_path)
    assert loaded.result.returncode == 0, loaded.output
    accounts = serverconf.pod_document(text, pod, available)["accounts"]
    assert {naming.cpc_account(f"c{i}") for i in range(CPCS)} < set(accounts)
