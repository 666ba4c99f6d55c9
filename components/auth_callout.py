"""The auth-callout as native resources (its chart is unpublished): config, permissions, Deployment, Services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.secrets import LABELS, env_sources
from dsxbus import naming, rollout, sizing
from dsxbus.config import AuthCallout, EventBus

HTTP_PORT = 8000
METRICS_PORT = 9090
PERMISSIONS_CONFIG_MAP = naming.PERMISSIONS_CONFIG_MAP
MTLS_CA_PATH = "/etc/mtls-ca/ca.crt"


def service_config(bus: EventBus) -> dict[str, Any]:
    """`config.yaml` (INVENTORY §3 keys): where NATS is, JWKS if complete, metrics on for the ServiceMonitor."""
    config: dict[str, Any] = {
        "host": {"port": HTTP_PORT},
        "nats": {"url": "nats://nats:4222"},
        "permissions": {"file": "/etc/auth-callout/permissions.json"},
        "observability": {"metrics": {"enabled": True, "provider": "prometheus", "prometheus": {"port": METRICS_PORT}}},
    }
    if bus.jwks is not None:  # url without issuer+audience makes it exit; config validation refuses that
        config["jwks"] = {
            "url": bus.jwks.url,
            "issuer": bus.jwks.issuer,
            "audience": bus.jwks.audience,
            "signing-algorithms": list(bus.jwks.signing_algorithms),
        }
    return config


def container_env(bus: EventBus) -> list[dict[str, Any]]:
    """The upstream env order: service, downward API, base keys, mtls keys, per-CPC leaf keys, CA path, extras."""
    sources = env_sources(bus)
    env: list[dict[str, Any]] = [
        {"name": "AUTH_CALLOUT_SERVICE_NAME", "value": bus.release_name},
        {"name": "AUTH_CALLOUT_SERVICE_SERVER_PORT", "value": str(HTTP_PORT)},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    # Every generated name is a key from an upstream Secret, but the CA path (a path, set below).
    for name in naming.generated_env_names(bus.cluster_type, bus.mtls.enabled, bus.cpc_ids, bus.enabled_extra_accounts):
        if name != naming.MTLS_CA_PATH_ENV:
            env.append({"name": name, **sources[name]})
    if bus.mtls.enabled:
        env.append({"name": naming.MTLS_CA_PATH_ENV, "value": MTLS_CA_PATH})
    env += [{"name": k, "value": v} for k, v in sorted(bus.auth_callout.extra_envs.items())]
    return env


@dataclass(frozen=True)
class AuthCalloutServiceArgs:
    namespace: pulumi.Input[str]
    release_name: str
    settings: AuthCallout
    """The operator's `authCallout` block: image, replicas."""
    config_yaml: str
    """`service_config` of the config with inherited fleet defaults (jwks) filled in."""
    env: list[dict[str, Any]]
    """`container_env` of the stack's own config (which keys exist)."""
    mtls: bool
    """Mount the mTLS CA (the auth-callout maps client certificates to identities)."""
    service_monitor: bool
    permissions_json: pulumi.Input[str]
    checksum: pulumi.Input[str]
    """Of what the pod reads only at start: config.yaml and every key in its env (on the CSC the CPCs' leaf
    public keys). permissions.json is re-read every 5 s, so it is not in it."""
    replicas: int = 1
    """`sizing.auth_callout_replicas`: 2 by default where nats runs 3 servers."""
    resources: dict[str, Any] | None = None
    """The container's `resources` (`resources.authCallout`, upstream's by default)."""


def service_args(
    namespace: pulumi.Input[str],
    bus: EventBus,
    effective: EventBus,
    permissions_json: pulumi.Input[str],
    start_checksum: Callable[[list[dict[str, Any]], str], pulumi.Input[str]],
) -> AuthCalloutServiceArgs:
    """What the auth-callout needs of a stack's own config (`bus`) and of its effective one (`effective`);
    `start_checksum(env, config_yaml)` fingerprints what it reads at start (ClusterSecrets.start_checksum)."""
    config_yaml = yaml.safe_dump(service_config(effective), sort_keys=True)
    env = container_env(bus)
    return AuthCalloutServiceArgs(
        namespace,
        bus.release_name,
        bus.auth_callout,
        config_yaml,
        env,
        bus.mtls.enabled,
        bus.monitoring.service_monitors,
        permissions_json,
        start_checksum(env, config_yaml),
        sizing.auth_callout_replicas(bus.auth_callout.replicas, bus.nats.replicas),
        bus.resources.auth_callout.manifest(),
    )


