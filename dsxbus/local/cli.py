"""`dsx-bus local up|status|check|restart|rotate|down`: the local federation from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsxbus import versions
from dsxbus.cliargs import project_dir_option
from dsxbus.local import binaries, state
from dsxbus.local.servers import LocalError
from dsxbus.local.state import Federation, LocalCluster


def _run_dir(args: argparse.Namespace) -> Path:
    given: Path | None = args.run_dir
    return given.resolve() if given else state.default_run_dir(args.dir)


def _endpoints(cluster: LocalCluster) -> dict[str, str]:
    urls = {
        "role": cluster.role,
        "id": cluster.id,
        "nats": cluster.main.url("client"),
        "mqtt": cluster.main.url("mqtt"),
        "leaf": cluster.main.url("leaf"),
        "monitor": cluster.main.url("http"),
        "dir": str(cluster.dir),
    }
    if cluster.mtls is not None:
        urls["mqttMtls"] = f"ssl://127.0.0.1:{cluster.mtls.ports['mqtt']}"
    return urls


def _described(federation: Federation) -> dict[str, Any]:
    """`local up --json`: every cluster's endpoints."""
    return {
        "natsServerVersion": federation.nats_version,
        "clusters": {n: _endpoints(c) for n, c in federation.clusters.items()},
    }


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def _up(args: argparse.Namespace) -> int:
    from dsxbus.local import runner  # nats-py is the optional `local` extra: import it only when used

    if args.nats_version:
        # Through the environment, so every server this process starts (and a later restart) runs it.
        os.environ[binaries.VERSION_ENV] = args.nats_version
    names = [s.strip() for s in args.stacks.split(",") if s.strip()] if args.stacks else None
    federation = runner.up(args.dir, names, _run_dir(args), leaf_timeout=args.timeout)
    described = _described(federation)
    if args.json:
        print(json.dumps(described, indent=2))
        return 0
    rows = [["stack", "role", "id", "nats", "mqtt", "mqtt (mTLS)", "leaf", "monitor"]]
    for stack, urls in described["clusters"].items():
        rows.append(
            [
                stack,
                urls["role"],
                urls["id"],
                urls["nats"],
                urls["mqtt"],
                urls.get("mqttMtls", "-"),
                urls["leaf"],
                urls["monitor"],
            ]
        )
    print(_table(rows))
    print(f"\nnats-server {federation.nats_version}; state, configs, logs and keys: {federation.run_dir}")
    print("stop with: dsx-bus local down")
    return 0


def _status(args: argparse.Namespace) -> int:
    from dsxbus.local import runner  # nats-py is the optional `local` extra: import it only when used

    rows_data: list[dict[str, Any]] = runner.status(_run_dir(args))
    if args.json:
        print(json.dumps({"servers": rows_data}, indent=2))
    else:
        rows = [["stack", "server", "pid", "state", "leafs"]]
        for row in rows_data:
            leafs = f"{row['leafs']}/{row['expectedLeafs']}" if row["running"] else "-"
            rows.append(
                [row["stack"], row["server"], str(row["pid"]), "running" if row["running"] else "stopped", leafs]
            )
        print(_table(rows))
    healthy = all(r["running"] and r["leafs"] is not None and r["leafs"] >= r["expectedLeafs"] for r in rows_data)
    return 0 if healthy else 1


def _down(args: argparse.Namespace) -> int:
    from dsxbus.local import runner  # nats-py is the optional `local` extra: import it only when used

    stopped = runner.down(_run_dir(args), force=args.force)
    print(f"stopped {len(stopped)} server(s)")
    return 0


def _restart(args: argparse.Namespace) -> int:
    from dsxbus.local import runner  # nats-py is the optional `local` extra: import it only when used

    restarted = runner.restart_stopped(_run_dir(args), args.stack, timeout=args.timeout)
    for server in restarted:
        ports = ", ".join(f"{kind} {port}" for kind, port in sorted(server.ports.items()))
        print(f"restarted {server.name} on its own ports ({ports})")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from dsxbus.local import runner  # nats-py is the optional `local` extra: import it only when used

    if not args.leaf:
        raise LocalError(
            f"rotate {args.stack}: name the keys to rotate: --leaf (the CPC's leaf keys, admitted by the CSC). "
            "The local federation has no auth-callout, so no authCallout keys to rotate (docs/operations.md)"
        )
    rotation = runner.rotate_leaf(_run_dir(args), args.stack, timeout=args.timeout)
    for account, key in rotation.current.items():
        print(f"{rotation.stack} {account} leaf: {rotation.retired[account]} -> {key}")
    print(f"{rotation.stack} switched by {rotation.switched_by}; the CSC no longer admits the old key(s)")
    return 0


