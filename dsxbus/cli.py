"""`dsx-bus`: validate stack files and render what a cluster will run, without Pulumi or a cluster."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from dsxbus import certs, fleet, operate, render, stackfile, threatmodel
from dsxbus.cliargs import project_dir_option
from dsxbus.errors import DsxBusError, nothing_changed
from dsxbus.local import cli as local_cli


def _validate(args: argparse.Namespace) -> int:
    stacks = fleet.load(args.dir, args.stacks)
    unchecked = set(stackfile.stack_names(args.dir)) - set(stacks) if args.stacks else set()
    found = fleet.problems(stacks, unchecked)
    for problem in found:
        _say(problem.level, str(problem))
    errors = [p for p in found if p.level == "error"]
    if errors:
        print(_printable(nothing_changed(len(errors))), file=sys.stderr)
        return 1
    warnings = [p for p in found if p.level == "warning"]
    print(_printable(f"ok: {', '.join(stacks)} ({len(warnings)} warning(s))"))
    return 0


def _say(level: str, text: str) -> None:
    print(f"{level}: {_printable(text)}", file=sys.stderr)


def _printable(text: str) -> str:
    # One message, one line, and nothing from a stack file reaches the terminal as a control sequence.
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _render(args: argparse.Namespace) -> int:
    stacks = fleet.load(args.dir)
    if args.stack not in stacks:
        raise DsxBusError(f"no stack {args.stack!r}: expected {args.dir / f'Pulumi.{args.stack}.yaml'}")
    resolved = fleet.resolve(stacks, args.stack)
    out: Path = args.out
    cert_root = out / "certs"
    files = render.cluster_files(
        resolved.bus,
        csc_endpoint=resolved.csc_endpoint,
        cpc_lists=resolved.cpc_lists,
        cpc_versions=resolved.cpc_versions,
        cert_root=str(cert_root.resolve()),
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
        _write_throwaway_certificates(cert_root, resolved.bus.mtls.hostnames or ("nats-mtls",))
        for name, text in render.texts(files, inline=True).items():
            (out / name).write_text(text)
            print(out / name)
    except OSError as exc:
        raise DsxBusError(_cannot_write(out, exc)) from None
    return 0


def _cannot_write(out: Path, exc: OSError) -> str:
    where = f"--out {str(out)!r}"
    if isinstance(exc, FileExistsError):
        return f"{where}: {exc.filename!r} is a file, not a directory. Fix: name a directory (created if missing)"
    if isinstance(exc, NotADirectoryError):
        return f"{where}: a part of {exc.filename!r} is a file. Fix: name a directory (created if missing)"
    if isinstance(exc, PermissionError):
        return f"{where}: cannot write {exc.filename!r} (permission denied). Fix: name a directory you can write to"
    return f"{where}: cannot write there ({exc.strerror or exc}). Fix: name a directory you can create and write to"


def _threat_model(args: argparse.Namespace) -> int:
    if args.write is None:
        print(threatmodel.identity_tables(fleet.load(args.dir)), end="")
        return 0
    changed = threatmodel.write(args.dir, args.write)
    print(f"{args.write}: {'updated' if changed else 'already current'}")
    return 0


def _write_throwaway_certificates(root: Path, hosts: Sequence[str]) -> None:
    # `nats-server -t` opens every certificate a config names; these stand in for the Secrets.
    ca = certs.LocalCa("dsx-bus render (throw-away)")
    for sub in ("nats-mtls", "leaf"):
        certs.write_tls_dir(root / sub, ca, ca.server(hosts[0], hosts))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsx-bus", description=__doc__)
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path.cwd(),
        help="the project directory holding Pulumi.<stack>.yaml (default: here)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check stack files and their cross-stack consistency")
    validate.add_argument("stacks", nargs="*", help="stack names (default: every Pulumi.<stack>.yaml)")
    project_dir_option(validate)
    validate.set_defaults(run=_validate)
    render_cmd = commands.add_parser("render", help="write one cluster's nats.conf, nats-mtls.conf, permissions.json")
    render_cmd.add_argument("stack")
    render_cmd.add_argument("--out", type=Path, required=True)
    project_dir_option(render_cmd)
    render_cmd.set_defaults(run=_render)
    threat = commands.add_parser(
        "threat-model", help="every identity of the fleet and what it may publish and subscribe to (markdown)"
    )
    threat.add_argument("--write", type=Path, default=None, help="rewrite the identity tables in this document")
    project_dir_option(threat)
    threat.set_defaults(run=_threat_model)
    local_cli.register(commands)
    operate.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # usage mistakes: argparse explains and exits 2
    try:
        code: int = args.run(args)
        return code
    except DsxBusError as exc:
        for line in exc.lines():
            _say("error", line)
        return 1
    # Anything else is a dsx-bus bug: let it raise, traceback and all.


if __name__ == "__main__":
    sys.exit(main())
