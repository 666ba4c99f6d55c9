"""The nats-mtls server certificate from cert-manager, its SANs the same hostnames the TLSRoute routes."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.secrets import LABELS
from dsxbus import naming
from dsxbus.config import EventBus
from dsxbus.sveltos import agent as sveltos_agent


@dataclass(frozen=True)
class MtlsCertificateArgs:
    namespace: pulumi.Input[str]
    bus: EventBus


class MtlsCertificate(pulumi.ComponentResource):
    """cert-manager `Certificate` writing Secret `nats-mtls-server-tls` (ca.crt, tls.crt, tls.key)."""

    def __init__(self, name: str, args: MtlsCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:certificates:MtlsCertificate", name, None, opts)
        bus = args.bus
        issuer = bus.mtls.certificate_issuer
        if issuer is None:  # the caller decides; an operator-provided Secret needs nothing here
            raise ValueError("MtlsCertificate needs mtls.certificateIssuer")
        hostnames = list(bus.mtls.hostnames)
        if bus.sveltos.enabled:  # the agent dials the in-cluster service over TLS
            hostnames += sveltos_agent.in_cluster_hostnames(bus.namespace)
        k8s.apiextensions.CustomResource(
            f"{name}-{naming.MTLS_SERVER_TLS}",
            api_version="cert-manager.io/v1",
            kind="Certificate",
            metadata={"name": naming.MTLS_SERVER_TLS, "namespace": args.namespace, "labels": LABELS},
            spec={
                "secretName": naming.MTLS_SERVER_TLS,
                "commonName": hostnames[0] if hostnames else f"nats-mtls.{bus.cluster_name}",
                "dnsNames": hostnames,
                "usages": ["server auth", "digital signature", "key encipherment"],
                "issuerRef": {"name": issuer.name, "kind": issuer.kind, "group": issuer.group},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"secretName": naming.MTLS_SERVER_TLS, "dnsNames": hostnames})
