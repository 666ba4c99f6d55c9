"""Gateway API routes (TCPRoute nats-mqtt/nats-client/nats-leafnode, TLSRoute nats-mqtt-mtls) exposing the bus."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus.config import EventBus, Route


def route_spec(bus: EventBus, route: Route) -> dict[str, Any]:
    gateway = bus.gateway
    spec: dict[str, Any] = {
        "parentRefs": [
            {"name": gateway.gateway_name, "namespace": gateway.gateway_namespace, "sectionName": route.section_name}
        ],
        "rules": [{"backendRefs": [{"name": route.backend, "port": route.port}]}],
    }
    # TLS passthrough routes by SNI: the same hostnames the server certificate carries and clients dial.
    if route.kind == "TLSRoute" and bus.mtls.hostnames:
        spec["hostnames"] = list(bus.mtls.hostnames)
    return spec


def enabled_routes(bus: EventBus) -> tuple[Route, ...]:
    if not bus.gateway.enabled:
        return ()
    routes = bus.gateway.routes
    chosen = [routes.mqtt, routes.nats_client, routes.nats_leafnode]
    if bus.mtls.enabled:
        chosen.append(routes.mqtt_mtls)
    return tuple(r for r in chosen if r.enabled)


@dataclass(frozen=True)
class GatewayRoutesArgs:
    namespace: pulumi.Input[str]
    bus: EventBus


class GatewayRoutes(pulumi.ComponentResource):
    """One route per enabled entry of `gateway.routes`; apiVersions from config to match the installed CRDs."""

    def __init__(self, name: str, args: GatewayRoutesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:gateway:GatewayRoutes", name, None, opts)
        bus = args.bus
        for route in enabled_routes(bus):
            api_version = (
                bus.gateway.tls_route_api_version if route.kind == "TLSRoute" else bus.gateway.tcp_route_api_version
            )
            k8s.apiextensions.CustomResource(
                f"{name}-{route.name}",
                api_version=api_version,
                kind=route.kind,
                metadata={"name": route.name, "namespace": args.namespace, "labels": LABELS},
                spec=route_spec(bus, route),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"routes": [route.name for route in enabled_routes(bus)]})
