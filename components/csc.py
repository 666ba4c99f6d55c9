"""The CSC: reads every listed CPC's leaf public keys and cross-layer lists, and admits exactly those leafs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from components import cluster, stackrefs
from dsxbus import fleet, permissions, render, rotation, stackoutputs, streams
from dsxbus.checks import configmaps
from dsxbus.config import CrossLayer, EventBus
from dsxbus.errors import nothing_changed


def _warn_pending(bus: EventBus, cpcs: Mapping[str, stackoutputs.CpcOutputs | None]) -> list[str]:
    pending = [cid for cid, outputs in cpcs.items() if outputs is None]
    for cid in pending:
        pulumi.log.warn(
            f"CPC {cid!r} ({bus.cpcs[cid]}) has not been deployed yet: its leaf is not admitted. "
            f"Run `pulumi up` on that stack, then on this one again."
        )
    for cid, outputs in cpcs.items():
        missing = [a for a in bus.enabled_extra_accounts if outputs and a not in outputs.leaf_public_keys]
        if missing:
            pulumi.log.warn(
                f"CPC {cid!r} exports no leaf key for {', '.join(missing)}: enable the account(s) in its "
                "extraAccounts, or its leaf for them is refused"
            )
    return pending


def _stream_specs(bus: EventBus, cpcs: Mapping[str, stackoutputs.CpcOutputs | None]) -> dict[str, dict[str, Any]]:
    # Which streams exist follows from the config; a CPC's source streams' specs from the lists it exports.
    specs = dict(streams.own_nack_specs(bus))
    for cid in bus.cpc_ids:
        outputs = cpcs[cid]
        specs |= streams.cpc_nack_specs(bus, cid, outputs.cross_layer if outputs else None)
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


class CscEventBus(pulumi.ComponentResource):
    """The unified topic space; exports what CPCs need, never a seed."""

    outputs: dict[str, pulumi.Input[Any]]

    def __init__(self, name: str, bus: EventBus, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:csc:CscEventBus", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        refs = {
            cid: pulumi.StackReference(f"{name}-cpc-{cid}", stack_name=ref, opts=child) for cid, ref in bus.cpcs.items()
        }
        # get_output, not require_output: a stack initialised but never deployed has no outputs, and
        # that is the normal bootstrap state (pending), not an error. Read and checked before anything is
        # declared: a referenced stack that is no CPC, or another CPC, raises a StackOutputError here.
        cpcs = stackoutputs.read_cpcs(pulumi.get_stack(), bus.cpcs, stackrefs.read_all(refs, stackoutputs.CPC_OUTPUTS))
        pending = _warn_pending(bus, cpcs)
        cpc_lists = {cid: o.cross_layer for cid, o in cpcs.items() if o is not None and o.cross_layer is not None}
        # Absent (a CPC deployed before it exported one): unknown, which gets the shape every version routes.
        cpc_versions = {cid: o.nats_server_version if o else None for cid, o in cpcs.items()}
        leaf_keys = {cid: dict(o.leaf_public_keys) if o else None for cid, o in cpcs.items()}
        next_keys = {cid: dict(o.next_leaf_public_keys) for cid, o in cpcs.items() if o and o.next_leaf_public_keys}
        files = render.cluster_files(bus, cpc_lists=cpc_lists)
        permissions_json = _permissions_json(bus, pending, cpc_lists, cpc_versions, next_keys)
        # What Kubernetes would refuse on `up`, refused here before anything is declared.
        too_big = configmaps.problems(
            bus, configmaps.sizes(render.sharded_nats_conf(bus, files.nats_conf), permissions_json)
        )
        for problem in too_big:
            pulumi.log.error(f"with the CPCs' exported lists and keys: {problem}")
        if too_big:
            raise pulumi.RunError(nothing_changed(len(too_big), "with the CPCs' exported lists and keys"))
        cluster.build(
            name,
            cluster.ClusterInputs(
                bus=bus,
                effective=bus,
                files=files,
                permissions_json=permissions_json,
                stream_specs=_stream_specs(bus, cpcs),
                cpc_leaf_public_keys={cid: pulumi.Output.from_input(keys) for cid, keys in leaf_keys.items()},
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
