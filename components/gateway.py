"""Gateway API routes (TCPRoute nats-mqtt/nats-client/nats-leafnode, TLSRoute nats-mqtt-mtls) exposing the bus."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus import gateway
from dsxbus.config import EventBus


@dataclass(frozen=True)
class GatewayRoutesArgs:
    namespace: pulumi.Input[str]
    bus: EventBus


class GatewayRoutes(pulumi.ComponentResource):
    """One route per enabled entry of `gateway.routes`; apiVersions from config to match the installed CRDs."""

    def __init__(self, name: str, args: GatewayRoutesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:gateway:GatewayRoutes", name, None, opts)
        bus = args.bus
        routes = gateway.enabled_routes(bus)
        for route in routes:
            k8s.apiextensions.CustomResource(
                f"{name}-{route.name}",
                api_version=gateway.api_version(bus, route),
                kind=route.kind,
                metadata={"name": route.name, "namespace": args.namespace, "labels": LABELS},
                spec=gateway.route_spec(bus, route),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"routes": [route.name for route in routes]})
