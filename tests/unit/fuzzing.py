"""Mutants of the example stack files and the one oracle every fuzz run checks them with.

The oracle runs `dsx-bus validate` (and, when that passes, `dsx-bus render`) in-process, as an operator would, and
says what went wrong: a traceback (by exception class), an exit code other than 0 or 1, or an output line that is not
an `error:`/`warning:`/`note:` line or the nothing-changed line. tests/unit/test_fuzz_validate.py draws mutants with
hypothesis; scripts/fuzz_validate.py draws 10,000+ from `random` with a per-input timeout.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import random
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dsxbus import cli

ROOT = Path(__file__).resolve().parents[2]
FILES = ("Pulumi.csc.yaml", "Pulumi.cpc-a.yaml", "Pulumi.cpc-b.yaml")
EXAMPLES: dict[str, bytes] = {name: (ROOT / name).read_bytes() for name in FILES}

INTERESTING: tuple[object, ...] = (
    *(0, 1, -1, 65535, 65536, 70000, 2**31, 2**63, -(2**63), 10**30, True, False, None, 0.5, 1e300),
    *("", " ", "a\n", "\t", "x" * 5000, "${X}", "$SYS", "*", ">", "a.>", "a..b", "cpc.*.command.>", "$JS.CSC.API.>"),
    *("nats://[x:7422", "nats://h:0", "nats://h:70000", "ssl://h:1", "nats://leaf.example.com:7422\n", "http://x"),
    *("lots", "banana", "2Gi", "-1", "0Gi", "3h", "0s", "1ns", "99999999999999999999h", "Not A DNS Label", "-a-"),
    *("SYS", "AUTH", "AUTHX", "CSC", "CPC", "SOURCES", "LaunchLayer", "launchlayer", "cpcX", "csc", "cpc", "file"),
    *("\u2028", "é", "\x1b[31m", "{{ .x }}", "{{", "^$", "(", "[", "a" * 64, "A", "organization/dsx-bus/cpc-a"),
    *("organization/dsx-bus/csc", "a/b/c/d", "CN=x", "RS256", "TLSRoute", "gateway.networking.k8s.io/v1", "memory"),
    *([], {}, [None], {"a": None}, ["a\n"], {"a\n": 1}, {"enabled": True}, [[["x"]]], ["x", "x"], {"": ""}),
    datetime.date(2020, 1, 1),
    b"\x00\xff",
)
"""Values that sit on a domain's edge, belong to another field, or are another type altogether."""

SNIPPETS: tuple[bytes, ...] = (
    b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
    b"x: " + b"[" * 1000 + b"]" * 1000 + b"\n",
    b"x: " + b"{a: " * 200 + b"1" + b"}" * 200 + b"\n",
    b"? [a, b]\n: 1\n",
    b"? {a: 1}\n: 1\n",
    b"x: &a [*a]\n",
    b"x: !!python/object/apply:os.system [true]\n",
    b"x: !foo bar\n",
    b"<<: *missing\n",
    b"x: !!binary AAAA\n",
    b"x: !!set {a, b}\n",
    b"x: 2001-12-14\n",
    b"x: &x {a: 1}\ny: *x\n",
    b"%YAML 1.1\n---\n",
    b"---\n...\n---\n",
    b"\tx: 1\n",
    b"x: \x00\n",
    b"x: '\xed\xa0\x80'\n",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"clusterId: 1\n",
    b"cpcs: {1: x}\n",
    b"x: 1\nx: 2\n",
)
"""Text that stresses the reader: bombs, depth, unhashable keys, loops, unsafe and unknown tags, bad bytes."""


@dataclass(frozen=True)
class Outcome:
    """What one run of the CLI did with one input; `failure` is None when it behaved."""

    command: str
    code: int | None
    failure: str | None
    """`traceback <Class>`, `exit <code>` or `line <text>`."""


# ---- structured mutants ------------------------------------------------------------------------------------------


def documents() -> dict[str, Any]:
    return {name: yaml.safe_load(text) for name, text in EXAMPLES.items()}


