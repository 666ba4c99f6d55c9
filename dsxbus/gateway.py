"""Gateway API routes exposing the bus: which exist, their apiVersion and their spec (TCPRoute, TLSRoute).

The specs follow the schema of every apiVersion the config accepts (the upstream CRDs, Gateway API v1.6
experimental channel): one rule per route, as TCPRoute/TLSRoute v1 allow no more, and backendRefs to Services with
their port, which a CEL rule requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dsxbus.config import EventBus, Route, TlsRouteApiVersion

TLS_ROUTE_VERSIONS_WITHOUT_HOSTNAMES: tuple[TlsRouteApiVersion, ...] = ("gateway.networking.k8s.io/v1alpha2",)
"""TLSRoute apiVersions whose `spec.hostnames` is optional (v1alpha3 and v1 require 1-1024 names)."""


def enabled_routes(bus: EventBus) -> tuple[Route, ...]:
    if not bus.gateway.enabled:
        return ()
    routes = bus.gateway.routes
    chosen = [routes.mqtt, routes.nats_client, routes.nats_leafnode]
    if bus.mtls.enabled:
        chosen.append(routes.mqtt_mtls)
    return tuple(r for r in chosen if r.enabled)


def api_version(bus: EventBus, route: Route) -> str:
    """The route's apiVersion from config, to match the CRDs installed in the cluster."""
    gateway = bus.gateway
    return gateway.tls_route_api_version if route.kind == "TLSRoute" else gateway.tcp_route_api_version


def requires_hostnames(bus: EventBus, route: Route) -> bool:
    return route.kind == "TLSRoute" and api_version(bus, route) not in TLS_ROUTE_VERSIONS_WITHOUT_HOSTNAMES


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


@dataclass(frozen=True)
class RouteObject:
    """One route as the cluster gets it."""

    name: str
    kind: str
    api_version: str
    spec: dict[str, Any]


def route_objects(bus: EventBus) -> tuple[RouteObject, ...]:
    """Every route to create, in `enabled_routes` order."""
    return tuple(
        RouteObject(route.name, route.kind, api_version(bus, route), route_spec(bus, route))
        for route in enabled_routes(bus)
    )
