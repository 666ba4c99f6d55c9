"""Where `dsx-bus doctor` looks (dsxbus.doctor.targets): --monitor, monitoring.monitorUrls, else the local
federation; each mistake a clean error. What it finds is tested on real servers (tests/nats/local)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsxbus import cli, doctor, fleet
from dsxbus.errors import DsxBusError
from tests.unit.stackconfigs import example_fleet


def test_monitor_urls_come_from_the_command_line_then_the_stack_config(tmp_path: Path) -> None:
    def watched(bus: dict[str, Any]) -> None:
        bus["monitoring"]["monitorUrls"] = ["http://nats-0.example:8222", "http://nats-1.example:8222"]

    project = example_fleet(tmp_path, csc=watched)
    stacks = fleet.load(project)
    where, absent = doctor.targets(stacks, ["cpc-a=http://127.0.0.1:9"], None, project, ["csc", "cpc-a"])
    assert where["csc"].urls == ("http://nats-0.example:8222", "http://nats-1.example:8222")
    assert where["cpc-a"].urls == ("http://127.0.0.1:9",)
    assert where["cpc-a"].version == "2.12.6"  # what images.nats deploys
    assert absent == frozenset()


def test_a_monitor_without_a_url_is_a_clean_error(tmp_path: Path) -> None:
    project = example_fleet(tmp_path)
    with pytest.raises(DsxBusError, match="expected STACK=URL"):
        doctor.targets(fleet.load(project), ["csc"], None, project)


def test_a_monitor_for_an_unknown_stack_is_a_clean_error(tmp_path: Path) -> None:
    project = example_fleet(tmp_path)
    with pytest.raises(DsxBusError, match="no stack 'cpc-x'"):
        doctor.targets(fleet.load(project), ["cpc-x=http://127.0.0.1:8222"], None, project)


def test_without_any_endpoint_or_local_federation_the_error_says_where_endpoints_come_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = example_fleet(tmp_path)
    assert cli.main(["--dir", str(project), "doctor", "--run-dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert "error: no monitoring endpoints: no --monitor STACK=URL, no monitoring.monitorUrls" in err
    assert "Traceback" not in err
