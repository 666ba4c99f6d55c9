"""mTLS names: TLSRoute hostnames, certificate SANs and client URLs agree (RFC 6125 wildcards; no SNI for IPs)."""

from __future__ import annotations

import copy
from typing import Any

from tests.policy import analyzer, programs
from tests.policy.analyzer import Capture, Diagnostic
from tests.program import harness

CONFIG = analyzer.example_config()
AGREE = "mtls-names-agree"
DNS_NAMES = "tlsroute-hostnames-are-dns-names"
CSC_HOST = "mqtt-mtls.csc.dsx.example.com"


def _config(**mtls: Any) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    config[AGREE] |= mtls
    return config


def _hand(hostnames: list[str], dns_names: list[str], **mtls: Any) -> list[Diagnostic]:
    def program() -> None:
        programs.tls_route("mqtt-mtls", hostnames)
        programs.certificate(dns_names)

    return analyzer.analyze(analyzer.capture(program, stack="hand"), _config(**mtls))


def test_an_ip_address_as_a_tlsroute_hostname_is_mandatory() -> None:
    found = _hand(["10.0.0.5"], [CSC_HOST])
    assert analyzer.summary(found) == [(DNS_NAMES, "MANDATORY", "mqtt-mtls")]
    assert found[0].message == (
        "TLSRoute mqtt-mtls: spec.hostnames[0] = '10.0.0.5' is an IP address. TLS clients send no SNI for an IP "
        "address, so the gateway can never match this route (and Gateway API forbids IP hostnames). Fix: point a DNS "
        "name at the gateway's address and use it here, in the server certificate and in the clients' broker URL."
    )


def test_an_ip_address_as_client_url_is_mandatory_and_explains_that_it_sends_no_sni(csc: Capture) -> None:
    found = analyzer.analyze(csc, _config(clientUrls={"csc": ["ssl://10.1.2.3:8883"]}))
    assert analyzer.summary(analyzer.mandatory(found)) == [(AGREE, "MANDATORY", "")]
    assert analyzer.only(found, AGREE).message == (
        "client URL 'ssl://10.1.2.3:8883' names the IP address '10.1.2.3'. TLS clients send no SNI for an IP "
        f"address, so the gateway cannot match it to the TLSRoute hostnames ['{CSC_HOST}'] and resets the connection "
        "before NATS sees it. Fix: give clients a DNS name from the route's hostnames."
    )


def test_client_urls_are_checked_against_the_stack_they_are_given_for(csc: Capture) -> None:
    # The CPC's URL is listed for cpc-a only: on the CSC stack it is not checked.
    found = analyzer.analyze(csc, _config(clientUrls={"cpc-a": ["ssl://mqtt-mtls.cpc-a.dsx.example.com:8883"]}))
    assert analyzer.mandatory(found) == []


def test_a_client_url_outside_the_route_hostnames_is_mandatory(csc: Capture) -> None:
    found = analyzer.analyze(csc, _config(clientUrls={"*": ["ssl://mqtt.other.example.com:8883"]}))
    assert analyzer.summary(analyzer.mandatory(found)) == [(AGREE, "MANDATORY", ""), (AGREE, "MANDATORY", "")]
    messages = sorted(d.message for d in found if d.policy == AGREE)
    assert "'mqtt.other.example.com' is not among the TLSRoute hostnames" in messages[0]
    assert "the gateway resets the connection before NATS sees it" in messages[0]
    assert messages[1].startswith("client URL 'ssl://mqtt.other.example.com:8883': no SAN of the server certificate [")
    assert "covers 'mqtt.other.example.com', so the client rejects the certificate (hostname mismatch)" in messages[1]


def test_a_wildcard_certificate_san_covers_a_host_one_label_below_it() -> None:
    assert _hand([CSC_HOST], ["*.csc.dsx.example.com"], clientUrls={"hand": [f"ssl://{CSC_HOST}:8883"]}) == []


