"""Hostname rules for SAN matching and SNI, the last measured against Python's real ssl module, and the names of the
nats-mtls server certificate."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsxbus.config import EventBus
from dsxbus.hostnames import (
    ServerNames,
    host_of_url,
    is_ip_literal,
    mtls_server_names,
    san_matches,
    sends_sni,
    uncovered,
)
from dsxbus.sveltos import agent as sveltos_agent

ROOT = Path(__file__).resolve().parents[2]

SNI_EXTENSION = 0x0000


def _client_hello(server_hostname: str) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def _extensions(record: bytes) -> dict[int, bytes]:
    """Split a ClientHello record into its extensions (RFC 8446 §4.1.2)."""
    assert record[0] == 22, "not a TLS handshake record"
    handshake = record[5:]
    assert handshake[0] == 1, "not a ClientHello"
    body = handshake[4 : 4 + int.from_bytes(handshake[1:4], "big")]
    at = 2 + 32  # legacy_version, random
    at += 1 + body[at]  # legacy_session_id
    at += 2 + int.from_bytes(body[at : at + 2], "big")  # cipher_suites
    at += 1 + body[at]  # legacy_compression_methods
    end = at + 2 + int.from_bytes(body[at : at + 2], "big")
    at += 2
    extensions: dict[int, bytes] = {}
    while at < end:
        kind, length = int.from_bytes(body[at : at + 2], "big"), int.from_bytes(body[at + 2 : at + 4], "big")
        extensions[kind] = body[at + 4 : at + 4 + length]
        at += 4 + length
    return extensions


def _sni_host(server_hostname: str) -> str | None:
    """The host name the real ssl module puts in its ClientHello, or None if it sends no SNI."""
    extension = _extensions(_client_hello(server_hostname)).get(SNI_EXTENSION)
    if extension is None:
        return None
    # server_name_list length (2), name_type host_name (1), name length (2), name
    assert extension[2] == 0, "SNI entry is not a host_name"
    return extension[5 : 5 + int.from_bytes(extension[3:5], "big")].decode("ascii")


@pytest.mark.parametrize("host", ["10.0.0.1", "::1", "[::1]", "2001:db8::8a2e:370:7334", "[fe80::1]"])
def test_ip_addresses_are_ip_literals(host: str) -> None:
    assert is_ip_literal(host)


@pytest.mark.parametrize("host", ["mqtt.example.com", "localhost", "10.0.0", "10.0.0.256", "[mqtt.example.com]", ""])
def test_names_and_malformed_addresses_are_not_ip_literals(host: str) -> None:
    assert not is_ip_literal(host)


def test_an_exact_san_matches_its_host() -> None:
    assert san_matches("mqtt.example.com", "mqtt.example.com")


def test_an_exact_san_does_not_match_a_different_host() -> None:
    assert not san_matches("mqtt.example.com", "nats.example.com")


def test_san_matching_ignores_case() -> None:
    assert san_matches("MQTT.Example.COM", "mqtt.EXAMPLE.com")


def test_a_trailing_dot_on_the_host_names_the_same_host() -> None:
    assert san_matches("mqtt.example.com", "mqtt.example.com.")


def test_case_folding_is_ascii_only() -> None:
    # U+212A KELVIN SIGN lowercases to "k" in Unicode but is not the ASCII letter.
    assert not san_matches("kafka.example.com", "\u212aafka.example.com")


def test_a_wildcard_matches_one_left_most_label() -> None:
    assert san_matches("*.example.com", "mqtt.example.com")


def test_a_wildcard_does_not_match_two_labels() -> None:
    assert not san_matches("*.example.com", "a.mqtt.example.com")


def test_a_wildcard_does_not_match_the_bare_parent() -> None:
    assert not san_matches("*.example.com", "example.com")


@pytest.mark.parametrize("san", ["f*.example.com", "*o.example.com", "m*t.example.com"])
def test_a_partial_label_wildcard_matches_nothing(san: str) -> None:
    assert not san_matches(san, "mqtt.example.com")


def test_a_wildcard_outside_the_left_most_label_matches_nothing() -> None:
    assert not san_matches("mqtt.*.com", "mqtt.example.com")


def test_a_wildcard_directly_under_a_single_label_matches_nothing() -> None:
    assert not san_matches("*.com", "example.com")


def test_a_bare_wildcard_matches_nothing() -> None:
    assert not san_matches("*", "localhost")


@pytest.mark.parametrize("host", ["10.0.0.1", "::1"])
def test_a_wildcard_never_matches_an_ip_literal(host: str) -> None:
    assert not san_matches("*.0.0.1", host)


def test_an_ip_san_matches_the_same_address() -> None:
    assert san_matches("10.0.0.1", "10.0.0.1")


def test_an_ip_san_does_not_match_another_address() -> None:
    assert not san_matches("10.0.0.1", "10.0.0.2")


def test_an_ipv6_san_matches_the_same_address_written_differently() -> None:
    assert san_matches("2001:db8:0:0:0:0:0:1", "[2001:DB8::1]")


def test_an_ip_san_does_not_match_a_dns_name() -> None:
    assert not san_matches("127.0.0.1", "localhost")


def test_a_dns_san_does_not_match_an_ip_host() -> None:
    assert not san_matches("localhost", "127.0.0.1")


def test_an_ipv4_san_does_not_match_its_ipv4_mapped_ipv6_form() -> None:
    assert not san_matches("10.0.0.1", "::ffff:10.0.0.1")


@pytest.mark.parametrize("host", ["", ".", "mqtt..example.com"])
def test_an_empty_or_malformed_host_matches_nothing(host: str) -> None:
    assert not san_matches("*.example.com", host)


def test_a_host_with_a_wildcard_is_not_covered_by_the_same_pattern() -> None:
    assert not san_matches("*.example.com", "*.example.com")


def test_uncovered_lists_the_hosts_no_san_covers_in_input_order() -> None:
    hosts = ["z.other.org", "mqtt.example.com", "10.0.0.9", "example.com", "10.0.0.1"]

    assert uncovered(hosts, ["*.example.com", "10.0.0.1"]) == ("z.other.org", "10.0.0.9", "example.com")


def test_uncovered_is_empty_when_every_host_is_covered() -> None:
    assert uncovered(["mqtt.example.com", "nats.example.com"], ["*.example.com"]) == ()


def test_uncovered_reads_one_shot_iterables_of_sans_for_every_host() -> None:
    sans = iter(["a.example.com", "b.example.com"])

    assert uncovered(["a.example.com", "b.example.com"], sans) == ()


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("ssl://mqtt.example.com:8883", "mqtt.example.com"),
        ("ssl://[::1]:8883", "::1"),
        ("nats://user:secret@nats.example.com:4222", "nats.example.com"),
        ("tls://10.0.0.1", "10.0.0.1"),
        ("wss://MQTT.Example.com/mqtt", "mqtt.example.com"),
    ],
)
def test_host_of_url_returns_the_host_without_port_or_brackets(url: str, host: str) -> None:
    assert host_of_url(url) == host


@pytest.mark.parametrize("url", ["", "ssl://", "ssl://:8883", "mqtt.example.com:8883", "/just/a/path"])
def test_host_of_url_refuses_a_url_without_a_host(url: str) -> None:
    with pytest.raises(ValueError, match="no host"):
        host_of_url(url)


@pytest.mark.parametrize("host", ["mqtt.example.com", "localhost", "10.0.0.1", "::1", "2001:db8::1"])
def test_sends_sni_agrees_with_what_the_ssl_module_puts_on_the_wire(host: str) -> None:
    measured = _sni_host(host)

    assert sends_sni(host) == (measured is not None)


def test_the_ssl_module_sends_the_dns_name_itself_as_sni() -> None:
    assert _sni_host("mqtt.example.com") == "mqtt.example.com"


def test_the_ssl_module_sends_no_sni_for_an_ip_address() -> None:
    assert _sni_host("10.0.0.1") is None


# --- The nats-mtls server certificate dsx-bus requests -------------------------------------------------------------


def _cpc_a(**changes: Any) -> EventBus:
    raw = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())["config"]["dsx-bus:eventBus"]
    return EventBus.model_validate({**raw, **changes})


def test_the_mtls_certificate_is_named_after_the_first_hostname_clients_dial() -> None:
    names = mtls_server_names(_cpc_a(sveltos={"enabled": False}))
    assert names.common_name == "mqtt-mtls.cpc-a.dsx.example.com"
    assert names.dns_names == ("mqtt-mtls.cpc-a.dsx.example.com",)


def test_the_mtls_certificate_covers_every_client_url() -> None:
    bus = _cpc_a()
    assert uncovered([host_of_url(url) for url in bus.mtls.client_urls], mtls_server_names(bus).dns_names) == ()


def test_with_sveltos_the_mtls_certificate_also_covers_the_in_cluster_url_its_agent_dials() -> None:
    bus = _cpc_a(namespace="events")
    names = mtls_server_names(bus)
    assert names.dns_names == (
        "mqtt-mtls.cpc-a.dsx.example.com",
        "nats-mtls.events.svc.cluster.local",
        "nats-mtls.events.svc",
        "nats-mtls",
    )
    assert uncovered([host_of_url(sveltos_agent.url("events"))], names.dns_names) == ()


def test_an_mtls_certificate_without_hostnames_is_named_after_its_cluster() -> None:
    """The config refuses a certificateIssuer without hostnames; the name stays defined all the same."""
    names = mtls_server_names(_cpc_a(mtls={"enabled": True}, sveltos={"enabled": False}))
    assert names == ServerNames("nats-mtls.cpc-a", ())
