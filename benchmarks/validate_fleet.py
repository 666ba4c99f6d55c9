"""How long `dsx-bus validate` takes for a large fleet and for long cross-layer lists (stack files read from disk).

Prints numbers; it is not a test. Fleets are the example stacks with the CSC listing N CPCs, each a copy of the
example cpc-a stack under its own id (so every CPC inherits the CSC's lists and they all share them); long lists
put 3 x N patterns (benchmarks/cross_layer_checks.py's shape) in the CSC's fleet defaults, inherited by both CPCs.

    python benchmarks/validate_fleet.py
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.cross_layer_checks import _lists  # noqa: E402
from benchmarks.program_under_mocks import CONFIGMAP_NOTE, lift_configmap_limit  # noqa: E402
from dsxbus import fleet, streams  # noqa: E402
from dsxbus.config import EventBus  # noqa: E402

KEY = "dsx-bus:eventBus"


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = yaml.safe_load(path.read_text())
    change(document["config"][KEY])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _fleet(directory: Path, cpcs: int) -> None:
    shutil.copy(ROOT / "Pulumi.csc.yaml", directory / "Pulumi.csc.yaml")
    template = yaml.safe_load((ROOT / "Pulumi.cpc-a.yaml").read_text())
    ids = [f"c{i}" for i in range(cpcs)]
    for cluster_id in ids:
        document = yaml.safe_load(yaml.safe_dump(template))
        bus = document["config"][KEY]
        bus["clusterId"] = cluster_id
        bus["mtls"]["hostnames"] = [f"mqtt-mtls.cpc-{cluster_id}.dsx.example.com"]
        bus["mtls"]["clientUrls"] = [f"ssl://mqtt-mtls.cpc-{cluster_id}.dsx.example.com:8883"]
        (directory / f"Pulumi.cpc-{cluster_id}.yaml").write_text(yaml.safe_dump(document, sort_keys=False))

    def list_them(bus: dict[str, Any]) -> None:
        bus["cpcs"] = {cluster_id: f"organization/dsx-bus/cpc-{cluster_id}" for cluster_id in ids}
        # The example's memory store holds the example's two CPCs' streams; size it for the fleet (each CPC's source
        # and uplink streams: dsxbus.streams.streams_per_cpc).
        per_cpc = streams.streams_per_cpc(EventBus.model_validate(bus))
        store = f"{5 * 64 + per_cpc * 8 * cpcs + 64}Mi"
        bus["nats"] = {**bus.get("nats", {}), "maxMemoryStore": store}
        bus["resources"] = {"nats": {"limits": {"memory": store}}}  # the store fits the container (checks.sizing)

    _edit(directory / "Pulumi.csc.yaml", list_them)


def _long_lists(directory: Path, size: int) -> None:
    for path in ROOT.glob("Pulumi.*.yaml"):
        shutil.copy(path, directory / path.name)
    lists = _lists(size, overlaps=False)

    def on_csc(bus: dict[str, Any]) -> None:
        bus["crossLayer"] = {
            "cscExports": list(lists.csc_exports),
            "cscPrefixedExports": list(lists.csc_prefixed_exports),
            "cpcExports": list(lists.cpc_exports),
        }

    def on_cpc(bus: dict[str, Any]) -> None:
        bus.pop("crossLayer", None)  # inherit the CSC's
        bus["sveltos"] = {"enabled": False}  # its example subject is not in the generated lists

    _edit(directory / "Pulumi.csc.yaml", on_csc)
    for cpc in ("cpc-a", "cpc-b"):
        _edit(directory / f"Pulumi.{cpc}.yaml", on_cpc)


def _validate(directory: Path) -> tuple[float, float, int]:
    """(seconds to load, seconds to check, errors) of one `dsx-bus validate` over every stack file."""
    start = time.perf_counter()
    stacks = fleet.load(directory)
    loaded = time.perf_counter()
    errors = [p for p in fleet.problems(stacks) if not p.warning]
    return loaded - start, time.perf_counter() - loaded, len(errors)


def _median_of(directory: Path, repeat: int) -> tuple[float, float, int]:
    runs = [_validate(directory) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[0][2]


def main() -> None:
    lift_configmap_limit()
    print(CONFIGMAP_NOTE)
    print(f"{'what':>26} {'stacks':>6} {'load s':>7} {'check s':>8} {'ms/stack':>8} {'errors':>6}")
    for cpcs in (10, 100, 1_000):
        with tempfile.TemporaryDirectory() as scratch:
            _fleet(Path(scratch), cpcs)
            load, check, errors = _median_of(Path(scratch), 3 if cpcs < 1_000 else 1)
            stacks = cpcs + 1
            print(
                f"{f'1 CSC + {cpcs:,} CPCs':>26} {stacks:>6} {load:7.2f} {check:8.2f} "
                f"{(load + check) / stacks * 1e3:8.1f} {errors:>6}"
            )
    for size in (1_000, 10_000):
        with tempfile.TemporaryDirectory() as scratch:
            _long_lists(Path(scratch), size)
            load, check, errors = _median_of(Path(scratch), 3 if size < 10_000 else 1)
            print(f"{f'3 x {size:,} patterns, 2 CPCs':>26} {3:>6} {load:7.2f} {check:8.2f} {'':>8} {errors:>6}")


if __name__ == "__main__":
    main()
