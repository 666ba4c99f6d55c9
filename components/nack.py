"""NACK, the JetStream controller that turns Stream CRs into streams, from the upstream nack chart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.charts import chart, image
from dsxbus import naming, rollout
from dsxbus.config import Charts


def nack_values(image_reference: str, resources: dict[str, Any], checksum: pulumi.Input[str] = "") -> dict[str, Any]:
    """`resources`: `resources.nack`; `checksum`: of NACK's Secret (it reads its seed file at start), as the pod
    annotation rollout.ANNOTATION."""
    return {
        "podAnnotations": {rollout.ANNOTATION: checksum},
        # Only this namespace's Streams (one NACK per bus): the chart passes --namespace=<release namespace>.
        "namespaced": True,
        "useLegacyNames": True,  # upstream's names and the `app: nack` label the PodMonitor selects
        "jetstream": {
            "image": image(image_reference),
            "controlLoop": True,
            # Authenticates through the auth-callout as `nack-controller` (nkey entry -> the domain account).
            "nats": {
                "url": "nats://nats:4222",
                "nkey": {"secret": {"name": naming.NACK_USER.seed.secret, "key": naming.NACK_USER.seed.key}},
            },
        },
        "resources": resources,  # `resources.nack`
    }


@dataclass(frozen=True)
class NackArgs:
    namespace: pulumi.Input[str]
    charts: Charts
    values: dict[str, Any]
    """`nack_values`."""


class Nack(pulumi.ComponentResource):
    chart: k8s.helm.v4.Chart

    def __init__(self, name: str, args: NackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:nack:Nack", name, None, opts)
        self.chart = chart(
            f"{name}-nack",
            chart_name="nack",
            release="nack",
            version=args.charts.nack,
            charts=args.charts,
            namespace=args.namespace,
            values=args.values,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"chart": self.chart.urn})
