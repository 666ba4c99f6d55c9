"""Plain values from a StackReference, for the one decision that must come before any resource is declared."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
from pulumi.runtime.sync_await import _sync_await


def read_outputs(ref: pulumi.StackReference, names: Sequence[str]) -> dict[str, object]:
    """The referenced stack's last deployed outputs (None where absent); known at preview too.

    The private SDK helper is isolated here (research CONVENTIONS §3). A CPC must check the CSC's
    fleet defaults before declaring anything: raising inside an `apply` instead fails every
    dependent registration, leaves asyncio "Future exception was never retrieved" tracebacks, and
    still lets the independent resources (Secrets, Namespace) be created.
    """
    values = _sync_await(pulumi.Output.all(*(ref.get_output(name) for name in names)).future())
    return dict(zip(names, values or [None] * len(names), strict=True))


def read_all(refs: Mapping[str, pulumi.StackReference], names: Sequence[str]) -> dict[str, dict[str, object]]:
    """`read_outputs` for many references at once (one wait, not one per reference): key -> output -> value."""
    keys = list(refs)
    wanted = [refs[key].get_output(name) for key in keys for name in names]
    values = _sync_await(pulumi.Output.all(*wanted).future()) if wanted else []
    flat = values or [None] * len(wanted)
    return {
        key: dict(zip(names, flat[i * len(names) : (i + 1) * len(names)], strict=True)) for i, key in enumerate(keys)
    }
