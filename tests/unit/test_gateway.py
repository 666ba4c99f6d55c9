"""Which Gateway API routes a cluster gets (`gateway.route_objects`), with which apiVersion and spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dsxbus import gateway
from dsxbus.config import EventBus

ROOT = Path(__file__).resolve().parents[2]
V1 = "gateway.networking.k8s.io/v1"
V1ALPHA2 = "gateway.networking.k8s.io/v1alpha2"


def _cpc_a(**changes: Any) -> EventBus:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    return EventBus.model_validate({**raw, **changes})


def _routes(bus: EventBus) -> dict[str, gateway.RouteObject]:
    return {route.name: route for route in gateway.route_objects(bus)}


def test_a_cluster_with_mtls_gets_three_tcp_routes_and_the_tls_route() -> None:
    routes = _routes(_cpc_a())
    assert [(r.name, r.kind) for r in routes.values()] == [
        ("nats-mqtt", "TCPRoute"),
        ("nats-client", "TCPRoute"),
        ("nats-leafnode", "TCPRoute"),
        ("nats-mqtt-mtls", "TLSRoute"),
    ]


def test_without_mtls_there_is_no_tls_route() -> None:
    assert "nats-mqtt-mtls" not in _routes(_cpc_a(mtls={"enabled": False}, sveltos={"enabled": False}))


def test_a_disabled_route_is_not_created() -> None:
    routes = _routes(_cpc_a(gateway={"routes": {"natsClient": {"enabled": False}}}))
    assert set(routes) == {"nats-mqtt", "nats-leafnode", "nats-mqtt-mtls"}


def test_a_disabled_gateway_gets_no_routes() -> None:
    assert gateway.route_objects(_cpc_a(gateway={"enabled": False})) == ()


def test_each_route_takes_the_api_version_configured_for_its_kind() -> None:
    routes = _routes(_cpc_a(gateway={"tcpRouteApiVersion": V1}))
    assert routes["nats-mqtt"].api_version == V1
    assert routes["nats-mqtt-mtls"].api_version == V1ALPHA2


def test_a_route_sends_to_its_backend_through_its_gateway_listener() -> None:
    route = _routes(_cpc_a(gateway={"gatewayName": "edge", "gatewayNamespace": "gw"}))["nats-leafnode"]
    assert route.spec == {
        "parentRefs": [{"name": "edge", "namespace": "gw", "sectionName": "nats-leafnode"}],
        "rules": [{"backendRefs": [{"name": "nats", "port": 7422}]}],
    }


def test_the_tls_route_matches_on_the_mtls_hostnames_clients_dial() -> None:
    routes = _routes(_cpc_a())
    assert routes["nats-mqtt-mtls"].spec["hostnames"] == ["mqtt-mtls.cpc-a.dsx.example.com"]
    assert "hostnames" not in routes["nats-mqtt"].spec
