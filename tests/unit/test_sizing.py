"""Workload sizing (dsxbus.sizing): upstream's resources by default, partial overrides, and what follows from them."""

from __future__ import annotations

import pytest

from dsxbus import sizing, stackfile
from dsxbus.sizing import WorkloadResources
from tests.unit.stackconfigs import cpc


def test_every_workload_defaults_to_upstreams_resources() -> None:
    defaults = WorkloadResources.model_validate({})
    assert defaults.nats.manifest() == {
        "requests": {"cpu": "200m", "memory": "512Mi"},
        "limits": {"cpu": "1000m", "memory": "2Gi"},
    }
    assert defaults.nats_mtls.limits.memory == "1Gi"
    for small in (defaults.nack, defaults.surveyor, defaults.auth_callout):
        assert small.manifest() == {
            "requests": {"cpu": "10m", "memory": "32Mi"},
            "limits": {"cpu": "100m", "memory": "128Mi"},
        }


def test_a_partial_block_overrides_only_the_keys_it_names() -> None:
    bus, _ = stackfile.parse(cpc(resources={"nats": {"limits": {"memory": "4Gi"}}}))
    assert bus.resources.nats.limits.memory == "4Gi"
    assert bus.resources.nats.limits.cpu == "1000m"
    assert bus.resources.nats.requests.memory == "512Mi"


def test_a_misspelt_workload_is_an_error() -> None:
    with pytest.raises(ValueError, match="natz"):
        WorkloadResources.model_validate({"natz": {}})


def test_gomemlimit_is_80_percent_of_the_memory_limit_in_mebibytes() -> None:
    assert sizing.gomemlimit("2Gi") == "1638MiB"  # upstream's value
    assert sizing.gomemlimit("4Gi") == "3276MiB"


@pytest.mark.parametrize(("cpu", "millicores"), [("200m", 200), ("1", 1000), ("0.5", 500), ("1500m", 1500)])
def test_cpu_quantities_in_millicores(cpu: str, millicores: int) -> None:
    assert sizing.millicores(cpu) == millicores


@pytest.mark.parametrize(("memory", "size"), [("512Mi", 512 * 2**20), ("1G", 10**9), ("128974848", 128974848)])
def test_memory_quantities_in_bytes(memory: str, size: int) -> None:
    assert sizing.memory_bytes(memory) == size


@pytest.mark.parametrize("bad", ["lots", "2GB", "1.5.2Gi"])
def test_a_memory_quantity_kubernetes_refuses_is_an_error(bad: str) -> None:
    with pytest.raises(ValueError, match="not a memory quantity"):
        sizing.memory_bytes(bad)


def test_the_auth_callout_runs_two_pods_by_default_where_nats_runs_three() -> None:
    assert sizing.auth_callout_replicas(None, 3) == 2
    assert sizing.auth_callout_replicas(None, 1) == 1
    assert sizing.auth_callout_replicas(4, 3) == 4


def test_a_disruption_budget_exists_only_for_more_than_one_pod() -> None:
    assert sizing.pod_disruption_budget(2) == {"maxUnavailable": 1}
    assert sizing.pod_disruption_budget(1) is None
