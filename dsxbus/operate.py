"""`dsx-bus graph`: the federation's picture from the command line."""

from __future__ import annotations

import argparse
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
