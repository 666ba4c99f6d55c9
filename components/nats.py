"""The `nats` and `nats-mtls` servers: the upstream nats chart with the core's NATS config as `config.merge`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.charts import chart, image
from components.secrets import ENV_CONFIG_MAP, LABELS, env_sources
from dsxbus import naming, natsconf, render, rollout, sizing
from dsxbus.config import Charts, EventBus, LeafTls

# The chart sets these itself (POD_NAME fieldRef, SERVER_NAME=$(POD_NAME)).
_CHART_ENV = frozenset({"SERVER_NAME", "POD_NAME"})


def chart_env(bus: EventBus, tree: natsconf.Tree) -> dict[str, Any]:
    """`container.env` for every `$VAR` the tree refers to, from the upstream Secrets and ConfigMap."""
    sources = env_sources(bus)
    needed = sorted(natsconf.variables_in(tree) - _CHART_ENV)
    unknown = [name for name in needed if name not in sources]
    if unknown:  # a renderer/naming mismatch is a dsx-bus bug, not an operator mistake
        raise AssertionError(f"no Secret or ConfigMap provides {', '.join(unknown)}")
    return {name: sources[name] for name in needed}


def _mount_patches(volume: str, source: dict[str, Any], mount_path: str) -> tuple[list[Any], list[Any]]:
    """JSON patches mounting a volume (`source`: `{"secret": ...}` or `{"configMap": ...}`) into the nats container."""
    pod = [{"op": "add", "path": "/spec/volumes/-", "value": {"name": volume, **source}}]
    container = [
        {"op": "add", "path": "/volumeMounts/-", "value": {"name": volume, "mountPath": mount_path, "readOnly": True}}
    ]
    return pod, container


def _secret_mount_patches(volume: str, secret_name: str, mount_path: str) -> tuple[list[Any], list[Any]]:
    return _mount_patches(volume, {"secret": {"secretName": secret_name}}, mount_path)


def _add_patches(values: dict[str, Any], pod: list[Any], container: list[Any]) -> None:
    # Every mount adds to the same two patch lists (the leaf TLS and the accounts shards): none replaces another.
    values.setdefault("podTemplate", {}).setdefault("patch", []).extend(pod)
    values.setdefault("container", {}).setdefault("patch", []).extend(container)


# The chart copies every nats container mount under these prefixes into the reloader (its default).
_RELOADER_MOUNT_PREFIXES = ("/etc/",)


def reloader_values(bus: EventBus, tree: natsconf.Tree, mount_paths: tuple[str, ...] = ()) -> dict[str, Any]:
    """The reloader sees every certificate mount (the chart copies them from the nats container) and watches
    every certificate file of the config, so a renewed certificate reloads the server."""
    values: dict[str, Any] = {"image": image(bus.images.config_reloader)}
    outside = [p for p in mount_paths if not p.startswith(_RELOADER_MOUNT_PREFIXES)]
    if outside:
        values["natsVolumeMountPrefixes"] = [*_RELOADER_MOUNT_PREFIXES, *outside]
    # The chart finds the config's certificate files in maps only (`nats.reloaderConfig` does not descend into
    # lists): those in lists (a CPC's leaf remotes) it would never watch.
    watch = sorted(set(natsconf.certificate_files(tree, in_lists_only=True)))
    if watch:
        values["patch"] = [
            {"op": "add", "path": "/args/-", "value": word} for path in watch for word in ("-config", path)
        ]
    return values


def main_values(bus: EventBus, tree: natsconf.Tree, conf: natsconf.ShardedConf) -> dict[str, Any]:
    """Values of the `nats` release. `config.merge` is the whole core tree, cluster block included, but for the
    accounts `conf` (render.sharded_nats_conf of `tree`) moves into ConfigMaps of their own: it includes them, and
    the nats container mounts them (the chart copies mounts under /etc/ into the reloader, which watches them).

    The chart builds its own config from the `enabled` switches and `mergeOverwrite`s `config.merge`
    onto it, so every key the core renders holds exactly as rendered (and as tested on real
    nats-server). The chart's own cluster routes name the same pods (`nats-N.nats-headless:6222`);
    `config.cluster.replicas` comes from the same `nats.replicas` as the core's routes.
    """
    tls = bus.csc_leaf_server_tls if bus.cluster_type == "csc" else bus.cpc_leaf_client_tls
    values: dict[str, Any] = {
        "fullnameOverride": "nats",
        "config": {
            # The chart refuses a one-replica cluster; a single server needs no cluster block anyway.
            "cluster": {"enabled": bus.nats.replicas > 1, "replicas": bus.nats.replicas},
            "jetstream": {
                "enabled": True,
                "fileStore": render.file_store_values(bus),  # upstream: memory only, no PVCs
                "memoryStore": {"enabled": True, "maxSize": bus.nats.max_memory_store},
            },
            "leafnodes": {"enabled": True},
            "mqtt": {"enabled": True},
            "merge": natsconf.chart_merge(conf.tree),
        },
        "container": {
            "image": image(bus.images.nats),
            "env": {"GOMEMLIMIT": sizing.gomemlimit(bus.resources.nats.limits.memory), **chart_env(bus, tree)},
            "merge": {"resources": bus.resources.nats.manifest()},
        },
        "podTemplate": {
            "topologySpreadConstraints": {
                "kubernetes.io/hostname": {"maxSkew": 1, "whenUnsatisfiable": "DoNotSchedule"}
            }
        },
        "reloader": reloader_values(bus, tree, (tls.mount_path,) if tls else ()),
        "natsBox": {"enabled": False},
        "service": {"ports": {"mqtt": {"enabled": True}, "leafnodes": {"enabled": True}}},
    }
    if tls is not None:
        _add_leaf_tls(values, tls)
    for shard in conf.shards:
        _add_patches(values, *_mount_patches(shard.name, {"configMap": {"name": shard.name}}, shard.mount_path))
    return values


def _add_leaf_tls(values: dict[str, Any], tls: LeafTls) -> None:
    # Upstream leaves mounting the leaf TLS files to the operator; the config refers to them, so mount them.
    # Into the nats container only: the chart copies its mounts into the reloader (a second mount is refused).
    _add_patches(values, *_secret_mount_patches("nats-leaf-tls", tls.secret_name, tls.mount_path))


def mtls_values(bus: EventBus, tree: natsconf.Tree) -> dict[str, Any]:
    """Values of the `nats-mtls` release: one server, MQTT over mTLS, leaf-connected to `nats`."""
    pod, container = _secret_mount_patches("nats-mtls-certs", naming.MTLS_SERVER_TLS, render.MTLS_CERT_DIR)
    return {
        "fullnameOverride": "nats-mtls",
        "config": {
            "cluster": {"enabled": False},  # one server; the core tree still carries upstream's cluster block
            "jetstream": {"enabled": False},
            "leafnodes": {"enabled": True},
            "mqtt": {"enabled": True},
            "merge": natsconf.chart_merge(tree),
        },
        "container": {
            "image": image(bus.images.nats),
            "env": chart_env(bus, tree),
            "merge": {"resources": bus.resources.nats_mtls.manifest()},
            "patch": container,  # the chart copies it into the reloader, which watches the certificates
        },
        "reloader": reloader_values(bus, tree, (render.MTLS_CERT_DIR,)),
        "podTemplate": {"patch": pod},
        "natsBox": {"enabled": False},
        "service": {"ports": {"mqtt": {"enabled": True}, "leafnodes": {"enabled": True}}},
    }


def rolled(values: dict[str, Any], checksum: pulumi.Input[str]) -> dict[str, Any]:
    """The release's values with the pod-template checksum (rollout.ANNOTATION) of what its pods read at start."""
    pod_template = dict(values.get("podTemplate", {}))
    pod_template["merge"] = {"metadata": {"annotations": {rollout.ANNOTATION: checksum}}}
    return {**values, "podTemplate": pod_template}


