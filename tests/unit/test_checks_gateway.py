"""TLSRoute versions (dsxbus.checks.gateway): one that requires hostnames gets mtls.hostnames."""

from __future__ import annotations

import pytest

from dsxbus import stackfile
from tests.unit.stackconfigs import KEY, cpc, only_error

_V1 = "gateway.networking.k8s.io/v1"
_OWN_CERTIFICATE_WITHOUT_HOSTNAMES = {"enabled": True, "serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com"]}


@pytest.mark.parametrize("version", [_V1, "gateway.networking.k8s.io/v1alpha3"])
def test_a_tls_route_version_that_requires_hostnames_without_mtls_hostnames_is_refused(version: str) -> None:
    raw = cpc(mtls=_OWN_CERTIFICATE_WITHOUT_HOSTNAMES, gateway={"tlsRouteApiVersion": version})
    problem = only_error(raw)
    assert problem.key == f"{KEY}.mtls.hostnames"
    assert problem.fix.startswith(f"the TLSRoute nats-mqtt-mtls is {version}, which requires at least one hostname")


def test_a_tls_route_v1alpha2_without_mtls_hostnames_routes_every_name() -> None:
    bus, _ = stackfile.parse(cpc(mtls=_OWN_CERTIFICATE_WITHOUT_HOSTNAMES))
    assert bus.gateway.tls_route_api_version == "gateway.networking.k8s.io/v1alpha2"


def test_a_tls_route_v1_without_mtls_hostnames_is_fine_while_its_route_is_off() -> None:
    gateway = {"tlsRouteApiVersion": _V1, "routes": {"mqttMtls": {"enabled": False}}}
    bus, _ = stackfile.parse(cpc(mtls=_OWN_CERTIFICATE_WITHOUT_HOSTNAMES, gateway=gateway))
    assert not bus.gateway.routes.mqtt_mtls.enabled
