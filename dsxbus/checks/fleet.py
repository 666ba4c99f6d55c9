"""Checks that need more than one stack: a CPC with the CSC's fleet defaults filled in, and a fleet's stack files."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping

from dsxbus.checks import auth, crosslayer, grants, sveltos
from dsxbus.config import EventBus, FleetDefaults, fleet_defaults, inherit
from dsxbus.errors import Problem, key_path


def effective_problems(cpc: EventBus, fleet: FleetDefaults) -> list[Problem]:
    """The checks that depend on fleet defaults, run on a CPC with the CSC's values filled in."""
    effective = inherit(cpc, fleet)
    found = []
    if cpc.cross_layer is None:
        found += crosslayer.problems(effective) + sveltos.route_problems(effective)
        # Grants in the CPC's window on the CSC are judged against its telemetry, known only now.
        found += grants.problems_with(effective, [effective.effective_cross_layer], grants.in_window)
    return found + auth.oauth2_problems(effective, inherited=cpc.auth.jwks is None)


def fleet_problems(
    stacks: Mapping[str, EventBus], project: str = "dsx-bus", unchecked: Collection[str] = ()
) -> list[Problem]:
    """Consistency among stack files: one CSC; every CPC it lists exists, is that CPC, and points back.

    `unchecked`: stacks that exist but are not among `stacks` (`dsx-bus validate csc`): checks that need one of them
    are skipped with a note instead of failing as if its file were missing.
    """
    cscs = [name for name, bus in stacks.items() if bus.cluster_type == "csc"]
    found = _one_csc_problems(cscs)
    found += _unique_id_problems(stacks)
    if not cscs:
        found += _csc_unchecked_notes(stacks, unchecked)
    for csc_name in cscs:
        csc = stacks[csc_name]
        for cluster_id, reference in csc.cpcs.items():
            if stack_name(reference) in unchecked and stack_name(reference) not in stacks:
                found.append(_unchecked_note(f"{csc_name}: {key_path('cpcs', cluster_id)}", reference))
                continue
            found += _listed_cpc_problems(csc_name, csc, cluster_id, reference, stacks)
        found += _fleet_grant_problems(csc_name, csc, stacks)
        found += _unlisted_cpc_problems(csc_name, csc, stacks, project)
    return found


def _unchecked_note(key: str, reference: str) -> Problem:
    return Problem(
        key,
        reference,
        f"{stack_name(reference)} not among the stacks checked: cross-stack checks with it skipped",
        warning=True,
        note=True,
    )


def _csc_unchecked_notes(stacks: Mapping[str, EventBus], unchecked: Collection[str]) -> list[Problem]:
    """CPCs checked without their CSC: what depends on its fleet defaults is not checked."""
    return [
        _unchecked_note(f"{name}: {key_path('cscStack')}", bus.csc_stack)
        for name, bus in stacks.items()
        if bus.cluster_type == "cpc" and bus.csc_stack is not None and stack_name(bus.csc_stack) in unchecked
    ]


def _one_csc_problems(cscs: list[str]) -> list[Problem]:
    if len(cscs) > 1:
        return [Problem("stacks", cscs, "more than one stack says clusterType: csc; a fleet has exactly one CSC")]
    return []


def _unique_id_problems(stacks: Mapping[str, EventBus]) -> list[Problem]:
    ids: dict[str, list[str]] = defaultdict(list)
    for name, bus in stacks.items():
        if bus.cluster_type == "cpc" and bus.cluster_id:
            ids[bus.cluster_id].append(name)
    return [
        Problem(
            f"{', '.join(names)}: {key_path('clusterId')}",
            cluster_id,
            "CPC ids must be unique in the fleet: they name each CPC's subjects and keys",
        )
        for cluster_id, names in ids.items()
        if len(names) > 1
    ]


def _listed_cpc_problems(
    csc_name: str, csc: EventBus, cluster_id: str, reference: str, stacks: Mapping[str, EventBus]
) -> list[Problem]:
    """A CPC the CSC lists must have a stack file that is that CPC; only then can it be checked against the CSC."""
    stack = stack_name(reference)
    key = f"{csc_name}: {key_path('cpcs', cluster_id)}"
    cpc = stacks.get(stack)
    if cpc is None:
        return [Problem(key, reference, f"no stack file Pulumi.{stack}.yaml among the stacks checked")]
    if cpc.cluster_type != "cpc" or cpc.cluster_id != cluster_id:
        return [
            Problem(key, reference, f"stack {stack} is {cpc.cluster_type} {cpc.cluster_id!r}, not CPC {cluster_id!r}")
        ]
    found = _points_back_problems(csc_name, stack, cpc)
    found += _missing_account_problems(csc_name, csc, stack, cpc)
    found += [
        Problem(f"{stack}: {p.key}", p.value, p.fix, p.warning) for p in effective_problems(cpc, fleet_defaults(csc))
    ]
    return found


def _points_back_problems(csc_name: str, stack: str, cpc: EventBus) -> list[Problem]:
    if cpc.csc_stack is None or stack_name(cpc.csc_stack) == csc_name:
        return []
    return [
        Problem(
            f"{stack}: {key_path('cscStack')}",
            cpc.csc_stack,
            f"this CPC is listed by CSC stack {csc_name!r} but points at another CSC",
        )
    ]


def _missing_account_problems(csc_name: str, csc: EventBus, stack: str, cpc: EventBus) -> list[Problem]:
    missing = [a for a in cpc.enabled_extra_accounts if a not in csc.enabled_extra_accounts]
    if not missing:
        return []
    return [
        Problem(
            f"{stack}: {key_path('extraAccounts')}",
            missing,
            f"the CSC ({csc_name}) has no such account: this CPC's leaf for it is refused. "
            "Add it to the CSC's extraAccounts",
        )
    ]


def _unlisted_cpc_problems(csc_name: str, csc: EventBus, stacks: Mapping[str, EventBus], project: str) -> list[Problem]:
    listed = {stack_name(ref) for ref in csc.cpcs.values()}
    return [
        Problem(
            f"{csc_name}: {key_path('cpcs')}",
            name,
            f"CPC stack {name} is not listed: the CSC will refuse its leaf. Add "
            f"{bus.cluster_id}: organization/{project}/{name}",
            warning=True,
        )
        for name, bus in stacks.items()
        if bus.cluster_type == "cpc" and name not in listed
    ]


def _fleet_grant_problems(csc_name: str, csc: EventBus, stacks: Mapping[str, EventBus]) -> list[Problem]:
    """The CSC's grants against every listed CPC's own lists: a CPC may import commands the fleet defaults do not."""
    fleet = fleet_defaults(csc)
    own = [
        inherit(bus, fleet).effective_cross_layer
        for bus in stacks.values()
        if bus.cluster_type == "cpc" and bus.cluster_id in csc.cpcs
    ]
    defaults = [csc.effective_cross_layer]
    known = {key for key, _ in grants.findings(csc, defaults)}
    return [
        Problem(f"{csc_name}: {p.key}", p.value, p.fix, p.warning)
        for key, p in grants.findings(csc, defaults + own)
        if key not in known and not p.warning
    ]


def stack_name(reference: str) -> str:
    """`organization/dsx-bus/cpc-a` -> `cpc-a` (a DIY-backend stack reference, or a bare stack name)."""
    return reference.rsplit("/", 1)[-1]
