"""The cross-layer lists (`crossLayer`) against each other and the subjects dsx-bus reserves (dsxbus.crosslayer)."""

from __future__ import annotations

from dsxbus import crosslayer
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    lists = bus.effective_cross_layer
    return [
        Problem(
            key_path("crossLayer", f.entry.list_name, f.entry.index),
            f.entry.pattern,
            f.describe(),
            warning=not f.fatal,
        )
        for f in crosslayer.check(lists)
    ]