def paths(node: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    """Every key path into a parsed document (dict keys and list indices)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def _get(document: object, path: Sequence[object]) -> object:
    for part in path:
        document = document[part]  # type: ignore[index]
    return document


def mutate(document: object, path: tuple[object, ...], how: str, value: object) -> object:
    """`document` with one change at `path`: `set` it to `value`, `delete` it, `rename` its key to `value`, `wrap` it
    in a list, `append` `value` to a string."""
    if not path:
        return value if how == "set" else [document]
    parent = _get(document, path[:-1])
    last = path[-1]
    if how == "set":
        parent[last] = value  # type: ignore[index]
    elif how == "delete":
        del parent[last]  # type: ignore[attr-defined]
    elif how == "rename" and isinstance(parent, dict):
        parent[value if _hashable(value) else str(value)] = parent.pop(last)
    elif how == "wrap":
        parent[last] = [parent[last]]  # type: ignore[index]
    elif how == "append" and isinstance(parent[last], str):  # type: ignore[index]
        parent[last] += str(value)  # type: ignore[index]
    return document


def _hashable(value: object) -> bool:
    return not isinstance(value, list | dict)


def dump(document: object, unicode: bool = True) -> bytes:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=unicode, width=4096).encode()


def random_structured(rng: random.Random) -> dict[str, bytes]:
    """The example stacks with 1-4 random changes to one of them."""
    name = rng.choice(FILES)
    document = documents()[name]
    for _ in range(rng.randint(1, 4)):
        path = rng.choice(list(paths(document)))
        how = rng.choice(("set", "set", "set", "delete", "rename", "wrap", "append"))
        other = rng.choice(list(paths(document)))
        value = _get(document, other) if rng.random() < 0.2 else rng.choice(INTERESTING)
        document = mutate(document, path, how, _copy(value))
    return {**EXAMPLES, name: dump(document, unicode=rng.random() < 0.5)}


def _copy(value: object) -> object:
    return yaml.safe_load(yaml.safe_dump(value)) if isinstance(value, list | dict) else value


# ---- byte-level mutants ------------------------------------------------------------------------------------------


def random_bytes_mutant(rng: random.Random) -> dict[str, bytes]:
    """One example file flipped, truncated, spliced with another, re-encoded, or with hostile text inserted."""
    name = rng.choice(FILES)
    data = bytearray(EXAMPLES[name])
    how = rng.choice(("flip", "truncate", "splice", "insert", "snippet", "snippet", "lines", "garbage", "utf16"))
    if how == "flip":
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif how == "truncate":
        del data[rng.randrange(len(data)) :]
    elif how == "splice":
        other = EXAMPLES[rng.choice(FILES)]
        data = data[: rng.randrange(len(data))] + other[rng.randrange(len(other)) :]
    elif how == "insert":
        at = rng.randrange(len(data))
        data[at:at] = rng.randbytes(rng.randint(1, 16))
    elif how == "snippet":
        lines = bytes(data).split(b"\n")
        at = rng.randrange(len(lines))
        indent = lines[at][: len(lines[at]) - len(lines[at].lstrip(b" "))]
        snippet = b"\n".join(indent + line for line in rng.choice(SNIPPETS).split(b"\n"))
        data = bytearray(b"\n".join([*lines[:at], snippet, *lines[at:]]))
    elif how == "lines":
        lines = bytes(data).split(b"\n")
        at = rng.randrange(len(lines))
        lines[at:at] = [lines[rng.randrange(len(lines))]] * rng.randint(1, 3) if rng.random() < 0.5 else []
        if rng.random() < 0.5:
            del lines[rng.randrange(len(lines))]
        data = bytearray(b"\n".join(lines))
    elif how == "garbage":
        data = bytearray(rng.randbytes(rng.randint(0, 2048)))
    else:
        data = bytearray(b"\xff\xfe" + bytes(data).decode().encode("utf-16-le"))
    return {**EXAMPLES, name: bytes(data)}


def random_mutant(rng: random.Random) -> tuple[str, dict[str, bytes]]:
    if rng.random() < 0.5:
        return "structured", random_structured(rng)
    return "bytes", random_bytes_mutant(rng)


# ---- the oracle --------------------------------------------------------------------------------------------------


def write_project(directory: Path, files: dict[str, bytes]) -> None:
    for old in directory.glob("Pulumi.*.yaml"):
        old.unlink()
    for name, data in files.items():
        (directory / name).write_bytes(data)


def run(argv: list[str]) -> Outcome:
    """`dsx-bus ARGV` in-process; an exception, an exit code or an output line an operator should not see fails."""
    command = "validate STACK" if argv[2] == "validate" and len(argv) > 3 else argv[2]
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code: int | None = cli.main(argv)
    except SystemExit as exc:  # argparse: usage mistakes only, and these arguments are always well-formed
        return Outcome(command, None, f"exit {exc.code}")
    except RecursionError:
        return Outcome(command, None, "traceback RecursionError")
    except Exception as exc:  # the point: any exception is a finding, recorded by class
        return Outcome(command, None, f"traceback {type(exc).__name__}")
    if code not in (0, 1):
        return Outcome(command, code, f"exit {code}")
    for line in err.getvalue().splitlines():
        if not line.startswith(("error: ", "warning: ", "note: ")) and not line.endswith("; nothing was changed"):
            return Outcome(command, code, f"line {line[:200]!r}")
    return Outcome(command, code, None)


def check(directory: Path, files: dict[str, bytes], render: bool = True) -> list[Outcome]:
    """validate every stack, then the mutated one alone (the others become notes); if that passes, render it (a
    config that validates must render)."""
    write_project(directory, files)
    stack = next((n for n in FILES if files[n] != EXAMPLES[n]), FILES[0]).removeprefix("Pulumi.").removesuffix(".yaml")
    outcomes = [run(["--dir", str(directory), "validate"]), run(["--dir", str(directory), "validate", stack])]
    if render and outcomes[0].code == 0:
        out = directory / "render"
        shutil.rmtree(out, ignore_errors=True)
        outcomes.append(run(["--dir", str(directory), "render", stack, "--out", str(out)]))
    return outcomes
