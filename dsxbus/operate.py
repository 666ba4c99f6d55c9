"""`dsx-bus graph` and `dsx-bus doctor`: the federation's picture, and a running bus checked against its stacks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dsxbus import fleet, graph
from dsxbus.cliargs import project_dir_option


def _graph(args: argparse.Namespace) -> int:
    text = graph.draw(graph.federation(fleet.load(args.dir), args.stacks), args.format)
    out: Path | None = args.out
    if out is None:
        print(text, end="")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    changed = not out.exists() or out.read_text() != text
    if changed:
        out.write_text(text)
    print(f"{out}: {'written' if changed else 'already current'}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from dsxbus import doctor  # reads HTTP endpoints only when asked

    stacks = fleet.load(args.dir)
    run_dir = args.run_dir.resolve() if args.run_dir else None
    targets, absent = doctor.targets(stacks, args.monitor, run_dir, args.dir, args.stacks)
    findings = doctor.examine(stacks, targets, args.timeout, absent)
    if args.json:
        print(json.dumps({"healthy": not findings, "findings": [f.as_json() for f in findings]}, indent=2))
    else:
        for finding in findings:
            print(finding)
        checked = ", ".join(f"{t.stack} ({', '.join(t.urls)})" for t in targets.values())
        print(f"{len(findings)} finding(s); checked {checked}", file=sys.stderr)
    return 1 if findings else 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    draw = commands.add_parser(
        "graph", help="draw the federation: clusters, accounts, leaf connections, cross-layer routes"
    )
    draw.add_argument(
        "stacks", nargs="*", help="CPC stacks to draw with their CSC (default: every Pulumi.<stack>.yaml)"
    )
    draw.add_argument("--format", choices=graph.FORMATS, default="svg")
    draw.add_argument("--out", type=Path, default=None, help="write here (default: stdout)")
    project_dir_option(draw)
    draw.set_defaults(run=_graph)
    doctor = commands.add_parser(
        "doctor", help="check a running bus against its stack config through its monitoring endpoints"
    )
    doctor.add_argument("stacks", nargs="*", help="stack names (default: every Pulumi.<stack>.yaml)")
    doctor.add_argument(
        "--monitor",
        action="append",
        default=[],
        metavar="STACK=URL",
        help="a monitoring endpoint (http://host:8222) of STACK; repeat for each server of a cluster "
        "(default: monitoring.monitorUrls of the stack, else the local federation's)",
    )
    doctor.add_argument(
        "--run-dir", type=Path, default=None, help="the local federation (default: <project>/.dsx-bus/local)"
    )
    doctor.add_argument("--timeout", type=float, default=3.0, help="seconds per HTTP request (default 3)")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    project_dir_option(doctor)
    doctor.set_defaults(run=_doctor)
