"""Small Pulumi programs for the policy tests: Kubernetes objects declared by hand (no dsx-bus config model, no
dsx-bus components), and the real components built from a config that skips the config model's checks."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import program as components
from dsxbus import naming, natsconf, render
from dsxbus.config import EventBus

NAMESPACE = "dsx"
CSC_REF = "organization/dsx-bus/csc"


def _meta(name: str) -> Any:
    return {"name": name, "namespace": NAMESPACE}


def config_map(resource_name: str, name: str, data: Mapping[str, str]) -> k8s.core.v1.ConfigMap:
    return k8s.core.v1.ConfigMap(resource_name, metadata=_meta(name), data=dict(data))


def permissions(document: Mapping[str, Any], name: str = "auth-callout-permissions") -> k8s.core.v1.ConfigMap:
    return config_map(name, name, {"permissions.json": json.dumps(document)})


def auth_callout_config(config: Mapping[str, Any], name: str = "auth-callout-config") -> k8s.core.v1.ConfigMap:
    return config_map(name, name, {"config.yaml": yaml.safe_dump(dict(config))})


def auth_callout(
    env: Sequence[Mapping[str, Any]] = (),
    config_maps: Sequence[str] = ("auth-callout-config", "auth-callout-permissions"),
    image: str = "registry.example.com/auth-callout:v0.1.0",
) -> k8s.apps.v1.Deployment:
    """A Deployment mounting the auth-callout's ConfigMaps, as upstream's chart writes it."""
    return k8s.apps.v1.Deployment(
        "auth-callout",
        metadata=_meta("auth-callout"),
        spec=cast(
            Any,
            {
                "selector": {"matchLabels": {"app": "auth-callout"}},
                "template": {
                    "metadata": {"labels": {"app": "auth-callout"}},
                    "spec": {
                        "containers": [{"name": "auth-callout", "image": image, "env": [dict(e) for e in env]}],
                        "volumes": [{"name": name, "configMap": {"name": name}} for name in config_maps],
                    },
                },
            },
        ),
    )


def secret(name: str, string_data: Mapping[str, pulumi.Input[str]]) -> k8s.core.v1.Secret:
    return k8s.core.v1.Secret(name, metadata=_meta(name), string_data=dict(string_data))


def custom(kind: str, api_version: str, name: str, spec: Mapping[str, Any]) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name, api_version=api_version, kind=kind, metadata=_meta(name), spec=dict(spec)
    )


def tls_route(name: str, hostnames: Sequence[pulumi.Input[str]]) -> k8s.apiextensions.CustomResource:
    spec = {
        "parentRefs": [{"name": "gw", "namespace": "gw", "sectionName": "mqtt-mtls"}],
        "hostnames": list(hostnames),
        "rules": [{"backendRefs": [{"name": "nats-mtls", "port": 1883}]}],
    }
    return custom("TLSRoute", "gateway.networking.k8s.io/v1", name, spec)


def certificate(
    dns_names: Sequence[str], ip_addresses: Sequence[str] = (), secret_name: str = naming.MTLS_SERVER_TLS
) -> k8s.apiextensions.CustomResource:
    spec: dict[str, Any] = {"secretName": secret_name, "dnsNames": list(dns_names), "issuerRef": {"name": "ca"}}
    if ip_addresses:
        spec["ipAddresses"] = list(ip_addresses)
    return custom("Certificate", "cert-manager.io/v1", "server-cert", spec)


def nats_release(accounts: Mapping[str, Any], **merge: Any) -> k8s.helm.v3.Release:
    """The upstream nats chart as a Helm Release, its accounts written by hand in `config.merge`."""
    return k8s.helm.v3.Release(
        "nats",
        chart="nats",
        version="1.3.6",
        namespace=NAMESPACE,
        repository_opts={"repo": "https://nats-io.github.io/k8s/helm/charts/"},
        values={"config": {"jetstream": {"enabled": True}, "merge": {"accounts": dict(accounts), **merge}}},
    )


def cpc_accounts(
    cluster_id: str, csc_exports: Sequence[str], prefixed: Sequence[str], cpc_exports: Sequence[str]
) -> dict[str, Any]:
    """A CPC's CSC and CPC accounts in the upstream chart's shape, spelled out literally (no dsx-bus renderer)."""
    own = f"cpc.{cluster_id}."
    return {
        "CSC": {
            "exports": [{"stream": s} for s in [*csc_exports, *prefixed, own + ">"]],
            "imports": [{"stream": {"account": "CPC", "subject": s}, "to": own + s} for s in cpc_exports],
        },
        "CPC": {
            "jetstream": True,
            "exports": [{"stream": s} for s in cpc_exports],
            "imports": [
                *({"stream": {"account": "CSC", "subject": s}} for s in csc_exports),
                *({"stream": {"account": "CSC", "subject": own + s}, "to": s} for s in prefixed),
            ],
        },
    }


def bypassing_the_model(event_bus: Mapping[str, Any]) -> pulumi.Output[Any] | None:
    """The real CSC/CPC components on a config that only passed pydantic, not dsx-bus's domain checks (what a
    stack gets when it builds the components itself, or when its config predates a rule)."""
    bus = EventBus.model_validate(dict(event_bus))
    for name, value in components.build(bus, components.kubernetes_provider(bus)).items():
        pulumi.export(name, value)
    return None


def chart_rendered_nats_conf(event_bus: Mapping[str, Any]) -> str:
    """The nats.conf the upstream nats chart renders into ConfigMap `nats-config` from dsx-bus's `config.merge`:
    `toPrettyRawJson`, then `"<< $X >>"` unquoted to `$X` (the chart's helper nats.formatConfig). A real engine
    analyzes this rendered child of the helm.v4 Chart; mocks do not run helm, so tests declare it."""
    bus = EventBus.model_validate(dict(event_bus))
    merge = natsconf.chart_merge(render.cluster_files(bus, csc_endpoint=render.PLACEHOLDER_CSC_ENDPOINT).nats_conf)
    return re.sub(r'"<<\s+(.*)\s+>>"', r"\1", json.dumps(merge, indent=2))
