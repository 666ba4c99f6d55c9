"""What a rendered pod or a route names exists once the stack is deployed: in a chart, the program or cert-manager."""

from __future__ import annotations

from tests.charts.cluster import Deployment
from tests.charts.podspec import PodSpec, monitor_problems, reference_problems, route_problems, service_problems


def test_every_secret_configmap_key_and_service_account_a_pod_names_exists(deployment: Deployment) -> None:
    available = deployment.inventory()
    assert [problem for pod in deployment.pod_specs() for problem in reference_problems(pod, available)] == []


def test_every_gateway_route_points_at_a_service_port_that_exists(deployment: Deployment) -> None:
    routes = deployment.routes()
    assert {r["metadata"]["name"] for r in routes} >= {"nats-mqtt", "nats-client", "nats-leafnode"}
    available = deployment.inventory()
    assert [problem for route in routes for problem in route_problems(route, available)] == []


def test_every_service_selects_pods_that_name_its_target_ports(deployment: Deployment) -> None:
    pods = deployment.pod_specs()
    services = [m for m in deployment.everything() if m.get("kind") == "Service"]
    assert [problem for service in services for problem in service_problems(service, pods)] == []


def test_every_prometheus_monitor_selects_what_the_charts_or_the_program_create(deployment: Deployment) -> None:
    everything = deployment.everything()
    monitors = [m for m in everything if m.get("kind") in ("ServiceMonitor", "PodMonitor")]
    assert {m["kind"] for m in monitors} == (
        {"ServiceMonitor", "PodMonitor"} if deployment.bus.monitoring.service_monitors else set()
    )
    assert [problem for monitor in monitors for problem in monitor_problems(monitor, everything)] == []


def _mounted_secrets(pod: PodSpec) -> dict[str, str]:
    """Directory -> the Secret mounted whole there (every key a file), for every container of a pod."""
    volumes = {v["name"]: v["secret"]["secretName"] for v in pod.spec.get("volumes") or [] if "secret" in v}
    return {
        mount["mountPath"].rstrip("/"): volumes[mount["name"]]
        for container in pod.spec["containers"]
        for mount in container.get("volumeMounts") or []
        if mount["name"] in volumes and "subPath" not in mount
    }


def test_every_stream_that_signs_in_on_its_own_names_a_seed_file_nack_has(deployment: Deployment) -> None:
    """The per-CPC source streams (SOURCES account) name the seed NACK signs in with there: a key of the Secret the
    nack chart mounts, in the directory it mounts it at."""
    everything = deployment.everything()
    seed_files = {m["spec"]["nkey"] for m in everything if m.get("kind") == "Stream" and m["spec"].get("nkey")}
    if deployment.bus.cluster_type == "csc" and deployment.bus.cpc_ids:
        assert seed_files, "the CSC's per-CPC source streams name no seed file"
    secrets = {m["metadata"]["name"]: m for m in everything if m.get("kind") == "Secret"}
    mounted = _mounted_secrets(deployment.pod("Deployment/nack"))
    for path in seed_files:
        directory, _, key = path.rpartition("/")
        assert directory in mounted, f"{path}: NACK mounts no Secret at {directory}"
        secret = secrets[mounted[directory]]
        assert key in (secret.get("stringData") or secret.get("data") or {}), (
            f"{path}: {mounted[directory]} has no {key}"
        )
