"""Gateway API routes (TCPRoute nats-mqtt/nats-client/nats-leafnode, TLSRoute nats-mqtt-mtls) exposing the bus."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus import gateway


@dataclass(frozen=True)
class GatewayRouteResourcesArgs:
    namespace: pulumi.Input[str]
    routes: tuple[gateway.RouteObject, ...]
    """dsxbus.gateway.route_objects: which routes exist, their apiVersion (to match the installed CRDs) and spec."""


class GatewayRouteResources(pulumi.ComponentResource):
    """One route per enabled entry of `gateway.routes`."""

    def __init__(self, name: str, args: GatewayRouteResourcesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:gateway:GatewayRoutes", name, None, opts)
        for route in args.routes:
            k8s.apiextensions.CustomResource(
                f"{name}-{route.name}",
                api_version=route.api_version,
                kind=route.kind,
                metadata={"name": route.name, "namespace": args.namespace, "labels": LABELS},
                spec=route.spec,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"routes": [route.name for route in args.routes]})
