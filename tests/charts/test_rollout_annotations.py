"""The rollout checksums (dsxbus.rollout) reach the pod templates the charts render, where a change rolls pods."""

from __future__ import annotations

from typing import Any

import pytest

from dsxbus import rollout
from tests.charts.cluster import Deployment

WORKLOADS = {"nats": "StatefulSet", "nats-mtls": "StatefulSet", "nack": "Deployment", "dsx-surveyor": "Deployment"}


def _template_annotations(deployment: Deployment, release: str) -> dict[str, Any]:
    (workload,) = [m for m in deployment.rendered(release) if m.get("kind") == WORKLOADS[release]]
    annotations: dict[str, Any] = workload["spec"]["template"]["metadata"].get("annotations") or {}
    return annotations


@pytest.mark.parametrize("release", sorted(WORKLOADS))
def test_every_chart_renders_the_programs_checksum_into_its_pod_template(
    deployments: dict[str, Deployment], release: str
) -> None:
    deployment = deployments["cpc-a"]
    values = deployment.releases[release].values
    given = (
        values["podTemplate"]["merge"]["metadata"]["annotations"][rollout.ANNOTATION]
        if "podTemplate" in values
        else values["podAnnotations"][rollout.ANNOTATION]
    )
    assert len(given) == 64  # a SHA-256, never empty
    assert _template_annotations(deployment, release)[rollout.ANNOTATION] == given
