"""One cluster's Kubernetes server files (nats.conf, nats-mtls.conf, permissions.json), reviewable without a cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dsxbus import naming, natsconf, nkeys, permissions, topology
from dsxbus.config import EventBus
from dsxbus.crosslayer import CrossLayer

PLACEHOLDER_CSC_ENDPOINT = "nats://csc-leaf.invalid:7422"
"""Stands in for the CSC's leaf endpoint when a CPC renders without its CSC stack."""

MAIN_LEAF_URL = "nats://nats:7422"
MTLS_CERT_DIR = "/etc/nats-certs"
FILE_STORE_DIR = "/data"
"""The nats chart's `config.jetstream.fileStore.dir`, where it mounts the JetStream PVC."""


def file_store_values(bus: EventBus) -> dict[str, object]:
    """The nats chart's `config.jetstream.fileStore`: a PVC of nats.maxFileStore per server with file storage,
    none with memory (upstream). The chart's `max_file_store` and `store_dir` agree with the core's tree."""
    if bus.mqtt_streams.storage != "file":
        return {"enabled": False}
    pvc: dict[str, object] = {"enabled": True, "size": bus.nats.max_file_store}
    if bus.nats.storage_class_name is not None:
        pvc["storageClassName"] = bus.nats.storage_class_name
    return {"enabled": True, "dir": FILE_STORE_DIR, "pvc": pvc, "maxSize": bus.nats.max_file_store}


def _certificates_under(bus: EventBus, root: str) -> EventBus:
    update = {}
    for field, tls in (
        ("csc_leaf_server_tls", bus.csc_leaf_server_tls),
        ("cpc_leaf_client_tls", bus.cpc_leaf_client_tls),
    ):
        if tls is not None:
            update[field] = tls.model_copy(update={"mount_path": f"{root}/leaf"})
    return bus.model_copy(update=update)


@dataclass(frozen=True)
class ClusterFiles:
    """The rendered files, and the env values a pod would have (or dummies) to load them as written."""

    nats_conf: natsconf.Tree
    nats_mtls_conf: natsconf.Tree | None
    permissions: dict[str, object]
    environment: dict[str, str]


def cluster_files(
    bus: EventBus,
    *,
    csc_endpoint: str | None = None,
    cpc_lists: Mapping[str, CrossLayer] | None = None,
    cpc_versions: Mapping[str, str | None] | None = None,
    cert_root: str | None = None,
) -> ClusterFiles:
    """The Kubernetes configuration of one cluster, env references kept (`$LEAF_USER_SEED`).

    `cert_root` moves every certificate path under one directory, for checking the files outside a pod.
    """
    if cert_root is not None:
        bus = _certificates_under(bus, cert_root)
    endpoint = bus.csc_endpoint or csc_endpoint or PLACEHOLDER_CSC_ENDPOINT
    cluster = topology.cluster(bus, csc_endpoint=endpoint, cpc_lists=cpc_lists)
    settings = natsconf.ServerSettings(
        cluster_routes=natsconf.kubernetes_routes("nats", bus.nats.replicas),
        max_memory_store=natsconf.size_in_bytes(bus.nats.max_memory_store),
        mqtt_stream_replicas=bus.mqtt_streams.replicas,
    )
    main = natsconf.main_tree(cluster, natsconf.with_store(settings, bus, FILE_STORE_DIR))
    mtls = None
    if bus.mtls.enabled:
        mtls = natsconf.mtls_tree(
            topology.mtls_accounts(bus),
            topology.mtls_leaf_remotes(bus, MAIN_LEAF_URL),
            topology.CalloutBlock(),
            natsconf.ServerSettings(
                server_name=topology.Var(naming.MTLS_SERVER_NAME_ENV),
                cluster_name="nats-mtls",
                cluster_routes=natsconf.kubernetes_routes("nats-mtls", 1),
                mtls_cert_dir=f"{cert_root}/nats-mtls" if cert_root else MTLS_CERT_DIR,
            ),
            client_tls=bus.sveltos.enabled,
        )
    document = permissions.permissions_document(bus, cpc_lists, cpc_versions=cpc_versions)
    return ClusterFiles(main, mtls, document, pod_environment(bus))


def sharded_nats_conf(bus: EventBus, tree: natsconf.Tree) -> natsconf.ShardedConf:
    """The `nats` release's config as the chart takes it. On the CSC, its accounts that grow with its CPCs (CSC,
    SOURCES, every CPC-<id>) go into ConfigMaps of their own, `nats-accounts-<n>`, which its nats.conf includes:
    whole in the chart's one ConfigMap they would pass Kubernetes' 1 MiB at a few hundred CPCs."""
    if bus.cluster_type != "csc":
        return natsconf.ShardedConf(tree, ())
    return natsconf.shard_accounts(tree, topology.csc_fleet_account_names(bus))


def pod_environment(bus: EventBus) -> dict[str, str]:
    """The non-secret env the upstream `nats-env-config` ConfigMap gives the pods."""
    env = {naming.CLUSTER_NAME_ENV: bus.cluster_name, naming.JS_DOMAIN_ENV: bus.domain_account}
    if bus.mtls.enabled:
        env[naming.MTLS_SERVER_NAME_ENV] = f"{bus.cluster_name}-mtls"
        env[naming.MTLS_LEAF_ACCOUNT_ENV] = bus.domain_account
    return env


def dummy_variables(names: set[str], environment: Mapping[str, str]) -> dict[str, str]:
    """Valid stand-ins for what only a deployment knows: freshly generated keys of the right kind."""
    kinds = {key.pubkey_env: key.kind for key in (*naming.BASE_KEYS, *naming.MTLS_KEYS)}
    values: dict[str, str] = {}
    for name in sorted(names):
        if name in environment:
            values[name] = environment[name]
        elif name == "SERVER_NAME":
            values[name] = "nats-0"
        elif name.endswith("_SEED"):
            values[name] = nkeys.generate(nkeys.KeyKind.USER).seed
        else:
            values[name] = nkeys.generate(kinds.get(name, nkeys.KeyKind.USER)).public_key
    return values


def texts(files: ClusterFiles, *, inline: bool) -> dict[str, str]:
    """File name -> text. `inline` writes dummy values in place of env references so
    `nats-server -t -c FILE` accepts each file exactly as written."""
    trees = {"nats.conf": files.nats_conf}
    if files.nats_mtls_conf is not None:
        trees["nats-mtls.conf"] = files.nats_mtls_conf
    out: dict[str, str] = {}
    for name, tree in trees.items():
        variables = dummy_variables(natsconf.variables_in(tree), files.environment) if inline else None
        out[name] = natsconf.render(tree, variables)
    out["permissions.json"] = permissions.render(files.permissions)
    return out
