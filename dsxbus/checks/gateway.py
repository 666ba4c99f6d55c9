"""Gateway API routes (`gateway`): a TLSRoute version that requires hostnames gets some."""

from __future__ import annotations

from dsxbus import gateway
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    if bus.mtls.hostnames:
        return []
    return [
        Problem(
            key_path("mtls", "hostnames"),
            [],
            f"the TLSRoute {route.name} is {gateway.api_version(bus, route)}, which requires at least one hostname "
            "(the SNI names it routes; the API server refuses the route without): list the DNS names clients dial, "
            "or set gateway.tlsRouteApiVersion to gateway.networking.k8s.io/v1alpha2 if the cluster still serves it",
        )
        for route in gateway.enabled_routes(bus)
        if gateway.requires_hostnames(bus, route)
    ]
