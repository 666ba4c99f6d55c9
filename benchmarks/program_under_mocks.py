"""Time the real Pulumi program under mocks for a CSC with 1, 10, 100 and 300 deployed CPCs, and its time in GC."""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsxbus import nkeys, streams  # noqa: E402
from dsxbus.checks import configmaps  # noqa: E402
from dsxbus.config import EventBus  # noqa: E402
from tests.program import harness  # noqa: E402

CONFIGMAP_NOTE = (
    "note: one CSC's ConfigMaps hold 581 CPCs with uplinks (permissions.json, dsxbus.checks.configmaps); larger "
    "fleets are timed with that check lifted: the program's speed, not a deployable CSC"
)


def lift_configmap_limit() -> None:
    """Time fleets past what one CSC's ConfigMaps hold: the check would refuse them before the work to be timed."""
    configmaps.CONFIGMAP_LIMIT = sys.maxsize


def csc_with(count: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    bus = harness.stack_config("csc")["dsx-bus:eventBus"]
    assert isinstance(bus, dict)
    cpcs = {f"c{i}": f"organization/dsx-bus/cpc-c{i}" for i in range(count)}
    bus["cpcs"] = cpcs
    # Sized as an operator must: every MQTT stream's maxBytes, the per-CPC ones included, fits the memory store, and
    # the store fits the nats container's memory limit (dsxbus.checks.streams, dsxbus.checks.sizing).
    per_cpc = streams.streams_per_cpc(EventBus.model_validate(bus))  # the example CSC has uplinks: 4
    store = f"{max(2048, 5 * 64 + per_cpc * count * 8)}Mi"
    bus["nats"] = {**bus.get("nats", {}), "maxMemoryStore": store}
    bus["resources"] = {"nats": {"limits": {"memory": store}}}
    outputs = {
        ref: {
            "clusterType": "cpc",  # what every CPC stack exports; the CSC refuses a stack that is no CPC
            "clusterId": cid,
            "leafPublicKeys": {
                "CSC": nkeys.generate(nkeys.KeyKind.USER).public_key,
                "LaunchLayer": nkeys.generate(nkeys.KeyKind.USER).public_key,
            },
            "crossLayer": None,
        }
        for cid, ref in cpcs.items()
    }
    return bus, outputs


class GcClock:
    """Wall time inside CPython's cyclic garbage collector: the part of a run that grows faster than the fleet."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("counts", nargs="*", type=int, default=[1, 10, 100, 300])
    args = parser.parse_args(argv)
    lift_configmap_limit()
    print(CONFIGMAP_NOTE)
    start = time.perf_counter()
    harness.run("csc", event_bus=csc_with(1)[0])  # imports and first-run setup, not per-CPC work
    print(f"warm-up (imports, first run): {time.perf_counter() - start:.2f} s")
    print(f"{'CPCs':>5} {'resources':>9} {'seconds':>8} {'ms/CPC':>7} {'in gc s':>7}")
    clock = GcClock()
    for count in args.counts:
        bus, outputs = csc_with(count)
        clock.seconds = 0.0
        start = time.perf_counter()
        run = harness.run("csc", event_bus=bus, stack_outputs=outputs)
        elapsed = time.perf_counter() - start
        if run.error is not None:
            print(f"run with {count} CPCs failed: {run.error}", file=sys.stderr)
            return 1
        assert run.outputs["pendingCpcs"] == []
        print(f"{count:>5} {len(run.captured):>9} {elapsed:>8.2f} {1000 * elapsed / count:>7.1f} {clock.seconds:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
