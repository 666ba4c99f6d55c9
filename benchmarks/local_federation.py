"""Local federation: time from `local up` to every leaf connected, and CPC -> CSC throughput vs a plain server.

Run: .venv/bin/python benchmarks/local_federation.py [--messages 100000] [--reps 3]
Prints numbers; it is not a test. Compare with docs/measured-facts.md §4 and §5.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats

from dsxbus.local import runner, servers

PROJECT = Path(__file__).resolve().parents[1]
PAYLOAD = b"x" * 128
AUTH_CALLOUT = {"image": "registry.example.com/auth-callout:local"}


def _stack(path: Path, bus: dict[str, object]) -> None:
    import yaml

    path.write_text(yaml.safe_dump({"config": {"dsx-bus:eventBus": {**bus, "authCallout": AUTH_CALLOUT}}}))


def generated_project(directory: Path, cpcs: int) -> Path:
    """1 CSC + N minimal CPCs (no mTLS, no extra accounts) with the example's cross-layer lists."""
    directory.mkdir(parents=True, exist_ok=True)
    ids = [f"c{i}" for i in range(1, cpcs + 1)]
    _stack(
        directory / "Pulumi.csc.yaml",
        {
            "clusterType": "csc",
            "leafEndpoint": "nats://leaf.csc.example.com:7422",
            "cpcs": {i: f"organization/dsx-bus/cpc-{i}" for i in ids},
            "crossLayer": {
                "cscExports": ["broadcast.>"],
                "cscPrefixedExports": ["command.>"],
                "cpcExports": ["sensor.>"],
            },
        },
    )
    for i in ids:
        _stack(
            directory / f"Pulumi.cpc-{i}.yaml",
            {"clusterType": "cpc", "clusterId": i, "cscStack": "organization/dsx-bus/csc"},
        )
    return directory


def time_up(project: Path, run_dir: Path) -> tuple[float, float, int]:
    """Seconds from `up` to every leaf connected, to `up` returning (streams created); servers started."""
    marks: dict[str, float] = {}

    def say(line: str) -> None:
        if "MQTT streams in account CPC" in line:
            marks.setdefault("leafs", time.monotonic())  # said right after the last leaf showed in /leafz

    started = time.monotonic()
    federation = runner.up(project, run_dir=run_dir, say=say)
    done = time.monotonic()
    count = len(federation.servers())
    for server in reversed(federation.servers()):
        servers.stop(server)
    return marks.get("leafs", done) - started, done - started, count


def bench_up(label: str, project: Path, reps: int, scratch: Path) -> None:
    leafs, totals = [], []
    count = 0
    for rep in range(reps):
        to_leafs, total, count = time_up(project, scratch / f"run-{label}-{rep}")
        leafs.append(to_leafs)
        totals.append(total)
    shown = ", ".join(f"{v:.3f}" for v in leafs)
    print(
        f"{label:<34} {count:>3} servers  up->all leafs median {statistics.median(leafs):.3f} s ({shown});"
        f"  up returns (streams created) median {statistics.median(totals):.3f} s"
    )


# ---- throughput -------------------------------------------------------------------------------------


async def _subscribe(url: str, seed: str | None, subject: str, count: int) -> None:
    options = {"nkeys_seed_str": seed} if seed else {}
    client = await nats.connect(url, **options)
    received = 0
    done = asyncio.Event()

    async def on_message(_: object) -> None:
        nonlocal received
        received += 1
        if received == count:
            done.set()

    await client.subscribe(subject, cb=on_message, pending_msgs_limit=count * 2, pending_bytes_limit=-1)
    await client.flush()
    print("ready", flush=True)
    with contextlib.suppress(TimeoutError):  # report what arrived; the caller compares with `count`
        await asyncio.wait_for(done.wait(), timeout=120)
    print(f"{time.time()} {received}", flush=True)
    await client.close()


