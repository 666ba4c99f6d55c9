"""Policy 2: mTLS names agree: TLSRoute hostnames, server certificate SANs, client URLs (RFC 6125; no SNI for IPs)."""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from dsxbus import hostnames, naming
from policy.reading import (
    K8sObject,
    Later,
    config_of,
    current_stack,
    for_this_stack,
    object_of,
    objects_of,
    prop,
    same_namespace,
    strings_in,
)


def _hostnames_of(route: K8sObject) -> list[str]:
    return strings_in(prop(route.props, "spec", "hostnames"))


def _validate_tlsroute_hostnames(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    route = object_of(args)
    if not route.is_k8s("TLSRoute"):
        return
    for index, host in enumerate(_hostnames_of(route)):
        if hostnames.is_ip_literal(host):
            report_violation(
                f"{route.label}: spec.hostnames[{index}] = {host!r} is an IP address. TLS clients send no SNI for an "
                "IP address, so the gateway can never match this route (and Gateway API forbids IP hostnames). "
                "Fix: point a DNS name at the gateway's address and use it here, in the server certificate and in "
                "the clients' broker URL.",
                None,
            )


@dataclass(frozen=True)
class _ServerNames:
    sans: list[str]
    source: str


def _server_certificate(route: K8sObject, certificates: list[K8sObject], secret: str) -> _ServerNames | None:
    """The SANs of the server certificate behind a passthrough route: cert-manager Certificates of its Secret."""
    chosen = [c for c in certificates if same_namespace(route, c) and prop(c.props, "spec", "secretName") == secret]
    if not chosen:
        return None
    sans = [
        *(s for c in chosen for s in strings_in(prop(c.props, "spec", "dnsNames"))),
        *(s for c in chosen for s in strings_in(prop(c.props, "spec", "ipAddresses"))),
    ]
    return _ServerNames(sans, " and ".join(c.label for c in chosen))


def _validate_mtls_names(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = config_of(args)
    secret = str(config.get("serverCertSecretName") or naming.MTLS_SERVER_TLS)
    declared = for_this_stack(config.get("serverCertSans"))
    client_urls = for_this_stack(config.get("clientUrls")) or []
    resources = objects_of(args)
    later = Later()
    certificates = [r for r in resources if r.is_k8s("Certificate") and "cert-manager.io" in r.type]
    routed: list[str] = []
    for route in (r for r in resources if r.is_k8s("TLSRoute")):
        with later.reading(route.label):
            hosts = [h for h in _hostnames_of(route) if not hostnames.is_ip_literal(h)]  # IPs: their own policy
            routed += hosts
            names = _server_certificate(route, certificates, secret)
            if names is None and declared is not None:
                names = _ServerNames(declared, f"Secret {secret} (SANs declared in the policy config)")
            if names is None:
                if hosts:
                    report_violation(
                        f"{route.label} routes {hosts} to a server whose certificate (Secret {secret}) this stack does "
                        "not create, so nothing shows its SANs agree with these names. Fix: declare the certificate's "
                        f"SANs in the policy config (mtls-names-agree.serverCertSans.{current_stack() or '<stack>'}), "
                        "or let cert-manager issue it (mtls.certificateIssuer).",
                        route.urn,
                    )
                continue
            for host in hostnames.uncovered(hosts, names.sans):
                report_violation(
                    f"{route.label} routes {host!r}, but no SAN of the server certificate ({names.source}: "
                    f"{names.sans}) covers it (RFC 6125: a wildcard stands for exactly one leftmost label): clients "
                    f"dialling {host!r} reject the certificate and never connect. Fix: add {host!r} to the "
                    "certificate's SANs, or route only names it covers.",
                    route.urn,
                )
    if later.unknown:
        later.settle()  # a route not known yet: checking client URLs against the others would mislead
    all_sans: list[str] | None = declared
    with later.reading("the server certificates"):
        for certificate in certificates:
            if prop(certificate.props, "spec", "secretName") == secret:
                all_sans = [
                    *(all_sans or []),
                    *strings_in(prop(certificate.props, "spec", "dnsNames")),
                    *strings_in(prop(certificate.props, "spec", "ipAddresses")),
                ]
    for url in client_urls:
        try:
            host = hostnames.host_of_url(url)
        except ValueError:
            report_violation(
                f"client URL {url!r} (policy config clientUrls) has no host: write it as ssl://<name>:8883.", None
            )
            continue
        if routed and not hostnames.sends_sni(host):
            report_violation(
                f"client URL {url!r} names the IP address {host!r}. TLS clients send no SNI for an IP address, so "
                f"the gateway cannot match it to the TLSRoute hostnames {routed} and resets the connection before "
                "NATS sees it. Fix: give clients a DNS name from the route's hostnames.",
                None,
            )
            continue
        if routed and hostnames.uncovered([host], routed):
            report_violation(
                f"client URL {url!r}: {host!r} is not among the TLSRoute hostnames {routed}, so the gateway resets "
                "the connection before NATS sees it. Fix: use one of those names in the URL, or add it to the route "
                "and the certificate.",
                None,
            )
        if all_sans is not None and hostnames.uncovered([host], all_sans):
            report_violation(
                f"client URL {url!r}: no SAN of the server certificate {all_sans} covers {host!r}, so the client "
                "rejects the certificate (hostname mismatch). Fix: add the name to the certificate, or use one it has.",
                None,
            )
    later.settle()


TLSROUTE_HOSTNAMES_ARE_DNS_NAMES = ResourceValidationPolicy(
    name="tlsroute-hostnames-are-dns-names",
    display_name="TLSRoute hostnames are DNS names",
    description="TLSRoute hostnames are DNS names that clients send as SNI; an IP address is never sent as SNI.",
    validate=_validate_tlsroute_hostnames,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Point a DNS name at the gateway; use it in spec.hostnames, the certificate and client URLs.",
)

MTLS_NAMES_AGREE = StackValidationPolicy(
    name="mtls-names-agree",
    display_name="mTLS route, certificate and client URLs name the same hosts",
    description=(
        "Every TLSRoute hostname is covered by a SAN of the server certificate (cert-manager Certificate dnsNames/"
        "ipAddresses, or SANs declared in the policy config), and every client URL in the policy config names a "
        "routed host the certificate covers. Otherwise Envoy resets the connection or the client rejects the "
        "certificate, silently for NATS."
    ),
    validate=_validate_mtls_names,
    enforcement_level=EnforcementLevel.MANDATORY,
    config_schema=PolicyConfigSchema(
        properties={
            "serverCertSecretName": {
                "type": "string",
                "default": naming.MTLS_SERVER_TLS,
                "description": "The Secret holding the passthrough server's certificate (tls.crt).",
            },
            "serverCertSans": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "default": {},
                "description": "Stack name (or '*') -> SANs of an operator-provided server certificate Secret.",
            },
            "clientUrls": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "default": {},
                "description": "Stack name (or '*') -> broker URLs clients are given, e.g. ssl://mqtt.example.com:8883.",
            },
        }
    ),
    remediation_steps=(
        "Use one DNS name (or a wildcard covering it) in the TLSRoute hostnames, the certificate SANs and the client "
        "URLs; with dsx-bus set mtls.hostnames, which feeds both the route and the Certificate."
    ),
)
