"""The nats-mtls server certificate from cert-manager, its SANs the same hostnames the TLSRoute routes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus import naming, rotation
from dsxbus.config import CertificateIssuer


@dataclass(frozen=True)
class MtlsCertificateArgs:
    namespace: pulumi.Input[str]
    common_name: str
    dns_names: tuple[str, ...]
    """dsxbus.hostnames.mtls_server_names: what clients and the Sveltos agent dial."""
    issuer: CertificateIssuer
    generation: int = 0
    """keyGenerations.mtlsServer (dsxbus.rotation.mtls_server_certificate_fields)."""


class MtlsCertificate(pulumi.ComponentResource):
    """cert-manager `Certificate` writing Secret `nats-mtls-server-tls` (ca.crt, tls.crt, tls.key)."""

    def __init__(self, name: str, args: MtlsCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:certificates:MtlsCertificate", name, None, opts)
        issuer = args.issuer
        k8s.apiextensions.CustomResource(
            f"{name}-{naming.MTLS_SERVER_TLS}",
            api_version="cert-manager.io/v1",
            kind="Certificate",
            metadata={"name": naming.MTLS_SERVER_TLS, "namespace": args.namespace, "labels": LABELS},
            spec={
                "secretName": naming.MTLS_SERVER_TLS,
                "commonName": args.common_name,
                "dnsNames": list(args.dns_names),
                "usages": ["server auth", "digital signature", "key encipherment"],
                "issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": issuer.group},
                **rotation.mtls_server_certificate_fields(args.generation),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"secretName": naming.MTLS_SERVER_TLS, "dnsNames": list(args.dns_names)})
