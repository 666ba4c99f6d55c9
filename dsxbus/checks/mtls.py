"""The nats-mtls server and its route (`mtls`): DNS names, one certificate source, SANs covering what clients dial."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dsxbus import domains, hostnames
from dsxbus.config import EventBus, Mtls
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    mtls = bus.mtls
    found = _hostname_problems(mtls.hostnames)
    found += _server_generation_problems(mtls, bus.key_generations.mtls_server)
    if not mtls.enabled:
        return found
    found += _certificate_source_problems(mtls)
    found += _san_problems(mtls)
    for index, url in enumerate(mtls.client_urls):
        found += _client_url_problems(key_path("mtls", "clientUrls", index), url, mtls.hostnames, mtls.server_cert_sans)
    return found


def _hostname_problems(names: Sequence[str]) -> list[Problem]:
    found: list[Problem] = []
    for index, host in enumerate(names):
        key = key_path("mtls", "hostnames", index)
        if hostnames.is_ip_literal(host):
            found.append(
                Problem(
                    key,
                    host,
                    "an IP address cannot be a TLSRoute hostname: TLS clients send no SNI "
                    "for an IP, and Gateway API forbids it. Point a DNS name at the gateway "
                    "and use that name here and in the clients' URL",
                )
            )
        elif not domains.is_dns_name(host):
            found.append(Problem(key, host, "not a DNS name (lower-case labels, optional leading '*.')"))
    return found


def _certificate_source_problems(mtls: Mtls) -> list[Problem]:
    found: list[Problem] = []
    if (mtls.server_cert_sans is None) == (mtls.certificate_issuer is None):
        found.append(
            Problem(
                key_path("mtls"),
                "serverCertSans/certificateIssuer",
                "set exactly one: serverCertSans (the SANs of your nats-mtls-server-tls Secret) or "
                "certificateIssuer (dsx-bus requests the certificate from cert-manager)",
            )
        )
    if mtls.certificate_issuer is not None and not mtls.hostnames:
        found.append(
            Problem(
                key_path("mtls", "hostnames"),
                [],
                "cert-manager needs at least one DNS name for the server certificate",
            )
        )
    return found


def _server_generation_problems(mtls: Mtls, generation: int) -> list[Problem]:
    """keyGenerations.mtlsServer re-issues the certificate dsx-bus requests from cert-manager; without one it
    would rotate nothing, silently."""
    if generation == 0 or (mtls.enabled and mtls.certificate_issuer is not None):
        return []
    if not mtls.enabled:
        why = "mtls is disabled, so there is no nats-mtls server certificate to rotate. Remove it"
    else:
        why = (
            "the nats-mtls server certificate is your own Secret nats-mtls-server-tls (mtls.serverCertSans), which "
            "dsx-bus does not issue: rotate it by writing a new certificate and key into that Secret (nats-mtls "
            "reloads it). Remove keyGenerations.mtlsServer, or set mtls.certificateIssuer to let cert-manager issue it"
        )
    return [Problem(key_path("keyGenerations", "mtlsServer"), generation, why)]


def _san_problems(mtls: Mtls) -> list[Problem]:
    if mtls.server_cert_sans is None:
        return []
    return [
        Problem(
            key_path("mtls", "hostnames"),
            host,
            f"no SAN of the server certificate {list(mtls.server_cert_sans)} covers it: clients "
            "reaching this name get a certificate error. Add it to the certificate",
        )
        for host in hostnames.uncovered(mtls.hostnames, mtls.server_cert_sans)
    ]


def _client_url_problems(key: str, url: str, routes: Iterable[str], sans: Iterable[str] | None) -> list[Problem]:
    why = domains.url_problem(url, None, "ssl://mqtt.example.com:8883", port_required=False)
    if why is not None:
        return [Problem(key, url, why)]
    host = hostnames.host_of_url(url)
    routes = tuple(routes)
    if routes and not hostnames.sends_sni(host):
        return [
            Problem(
                key,
                url,
                "an IP address sends no SNI, so the TLSRoute (which matches on its hostnames) "
                "resets the connection. Give clients a DNS name from mtls.hostnames",
            )
        ]
    if routes and hostnames.uncovered([host], routes):
        return [
            Problem(
                key,
                url,
                f"{host!r} is not among mtls.hostnames {list(routes)}: the gateway resets the "
                "connection before NATS sees it",
            )
        ]
    if sans is not None and hostnames.uncovered([host], sans):
        return [Problem(key, url, f"no certificate SAN covers {host!r}: the client rejects the server certificate")]
    return []