class AuthCalloutService(pulumi.ComponentResource):
    """ServiceAccount, ConfigMaps config.yaml and permissions.json, Deployment, Services, ServiceMonitor."""

    deployment: k8s.apps.v1.Deployment

    def __init__(self, name: str, args: AuthCalloutServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:auth_callout:AuthCallout", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        full = f"{args.release_name}-auth-callout"
        selector = {"app.kubernetes.io/name": "auth-callout", "app.kubernetes.io/instance": args.release_name}
        labels = {**LABELS, **selector}

        # Plain dicts in the CRD field names; `Any` because the SDK's TypedDicts are stricter than useful here.
        def meta(object_name: str, extra: dict[str, str] | None = None) -> Any:
            return {"name": object_name, "namespace": args.namespace, "labels": {**labels, **(extra or {})}}

        k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(full), opts=child)
        config_yaml = args.config_yaml
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(f"{full}-config"), data=cast(Any, {"config.yaml": config_yaml}), opts=child
        )
        permissions = k8s.core.v1.ConfigMap(
            f"{name}-permissions",
            metadata=meta(PERMISSIONS_CONFIG_MAP),
            data=cast(Any, {"permissions.json": args.permissions_json}),
            opts=child,
        )
        volumes: list[dict[str, Any]] = [
            {"name": "config-volume", "configMap": {"name": f"{full}-config"}},
            {"name": "permissions-volume", "configMap": {"name": PERMISSIONS_CONFIG_MAP}},
        ]
        mounts: list[dict[str, Any]] = [
            {"name": "config-volume", "mountPath": "/etc/config"},
            {"name": "permissions-volume", "mountPath": "/etc/auth-callout"},
        ]
        if args.mtls:
            volumes.append(
                {
                    "name": "mtls-ca",
                    "secret": {"secretName": naming.MTLS_SERVER_TLS, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
                }
            )
            mounts.append({"name": "mtls-ca", "mountPath": "/etc/mtls-ca", "readOnly": True})
        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(full),
            spec=cast(
                Any,
                {
                    "replicas": args.replicas,
                    "selector": {"matchLabels": selector},
                    "template": {
                        "metadata": {"labels": labels, "annotations": {rollout.AUTH_CALLOUT_ANNOTATION: args.checksum}},
                        "spec": {
                            "serviceAccountName": full,
                            "containers": [
                                {
                                    "name": "auth-callout",
                                    "image": args.settings.image,
                                    "args": ["--config", "/etc/config/config.yaml"],
                                    "ports": [
                                        {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
                                        {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                                    ],
                                    "env": args.env,
                                    "livenessProbe": {
                                        "httpGet": {"path": "/livez", "port": "http"},
                                        "initialDelaySeconds": 10,
                                        "periodSeconds": 10,
                                        "timeoutSeconds": 5,
                                        "failureThreshold": 3,
                                    },
                                    # 503 while NATS is unreachable: no traffic to a callout that cannot answer.
                                    "readinessProbe": {
                                        "httpGet": {"path": "/healthz", "port": "http"},
                                        "initialDelaySeconds": 5,
                                        "periodSeconds": 5,
                                        "timeoutSeconds": 3,
                                        "failureThreshold": 3,
                                    },
                                    "volumeMounts": mounts,
                                    **({"resources": args.resources} if args.resources else {}),
                                }
                            ],
                            "volumes": volumes,
                        },
                    },
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[config_map, permissions]),
        )
        budget = sizing.pod_disruption_budget(args.replicas)
        if budget is not None:  # a drain takes one callout pod at a time: sign-ins never stop
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=meta(full),
                spec=cast(Any, {**budget, "selector": {"matchLabels": selector}}),
                opts=child,
            )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(full),
            spec=cast(
                Any, {"selector": selector, "ports": [{"name": "http", "port": HTTP_PORT, "targetPort": "http"}]}
            ),
            opts=child,
        )
        metrics_labels = {"app.kubernetes.io/component": "metrics"}
        k8s.core.v1.Service(
            f"{name}-metrics",
            metadata=meta(f"{full}-metrics", metrics_labels),
            spec=cast(
                Any,
                {"selector": selector, "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"}]},
            ),
            opts=child,
        )
        if args.service_monitor:
            k8s.apiextensions.CustomResource(
                f"{name}-servicemonitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=meta(full),
                spec={
                    "selector": {"matchLabels": {**selector, **metrics_labels}},
                    "namespaceSelector": {"matchNames": [args.namespace]},
                    "endpoints": [{"port": "metrics", "path": "/metrics"}],
                },
                opts=child,
            )
        self.register_outputs({"deployment": self.deployment.metadata.apply(lambda m: m.name)})
