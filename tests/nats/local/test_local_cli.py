"""`dsx-bus local up|status|check|down` end to end, and the errors a user sees when it cannot start."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dsxbus import cli
from dsxbus.local import servers, state

MakeProject = Callable[[Path], Path]


def _recorded(run_dir: Path) -> list[servers.Server]:
    return state.load(run_dir).servers()


def test_up_status_check_down_on_the_example_stacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_project: MakeProject
) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    base = ["--dir", str(project), "local"]
    try:
        assert cli.main([*base, "up", "--json", "--run-dir", str(run_dir)]) == 0
        described = json.loads(capsys.readouterr().out)
        started = _recorded(run_dir)

        assert set(described["clusters"]) == {"csc", "cpc-a", "cpc-b"}
        csc = described["clusters"]["csc"]
        assert csc["role"] == "csc" and csc["nats"].startswith("nats://127.0.0.1:")
        assert csc["mqttMtls"].startswith("ssl://127.0.0.1:") and described["clusters"]["cpc-a"]["id"] == "a"
        assert (run_dir.stat().st_mode & 0o777) == 0o700 and ((run_dir / state.KEYS).stat().st_mode & 0o777) == 0o600

        assert cli.main([*base, "status", "--run-dir", str(run_dir)]) == 0
        assert cli.main([*base, "check", "--run-dir", str(run_dir)]) == 0
        assert "FAIL" not in capsys.readouterr().out

        assert cli.main([*base, "up", "--run-dir", str(run_dir)]) == 1
        assert "already running" in capsys.readouterr().err
    finally:
        assert cli.main([*base, "down", "--run-dir", str(run_dir)]) == 0
    assert not any(servers.is_running(s) for s in started)
    assert cli.main([*base, "status", "--run-dir", str(run_dir)]) == 1


def test_a_leaf_that_never_connects_names_the_cpc_and_leaves_no_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_project: MakeProject
) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    csc = project / "Pulumi.csc.yaml"
    document = yaml.safe_load(csc.read_text())
    del document["config"]["dsx-bus:eventBus"]["cpcs"]["b"]  # the CSC no longer admits cpc-b's leaf
    csc.write_text(yaml.safe_dump(document))

    code = cli.main(["--dir", str(project), "local", "up", "--timeout", "2", "--run-dir", str(run_dir)])

    err = capsys.readouterr().err
    assert code == 1
    assert "error: cpc-b:" in err and "leaf connections" in err and "Authorization Violation" in err
    assert not any(servers.is_running(s) for s in _recorded(run_dir))


def test_stacks_without_a_csc_are_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_project: MakeProject
) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"

    code = cli.main(["--dir", str(project), "local", "up", "--stacks", "cpc-a", "--run-dir", str(run_dir)])

    assert code == 1
    assert "exactly one CSC" in capsys.readouterr().err
    assert not run_dir.exists()


def test_status_without_a_federation_says_how_to_start_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(tmp_path), "local", "status"]) == 1
    assert "dsx-bus local up" in capsys.readouterr().err


def test_up_never_clears_a_run_dir_it_did_not_make(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_project: MakeProject
) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "precious"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("keep me")

    code = cli.main(["--dir", str(project), "local", "up", "--run-dir", str(run_dir)])

    assert code == 1
    assert "holds no local federation" in capsys.readouterr().err
    assert (run_dir / "notes.txt").read_text() == "keep me"
