"""The `dsx-bus` command line: where it looks for stack files, and how it reports usage mistakes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dsxbus import cli

ROOT = Path(__file__).resolve().parents[2]


def test_the_project_directory_may_follow_the_subcommand(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no stack files here
    assert cli.main(["validate", "--dir", str(ROOT)]) == 0
    assert capsys.readouterr().out.startswith("ok: cpc-a, cpc-b, csc")


def test_a_directory_without_stack_files_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(tmp_path), "validate"]) == 1
    err = capsys.readouterr().err
    assert "no Pulumi.<stack>.yaml files here" in err
    assert "Traceback" not in err


def test_an_unknown_subcommand_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["deploy"])
    assert exited.value.code == 2


def _lines(err: str) -> list[str]:
    lines = err.splitlines()
    assert lines and all(line.startswith(("error: ", "warning: ", "note: ")) for line in lines), lines
    return lines


def test_render_to_an_existing_file_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").write_text("")
    assert cli.main(["--dir", str(ROOT), "render", "csc", "--out", str(tmp_path / "out")]) == 1
    (line,) = _lines(capsys.readouterr().err)
    assert "is a file, not a directory. Fix: name a directory" in line


def test_render_below_a_file_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "out").write_text("")
    assert cli.main(["--dir", str(ROOT), "render", "csc", "--out", str(tmp_path / "out" / "sub")]) == 1
    assert "a part of" in _lines(capsys.readouterr().err)[0]


def test_render_into_a_read_only_directory_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:  # root ignores mode bits; sysfs refuses a new directory even to root
        out = Path("/sys/dsx-bus-render-test")
    else:
        tmp_path.chmod(0o555)
        out = tmp_path / "out"
    assert cli.main(["--dir", str(ROOT), "render", "csc", "--out", str(out)]) == 1
    assert "permission denied). Fix: name a directory you can write to" in _lines(capsys.readouterr().err)[0]


def test_render_to_an_impossible_path_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(ROOT), "render", "csc", "--out", str(tmp_path / ("x" * 300))]) == 1
    assert "cannot write there (File name too long)" in _lines(capsys.readouterr().err)[0]


def test_validate_one_stack_notes_the_cross_stack_checks_it_skips(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(ROOT), "validate", "csc"]) == 0
    captured = capsys.readouterr()
    notes = [line for line in _lines(captured.err) if line.startswith("note: ")]
    assert notes == [
        f"note: csc: dsx-bus:eventBus.cpcs.{cid} = 'organization/dsx-bus/cpc-{cid}': cpc-{cid} not among the stacks "
        "checked: cross-stack checks with it skipped"
        for cid in "ab"
    ]
    assert captured.out == "ok: csc (1 warning(s))\n"  # noauth on the CSC


def test_validate_a_cpc_alone_notes_that_its_csc_is_not_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(ROOT), "validate", "cpc-a"]) == 0
    (note,) = _lines(capsys.readouterr().err)
    assert note.startswith("note: cpc-a: dsx-bus:eventBus.cscStack = 'organization/dsx-bus/csc': csc not among")


def test_a_listed_cpc_without_a_stack_file_is_still_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(ROOT / "Pulumi.csc.yaml", tmp_path / "Pulumi.csc.yaml")
    assert cli.main(["--dir", str(tmp_path), "validate", "csc"]) == 1
    assert "error: csc: dsx-bus:eventBus.cpcs.a = 'organization/dsx-bus/cpc-a': no stack file Pulumi.cpc-a.yaml" in (
        capsys.readouterr().err
    )


def test_a_control_character_in_a_stack_file_never_reaches_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "Pulumi.cpc-a.yaml").read_text().replace("LaunchLayer: {enabled: true}", '"L\\e[31m": {}')
    (tmp_path / "Pulumi.cpc-a.yaml").write_text(text)
    assert cli.main(["--dir", str(tmp_path), "validate", "cpc-a"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b[31m" in err
    _lines(err)
