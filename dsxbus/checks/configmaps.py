"""What the CSC keeps in one ConfigMap each, against the 1 MiB of data Kubernetes allows a ConfigMap.

They grow with the fleet: the accounts that do (every CPC has one of its own on the CSC, and the CSC and SOURCES
accounts import and export per CPC: topology.csc_accounts) are shared among `nats-accounts-<n>` ConfigMaps of at
most natsconf.SHARD_BYTES each, which the nats chart's nats.conf includes (render.sharded_nats_conf), and
`auth-callout-permissions` holds permissions.json (every CPC's leaf entry: one file, the auth-callout reads one),
which bounds the fleet first. Past the limit the API server refuses the object on `pulumi up`, after the preview
said nothing: so it is checked here, on the CSC, at preview.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from dsxbus import naming, natsconf
from dsxbus.config import EventBus
from dsxbus.crosslayer import CrossLayer
from dsxbus.errors import Problem, key_path
from dsxbus.natsconf import ShardedConf, chart_merge

CONFIGMAP_LIMIT = 1024 * 1024
"""Kubernetes' limit on a ConfigMap's data (its `data` and `binaryData` together)."""
CHART_OVERHEAD = 16 * 1024
"""What the nats chart adds to `config.merge` in its nats.conf (its own listen, port, pid and store keys): measured
under 2 KiB with helm on every example stack (tests/charts); kept generous so the estimate errs on the safe side."""


@dataclass(frozen=True)
class ConfigMapSize:
    name: str
    """The ConfigMap, as `kubectl get configmap` names it."""
    size: int
    """Bytes of data, as written (an estimate for the nats chart's, never below it)."""


def sizes(nats_conf: ShardedConf, permissions_json: str) -> tuple[ConfigMapSize, ...]:
    """The CSC's ConfigMaps that grow with its CPCs: the nats chart's (from the tree the chart merges), each
    `nats-accounts-<n>` with the accounts it includes, and the auth-callout's permissions.json (as written)."""
    # The nats chart writes its nats.conf with toPrettyJson (2-space indentation), as json.dumps(indent=2) does.
    nats = len(json.dumps(chart_merge(nats_conf.tree), indent=2).encode()) + CHART_OVERHEAD
    return (
        ConfigMapSize(naming.NATS_CONFIG_MAP, nats),
        *(ConfigMapSize(shard.name, len(shard.text.encode())) for shard in nats_conf.shards),
        ConfigMapSize(naming.PERMISSIONS_CONFIG_MAP, len(permissions_json.encode())),
    )


def estimated_sizes(bus: EventBus, cpc_lists: Mapping[str, CrossLayer] | None = None) -> tuple[ConfigMapSize, ...]:
    """`sizes` before the CPCs are deployed: their lists as given (or the fleet defaults), and every CPC's leaf
    admitted twice, as while it pre-publishes its next key (which a deployed CPC always does: dsxbus.rotation)."""
    from dsxbus import permissions, render, rotation  # render reads the checked config: checks come first

    files = render.cluster_files(bus, cpc_lists=cpc_lists)
    every_next = {
        cid: {account: "U" * 56 for account in (naming.CSC, *bus.enabled_extra_accounts)} for cid in bus.cpc_ids
    }
    document = rotation.with_next_leaf_keys(files.permissions, every_next, bus.enabled_extra_accounts)
    return sizes(render.sharded_nats_conf(bus, files.nats_conf), permissions.render(document))


def problems(bus: EventBus, found: tuple[ConfigMapSize, ...] | None = None) -> list[Problem]:
    """Each ConfigMap past the limit (`found`: as the program writes them; else estimated from `bus`)."""
    if bus.cluster_type != "csc" or not bus.cpcs:
        return []
    return [
        Problem(
            key_path("cpcs"),
            f"{len(bus.cpcs)} CPCs",
            f"the ConfigMap {each.name} would hold {each.size} bytes, more than the {CONFIGMAP_LIMIT} Kubernetes "
            "allows: the API server refuses it on `pulumi up`. Each CPC adds leaf entries to permissions.json (one "
            "file: the auth-callout reads one) and an account of its own, with imports and exports in CSC and "
            "SOURCES, to the CSC's accounts (nats-accounts-<n> ConfigMaps of at most "
            f"{natsconf.SHARD_BYTES} bytes each, but one account never spans two). Fix: list fewer CPCs on this CSC "
            "(split the fleet across CSCs), or set mqttStreams.uplinks: false (a smaller share per CPC)",
        )
        for each in (found if found is not None else estimated_sizes(bus))
        if each.size > CONFIGMAP_LIMIT
    ]
