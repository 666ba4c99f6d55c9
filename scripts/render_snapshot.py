"""Everything dsx-bus renders, written to one directory, to show a refactoring changed none of it.

    python scripts/render_snapshot.py write DIR      # every render of the current tree into DIR
    python scripts/render_snapshot.py compare A B    # byte for byte; lists what differs, exits 1 if anything does

What it writes:
- `render/<stack>/`: `dsx-bus render <stack>` of every example stack (nats.conf, nats-mtls.conf, permissions.json);
- `golden/<scenario>/`: the same files for the upstream chart's own CSC and CPC values (tests/unit/test_golden.py);
- `threat-model.md`: `dsx-bus threat-model` of the example fleet;
- `program/<n>-<stack>.json`: `pulumi up` of the example stacks under Pulumi's mocks in bootstrap order (csc, cpc-a,
  cpc-b, csc again), every registered resource with its URN, parent, provider and inputs, and the stack outputs.
  A changed URN would make Pulumi replace the resource in a real deployment.
"""

from __future__ import annotations

import base64
import contextlib
import filecmp
import io
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with contextlib.suppress(ImportError):  # see tests/program/conftest.py: import before any program run
    import hypothesis  # noqa: F401

from dsxbus import cli, permissions, render, stackfile  # noqa: E402
from tests.program import harness  # noqa: E402

CSC_REF = "organization/dsx-bus/csc"
NKEY = re.compile(r"\b(S[UAOCNX][A-Z2-7]{56}|[UAOCNX][A-Z2-7]{55})\b")
PEM = ("-----BEGIN", "LS0tLS1CRUdJTi")  # as text, and base64-encoded
SCRATCH = Path(tempfile.gettempdir()) / "dsx-bus-render-snapshot"


def _cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(argv))
    if code != 0:
        raise SystemExit(f"dsx-bus {' '.join(argv)} exited {code}")
    return out.getvalue()


def _golden(directory: Path) -> None:
    from tests.unit.test_golden import SCENARIOS

    for scenario, raw in SCENARIOS.items():
        bus, _ = stackfile.parse(json.loads(json.dumps(raw)))
        target = directory / "golden" / scenario
        target.mkdir(parents=True)
        for name, text in render.texts(render.cluster_files(bus), inline=False).items():
            (target / name).write_text(text)
        (target / "permissions.document.json").write_text(permissions.render(permissions.permissions_document(bus)))


def _without_certificates(value: Any) -> Any:
    """The mocks issue throw-away certificates on every run (tests/program/harness.issued_tls): blank them."""
    if isinstance(value, dict):
        return {k: _without_certificates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_certificates(v) for v in value]
    if isinstance(value, str):
        if any(marker in value for marker in PEM):
            return "<certificate>"
        if len(value) > 64:
            with contextlib.suppress(ValueError):
                if any(marker in base64.b64decode(value, validate=True).decode(errors="ignore") for marker in PEM):
                    return "<base64 holding certificates>"
    return value


def _program(directory: Path) -> None:
    target = directory / "program"
    target.mkdir(parents=True)
    csc_first = harness.run("csc")
    cpc_a = harness.run("cpc-a", stack_outputs={CSC_REF: csc_first.outputs})
    cpc_b = harness.run("cpc-b", stack_outputs={CSC_REF: csc_first.outputs})
    csc = harness.run(
        "csc",
        stack_outputs={"organization/dsx-bus/cpc-a": cpc_a.outputs, "organization/dsx-bus/cpc-b": cpc_b.outputs},
    )
    for index, run in enumerate((csc_first, cpc_a, cpc_b, csc)):
        if run.error is not None:
            raise SystemExit(f"{run.stack}: the program failed under mocks: {run.error}")
        resources: list[dict[str, Any]] = [
            {
                "op": c.op,
                "type": c.type,
                "name": c.name,
                "urn": c.urn,
                "parent": c.parent,
                "provider": c.provider,
                "custom": c.custom,
                "replaceOnChanges": list(c.replace_on_changes),
                "deleteBeforeReplace": c.delete_before_replace,
                "inputs": _without_certificates(c.inputs),
            }
            for c in run.captured
        ]
        # Registration order follows Output resolution, which varies from run to run.
        resources.sort(key=lambda r: (r["urn"], r["op"], r["name"]))
        document = {"outputs": _without_certificates(run.outputs), "resources": resources}
        (target / f"{index}-{run.stack}.json").write_text(json.dumps(document, indent=1, sort_keys=True, default=str))


def write(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise SystemExit(f"{directory} is not empty")
    for stack in stackfile.stack_names(ROOT):
        # A fixed scratch path: rendered configs name their certificate files by absolute path.
        scratch = SCRATCH / stack
        shutil.rmtree(scratch, ignore_errors=True)
        _cli("render", stack, "--out", str(scratch), "--dir", str(ROOT))
        target = directory / "render" / stack
        target.mkdir(parents=True)
        for path in scratch.iterdir():
            if path.is_file():  # not certs/: throw-away certificates, new on every render
                # `render` fills env references with fresh dummy NKeys so that nats-server -t loads the file.
                (target / path.name).write_text(NKEY.sub("<nkey>", path.read_text()))
    _golden(directory)
    (directory / "threat-model.md").write_text(_cli("threat-model", "--dir", str(ROOT)))
    _program(directory)


def _files(directory: Path) -> set[Path]:
    return {p.relative_to(directory) for p in directory.rglob("*") if p.is_file()}


def compare(before: Path, after: Path) -> int:
    old, new = _files(before), _files(after)
    differing = sorted(str(p) for p in old & new if not filecmp.cmp(before / p, after / p, shallow=False))
    for label, paths in (("only before", old - new), ("only after", new - old), ("differs", differing)):
        for path in sorted(str(p) for p in paths):
            print(f"{label}: {path}")
    same = not (old ^ new) and not differing
    print(f"{len(old & new)} files compared: {'byte-identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "write":
        write(Path(argv[1]))
        return 0
    if len(argv) == 3 and argv[0] == "compare":
        return compare(Path(argv[1]), Path(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
