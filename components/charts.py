"""Helpers shared by the upstream-chart components: pinned chart releases and image references."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from dsxbus.config import Charts


def image(reference: str) -> dict[str, str]:
    """`registry:5000/nats:2.12.6-alpine` -> the charts' {repository, tag} (a registry port is not a tag)."""
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        return {"repository": reference}
    return {"repository": repository, "tag": tag}


def chart(
    resource_name: str,
    *,
    chart_name: str,
    release: str,
    version: str,
    charts: Charts,
    namespace: pulumi.Input[str],
    values: pulumi.Input[dict[str, Any]],
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v4.Chart:
    return k8s.helm.v4.Chart(
        resource_name,
        name=release,
        chart=chart_name,
        version=version,  # pinned: the versions the DSX umbrella chart was rendered and checked with
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=charts.repository),
        namespace=namespace,
        values=values,
        opts=opts,
    )
