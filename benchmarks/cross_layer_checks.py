"""How long `crosslayer.check` takes for long cross-layer lists, beside the pairwise test it replaced.

Prints numbers; it is not a test. Three lists of N patterns each (cscExports, cscPrefixedExports, cpcExports), shaped
like real ones: a namespace token per entry, literal and `*` tokens, most ending in `>`. `clean` lists collide
nowhere (a valid config: the check must still look at every entry); `1 % overlaps` adds one colliding cpcExports
entry per hundred, so findings are produced too. The pairwise column runs the former algorithm (every pair through
`subjects.intersects`) in the same run, for N up to 1,000.

    python benchmarks/cross_layer_checks.py
"""

from __future__ import annotations

import functools
import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsxbus import crosslayer, subjects
from dsxbus.crosslayer import CrossLayer

SIZES = (100, 1_000, 10_000)
PAIRWISE_UP_TO = 1_000


def _lists(size: int, overlaps: bool, seed: int = 7) -> CrossLayer:
    rng = random.Random(seed)

    def entry(root: str, i: int) -> str:
        middle = rng.choice(["x", "*", "evt", "*.state"])
        return f"{root}{i}.{middle}.>" if rng.random() < 0.7 else f"{root}{i}.{middle}"

    csc = [entry("bcast", i) for i in range(size)]
    prefixed = [f"cmd{i}.{rng.choice(['x', 'run', 'set'])}.>" for i in range(size)]
    cpc = [entry("tel", i) for i in range(size)]
    if overlaps:  # every hundredth telemetry entry also matches a broadcast: csc-overlaps-cpc findings
        cpc += [f"bcast{i}.>" for i in range(0, size, 100)]
    return CrossLayer(csc_exports=tuple(csc), csc_prefixed_exports=tuple(prefixed), cpc_exports=tuple(cpc))


def _pairwise(lists: CrossLayer) -> int:
    """The former check's cost: every pair within and across the lists through `subjects.intersects`."""
    x, z, y = lists.csc_exports, lists.csc_prefixed_exports, lists.cpc_exports
    found = 0
    for values in (x, z, y):
        found += sum(subjects.intersects(a, b) is not None for a, b in itertools.combinations(values, 2))
    for left, right in ((z, y), (x, y), (x, z)):
        found += sum(subjects.intersects(a, b) is not None for a, b in itertools.product(left, right))
    return found


def _median(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    print(f"{'lists':>16} {'N/list':>7} {'findings':>8} {'check s':>8} {'us/pattern':>10} {'pairwise s':>10}")
    for overlaps in (False, True):
        for size in SIZES:
            lists = _lists(size, overlaps)
            patterns = len(lists.csc_exports) + len(lists.csc_prefixed_exports) + len(lists.cpc_exports)
            findings = len(crosslayer.check(lists))
            repeat = 3 if size <= 1_000 else 1
            seconds = _median(functools.partial(crosslayer.check, lists), repeat)
            pairwise = f"{'-':>10}"
            if size <= PAIRWISE_UP_TO:
                pairwise = f"{_median(functools.partial(_pairwise, lists), 1):10.2f}"
            label = "1 % overlaps" if overlaps else "clean"
            print(f"{label:>16} {size:>7,} {findings:>8} {seconds:8.3f} {seconds / patterns * 1e6:10.1f} {pairwise}")


if __name__ == "__main__":
    main()
