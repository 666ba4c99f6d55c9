"""One stack's `pulumi up` under mocks, and everything its namespace would then hold: the charts as helm renders
them, the program's own objects, the Secrets cert-manager writes and the Secrets the operator must provide."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dsxbus import certs, naming, stackfile
from dsxbus.config import EventBus
from tests.charts import helm
from tests.charts.podspec import Inventory, Manifest, PodSpec, inventory, pod_specs
from tests.program import harness
from tests.program.harness import Run, unwrap


def _tls_secret(name: str, hosts: list[str], *, client: bool = False) -> Manifest:
    """A kubernetes.io/tls Secret with ca.crt as cert-manager writes it, with throw-away certificates."""
    ca = certs.LocalCa(f"dsx-bus chart test CA for {name} (throw-away)")
    issued = ca.client(hosts[0]) if client else ca.server(hosts[0], hosts)
    return {
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "kubernetes.io/tls",
        "stringData": {
            "ca.crt": ca.pem.certificate.decode(),
            "tls.crt": issued.certificate.decode(),
            "tls.key": issued.key.decode(),
        },
    }


def issued_secrets(program: list[Manifest]) -> list[Manifest]:
    """cert-manager writes each Certificate's spec.secretName (tls.crt, tls.key, ca.crt)."""
    secrets = []
    for manifest in program:
        if manifest.get("kind") != "Certificate":
            continue
        spec = manifest["spec"]
        hosts = list(spec.get("dnsNames") or []) or [spec.get("commonName") or manifest["metadata"]["name"]]
        client = "client auth" in (spec.get("usages") or []) and "server auth" not in (spec.get("usages") or [])
        secrets.append(_tls_secret(spec["secretName"], hosts, client=client))
    return secrets


def operator_secrets(bus: EventBus) -> list[Manifest]:
    """The Secrets the config names but leaves to the operator (README: `cscLeafServerTLS` / `cpcLeafClientTLS`,
    and `mtls.serverCertSans` for an operator-provided `nats-mtls-server-tls`)."""
    secrets = []
    for tls in (bus.csc_leaf_server_tls, bus.cpc_leaf_client_tls):
        if tls is not None:
            secrets.append(_tls_secret(tls.secret_name, ["leaf.dsx.example.com"]))
    if bus.mtls.enabled and bus.mtls.server_cert_sans is not None and bus.mtls.certificate_issuer is None:
        secrets.append(_tls_secret(naming.MTLS_SERVER_TLS, list(bus.mtls.server_cert_sans) or ["nats-mtls"]))
    return secrets


def program_manifests(run: Run) -> list[Manifest]:
    """Every Kubernetes object the program registers, as the plain manifest the provider would apply."""
    manifests: list[Manifest] = []
    for (kind, _name), captured in run.k8s_objects().items():
        manifests.append({**harness.plain(unwrap(captured.inputs)), "kind": kind})
    return manifests


@dataclass(frozen=True)
class Deployment:
    name: str
    """`cpc-a`, `csc-leaf-tls`: the example stack or variant."""
    run: Run = field(repr=False)
    overrides: Mapping[str, helm.Release] = field(default_factory=dict, repr=False)
    """Releases replaced by a broken copy (the tests that prove a check catches a mistake)."""

    def replacing(self, release: helm.Release) -> Deployment:
        return Deployment(f"{self.name} (changed)", self.run, {**self.overrides, release.release: release})

    @functools.cached_property
    def bus(self) -> EventBus:
        return stackfile.parse(self.run.config["dsx-bus:eventBus"])[0]

    @functools.cached_property
    def releases(self) -> dict[str, helm.Release]:
        """Release name -> the Chart registration."""
        registered = {name: helm.Release.of(chart) for name, chart in self.run.charts().items()}
        return {**registered, **self.overrides}

    def rendered(self, release: str) -> list[Manifest]:
        return list(helm.render(self.releases[release]))

    @functools.cached_property
    def program(self) -> list[Manifest]:
        return program_manifests(self.run)

    @functools.cached_property
    def outside_secrets(self) -> list[Manifest]:
        """Secrets neither the charts nor the program create, but which exist once it is deployed."""
        return issued_secrets(self.program) + operator_secrets(self.bus)

    def everything(self) -> list[Manifest]:
        rendered = [m for release in self.releases for m in self.rendered(release)]
        return [*rendered, *self.program, *self.outside_secrets]

    def inventory(self) -> Inventory:
        return inventory(self.everything())

    def pod_specs(self) -> list[PodSpec]:
        """Every pod the charts render or the program declares (the auth-callout Deployment)."""
        return pod_specs(self.everything())

    def pod(self, owner: str) -> PodSpec:
        (found,) = [p for p in self.pod_specs() if p.owner == owner]
        return found

    def routes(self) -> list[Manifest]:
        return [m for m in self.program if m.get("kind") in ("TCPRoute", "TLSRoute", "HTTPRoute", "GRPCRoute")]


def changed(release: helm.Release, change: Callable[[dict[str, Any]], object]) -> helm.Release:
    """The same registration with `change` applied to a copy of its values."""
    values = copy.deepcopy(dict(release.values))
    change(values)
    return helm.Release(release.release, release.chart, release.version, release.namespace, values)
