"""A CPC: dials the CSC's leaf endpoint with its own leaf keys and inherits the CSC's fleet defaults."""

from __future__ import annotations

from typing import Any

import pulumi

from components import cluster, stackrefs
from dsxbus import checks, fleet, permissions, render, stackoutputs, streams
from dsxbus.config import EventBus, FleetDefaults
from dsxbus.errors import nothing_changed


def _csc_exports(bus: EventBus, exported: stackoutputs.CscOutputs) -> fleet.CscExports | None:
    """The CSC stack's (checked) outputs, checked with this CPC. A CSC not deployed yet is the bootstrap state: warn,
    None."""
    if bus.csc_stack and not exported.leaf_endpoint and not bus.csc_endpoint:
        pulumi.log.warn(
            f"the CSC stack {bus.csc_stack} exports no leafEndpoint (not deployed yet?): this CPC runs on its own, "
            f"its leafs dial the placeholder {render.PLACEHOLDER_CSC_ENDPOINT}. Run `pulumi up` on the CSC, then here."
        )
    leaf_endpoint = exported.leaf_endpoint
    # `{}` is what a CSC with neither crossLayer nor jwks exports: nothing to inherit, but deployed.
    defaults = exported.fleet_defaults
    if defaults is None:
        if bus.csc_stack:
            # Nothing to inherit yet. Checking the effective config now would fail every first CPC up
            # (OAuth2 clients without an inherited jwks); the checks run on the `up` after the CSC's.
            pulumi.log.warn(
                f"the CSC stack {bus.csc_stack} exports no fleetDefaults yet: crossLayer and jwks are not "
                "inherited on this run (no cross-layer routes, no OAuth2). Run `pulumi up` here again after the CSC."
            )
        # Whatever the CSC does export still counts: its leaf endpoint is where the leafs must dial.
        return fleet.CscExports(leaf_endpoint, FleetDefaults()) if leaf_endpoint else None
    problems = [p for p in checks.effective_problems(bus, defaults) if not p.warning]
    if problems:
        for problem in problems:
            pulumi.log.error(f"with the CSC's fleet defaults: {problem}")
        raise pulumi.RunError(nothing_changed(len(problems), "with the CSC's fleet defaults"))
    return fleet.CscExports(leaf_endpoint, defaults)


class CpcEventBus(pulumi.ComponentResource):
    """A local topic space federated to the CSC; exports its leaf public keys and effective cross-layer lists."""

    outputs: dict[str, pulumi.Input[Any]]

    def __init__(self, name: str, bus: EventBus, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dsx-bus:cpc:CpcEventBus", name, None, opts)
        exported = stackoutputs.CscOutputs(None, None)
        if bus.csc_stack:
            ref = pulumi.StackReference(
                f"{name}-csc", stack_name=bus.csc_stack, opts=pulumi.ResourceOptions(parent=self)
            )
            # A StackOutputError when the stack is no CSC or exports what a CSC never does.
            raw = stackrefs.read_outputs(ref, stackoutputs.CSC_OUTPUTS)
            exported = stackoutputs.read_csc(pulumi.get_stack(), bus.csc_stack, raw)
        # Raises a clean RunError (after one error line per problem) before anything is declared.
        csc = _csc_exports(bus, exported)
        inherited = fleet.inherit_from_csc(bus, csc)
        effective = inherited.bus
        secrets = cluster.build(
            name,
            cluster.ClusterInputs(
                bus=bus,
                effective=effective,
                files=render.cluster_files(effective, csc_endpoint=inherited.leaf_url),
                permissions_json=permissions.render(permissions.permissions_document(effective)),
                stream_specs=streams.nack_specs(effective),
            ),
            self,
        )
        self.outputs = {
            "clusterType": "cpc",
            "clusterId": bus.cluster_id,
            "leafPublicKeys": secrets.leaf_public_keys,
            # The next leaf generation's keys, same shape: the CSC admits them ahead of a rotation (rotation.py).
            "nextLeafPublicKeys": secrets.next_leaf_public_keys,
            # None until known (own or inherited): the CSC then falls back to its fleet defaults.
            "crossLayer": (
                effective.cross_layer.model_dump(mode="json", by_alias=True) if effective.cross_layer else None
            ),
            "cscEndpoint": inherited.leaf_url,
            # The CSC shapes this CPC's leaf permissions for the nats-server it runs (topology.leaf_permissions).
            "natsServerVersion": bus.nats_server_version,
        }
        self.register_outputs(dict(self.outputs))
