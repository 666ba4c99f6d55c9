"""The MQTT JetStream streams as NACK Stream CRs, created before any MQTT client can create them wrongly."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus import streams
from dsxbus.config import CrossLayer, EventBus

STREAM_LABELS = {**LABELS, "app.kubernetes.io/component": "mqtt-streams", "app.kubernetes.io/part-of": "nats-event-bus"}


def _spec_of(bus: EventBus, index: int) -> Callable[[Mapping[str, CrossLayer]], dict[str, Any]]:
    # By position: which streams exist follows from the config; their specs from the effective lists.
    def spec(cpc_lists: Mapping[str, CrossLayer]) -> dict[str, Any]:
        return streams.nack_spec(streams.mqtt_streams(bus, cpc_lists)[index], bus.mqtt_streams)

    return spec


@dataclass(frozen=True)
class MqttStreamsArgs:
    namespace: pulumi.Input[str]
    bus: EventBus
    """Decides which streams exist (always the five of upstream)."""
    effective: EventBus
    """Decides their specs: a CPC's sources follow its effective (possibly inherited) cross-layer lists."""
    cpc_lists: pulumi.Output[Mapping[str, CrossLayer]] = field(default_factory=lambda: pulumi.Output.from_input({}))
    """CSC: each CPC's lists as it exports them, which its own source streams on the CSC follow."""


class MqttStreams(pulumi.ComponentResource):
    def __init__(self, name: str, args: MqttStreamsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:streams:MqttStreams", name, None, opts)
        for index, stream in enumerate(streams.mqtt_streams(args.bus)):
            spec = args.cpc_lists.apply(_spec_of(args.effective, index))
            k8s.apiextensions.CustomResource(
                f"{name}-{stream.resource_name}",
                api_version="jetstream.nats.io/v1beta2",
                kind="Stream",
                metadata={"name": stream.resource_name, "namespace": args.namespace, "labels": STREAM_LABELS},
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"streams": [stream.name for stream in streams.mqtt_streams(args.bus)]})
