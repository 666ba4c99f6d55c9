"""Hostname and certificate-SAN rules that decide whether TLS clients and servers agree on names."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from dsxbus.config import EventBus
from dsxbus.sveltos import agent as sveltos_agent


def _strip_brackets(host: str) -> str:
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(_strip_brackets(host))
    except ValueError:
        return None


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 address, with or without URL brackets."""
    return _ip(host) is not None


def _dns_labels(name: str) -> list[str] | None:
    # SANs carry A-labels, so a non-ASCII name can never match; ASCII-only lowering
    # also keeps characters like the Kelvin sign from folding onto 'k'.
    if not name.isascii():
        return None
    name = name.lower()
    # An absolute name ("host.example.com.") names the same host as the relative one.
    name = name.removesuffix(".")
    labels = name.split(".")
    if any(label == "" for label in labels):
        return None
    return labels


def san_matches(san: str, host: str) -> bool:
    """Whether a certificate SAN covers `host`, per RFC 6125 §6.4.3 read strictly."""
    san_ip, host_ip = _ip(san), _ip(host)
    if san_ip is not None or host_ip is not None:
        return san_ip is not None and san_ip == host_ip
    san_labels, host_labels = _dns_labels(san), _dns_labels(host)
    if san_labels is None or host_labels is None or any("*" in label for label in host_labels):
        return False
    first, *rest = san_labels
    if any("*" in label for label in rest):
        return False
    if first == "*":
        # OpenSSL refuses a wildcard directly under a single label ("*.com"), so neither
        # may we: the check must hold for the strictest client that will connect.
        if len(rest) < 2:
            return False
        return len(host_labels) == len(san_labels) and host_labels[1:] == rest
    if "*" in first:
        return False
    return host_labels == san_labels


def uncovered(hosts: Iterable[str], sans: Iterable[str]) -> tuple[str, ...]:
    """The hosts that no SAN covers, in input order."""
    san_list = tuple(sans)
    return tuple(host for host in hosts if not any(san_matches(san, host) for san in san_list))


def host_of_url(url: str) -> str:
    """The host part of a URL such as "ssl://mqtt.example.com:8883", IPv6 brackets removed."""
    host = urlsplit(url).hostname
    if not host:
        raise ValueError(f"URL {url!r} has no host (a scheme such as 'ssl://' is required)")
    return host


def sends_sni(host: str) -> bool:
    """Whether a TLS client connecting to `host` sends SNI: never for an IP address (RFC 6066 §3)."""
    # Brackets and an IPv6 zone still mean an address, as Go's crypto/tls reads them;
    # OpenSSL-based clients would put such text in SNI verbatim, which no certificate matches.
    return not is_ip_literal(host)


@dataclass(frozen=True)
class ServerNames:
    """The names a server certificate carries."""

    common_name: str
    dns_names: tuple[str, ...]


def mtls_server_names(bus: EventBus) -> ServerNames:
    """The nats-mtls server certificate dsx-bus requests from cert-manager.

    It carries the names clients dial through the TLSRoute (`mtls.hostnames`, the route's SNI names too) and, with
    Sveltos, the in-cluster names its agent dials (`sveltos.agent.url`).
    """
    names = bus.mtls.hostnames
    if bus.sveltos.enabled:
        names += sveltos_agent.in_cluster_hostnames(bus.namespace)
    return ServerNames(names[0] if names else f"nats-mtls.{bus.cluster_name}", names)