def start_parts(bus: EventBus, tree: natsconf.Tree) -> dict[str, str]:
    """What a nats pod reads only at start beyond its env: leaf remotes, where its nats-server cannot reload them."""
    return rollout.unreloadable_parts(tree, bus.nats_server_version)


@dataclass(frozen=True)
class NatsServersArgs:
    namespace: pulumi.Input[str]
    charts: Charts
    environment: Mapping[str, str]
    """The `nats-env-config` ConfigMap's data (render.ClusterFiles.environment)."""
    main_values: dict[str, Any]
    """`main_values`: the `nats` release."""
    account_shards: tuple[natsconf.AccountShard, ...]
    """The `nats-accounts-<n>` ConfigMaps the `nats` release mounts (render.sharded_nats_conf)."""
    mtls_values: dict[str, Any] | None
    """`mtls_values`: the `nats-mtls` release, None without mtls."""


class NatsServers(pulumi.ComponentResource):
    """`nats-env-config`, the CSC's `nats-accounts-<n>`, the `nats` release and (with mtls) the `nats-mtls` release."""

    main: k8s.helm.v4.Chart
    mtls: k8s.helm.v4.Chart | None

    def __init__(self, name: str, args: NatsServersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:nats:NatsServers", name, None, opts)
        env_config = k8s.core.v1.ConfigMap(
            f"{name}-{ENV_CONFIG_MAP}",
            metadata={"name": ENV_CONFIG_MAP, "namespace": args.namespace, "labels": LABELS},
            data=dict(args.environment),
            opts=pulumi.ResourceOptions(parent=self),
        )
        shards = [
            k8s.core.v1.ConfigMap(
                f"{name}-{shard.name}",
                metadata={"name": shard.name, "namespace": args.namespace, "labels": LABELS},
                data={naming.ACCOUNTS_FILE: shard.text},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for shard in args.account_shards
        ]
        # Pods read env only at start, and a pod mounting a missing ConfigMap does not start: wait for them.
        after = pulumi.ResourceOptions(parent=self, depends_on=[env_config, *shards])
        self.main = chart(
            f"{name}-nats",
            chart_name="nats",
            release="nats",
            version=args.charts.nats,
            charts=args.charts,
            namespace=args.namespace,
            values=args.main_values,
            opts=after,
        )
        self.mtls = None
        if args.mtls_values is not None:
            self.mtls = chart(
                f"{name}-nats-mtls",
                chart_name="nats",
                release="nats-mtls",
                version=args.charts.nats,
                charts=args.charts,
                namespace=args.namespace,
                values=args.mtls_values,
                opts=after,
            )
        self.register_outputs({"main": self.main.urn, "mtls": self.mtls.urn if self.mtls else None})
