"""QoS 1 after a restart: how long a QoS 1 message takes to cross again once the CSC or a CPC was killed (-9).

Run: .venv/bin/python benchmarks/restart_stall.py [--storage file memory] [--reps 3]
Prints, per storage, restarted cluster and direction, the seconds from the kill until the first QoS 1 message
published after the restart reaches a QoS 1 subscriber on the other side (the server is back and its leafs up
after about 0.3 s of that). It is not a test. docs/local-federation.md explains the numbers.
"""

from __future__ import annotations

import argparse
import queue
import shutil
import signal
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.local_federation import generated_project  # noqa: E402
from dsxbus.local import runner, servers  # noqa: E402
from dsxbus.local.clients import Mqtt, mqtt_admin  # noqa: E402
from dsxbus.local.state import Federation, LocalCluster  # noqa: E402

GIVE_UP = 90.0
"""Upstream's memory streams measured 20-40 s: wait well past that before calling a direction dead."""


def _with_storage(project: Path, storage: str) -> None:
    for path in project.glob("Pulumi.*.yaml"):
        document = yaml.safe_load(path.read_text())
        bus = document["config"]["dsx-bus:eventBus"]
        bus["mqttStreams"] = {"storage": storage, "replicas": 1}
        bus["nats"] = {"replicas": 1, "maxFileStore": "1Gi"}
        path.write_text(yaml.safe_dump(document))


def _crossing(federation: Federation, source: LocalCluster, topic: str, target: LocalCluster, filter_: str) -> float:
    """Publish QoS 1 on `source` every 0.1 s until a QoS 1 subscriber on `target` gets one; seconds it took."""
    started = time.monotonic()
    subscriber: Mqtt | None = None
    publisher: Mqtt | None = None
    try:
        while time.monotonic() - started < GIVE_UP:
            try:
                if subscriber is None:
                    subscriber = mqtt_admin(target, federation)
                    subscriber.subscribe(filter_, 1)
                if publisher is None:
                    publisher = mqtt_admin(source, federation)
                publisher.publish(topic, b"probe", qos=1)
                subscriber.messages.get(timeout=0.1)
                return time.monotonic() - started
            except queue.Empty:
                continue
            except (ConnectionError, OSError, TimeoutError, RuntimeError):  # the server is still coming back
                time.sleep(0.1)
        return float("inf")
    finally:
        for client in (subscriber, publisher):
            if client is not None:
                client.close()


def measure(federation: Federation, stack: str) -> dict[str, float]:
    """Kill -9 `stack`'s server, restart it, and time each direction's first QoS 1 crossing from the kill."""
    csc, cpc = federation.csc, federation.cpcs[0]
    killed = time.monotonic()
    runner.restart(federation, stack, sig=signal.SIGKILL)
    back = time.monotonic() - killed
    with ThreadPoolExecutor(2) as pool:  # both directions at once, each timed from the kill
        down = pool.submit(_crossing, federation, csc, f"cpc/{cpc.id}/command/stall", cpc, "command/stall")
        up = pool.submit(_crossing, federation, cpc, "sensor/stall", csc, f"cpc/{cpc.id}/sensor/stall")
        return {"back": back, "csc->cpc": back + down.result(), "cpc->csc": back + up.result()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--storage", nargs="+", default=["file", "memory"], choices=["file", "memory"])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(f"nats-server {servers.nats_server_version()}; seconds from kill -9 to the first QoS 1 crossing")
    for storage in args.storage:
        root = Path(tempfile.mkdtemp(prefix="dsx-stall-"))
        try:
            project = generated_project(root / "project", 1)
            _with_storage(project, storage)
            with runner.running_federation(project, root / "run", say=lambda _: None) as federation:
                for stack in ("csc", federation.cpcs[0].stack):
                    runs = [measure(federation, stack) for _ in range(args.reps)]
                    for key in ("back", "csc->cpc", "cpc->csc"):
                        values = [r[key] for r in runs]
                        shown = ", ".join(f"{v:.2f}" for v in values)
                        print(
                            f"{storage:6} restart {stack:6} {key:9} median {statistics.median(values):6.2f}  ({shown})"
                        )
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