def _check(args: argparse.Namespace) -> int:
    from dsxbus.local import check  # nats-py and paho: the optional `local` extra

    federation = state.load(_run_dir(args))
    results = check.run(federation)
    width = max(len(r.name) for r in results)
    for result in results:
        print(f"{'PASS' if result.ok else 'FAIL'}  {result.name.ljust(width)}  {result.detail}")
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)}/{len(results)} routes pass", file=sys.stderr)
    return 1 if failed else 0


Command = Callable[[argparse.Namespace], int]


def _guarded(command: Command) -> Command:
    """A run dir the user pointed at (a file, unwritable, a file where a directory must be) is their mistake: one
    `error:` line naming the path, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except OSError as exc:
            run_dir = _run_dir(args)
            if exc.filename is None or not Path(exc.filename).absolute().is_relative_to(run_dir):
                raise
            raise LocalError(
                f"{exc.filename}: {exc.strerror}: the run dir ({run_dir}) must be a directory this user can "
                "write, holding only what `dsx-bus local up` put there; choose another --run-dir or fix that path"
            ) from None

    return run


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    local = commands.add_parser("local", help="a federation of real nats-server processes on 127.0.0.1")
    sub = local.add_subparsers(dest="local_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        project_dir_option(parser)
        parser.add_argument(
            "--run-dir", type=Path, default=None, help="state, configs and logs (default: <project>/.dsx-bus/local)"
        )

    up = sub.add_parser("up", help="start 1 CSC + its CPCs federated, then return leaving them running")
    up.add_argument("--stacks", help="comma-separated stack names (default: every Pulumi.<stack>.yaml)")
    up.add_argument("--json", action="store_true", help="print the endpoints as JSON")
    up.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for every leaf (default 15)")
    up.add_argument(
        "--nats-version",
        help=f"run this nats-server version, fetched once with pip into ~/.cache/dsx-bus (default: the deployed "
        f"{versions.DEPLOYED}; tested: {', '.join(versions.SUPPORTED)}; also ${binaries.VERSION_ENV})",
    )
    common(up)
    up.set_defaults(run=_guarded(_up))
    status = sub.add_parser("status", help="which servers run and how many leafs each has")
    status.add_argument("--json", action="store_true")
    common(status)
    status.set_defaults(run=_guarded(_status))
    down = sub.add_parser("down", help="stop the servers `local up` started (by recorded PID)")
    down.add_argument(
        "--force",
        action="store_true",
        help="also when state.json is damaged: stop every nats-server whose config is in the run dir",
    )
    common(down)
    down.set_defaults(run=_guarded(_down))
    restart = sub.add_parser(
        "restart", help="start a stack's stopped or crashed servers again, on their own ports with their own keys"
    )
    restart.add_argument("stack", help="the stack whose servers to restart (e.g. cpc-a)")
    restart.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for every leaf (default 15)")
    common(restart)
    restart.set_defaults(run=_guarded(_restart))
    rotate = sub.add_parser(
        "rotate",
        help="rotate a CPC's leaf keys in the window `pulumi up` uses: the CSC admits the next key, the CPC "
        "switches to it, the CSC retires the old one",
    )
    rotate.add_argument("stack", help="the CPC stack whose keys to rotate (e.g. cpc-a)")
    rotate.add_argument("--leaf", action="store_true", help="its leaf keys (every account's)")
    rotate.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for its leafs (default 15)")
    common(rotate)
    rotate.set_defaults(run=_guarded(_rotate))
    check_cmd = sub.add_parser("check", help="run the cross-layer routing matrix against the running federation")
    common(check_cmd)
    check_cmd.set_defaults(run=_guarded(_check))
