"""Time the policy pack over a CSC with 1, 10, 100 and 300 deployed CPCs, as `pulumi preview` would run it.

Resources come from the real program under mocks (not timed); the time is the pack's: every Analyze call
plus the AnalyzeStack call, through pulumi_policy's own analyzer servicer.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.program_under_mocks import CONFIGMAP_NOTE, csc_with, lift_configmap_limit  # noqa: E402
from tests.policy import analyzer  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("counts", nargs="*", type=int, default=[1, 10, 100, 300])
    args = parser.parse_args(argv)
    config = analyzer.example_config()
    lift_configmap_limit()
    print(CONFIGMAP_NOTE)
    print(f"{'CPCs':>5} {'resources':>9} {'seconds':>8} {'ms/resource':>11} {'mandatory':>9}")
    for count in args.counts:
        bus, outputs = csc_with(count)
        capture = analyzer.capture_stack("csc", event_bus=bus, stack_outputs=outputs)
        start = time.perf_counter()
        found = analyzer.analyze(capture, config)
        elapsed = time.perf_counter() - start
        resources = len(capture.resources)
        mandatory = len(analyzer.mandatory(found))
        print(f"{count:>5} {resources:>9} {elapsed:>8.2f} {1000 * elapsed / resources:>11.2f} {mandatory:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
