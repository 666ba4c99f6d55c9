"""`dsx-bus render` writes files nats-server accepts as written; `dsx-bus validate` says what is wrong."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from natstools import config_test

from dsxbus import cli

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("csc", "cpc-a", "cpc-b")


def _render(stack: str, out: Path) -> Path:
    assert cli.main(["--dir", str(ROOT), "render", stack, "--out", str(out)]) == 0
    return out


def _broken_copy(tmp_path: Path) -> Path:
    """The example stacks with cpc-a's clusterId unquoted and cpc-b's mTLS hostname an IP address."""
    for stack in STACKS:
        shutil.copy(ROOT / f"Pulumi.{stack}.yaml", tmp_path / f"Pulumi.{stack}.yaml")
    cpc_a = tmp_path / "Pulumi.cpc-a.yaml"
    cpc_a.write_text(cpc_a.read_text().replace('clusterId: "a"', "clusterId: 1"))
    cpc_b = tmp_path / "Pulumi.cpc-b.yaml"
    document = yaml.safe_load(cpc_b.read_text())
    document["config"]["dsx-bus:eventBus"]["mtls"]["hostnames"] = ["172.18.202.1"]
    cpc_b.write_text(yaml.safe_dump(document))
    return tmp_path


@pytest.mark.parametrize("stack", STACKS)
def test_render_writes_the_three_files_of_a_cluster(stack: str, tmp_path: Path) -> None:
    out = _render(stack, tmp_path / "out")
    assert {p.name for p in out.iterdir() if p.is_file()} == {"nats.conf", "nats-mtls.conf", "permissions.json"}
    document = json.loads((out / "permissions.json").read_text())
    assert set(document) == {"oauth2", "mtls", "nkey", "noauth"}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("conf", ["nats.conf", "nats-mtls.conf"])
def test_nats_server_accepts_each_rendered_conf_as_written(stack: str, conf: str, tmp_path: Path) -> None:
    out = _render(stack, tmp_path / "out")
    result = config_test(out / conf)
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout + result.stderr


def test_nats_server_rejects_a_corrupted_rendered_conf(tmp_path: Path) -> None:
    out = _render("cpc-a", tmp_path / "out")
    conf = out / "nats.conf"
    text = conf.read_text()
    # an import from an account that does not exist
    corrupted = text.replace("imports: [", 'imports: [\n      { stream: { account: "NOPE", subject: "x.>" } }', 1)
    assert corrupted != text
    conf.write_text(corrupted)
    result = config_test(conf)
    assert result.returncode != 0
    assert "NOPE" in result.stderr


def test_the_cpc_conf_dials_the_csc_leaf_endpoint(tmp_path: Path) -> None:
    text = (_render("cpc-b", tmp_path / "out") / "nats.conf").read_text()
    assert text.count('"nats://leaf.csc.dsx.example.com:7422"') == 2  # the CSC account and LaunchLayer


def test_validate_accepts_the_example_stacks(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(ROOT), "validate"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("ok: csc, cpc-a, cpc-b") or captured.out.startswith("ok: cpc-a, cpc-b, csc")
    assert "error:" not in captured.err


def test_validate_lists_every_error_of_a_broken_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(_broken_copy(tmp_path)), "validate"]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    where = "error: "
    assert lines[0].startswith(f"{where}cpc-a: dsx-bus:eventBus.clusterId = 1: is a number, not an ID; quote it"), err
    assert lines[1].startswith(f"{where}cpc-b: dsx-bus:eventBus.mtls.hostnames[0] = '172.18.202.1': an IP address")
    assert lines[2].startswith(f"{where}cpc-b: dsx-bus:eventBus.mtls.clientUrls[0] = ")  # no longer among hostnames
    assert lines[3:] == ["error: 3 problem(s); nothing was changed"]
    assert "Traceback" not in err


def test_the_installed_command_fails_without_a_traceback(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "dsx-bus"
    argv = [str(command)] if command.is_file() else [sys.executable, "-m", "dsxbus"]
    result = subprocess.run(
        [*argv, "--dir", str(_broken_copy(tmp_path)), "validate"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_render_of_an_unknown_stack_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--dir", str(ROOT), "render", "cpc-z", "--out", str(tmp_path / "out")]) == 1
    assert "error: no stack 'cpc-z'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