async def _publish(url: str, seed: str | None, subject: str, count: int) -> tuple[float, float]:
    options = {"nkeys_seed_str": seed} if seed else {}
    client = await nats.connect(url, flush_timeout=60, **options)
    first = time.time()
    for _ in range(count):
        await client.publish(subject, PAYLOAD)
    await client.flush(timeout=60)
    published = time.time()
    await client.close()
    return first, published


def one_run(pub: tuple[str, str | None, str], sub: tuple[str, str | None, str], count: int) -> tuple[float, float, int]:
    """(end-to-end msgs/s, publisher msgs/s, received) with the subscriber in its own process."""
    args = [sys.executable, __file__, "--subscriber", sub[0], sub[1] or "", sub[2], str(count)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("subscriber did not start")
        time.sleep(0.2)  # interest crossing the leaf; the subscriber is ready, this is the network
        first, published = asyncio.run(_publish(pub[0], pub[1], pub[2], count))
        last_line = child.stdout.readline().split()
        child.wait(timeout=130)
    finally:
        if child.poll() is None:
            child.kill()
    last, received = float(last_line[0]), int(last_line[1])
    return count / (last - first), count / (published - first), received


def bench_throughput(messages: int, reps: int, scratch: Path) -> None:
    plain_dir = scratch / "plain"
    plain_dir.mkdir()
    conf = plain_dir / "plain.conf"
    conf.write_text('listen: "127.0.0.1:-1"\nhttp: "127.0.0.1:-1"\n')
    plain = servers.wait_ready(servers.start("plain", conf, plain_dir / "plain.log"), ("client", "http"))
    federation = runner.up(PROJECT, run_dir=scratch / "run-throughput", say=lambda _: None)
    try:
        cpc, csc = federation.cluster("a"), federation.csc
        cpc_seed = federation.keys[cpc.stack].admin["CPC"].seed
        csc_seed = federation.keys[csc.stack].admin["CSC"].seed
        plain_url = plain.url("client")
        results: dict[str, list[tuple[float, float, int]]] = {"plain": [], "federated": []}
        for _ in range(reps):  # alternating, as docs/measured-facts.md §5 did
            results["plain"].append(one_run((plain_url, None, "bench.x"), (plain_url, None, "bench.x"), messages))
            results["federated"].append(
                one_run(
                    (cpc.main.url("client"), cpc_seed, "sensor.x"),
                    (csc.main.url("client"), csc_seed, f"cpc.{cpc.id}.sensor.x"),
                    messages,
                )
            )
    finally:
        for server in reversed(federation.servers()):
            servers.stop(server)
        servers.stop(plain)
    medians = {}
    for name, runs in results.items():
        rates = [r[0] for r in runs]
        medians[name] = statistics.median(rates)
        print(
            f"{name:<10} end-to-end median {medians[name]:>9,.0f} msgs/s ({', '.join(f'{r:,.0f}' for r in rates)});"
            f" publisher median {statistics.median(r[1] for r in runs):,.0f} msgs/s;"
            f" received {', '.join(str(r[2]) for r in runs)}"
        )
    print(f"ratio federated/plain: {medians['federated'] / medians['plain']:.3f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--subscriber":
        url, seed, subject, count = sys.argv[2], sys.argv[3] or None, sys.argv[4], int(sys.argv[5])
        asyncio.run(_subscribe(url, seed, subject, count))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--fleets", type=int, nargs="*", default=[20, 50], help="CPC counts of the generated fleets timed at start-up"
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="dsx-bus-bench-"))
    try:
        print(f"nats-server {servers.nats_server_binary()}; median of {args.reps}")
        bench_up("example stacks (1 CSC + 2 CPC, mTLS)", PROJECT, args.reps, scratch)
        bench_up("generated 1 CSC + 2 CPC", generated_project(scratch / "p2", 2), args.reps, scratch)
        for cpcs in args.fleets:
            bench_up(f"generated 1 CSC + {cpcs} CPC", generated_project(scratch / f"p{cpcs}", cpcs), args.reps, scratch)
        print(f"throughput: {args.messages:,} messages of {len(PAYLOAD)} bytes, core NATS")
        bench_throughput(args.messages, args.reps, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
