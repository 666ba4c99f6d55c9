"""Domain rules over parsed stack configs, everything upstream `validation.yaml` checks and what it misses.

One module per concern; here only the entry points, and the order one cluster's problems are reported in.
"""

from __future__ import annotations

from dsxbus.checks import (
    accounts,
    auth,
    configmaps,
    crosslayer,
    gateway,
    grants,
    images,
    mtls,
    roles,
    sizing,
    streams,
    sveltos,
)
from dsxbus.checks.fleet import effective_problems, fleet_problems
from dsxbus.config import EventBus
from dsxbus.errors import Problem

__all__ = ["effective_problems", "fleet_problems", "problems"]


def problems(bus: EventBus) -> list[Problem]:
    """Every problem in one cluster's config, errors and warnings.

    A CPC may leave crossLayer and jwks to the CSC's fleet defaults; checks that need them run on
    the effective config (`effective_problems`) once the CSC's values are known.
    """
    found: list[Problem] = []
    found += roles.problems(bus)
    found += accounts.problems(bus)
    found += auth.problems(bus)
    found += grants.problems(bus)
    found += mtls.problems(bus)
    found += gateway.problems(bus)
    found += streams.problems(bus)
    found += sizing.problems(bus)
    found += images.problems(bus)
    found += sveltos.problems(bus)
    if bus.cross_layer is not None or bus.csc_stack is None:
        found += sveltos.route_problems(bus)
    if bus.cross_layer is not None:
        found += crosslayer.problems(bus)
    if bus.cluster_type == "csc" or bus.csc_stack is None:
        found += auth.oauth2_problems(bus)  # nothing to inherit a jwks block from
    if not [p for p in found if not p.warning]:
        found += configmaps.problems(bus)  # renders the config: only one that is otherwise sound
    return found
