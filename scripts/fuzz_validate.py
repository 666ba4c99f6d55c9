"""Fuzz `dsx-bus validate` (and `render` of what validates) with mutants of the example stacks; print the counts.

    python scripts/fuzz_validate.py                   # 10,000 inputs, 2 workers, 5 s per input
    python scripts/fuzz_validate.py --inputs 50000 --seed 7
    python scripts/fuzz_validate.py --replay 1234 --out /tmp/m   # write input 1234's stack files to look at

Half the inputs are structured mutants (values, keys and types of the example stacks changed), half byte-level
(flips, truncations, splices, hostile YAML, random bytes, UTF-16); tests/unit/fuzzing.py makes them and holds the
oracle. Each input runs in-process in a worker under a SIGALRM timeout; a run past it counts as a hang. Exit 1 on any
traceback, hang, bad exit code or stray output line.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.unit import fuzzing  # after the project root is on the path

_DIR: Path | None = None
_TIMEOUT = 5.0


class _HangError(Exception):
    pass


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _HangError


def _start_worker(timeout: float) -> None:
    global _DIR, _TIMEOUT
    _DIR = Path(tempfile.mkdtemp(prefix="dsx-bus-fuzz-"))
    _TIMEOUT = timeout
    signal.signal(signal.SIGALRM, _on_alarm)


def _one(seed: int) -> tuple[int, str, list[str], list[tuple[str, int | None]], float]:
    assert _DIR is not None
    kind, files = fuzzing.random_mutant(random.Random(seed))
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, _TIMEOUT)
    try:
        outcomes = fuzzing.check(_DIR, files)
    except _HangError:
        return seed, kind, ["hang"], [], time.monotonic() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    failures = [f"{o.command}: {o.failure}" for o in outcomes if o.failure]
    return seed, kind, failures, [(o.command, o.code) for o in outcomes], time.monotonic() - started


def _batch(seeds: list[int]) -> list[tuple[int, str, list[str], list[tuple[str, int | None]], float]]:
    return [_one(seed) for seed in seeds]


_BATCH = 25


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0, help="first seed; input i is seed + i")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per input before it counts as a hang")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--replay", type=int, default=None, help="write this seed's stack files to --out and stop")
    parser.add_argument("--out", type=Path, default=Path("fuzz-input"))
    args = parser.parse_args()
    if args.replay is not None:
        kind, files = fuzzing.random_mutant(random.Random(args.replay))
        args.out.mkdir(parents=True, exist_ok=True)
        fuzzing.write_project(args.out, files)
        print(f"{kind} mutant {args.replay} in {args.out}")
        return 0

    started = time.monotonic()
    kinds: collections.Counter[str] = collections.Counter()
    codes: collections.Counter[tuple[str, int | None]] = collections.Counter()
    failures: collections.Counter[str] = collections.Counter()
    first: dict[str, int] = {}
    slowest = (0.0, -1)
    seeds = range(args.seed, args.seed + args.inputs)
    with multiprocessing.get_context("fork").Pool(args.workers, _start_worker, (args.timeout,)) as pool:
        batches = [list(seeds[i : i + _BATCH]) for i in range(0, len(seeds), _BATCH)]
        results = pool.imap_unordered(_batch, batches)
        # A hang the alarm cannot interrupt (inside C code) still ends the run, with an error, here.
        done = [item for _ in batches for item in results.next(timeout=args.timeout * _BATCH + 60)]
        for seed, kind, found, ran, seconds in done:
            kinds[kind] += 1
            codes.update(ran)
            slowest = max(slowest, (seconds, seed))
            for failure in found:
                failures[failure] += 1
                first.setdefault(failure, seed)
    wall = time.monotonic() - started
    tracebacks = {k: v for k, v in failures.items() if "traceback" in k}
    hangs = failures.get("hang", 0)
    print(
        f"inputs: {args.inputs:,} ({kinds['structured']:,} structured, {kinds['bytes']:,} byte-level), seeds "
        f"{args.seed}-{args.seed + args.inputs - 1}, {args.workers} workers, {wall:.0f} s"
    )
    print(
        f"validate: exit 0 {codes[('validate', 0)]:,}, exit 1 {codes[('validate', 1)]:,}; validate of the mutated "
        f"stack alone: exit 0 {codes[('validate STACK', 0)]:,}, exit 1 {codes[('validate STACK', 1)]:,}; "
        f"render (of what validated): exit 0 {codes[('render', 0)]:,}, exit 1 {codes[('render', 1)]:,}"
    )
    print(
        f"tracebacks: {sum(tracebacks.values())}"
        + "".join(f"\n  {v} {k} (first: seed {first[k]})" for k, v in sorted(tracebacks.items()))
    )
    print(f"hangs (> {args.timeout:g} s): {hangs}" + (f" (first: seed {first['hang']})" if hangs else ""))
    others = {k: v for k, v in failures.items() if k not in tracebacks and k != "hang"}
    print(
        f"other failures (exit code, stray output line): {sum(others.values())}"
        + "".join(f"\n  {v} {k} (first: seed {first[k]})" for k, v in sorted(others.items()))
    )
    print(f"max time per input: {slowest[0]:.2f} s (seed {slowest[1]})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
