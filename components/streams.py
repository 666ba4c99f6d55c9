"""The MQTT JetStream streams as NACK Stream CRs, created before any MQTT client can create them wrongly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS

STREAM_LABELS = {**LABELS, "app.kubernetes.io/component": "mqtt-streams", "app.kubernetes.io/part-of": "nats-event-bus"}


@dataclass(frozen=True)
class MqttStreamResourcesArgs:
    namespace: pulumi.Input[str]
    specs: Mapping[str, pulumi.Input[dict[str, Any]]]
    """NACK Stream object name -> spec (`dsxbus.streams.nack_specs`). On the CSC the specs are Outputs: each CPC's
    source streams follow the cross-layer lists that CPC's stack exports."""


class MqttStreamResources(pulumi.ComponentResource):
    """One NACK Stream per MQTT stream: the five of upstream, and on the CSC two per CPC."""

    def __init__(self, name: str, args: MqttStreamResourcesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:streams:MqttStreams", name, None, opts)
        for resource_name, spec in args.specs.items():
            k8s.apiextensions.CustomResource(
                f"{name}-{resource_name}",
                api_version="jetstream.nats.io/v1beta2",
                kind="Stream",
                metadata={"name": resource_name, "namespace": args.namespace, "labels": STREAM_LABELS},
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self),
            )
        # The JetStream names MQTT looks for ($MQTT_msgs, ...).
        names = [pulumi.Output.from_input(spec).apply(lambda s: str(s["name"])) for spec in args.specs.values()]
        self.register_outputs({"streams": names})
