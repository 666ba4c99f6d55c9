"""The CSC: reads every listed CPC's leaf public keys and cross-layer lists, and admits exactly those leafs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from components import cluster
from dsxbus import fleet, permissions, render, rotation, streams
from dsxbus.config import CrossLayer, EventBus


def _pending(ids: list[str], exported: list[Any]) -> list[str]:
    return [cid for cid, keys in zip(ids, exported, strict=True) if not keys]


def _warn_pending(bus: EventBus, pending: list[str], exported: list[Any]) -> list[str]:
    for cid in pending:
        pulumi.log.warn(
            f"CPC {cid!r} ({bus.cpcs[cid]}) has not been deployed yet: its leaf is not admitted. "
            f"Run `pulumi up` on that stack, then on this one again."
        )
    for cid, keys in zip(bus.cpcs, exported, strict=True):
        missing = [a for a in bus.enabled_extra_accounts if keys and a not in keys]
        if missing:
            pulumi.log.warn(
                f"CPC {cid!r} exports no leaf key for {', '.join(missing)}: enable the account(s) in its "
                "extraAccounts, or its leaf for them is refused"
            )
    return pending


def _cross_layer(value: Any) -> CrossLayer | None:
    # A deployed CPC exports its effective lists; the CSC derives its leaf's permissions from them.
    return CrossLayer.model_validate(value) if value else None


def _cpc_lists(validated: Mapping[str, CrossLayer | None]) -> dict[str, CrossLayer]:
    return {cid: lists for cid, lists in validated.items() if lists is not None}


def _cpc_versions(raw: Mapping[str, Any]) -> dict[str, str | None]:
    # Absent (a CPC deployed before it exported one): unknown, which gets the shape every version routes.
    return {cid: value if isinstance(value, str) else None for cid, value in raw.items()}


def _spec_named(name: str) -> Callable[[Mapping[str, dict[str, Any]]], dict[str, Any]]:
    return lambda specs: specs[name]


def _cpc_specs(bus: EventBus, cid: str) -> Callable[[CrossLayer | None], dict[str, dict[str, Any]]]:
    return lambda lists: streams.cpc_nack_specs(bus, cid, lists)


def _stream_specs(
    bus: EventBus, lists: Mapping[str, pulumi.Output[CrossLayer | None]]
) -> dict[str, pulumi.Input[dict[str, Any]]]:
    # Which streams exist follows from the config; a CPC's source streams' specs from the lists it exports.
    # Each CPC's specs wait on that CPC's stack reference alone: waiting on the whole fleet's made every
    # one of the 2N Stream CRs depend on all N references (N² dependencies to resolve and send).
    specs: dict[str, pulumi.Input[dict[str, Any]]] = dict(streams.own_nack_specs(bus))
    for cid in bus.cpc_ids:
        own = lists[cid].apply(_cpc_specs(bus, cid))
        specs |= {name: own.apply(_spec_named(name)) for name in streams.cpc_nack_specs(bus, cid, None)}
    return specs


def _permissions_json(
    bus: EventBus,
    pending: list[str],
    cpc_lists: Mapping[str, CrossLayer],
    cpc_versions: Mapping[str, str | None],
    next_keys: Mapping[str, Mapping[str, str]],
) -> str:
    # Pending CPCs get no permission entry: their (empty) key would match nothing anyway, and the
    # file then says plainly who is admitted.
    admitted = bus.model_copy(update={"cpcs": {c: r for c, r in bus.cpcs.items() if c not in pending}})
    document = permissions.permissions_document(admitted, cpc_lists, cpc_versions=cpc_versions)
    # Each CPC's next leaf keys are admitted ahead of its rotation (dsxbus.rotation).
    return permissions.render(rotation.with_next_leaf_keys(document, next_keys, bus.enabled_extra_accounts))


def _next_keys(exported: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    # Absent (a CPC deployed before it exported them, or pending): nothing admitted ahead.
    return {cid: dict(keys) for cid, keys in exported.items() if isinstance(keys, dict)}


class CscEventBus(pulumi.ComponentResource):
    """The unified topic space; exports what CPCs need, never a seed."""

    outputs: dict[str, pulumi.Input[Any]]

    def __init__(self, name: str, bus: EventBus, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:csc:CscEventBus", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ids = list(bus.cpcs)
        refs = {
            cid: pulumi.StackReference(f"{name}-cpc-{cid}", stack_name=ref, opts=child) for cid, ref in bus.cpcs.items()
        }
        # get_output, not require_output: a stack initialised but never deployed has no outputs, and
        # that is the normal bootstrap state, not an error.
        leaf_keys = {cid: ref.get_output("leafPublicKeys") for cid, ref in refs.items()}
        next_leaf_keys = {cid: ref.get_output("nextLeafPublicKeys") for cid, ref in refs.items()}
        lists = {cid: ref.get_output("crossLayer").apply(_cross_layer) for cid, ref in refs.items()}
        nats_versions = {cid: ref.get_output("natsServerVersion") for cid, ref in refs.items()}
        if ids:
            pending = pulumi.Output.all(*(leaf_keys[c] for c in ids)).apply(
                lambda exported: _warn_pending(bus, _pending(ids, exported), exported)
            )
            cpc_lists = pulumi.Output.all(**lists).apply(_cpc_lists)
            cpc_versions = pulumi.Output.all(**nats_versions).apply(_cpc_versions)
            next_keys = pulumi.Output.all(**next_leaf_keys).apply(_next_keys)
        else:
            pending = pulumi.Output.from_input([])
            cpc_lists = pulumi.Output.from_input({})
            cpc_versions = pulumi.Output.from_input({})
            next_keys = pulumi.Output.from_input({})
        permissions_json = pulumi.Output.all(pending, cpc_lists, cpc_versions, next_keys).apply(
            lambda a: _permissions_json(bus, a[0], a[1], a[2], a[3])
        )
        cluster.build(
            name,
            cluster.ClusterInputs(
                bus=bus,
                effective=bus,
                files=render.cluster_files(bus),
                permissions_json=permissions_json,
                stream_specs=_stream_specs(bus, lists),
                cpc_leaf_public_keys=leaf_keys,
            ),
            self,
        )
        exports = fleet.CscExports.of(bus)  # what each CPC reads back (cpc.py) and inherits from
        self.outputs = {
            "clusterType": "csc",
            "leafEndpoint": exports.leaf_endpoint,
            "fleetDefaults": exports.fleet_defaults.model_dump(mode="json", by_alias=True, exclude_none=True),
            "pendingCpcs": pending,
            "cpcs": dict(bus.cpcs),
        }
        if bus.csc_leaf_server_tls is not None:
            # CPCs verify the leaf server with this CA; the Secret is the operator's (its CA is not read here).
            self.outputs["leafTls"] = {"secretName": bus.csc_leaf_server_tls.secret_name, "caKey": "ca.crt"}
        self.register_outputs(dict(self.outputs))
