"""`dsx-bus local up|status|check|down` end to end, and the errors a user sees when it cannot start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from dsxbus import cli
from dsxbus.local import runner, servers, state

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


def test_a_damaged_state_file_gives_clean_errors_until_down_force_stops_what_it_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_project: MakeProject
) -> None:
    """The issue's case: a truncated state.json made `status`, `down` and `up` crash, and `up` could not recover."""
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    local = ["--dir", str(project), "local"]
    assert cli.main([*local, "up", "--stacks", "csc,cpc-a", "--run-dir", str(run_dir)]) == 0
    try:
        live = servers.ours(run_dir)
        assert len(live) == len(_recorded(run_dir)) == 4  # csc, cpc-a, and their nats-mtls
        text = (run_dir / state.STATE).read_text()
        (run_dir / state.STATE).write_text(text[: len(text) // 2])
        capsys.readouterr()

        for command in (["status"], ["check"], ["down"], ["up", "--stacks", "csc,cpc-a"]):
            assert cli.main([*local, *command, "--run-dir", str(run_dir)]) == 1, command
            err = capsys.readouterr().err.splitlines()[-1]  # after `up`'s warnings about the stack files
            assert err.startswith(f"error: {run_dir / state.STATE}: ") and "dsx-bus local down --force" in err, err
        assert servers.ours(run_dir) == live  # `up` started nothing on top of them, `down` stopped nothing

        assert cli.main([*local, "down", "--force", "--run-dir", str(run_dir)]) == 0
        assert servers.ours(run_dir) == {}
        (run_dir / state.STATE).write_text(text[: len(text) // 2])  # still damaged, but nothing of it runs now
        capsys.readouterr()
        assert cli.main([*local, "up", "--stacks", "csc,cpc-a", "--run-dir", str(run_dir)]) == 0
        assert "no server of it runs: starting afresh" in capsys.readouterr().err
        assert len(servers.ours(run_dir)) == 4
    finally:
        cli.main([*local, "down", "--force", "--run-dir", str(run_dir)])
    assert servers.ours(run_dir) == {}


@pytest.fixture(scope="module")
def lock_holder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """Another process holding the run dir's lock, as a `local up` still starting servers would."""
    run_dir = tmp_path_factory.mktemp("locked") / "run"
    code = (
        "import sys, time; from pathlib import Path; from dsxbus.local import state\n"
        "with state.locked(Path(sys.argv[1]), 'up', create=True):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield run_dir, holder.pid
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", [["up"], ["down"], ["down", "--force"], ["restart", "cpc-a"]])
def test_a_second_command_on_a_locked_run_dir_is_refused_naming_the_holder_and_starts_nothing(
    lock_holder: tuple[Path, int], capsys: pytest.CaptureFixture[str], make_project: MakeProject, command: list[str]
) -> None:
    run_dir, holder = lock_holder
    project = make_project(run_dir.parent / "project")

    code = cli.main(["--dir", str(project), "local", *command, "--run-dir", str(run_dir)])

    err = capsys.readouterr().err.splitlines()[-1]
    assert code == 1
    assert (
        err == f"error: another `dsx-bus local up` (PID {holder}) holds {run_dir / state.LOCK}: wait for it to "
        f"finish, then run `dsx-bus local {' '.join(command)}` again"
    )
    assert servers.ours(run_dir) == {} and sorted(p.name for p in run_dir.iterdir()) == [state.LOCK]


def test_two_concurrent_ups_on_one_run_dir_start_one_federation_and_down_leaves_nothing_running(
    tmp_path: Path, make_project: MakeProject
) -> None:
    """The issue's case: two `local up` at once gave tracebacks, and `local down` then left 6 servers running."""
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    command = [sys.executable, "-m", "dsxbus.cli", "--dir", str(project), "local", "up", "--run-dir", str(run_dir)]
    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[1])}
    both = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    try:
        results = sorted((p.wait(timeout=60), p.communicate()[1]) for p in both)
        assert [code for code, _ in results] == [0, 1], results
        refused = results[1][1].strip().splitlines()[-1]
        assert refused.startswith("error: ") and "Traceback" not in results[1][1], results[1][1]
        assert "another `dsx-bus local up`" in refused or "already running" in refused, refused
        assert len(servers.ours(run_dir)) == len(_recorded(run_dir)) == 6
    finally:
        assert cli.main(["--dir", str(project), "local", "down", "--run-dir", str(run_dir)]) == 0
    assert servers.ours(run_dir) == {}


@pytest.mark.parametrize("command", [["up"], ["status"], ["check"], ["down"], ["down", "--force"], ["restart", "csc"]])
def test_a_run_dir_that_is_a_file_is_a_clean_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_project: MakeProject, command: list[str]
) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    run_dir.write_text("not a directory")

    code = cli.main(["--dir", str(project), "local", *command, "--run-dir", str(run_dir)])

    err = capsys.readouterr().err.splitlines()[-1]
    assert code == 1
    assert err.startswith("error: ") and str(run_dir) in err and "--run-dir" in err, err
    assert run_dir.read_text() == "not a directory"


def test_servers_whose_state_file_was_deleted_block_up_and_plain_down_stops_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_project: MakeProject
) -> None:
    project, run_dir = make_project(tmp_path / "project"), tmp_path / "run"
    local = ["--dir", str(project), "local"]
    assert cli.main([*local, "up", "--stacks", "csc,cpc-a", "--run-dir", str(run_dir)]) == 0
    try:
        live = servers.ours(run_dir)
        (run_dir / state.STATE).unlink()
        capsys.readouterr()

        assert cli.main([*local, "up", "--stacks", "csc,cpc-a", "--run-dir", str(run_dir)]) == 1
        err = capsys.readouterr().err.splitlines()[-1]
        assert all(str(pid) in err for pid in live) and state.FORCE_DOWN in err, err
        assert servers.ours(run_dir) == live

        assert cli.main([*local, "down", "--run-dir", str(run_dir)]) == 0
        assert servers.ours(run_dir) == {}
    finally:
        cli.main([*local, "down", "--force", "--run-dir", str(run_dir)])


def test_down_force_stops_only_nats_servers_whose_config_is_inside_the_run_dir(tmp_path: Path) -> None:
    run_dir, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    for directory in (run_dir / "csc", elsewhere):
        directory.mkdir(parents=True)
        (directory / "nats.conf").write_text("listen: 127.0.0.1:-1\n")
    binary = servers.nats_server_binary()
    ours = subprocess.Popen([binary, "-c", str(run_dir / "csc" / "nats.conf")], stderr=subprocess.DEVNULL)
    others = [
        subprocess.Popen([binary, "-c", str(elsewhere / "nats.conf")], stderr=subprocess.DEVNULL),
        subprocess.Popen([binary, "-c", f"{run_dir}/../elsewhere/nats.conf"], stderr=subprocess.DEVNULL),
        # Not a nats-server, though its command line names a config in the run dir.
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "-c", str(run_dir / "csc/nats.conf")]),
    ]
    try:
        servers.wait_for(lambda: servers.ours(run_dir) or None, 5, "the run dir's nats-server")
        assert set(servers.ours(run_dir)) == {ours.pid}

        stopped = runner.down(run_dir, lambda _: None, force=True)

        assert [s.pid for s in stopped] == [ours.pid] and ours.wait(timeout=5) is not None
        assert all(p.poll() is None for p in others)
    finally:
        for process in [ours, *others]:
            process.kill()
            process.wait()
