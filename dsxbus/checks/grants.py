"""What an identity's grants reach (dsxbus.grants) that its entry does not acknowledge, and stale acknowledgements."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dsxbus import grants, naming
from dsxbus.checks.auth import identities, os_env_reference
from dsxbus.config import EventBus
from dsxbus.crosslayer import CrossLayerLists
from dsxbus.errors import Problem, key_path
from dsxbus.model import GrantRisk


def in_window(account: str) -> bool:
    return account == naming.CSC


def problems(bus: EventBus) -> list[Problem]:
    lists = [bus.effective_cross_layer.lists()]
    if bus.cluster_type == "cpc" and bus.cross_layer is None and bus.csc_stack is not None:
        # The window account's dangers depend on the telemetry inherited from the CSC: effective_problems.
        return problems_with(bus, lists, lambda account: not in_window(account))
    return problems_with(bus, lists)


def problems_with(
    bus: EventBus, lists: Sequence[CrossLayerLists], select: Callable[[str], bool] = lambda _: True
) -> list[Problem]:
    """What noauth and the operator's entries may reach without acknowledging it (dsxbus.grants), in the accounts
    `select` picks, with `lists` the cross-layer lists the cluster routes (on the CSC, every CPC's too)."""
    return [problem for _, problem in findings(bus, lists, select)]


def findings(
    bus: EventBus, lists: Sequence[CrossLayerLists], select: Callable[[str], bool] = lambda _: True
) -> list[tuple[tuple[str, GrantRisk], Problem]]:
    """Each problem with (its key, the risk): the same finding under other lists is the same problem."""
    found: list[tuple[tuple[str, GrantRisk], Problem]] = []
    for kind, name, path, entry in identities(bus):
        if not select(entry.account):
            continue
        account = None if os_env_reference(entry.account) else entry.account
        cluster_id = bus.cluster_id if bus.cluster_type == "cpc" else None
        where = grants.landing(bus.cluster_type, account, lists, cluster_id)
        checked = grants.risks_for(kind)
        for reached in grants.reach(entry.permissions, where, checked):
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
        # A stale acknowledgement would let a later, wider grant through unreported. Judged with the lists
        # unknown (over-approximated), so that it is never called stale where some CPC's lists need it.
        possible = {r.risk for r in grants.reach(entry.permissions, grants.landing(bus.cluster_type, account, None))}
        for index, risk in enumerate(entry.acknowledge):
            if risk == "broadcasts" or risk in possible:
                continue
            found.append(
                (
                    (key_path(*path, "acknowledge", index), risk),
                    Problem(
                        key_path(*path, "acknowledge", index),
                        risk,
                        f"the permissions of {grants.who(kind, name)} reach no {risk}: remove it, so that a grant "
                        "that does is reported",
                        warning=True,
                    ),
                )
            )
    return found