def test_a_wildcard_certificate_san_does_not_cover_a_host_two_labels_below_it() -> None:
    found = _hand(["a.mqtt.csc.dsx.example.com"], ["*.csc.dsx.example.com"])
    assert analyzer.summary(found) == [(AGREE, "MANDATORY", "mqtt-mtls")]
    assert found[0].message == (
        "TLSRoute mqtt-mtls routes 'a.mqtt.csc.dsx.example.com', but no SAN of the server certificate (Certificate "
        "server-cert: ['*.csc.dsx.example.com']) covers it (RFC 6125: a wildcard stands for exactly one leftmost "
        "label): clients dialling 'a.mqtt.csc.dsx.example.com' reject the certificate and never connect. Fix: add "
        "'a.mqtt.csc.dsx.example.com' to the certificate's SANs, or route only names it covers."
    )


def test_a_wildcard_certificate_san_does_not_cover_its_own_parent_domain() -> None:
    found = _hand(["csc.dsx.example.com"], ["*.csc.dsx.example.com"])
    assert analyzer.summary(found) == [(AGREE, "MANDATORY", "mqtt-mtls")]


def test_a_certificate_for_another_secret_does_not_count() -> None:
    def program() -> None:
        programs.tls_route("mqtt-mtls", [CSC_HOST])
        programs.certificate([CSC_HOST], secret_name="some-other-tls")

    found = analyzer.analyze(analyzer.capture(program), CONFIG)
    assert analyzer.summary(found) == [(AGREE, "MANDATORY", "mqtt-mtls")]
    assert "whose certificate (Secret nats-mtls-server-tls) this stack does not create" in found[0].message


def _operator_certificate_csc(cpc_outputs: dict[str, dict[str, object]]) -> Capture:
    bus = copy.deepcopy(harness.stack_config("csc")["dsx-bus:eventBus"])
    del bus["mtls"]["certificateIssuer"]
    # Sveltos dials nats-mtls inside the cluster, so the operator's certificate carries that name too.
    bus["mtls"]["serverCertSans"] = ["*.csc.dsx.example.com", "nats-mtls.dsx.svc.cluster.local"]
    bus["sveltos"]["clientCertificateSecret"] = "sveltos-nats-client-tls"
    return analyzer.capture_stack("csc", event_bus=bus, stack_outputs=cpc_outputs)


def test_an_operator_provided_certificate_needs_its_sans_in_the_policy_config(
    cpc_outputs: dict[str, dict[str, object]],
) -> None:
    found = analyzer.analyze(_operator_certificate_csc(cpc_outputs), CONFIG)
    assert analyzer.summary(analyzer.mandatory(found)) == [(AGREE, "MANDATORY", "csc-gateway-nats-mqtt-mtls")]
    assert analyzer.only(found, AGREE).message == (
        "TLSRoute nats-mqtt-mtls (csc-gateway-nats-mqtt-mtls) routes ['mqtt-mtls.csc.dsx.example.com'] to a server "
        "whose certificate (Secret nats-mtls-server-tls) this stack does not create, so nothing shows its SANs agree "
        "with these names. Fix: declare the certificate's SANs in the policy config "
        "(mtls-names-agree.serverCertSans.csc), or let cert-manager issue it (mtls.certificateIssuer)."
    )


def test_declared_sans_that_cover_the_route_and_the_client_urls_pass(
    cpc_outputs: dict[str, dict[str, object]],
) -> None:
    found = analyzer.analyze(
        _operator_certificate_csc(cpc_outputs), _config(serverCertSans={"csc": ["*.csc.dsx.example.com"]})
    )
    assert analyzer.mandatory(found) == []


def test_declared_sans_that_miss_the_routed_host_fail_for_the_route_and_the_client_url(
    cpc_outputs: dict[str, dict[str, object]],
) -> None:
    found = analyzer.analyze(
        _operator_certificate_csc(cpc_outputs), _config(serverCertSans={"csc": ["*.dsx.example.com"]})
    )
    assert analyzer.summary(analyzer.mandatory(found)) == [
        (AGREE, "MANDATORY", ""),
        (AGREE, "MANDATORY", "csc-gateway-nats-mqtt-mtls"),
    ]
    route, url = sorted((d for d in found if d.policy == AGREE), key=lambda d: d.resource, reverse=True)
    assert "Secret nats-mtls-server-tls (SANs declared in the policy config): ['*.dsx.example.com']" in route.message
    assert url.message.startswith("client URL 'ssl://mqtt-mtls.csc.dsx.example.com:8883': no SAN of the server")
