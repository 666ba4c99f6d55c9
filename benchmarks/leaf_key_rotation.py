"""Leaf key rotation under load: the routing gap while a CPC switches to its pre-published leaf key.

Run: .venv/bin/python benchmarks/leaf_key_rotation.py [--messages 600] [--reps 3]
For each supported nats-server version: a publisher on the spoke (CPC) sends a bounded stream, each message
retried until answered across the leaf (as MQTT QoS 1); mid-stream the spoke switches keys (reload from 2.14,
restart before) and the hub retires the old key (reload). Prints lost messages (must be 0) and the longest gap
between two answers. The rig: tests/nats/rotation_rig.py. Prints numbers; it is not a test.
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
from dsxbus.local import binaries

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "nats"))
from rotation_rig import rotate_under_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    for version in versions.SUPPORTED:
        os.environ[binaries.BINARY_ENV] = str(binaries.binary(version))
        os.environ[binaries.VERSION_ENV] = version
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
