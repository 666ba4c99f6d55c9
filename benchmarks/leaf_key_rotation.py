"""Leaf key rotation under load: the routing gap while a CPC switches to its pre-published leaf key.

Run: .venv/bin/python benchmarks/leaf_key_rotation.py [--messages 600] [--reps 3] [--local]
For each supported nats-server version: a publisher on the spoke (CPC) sends a bounded stream, each message
retried until answered across the leaf (as MQTT QoS 1); mid-stream the spoke switches keys (reload from 2.14,
restart before) and the hub retires the old key (reload). Prints lost messages (must be 0) and the longest gap
between two answers.
--local: the same on the dsx-bus local federation of the example stacks csc + cpc-a (`dsx-bus local rotate cpc-a
--leaf`, run while an MQTT QoS 1 publisher on cpc-a sends, each message resent until the CSC's MQTT subscriber
has it); the gap is the longest time between two deliveries to that subscriber.
The rig: tests/nats/rotation_rig.py. Prints numbers; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

from dsxbus import versions
from dsxbus.local import binaries, runner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "nats"))
from rotation_rig import rotate_local_under_load, rotate_under_load

PROJECT = Path(__file__).resolve().parents[1]


def _local(version: str, messages: int, reps: int) -> None:
    gaps, lost, spans, how = [], [], [], ""
    for _ in range(reps):
        with (
            tempfile.TemporaryDirectory() as directory,
            runner.running_federation(PROJECT, Path(directory), ["csc", "cpc-a"], say=lambda _: None) as federation,
        ):
            assert federation.nats_version == version, f"ran nats-server {federation.nats_version}, not {version}"
            outcome = rotate_local_under_load(federation, "cpc-a", messages)
        if outcome.rotation is None:
            raise SystemExit(f"nats-server {version}: the rotation failed: {outcome.rotation_error}")
        gaps.append(outcome.gap * 1000)
        lost.append(len(outcome.lost))
        spans.append((outcome.rotation_span[1] - outcome.rotation_span[0]) * 1000)
        how = outcome.rotation.switched_by
    print(
        f"nats-server {version} local federation: cpc-a switches by {how}; {messages} messages x {reps}: "
        f"lost {sum(lost)}, routing gap median {statistics.median(gaps):.0f} ms, max {max(gaps):.0f} ms; "
        f"`local rotate` took median {statistics.median(spans):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--local", action="store_true", help="on the dsx-bus local federation (csc + cpc-a)")
    args = parser.parse_args()
    for version in versions.SUPPORTED:
        os.environ.pop(binaries.BINARY_ENV, None)  # else binary() returns the previous version's
        os.environ[binaries.BINARY_ENV] = str(binaries.binary(version))
        os.environ[binaries.VERSION_ENV] = version
        if args.local:
            _local(version, args.messages, args.reps)
            continue
        gaps, lost, how = [], [], ""
        for _ in range(args.reps):
            with tempfile.TemporaryDirectory() as directory:
                outcome = asyncio.run(rotate_under_load(Path(directory), version, args.messages))
            gaps.append(outcome.gap * 1000)
            lost.append(outcome.sent - len(outcome.answered))
            how = "restart" if outcome.restarted else "reload"
        print(
            f"nats-server {version}: spoke switches by {how}; {args.messages} messages x {args.reps}: "
            f"lost {sum(lost)}, routing gap median {statistics.median(gaps):.0f} ms, max {max(gaps):.0f} ms"
        )


if __name__ == "__main__":
    main()
