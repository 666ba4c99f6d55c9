"""Surveyor, the Prometheus exporter that polls every server through the SYS account, from the upstream chart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.charts import chart, image
from dsxbus import naming, rollout
from dsxbus.config import Charts, EventBus


def surveyor_release(bus: EventBus) -> str:
    return f"{bus.release_name}-surveyor"


def surveyor_values(bus: EventBus, checksum: pulumi.Input[str] = "") -> dict[str, Any]:
    """`checksum`: of Surveyor's Secret (it reads its seed at start), as the pod annotation rollout.ANNOTATION."""
    expected = bus.nats.replicas + (1 if bus.mtls.enabled else 0)  # nats-mtls is seen through its SYS leaf
    return {
        "fullnameOverride": surveyor_release(bus),
        "podAnnotations": {rollout.ANNOTATION: checksum},
        "image": image(bus.images.surveyor),
        "config": {
            "servers": "nats://nats:4222",
            # Authenticates through the auth-callout as `surveyor` (nkey entry -> SYS).
            "nkey": {"secret": {"name": naming.SURVEYOR_USER.seed.secret, "key": naming.SURVEYOR_USER.seed.key}},
            "accounts": True,
            "timeout": "3s",
            # Upstream's `--jsz=all`: stream and consumer metrics of every account (`nats_stream_*`,
            # `nats_consumer_*`), which the stream alerts and the dashboard read.
            "jsz": "all",
            "expectedServers": expected,
        },
        "serviceMonitor": {"enabled": bus.monitoring.service_monitors},
        "resources": bus.resources.surveyor.manifest(),
    }


@dataclass(frozen=True)
class SurveyorArgs:
    namespace: pulumi.Input[str]
    charts: Charts
    release: str
    values: dict[str, Any]
    """`surveyor_values`."""


class Surveyor(pulumi.ComponentResource):
    chart: k8s.helm.v4.Chart

    def __init__(self, name: str, args: SurveyorArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:surveyor:Surveyor", name, None, opts)
        self.chart = chart(
            f"{name}-surveyor",
            chart_name="surveyor",
            release=args.release,
            version=args.charts.surveyor,
            charts=args.charts,
            namespace=args.namespace,
            values=args.values,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"chart": self.chart.urn})
