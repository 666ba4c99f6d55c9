"""The nats-mtls server (dsxbus.checks.mtls): DNS route names, one certificate source, SANs covering client names."""

from __future__ import annotations

import pytest

from dsxbus import stackfile
from tests.unit.stackconfigs import KEY, cpc, only_error


@pytest.mark.parametrize("host", ["10.0.0.7", "2001:db8::7"])
def test_an_ip_literal_tlsroute_hostname_is_refused(host: str) -> None:
    raw = cpc(mtls={"enabled": True, "hostnames": [host], "certificateIssuer": {"name": "dsx-ca"}})
    problem = only_error(raw)
    assert problem.key == f"{KEY}.mtls.hostnames[0]"
    assert problem.value == host
    assert "TLS clients send no SNI for an IP" in problem.fix
    assert "Point a DNS name at the gateway" in problem.fix


@pytest.mark.parametrize(
    "certificate",
    [{}, {"serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com"], "certificateIssuer": {"name": "dsx-ca"}}],
    ids=["neither", "both"],
)
def test_mtls_needs_exactly_one_source_of_server_certificate(certificate: dict[str, object]) -> None:
    mtls = {"enabled": True, "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"], **certificate}
    problem = only_error(cpc(mtls=mtls))
    assert problem.key == f"{KEY}.mtls"
    assert problem.value == "serverCertSans/certificateIssuer"
    assert problem.fix.startswith("set exactly one: serverCertSans")


def test_a_hostname_no_server_certificate_san_covers_is_refused() -> None:
    mtls = {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com", "mqtt.cpc-a.dsx.example.com"],
        "serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com"],
    }
    problem = only_error(cpc(mtls=mtls))
    assert problem.key == f"{KEY}.mtls.hostnames"
    assert problem.value == "mqtt.cpc-a.dsx.example.com"
    assert "no SAN of the server certificate ['mqtt-mtls.cpc-a.dsx.example.com'] covers it" in problem.fix
    assert "Add it to the certificate" in problem.fix


def test_a_wildcard_san_covers_a_hostname_one_label_below() -> None:
    mtls = {"enabled": True, "hostnames": ["mqtt.cpc-a.dsx.example.com"], "serverCertSans": ["*.cpc-a.dsx.example.com"]}
    bus, _ = stackfile.parse(cpc(mtls=mtls))
    assert bus.mtls.server_cert_sans == ("*.cpc-a.dsx.example.com",)


def test_an_ip_literal_mtls_client_url_is_refused() -> None:
    mtls = {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"],
        "certificateIssuer": {"name": "dsx-ca"},
        "clientUrls": ["ssl://mqtt-mtls.cpc-a.dsx.example.com:8883", "ssl://172.18.201.1:8883"],
    }
    problem = only_error(cpc(mtls=mtls))
    assert problem.key == f"{KEY}.mtls.clientUrls[1]"
    assert problem.value == "ssl://172.18.201.1:8883"
    assert "an IP address sends no SNI" in problem.fix
    assert "Give clients a DNS name from mtls.hostnames" in problem.fix


def test_an_mtls_server_generation_with_an_operator_provided_certificate_is_refused() -> None:
    mtls = {
        "enabled": True,
        "hostnames": ["mqtt-mtls.cpc-a.dsx.example.com"],
        "serverCertSans": ["mqtt-mtls.cpc-a.dsx.example.com"],
    }
    problem = only_error(cpc(mtls=mtls, keyGenerations={"mtlsServer": 1}))
    assert problem.key == f"{KEY}.keyGenerations.mtlsServer"
    assert problem.value == 1
    assert "rotate it by writing a new certificate and key into that Secret" in problem.fix


def test_an_mtls_server_generation_with_mtls_disabled_is_refused() -> None:
    problem = only_error(cpc(mtls={"enabled": False}, keyGenerations={"mtlsServer": 2}))
    assert problem.key == f"{KEY}.keyGenerations.mtlsServer"
    assert problem.value == 2
    assert problem.fix.startswith("mtls is disabled")


def test_an_mtls_server_generation_with_a_certificate_issuer_is_accepted() -> None:
    bus, found = stackfile.parse(cpc(keyGenerations={"mtlsServer": 3}), source="Pulumi.test.yaml")
    assert bus.key_generations.mtls_server == 3
    assert all(p.warning for p in found)
