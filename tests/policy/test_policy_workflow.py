"""The pull-request workflow, checked as far as possible without GitHub: structure, stacks, paths and commands."""

from __future__ import annotations

import re
import shlex
import tomllib
from typing import Any

import yaml

from tests.policy import analyzer

ROOT = analyzer.ROOT
WORKFLOW = ROOT / ".github" / "workflows" / "pulumi-preview.yml"


def _workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _workflow()["jobs"]["preview"]["steps"]
    return steps


def _commands() -> list[list[str]]:
    """Every shell command the workflow runs, split into words (one per line; folded `>-` blocks are one line)."""
    return [shlex.split(line) for step in _steps() if "run" in step for line in step["run"].splitlines() if line]


def test_the_workflow_runs_on_pull_requests() -> None:
    triggers = _workflow()[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request"}
    assert "policy/**" in triggers["pull_request"]["paths"]


def test_the_matrix_is_exactly_the_stacks_with_a_stack_file() -> None:
    stacks = _workflow()["jobs"]["preview"]["strategy"]["matrix"]["stack"]
    assert sorted(stacks) == sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def test_it_previews_each_stack_with_the_pack_and_its_config() -> None:
    (preview,) = [c for c in _commands() if c[:2] == ["pulumi", "preview"]]
    assert preview[preview.index("--stack") + 1] == "${{ matrix.stack }}"
    pack = preview[preview.index("--policy-pack") + 1]
    config = preview[preview.index("--policy-pack-config") + 1]
    assert (ROOT / pack / "PulumiPolicy.yaml").exists() and (ROOT / pack / "__main__.py").exists()
    assert (ROOT / config) == analyzer.POLICY_CONFIG
    assert "--non-interactive" in preview


def test_it_uses_the_official_pulumi_action_and_setup_actions() -> None:
    uses = [step["uses"] for step in _steps() if "uses" in step]
    assert [u.split("@")[0] for u in uses] == ["actions/checkout", "actions/setup-python", "pulumi/actions"]
    assert all(re.fullmatch(r".+@v\d+", u) for u in uses)
    (pulumi_action,) = [step for step in _steps() if step.get("uses", "").startswith("pulumi/actions@")]
    assert "command" not in pulumi_action["with"]  # install-only: the preview step runs the CLI itself


def test_it_installs_into_the_virtualenv_the_program_and_the_pack_use() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    pack = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    venv = project["runtime"]["options"]["virtualenv"]
    assert (ROOT / "policy" / pack["runtime"]["options"]["virtualenv"]).resolve() == (ROOT / venv).resolve()
    installs = [c for c in _commands() if c[:4] == [f"{venv}/bin/python", "-m", "pip", "install"]]
    assert ["python", "-m", "venv", venv] in _commands()
    editable = next(c for c in installs if "-e" in c)
    target = editable[editable.index("-e") + 1]
    path, extras = re.fullmatch(r"(.+)\[(.+)\]", target).groups()  # type: ignore[union-attr]
    assert (ROOT / path / "pyproject.toml").exists()
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(extras.split(",")) <= set(declared) and {"pulumi", "policy"} <= set(extras.split(","))


def test_it_logs_in_before_previewing() -> None:
    commands = [c[:2] for c in _commands() if c and c[0] == "pulumi"]
    assert commands == [["pulumi", "login"], ["pulumi", "preview"]]


def test_every_secret_it_reads_is_documented_in_its_header() -> None:
    text = WORKFLOW.read_text()
    header = text.split("\nname:", 1)[0]
    for secret in set(re.findall(r"secrets\.([A-Z0-9_]+)", text)):
        assert secret in header, secret
