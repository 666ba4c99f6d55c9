"""Rendered CPC configs with overlapping cross-layer lists, loaded by the real nats-server (`-t`).

nats-server reads the `accounts {}` block in Go map order, so some overlaps fail only some loads
(docs/measured-facts.md §2): these tests load each config many times, and show `crosslayer.check` agrees.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import pytest
from natstools import config_test

from dsxbus import crosslayer, render
from dsxbus.config import EventBus

BASE = {"cscExports": ["broadcast.>"], "cscPrefixedExports": ["command.>"], "cpcExports": ["sensor.>"]}

# Measured here (rendered CPC config, chart account order): 51/400 and 120/1000 loads of the csc∩cpc case
# were rejected (12-13 %, as docs/measured-facts.md §2 measured). Assume a floor of 10 % so a miss stays < 1e-4.
SPORADIC_RATE_FLOOR = 0.10
SPORADIC_TRIES = math.ceil(math.log(1e-4) / math.log(1 - SPORADIC_RATE_FLOOR))  # 88
# As many loads for a config that must pass: a failure as rare as 1 load in 10 would show with p > 1 - 1e-4.
ACCEPTED_LOADS = SPORADIC_TRIES


def cpc_lists(csc: tuple[str, ...] = (), pref: tuple[str, ...] = (), cpc: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """The base example lists plus what a case adds."""
    return {
        "cscExports": [*BASE["cscExports"], *csc],
        "cscPrefixedExports": [*BASE["cscPrefixedExports"], *pref],
        "cpcExports": [*BASE["cpcExports"], *cpc],
    }


def write_cpc_conf(directory: Path, cross_layer: dict[str, list[str]]) -> Path:
    """CPC "1"'s real nats.conf, dummy keys inlined. model_validate skips the overlap rules on purpose."""
    bus = EventBus.model_validate(
        {
            "clusterType": "cpc",
            "clusterId": "1",
            "cscEndpoint": "nats://127.0.0.1:7422",
            "authCallout": {"image": "x"},
            "crossLayer": cross_layer,
        }
    )
    path = directory / "nats.conf"
    path.write_text(render.texts(render.cluster_files(bus), inline=True)["nats.conf"])
    return path


def as_lists(cross_layer: dict[str, list[str]]) -> crosslayer.CrossLayer:
    return crosslayer.CrossLayer.model_validate(cross_layer)


CYCLE = "import forms a cycle"
ALREADY_EXISTS = "stream import already exists"

ALWAYS_FATAL = {
    "prefixed x.> vs cpc x.>": (cpc_lists(pref=("x.>",), cpc=("x.>",)), CYCLE),
    "prefixed a.> vs cpc a.b": (cpc_lists(pref=("a.>",), cpc=("a.b",)), CYCLE),
    "prefixed a.*.c vs cpc a.b.*": (cpc_lists(pref=("a.*.c",), cpc=("a.b.*",)), CYCLE),
    "cscExports x.> twice": (cpc_lists(csc=("x.>", "x.>")), ALREADY_EXISTS),
    "cpcExports x.> twice": (cpc_lists(cpc=("x.>", "x.>")), ALREADY_EXISTS),
    "cscPrefixedExports x.> twice": (cpc_lists(pref=("x.>", "x.>")), ALREADY_EXISTS),
    "cscExports >": (cpc_lists(csc=(">",)), CYCLE),
    "cpcExports >": (cpc_lists(cpc=(">",)), CYCLE),
}

SPORADIC = cpc_lists(csc=("x.>",), cpc=("x.>",))

ACCEPTED = {
    "base example": cpc_lists(),
    "f1 csc a.b, cpc a.c": cpc_lists(csc=("a.b",), cpc=("a.c",)),
    "f2 prefixed a.b, cpc a.c": cpc_lists(pref=("a.b",), cpc=("a.c",)),
    "f3 csc a.b, prefixed a.c": cpc_lists(csc=("a.b",), pref=("a.c",)),
    "f4 csc a.*.c, cpc a.*.d": cpc_lists(csc=("a.*.c",), cpc=("a.*.d",)),
    "csc x.> and prefixed x.>": cpc_lists(csc=("x.>",), pref=("x.>",)),
}


def test_one_config_test_run_is_quick_enough_to_repeat(tmp_path: Path) -> None:
    """Repeated trials below assume ~6 ms per `-t` (measured median on a 2 vCPU host)."""
    path = write_cpc_conf(tmp_path, cpc_lists())
    durations = []
    for _ in range(5):
        started = time.perf_counter()
        result = config_test(path)
        durations.append(time.perf_counter() - started)
        assert result.returncode == 0, result.stderr
    assert statistics.median(durations) < 0.5, durations


@pytest.mark.parametrize(("cross_layer", "error"), ALWAYS_FATAL.values(), ids=ALWAYS_FATAL.keys())
def test_an_always_fatal_overlap_is_rejected_on_the_first_load(
    tmp_path: Path, cross_layer: dict[str, list[str]], error: str
) -> None:
    result = config_test(write_cpc_conf(tmp_path, cross_layer))
    assert result.returncode == 1
    assert "Error adding stream import" in result.stderr and error in result.stderr, result.stderr


@pytest.mark.parametrize(("cross_layer", "error"), ALWAYS_FATAL.values(), ids=ALWAYS_FATAL.keys())
def test_check_reports_every_always_fatal_overlap_as_fatal(cross_layer: dict[str, list[str]], error: str) -> None:
    lists = as_lists(cross_layer)
    assert any(f.fatal for f in crosslayer.check(lists))
    assert crosslayer.load_failure(lists, "1") is crosslayer.LoadFailure.EVERY_LOAD


def test_a_csc_export_overlapping_a_cpc_export_passes_some_loads_and_fails_others(tmp_path: Path) -> None:
    """One passing `-t` proves nothing: the same file fails about 1 load in 8. Stops once both were seen."""
    path = write_cpc_conf(tmp_path, SPORADIC)
    passed: list[str] = []
    rejected: list[str] = []
    for _ in range(SPORADIC_TRIES):
        result = config_test(path)
        (passed if result.returncode == 0 else rejected).append(result.stderr)
        if passed and rejected:
            break
    assert rejected, f"all {SPORADIC_TRIES} loads passed"
    assert passed, f"all {len(rejected)} loads were rejected"
    assert CYCLE in rejected[0], rejected[0]


def test_check_reports_the_sporadic_overlap_as_fatal() -> None:
    findings = crosslayer.check(as_lists(SPORADIC))
    assert [f.rule for f in findings if f.fatal] == ["csc-overlaps-cpc"]


@pytest.mark.parametrize("cross_layer", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_lists_load_on_every_try(tmp_path: Path, cross_layer: dict[str, list[str]]) -> None:
    path = write_cpc_conf(tmp_path, cross_layer)
    failures = [r.stderr for r in (config_test(path) for _ in range(ACCEPTED_LOADS)) if r.returncode != 0]
    assert failures == []


@pytest.mark.parametrize("cross_layer", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_check_finds_nothing_fatal_in_lists_that_always_load(cross_layer: dict[str, list[str]]) -> None:
    lists = as_lists(cross_layer)
    assert [f for f in crosslayer.check(lists) if f.fatal] == []
    assert crosslayer.load_failure(lists, "1") is None
