"""What a CSC and a CPC both run: keys and Secrets, nats (+mtls), auth-callout, NACK, Surveyor, streams, routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.auth_callout import AuthCalloutService, service_args
from components.certificates import MtlsCertificate, MtlsCertificateArgs
from components.gateway import GatewayRouteResources, GatewayRouteResourcesArgs
from components.monitoring import MonitoringResources, MonitoringResourcesArgs
from components.nack import Nack, NackArgs, nack_values
from components.nats import NatsServers, NatsServersArgs, main_values, mtls_values, rolled, start_parts
from components.secrets import ENV_CONFIG_MAP, LABELS, ClusterSecrets, ClusterSecretsArgs
from components.streams import MqttStreamResources, MqttStreamResourcesArgs
from components.surveyor import Surveyor, SurveyorArgs, surveyor_release, surveyor_values
from components.sveltos import SveltosArgs, SveltosOnBus
from dsxbus import gateway, hostnames, monitoring, naming, natsconf, render
from dsxbus.config import EventBus


@dataclass(frozen=True)
class ClusterInputs:
    """A cluster's config and what its stack references contribute (as Outputs: values, never the resource set)."""

    bus: EventBus
    """The stack's own config: decides which resources exist."""
    effective: EventBus
    """With inherited fleet defaults filled in (a CPC reads them before declaring anything): decides values."""
    files: render.ClusterFiles
    permissions_json: pulumi.Input[str]
    """An Output on the CSC: whom it admits follows what its CPC stacks export."""
    stream_specs: Mapping[str, pulumi.Input[dict[str, Any]]]
    """The MQTT streams' NACK specs by object name; Outputs on the CSC, as its CPCs' source streams follow them."""
    cpc_leaf_public_keys: Mapping[str, pulumi.Output[dict[str, str] | None]] | None = None


def build(name: str, inputs: ClusterInputs, parent: pulumi.Resource) -> ClusterSecrets:
    """Create the cluster's components under `parent`; returns the Secrets (their public keys feed exports)."""
    bus = inputs.bus
    child = pulumi.ResourceOptions(parent=parent)
    namespace: pulumi.Input[str] = bus.namespace
    if bus.create_namespace:
        ns = k8s.core.v1.Namespace(f"{name}-namespace", metadata={"name": bus.namespace, "labels": LABELS}, opts=child)
        namespace = ns.metadata.apply(lambda m: m.name or bus.namespace)  # every object waits for its namespace
    secrets = ClusterSecrets(
        f"{name}-secrets",
        ClusterSecretsArgs(
            namespace,
            bus.cluster_type,
            bus.mtls.enabled,
            bus.enabled_extra_accounts,
            inputs.cpc_leaf_public_keys or {},
            bus.key_generations,
        ),
        opts=child,
    )
    certificate = None
    issuer = bus.mtls.certificate_issuer
    if bus.mtls.enabled and issuer is not None:  # else the operator provides the Secret
        names = hostnames.mtls_server_names(bus)
        certificate = MtlsCertificate(
            f"{name}-mtls-certificate",
            MtlsCertificateArgs(namespace, names.common_name, names.dns_names, issuer, bus.key_generations.mtls_server),
            opts=child,
        )
    # Pods read their keys at start and fail on a missing secretKeyRef: create the Secrets first.
    prerequisites: list[pulumi.Resource] = [*secrets.secrets, *([certificate] if certificate else [])]
    keyed = pulumi.ResourceOptions(parent=parent, depends_on=prerequisites)
    files = inputs.files

    def nats_release(values: dict[str, Any], tree: natsconf.Tree) -> dict[str, Any]:
        # Each pod template carries the checksum of what its pods read only at start (dsxbus.rollout).
        env_maps = {ENV_CONFIG_MAP: files.environment}
        parts = start_parts(bus, tree)
        return rolled(values, secrets.start_checksum(values["container"]["env"], config_maps=env_maps, config=parts))

    chart_conf = render.sharded_nats_conf(bus, files.nats_conf)
    nats = NatsServers(
        f"{name}-nats",
        NatsServersArgs(
            namespace,
            bus.charts,
            files.environment,
            nats_release(main_values(bus, files.nats_conf, chart_conf), files.nats_conf),
            chart_conf.shards,
            nats_release(mtls_values(bus, files.nats_mtls_conf), files.nats_mtls_conf)
            if files.nats_mtls_conf is not None
            else None,
        ),
        opts=keyed,
    )

    def callout_checksum(env: list[dict[str, Any]], config_yaml: str) -> pulumi.Output[str]:
        return secrets.start_checksum(env, config={"config.yaml": config_yaml})

    AuthCalloutService(
        f"{name}-auth-callout",
        service_args(namespace, bus, inputs.effective, inputs.permissions_json, callout_checksum),
        opts=keyed,
    )
    nack_checksum = secrets.start_checksum([], mounted=(naming.NACK_USER.seed.secret,))
    nack = Nack(
        f"{name}-nack",
        NackArgs(namespace, bus.charts, nack_values(bus.images.nack, bus.resources.nack.manifest(), nack_checksum)),
        opts=keyed,
    )
    surveyor_checksum = secrets.start_checksum([], mounted=(naming.SURVEYOR_USER.seed.secret,))
    Surveyor(
        f"{name}-surveyor",
        SurveyorArgs(namespace, bus.charts, surveyor_release(bus), surveyor_values(bus, surveyor_checksum)),
        opts=keyed,
    )
    # The Stream CRDs come with the nack chart; the streams must exist before MQTT clients (see dsxbus.streams).
    MqttStreamResources(
        f"{name}-streams",
        MqttStreamResourcesArgs(namespace, inputs.stream_specs),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[nack.chart, nats.main]),
    )
    if bus.sveltos.enabled:
        # The client certificate comes from the same issuer; its streams need NACK and the servers.
        SveltosOnBus(
            f"{name}-sveltos",
            SveltosArgs(
                bus.namespace, bus.sveltos, bus.sveltos.identity_for(bus.cluster_name), bus.mtls.certificate_issuer
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[*prerequisites, nack.chart, nats.main]),
        )
    GatewayRouteResources(
        f"{name}-gateway", GatewayRouteResourcesArgs(namespace, gateway.route_objects(bus)), opts=child
    )
    MonitoringResources(
        f"{name}-monitoring",
        MonitoringResourcesArgs(
            namespace,
            bus.release_name,
            bus.monitoring,
            monitoring.alert_rules(bus.namespace, bus.monitoring.alerts.team, monitoring.watched(bus)),
            monitoring.dashboard(bus.namespace),
        ),
        opts=child,
    )
    return secrets
