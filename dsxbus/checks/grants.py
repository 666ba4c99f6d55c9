"""What an identity's grants reach (dsxbus.grants) that its entry does not acknowledge, and stale acknowledgements."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dsxbus import grants, naming
from dsxbus.checks.auth import Identity, identities, os_env_reference
from dsxbus.config import EventBus
from dsxbus.crosslayer import CrossLayer
from dsxbus.errors import Problem, key_path
from dsxbus.model import GrantRisk


def in_window(account: str) -> bool:
    """Whether an entry on a CPC lands in its window on the CSC: what it reaches there depends on the CSC's lists."""
    return account == naming.CSC


def problems(bus: EventBus) -> list[Problem]:
    lists = [bus.effective_cross_layer]
    if bus.cluster_type == "cpc" and bus.cross_layer is None and bus.csc_stack is not None:
        # The window account's dangers depend on the telemetry inherited from the CSC: effective_problems.
        return problems_with(bus, lists, lambda account: not in_window(account))
    return problems_with(bus, lists)


def problems_with(
    bus: EventBus, lists: Sequence[CrossLayer], select: Callable[[str], bool] = lambda _: True
) -> list[Problem]:
    """What noauth and the operator's entries may reach without acknowledging it (dsxbus.grants), in the accounts
    `select` picks, with `lists` the cross-layer lists the cluster routes (on the CSC, every CPC's too)."""
    return [problem for _, problem in findings(bus, lists, select)]


Finding = tuple[tuple[str, GrantRisk], Problem]
"""A problem with (its key, the risk): the same finding under other lists is the same problem."""


def findings(
    bus: EventBus, lists: Sequence[CrossLayer], select: Callable[[str], bool] = lambda _: True
) -> list[Finding]:
    found: list[Finding] = []
    for identity in identities(bus):
        _, _, _, entry = identity
        if select(entry.account):
            found += _unacknowledged(bus, identity, lists) + _stale_acknowledgements(bus, identity)
    return found


def _unacknowledged(bus: EventBus, identity: Identity, lists: Sequence[CrossLayer]) -> list[Finding]:
    kind, name, path, entry = identity
    account = None if os_env_reference(entry.account) else entry.account
    cluster_id = bus.cluster_id if bus.cluster_type == "cpc" else None
    where = grants.landing(bus.cluster_type, account, lists, cluster_id)
    found: list[Finding] = []
    for reached in grants.reach(entry.permissions, where, grants.risks_for(kind)):
        if reached.risk in entry.acknowledge:
            continue
        parts, value = grants.located(reached, entry.permissions)
        key = key_path(*path, *parts)
        acknowledge = ".".join(str(part) for part in (*path, "acknowledge"))
        fix = (
            f"{grants.describe(reached, kind, name)}. Fix: {grants.FIXES[reached.risk]}; or, if "
            f"{grants.who(kind, name)} {'are' if kind == 'noauth' else 'is'} meant to, add "
            f"{reached.risk} to {acknowledge}"
        )
        found.append(((key, reached.risk), Problem(key, value, fix)))
    return found


def _stale_acknowledgements(bus: EventBus, identity: Identity) -> list[Finding]:
    # A stale acknowledgement would let a later, wider grant through unreported. Judged with the lists
    # unknown (over-approximated), so that it is never called stale where some CPC's lists need it.
    kind, name, path, entry = identity
    account = None if os_env_reference(entry.account) else entry.account
    possible = {r.risk for r in grants.reach(entry.permissions, grants.landing(bus.cluster_type, account, None))}
    found: list[Finding] = []
    for index, risk in enumerate(entry.acknowledge):
        if risk == "broadcasts" or risk in possible:
            continue
        key = key_path(*path, "acknowledge", index)
        fix = (
            f"the permissions of {grants.who(kind, name)} reach no {risk}: remove it, so that a grant "
            "that does is reported"
        )
        found.append(((key, risk), Problem(key, risk, fix, warning=True)))
    return found
