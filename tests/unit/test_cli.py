"""The `dsx-bus` command line: where it looks for stack files, and how it reports usage mistakes."""

from __future__ import annotations

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
