"""Sizes that contradict each other (dsxbus.checks.sizing): memory store over the container limit, requests over
limits, a single auth-callout in front of a 3-server NATS."""

from __future__ import annotations

from dsxbus import stackfile
from tests.unit.stackconfigs import KEY, cpc, only_error


def test_a_memory_store_above_the_nats_memory_limit_is_refused() -> None:
    problem = only_error(cpc(nats={"maxMemoryStore": "16Gi"}))
    assert problem.key == f"{KEY}.nats.maxMemoryStore" and problem.value == "16Gi"
    assert "resources.nats.limits.memory = '2Gi'" in problem.fix
    assert "OOM-kills" in problem.fix and "raise resources.nats.limits.memory" in problem.fix


def test_the_same_memory_store_fits_once_the_limit_is_raised() -> None:
    stackfile.parse(cpc(nats={"maxMemoryStore": "16Gi"}, resources={"nats": {"limits": {"memory": "20Gi"}}}))


def test_a_request_above_its_limit_is_refused() -> None:
    problem = only_error(cpc(resources={"surveyor": {"requests": {"cpu": "2"}}}))
    assert problem.key == f"{KEY}.resources.surveyor.requests.cpu" and problem.value == "2"
    assert "more than the limit '100m' (2000m > 100m)" in problem.fix


def test_a_quantity_kubernetes_cannot_read_is_refused() -> None:
    problem = only_error(cpc(resources={"nack": {"limits": {"memory": "lots"}}}))
    assert problem.key == f"{KEY}.resources.nack.limits.memory" and problem.value == "lots"
    assert "not a memory quantity" in problem.fix


def test_one_auth_callout_in_front_of_three_nats_servers_is_refused() -> None:
    problem = only_error(cpc(authCallout={"image": "registry.example.com/auth-callout:1", "replicas": 1}))
    assert problem.key == f"{KEY}.authCallout.replicas" and problem.value == 1
    assert "set it to 2 or more" in problem.fix and "PodDisruptionBudget" in problem.fix


def test_one_auth_callout_is_fine_for_a_single_nats_server() -> None:
    image = {"image": "registry.example.com/auth-callout:1", "replicas": 1}
    stackfile.parse(cpc(authCallout=image, nats={"replicas": 1}, mqttStreams={"replicas": 1}))
