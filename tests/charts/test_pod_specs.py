"""Every pod the charts render from the program's values (and the program's own) is one the API server accepts."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.charts.cluster import Deployment
from tests.charts.podspec import container, pod_spec_problems, reloader_watch_problems, repeated_flags, watched_files


def test_every_pod_spec_has_unique_volumes_mounts_and_container_names(deployment: Deployment) -> None:
    pods = deployment.pod_specs()
    assert {p.owner for p in pods} >= {"StatefulSet/nats", "Deployment/nack", "Deployment/dsx-surveyor"}
    assert [problem for pod in pods for problem in pod_spec_problems(pod)] == []


def test_the_reloader_mounts_every_file_it_watches(deployment: Deployment) -> None:
    assert [problem for pod in deployment.pod_specs() for problem in reloader_watch_problems(pod)] == []


def test_no_container_gets_the_same_flag_twice(deployment: Deployment) -> None:
    assert [problem for pod in deployment.pod_specs() for problem in repeated_flags(pod)] == []


@pytest.mark.parametrize("variant", ["csc-leaf-tls", "cpc-a-leaf-tls", "cpc-a-leaf-tls-outside-etc"])
def test_leaf_tls_is_mounted_once_into_nats_and_reloader_and_the_reloader_watches_it(
    deployments: dict[str, Deployment], variant: str
) -> None:
    deployment = deployments[variant]
    tls = deployment.bus.csc_leaf_server_tls or deployment.bus.cpc_leaf_client_tls
    assert tls is not None
    pod = deployment.pod("StatefulSet/nats")
    for name in ("nats", "reloader"):
        mounts = Counter(m["mountPath"] for m in container(pod, name)["volumeMounts"])
        assert mounts[tls.mount_path] == 1, f"{name}: {dict(mounts)}"
    args = container(pod, "reloader")["args"]
    assert f"{tls.mount_path}/ca.crt" in args  # a renewed CA (or certificate) reloads the server


def test_the_mtls_server_certificates_are_mounted_once_and_watched_by_the_reloader(
    deployments: dict[str, Deployment],
) -> None:
    pod = deployments["cpc-a"].pod("StatefulSet/nats-mtls")
    for name in ("nats", "reloader"):
        mounts = [m["mountPath"] for m in container(pod, name)["volumeMounts"]]
        assert mounts.count("/etc/nats-certs") == 1, f"{name}: {mounts}"
    # A set: the chart lists a file once per tls block naming it (`tls` and `mqtt.tls`).
    assert set(watched_files(pod)) == {
        "/etc/nats-certs/ca.crt",
        "/etc/nats-certs/tls.crt",
        "/etc/nats-certs/tls.key",
        "/etc/nats-config/nats.conf",
    }


def test_surveyor_runs_with_upstreams_jetstream_metrics_and_the_configured_resources(deployment: Deployment) -> None:
    """`--jsz=all`, as upstream's render: without it no `nats_stream_*` series exist for the stream alerts."""
    surveyor = container(deployment.pod("Deployment/dsx-surveyor"), "surveyor")
    assert "--jsz=all" in surveyor["args"]
    assert surveyor["resources"] == deployment.bus.resources.surveyor.manifest()


def test_the_nats_and_nack_containers_get_the_configured_resources(deployment: Deployment) -> None:
    nats = container(deployment.pod("StatefulSet/nats"), "nats")
    assert nats["resources"] == deployment.bus.resources.nats.manifest()
    env = {e["name"]: e.get("value") for e in nats["env"]}
    assert env["GOMEMLIMIT"] == "1638MiB"
    jsc = container(deployment.pod("Deployment/nack"), "jsc")
    assert jsc["resources"] == deployment.bus.resources.nack.manifest()
