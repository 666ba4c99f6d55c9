"""The pack as Pulumi runs it: PulumiPolicy.yaml, requirements.txt, and `__main__.py` serving the analyzer over gRPC."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator

import grpc  # type: ignore[import-untyped]
import pytest
import yaml
from google.protobuf import empty_pb2, json_format  # type: ignore[import-untyped]
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policy import rules
from tests.policy import analyzer

PACK = analyzer.PACK


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The pack started the way the engine's `pulumi-analyzer-policy-python` shim starts it: `python -u -m
    pulumi.policy <engine address> .` with the pack directory as working directory; yields the process and the
    first line it printed."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."],
        cwd=PACK,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().decode()
        yield process, first_line
    finally:
        process.terminate()  # only the process this fixture started
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_pack_prints_only_its_port_before_serving(served: tuple[subprocess.Popen[bytes], str]) -> None:
    process, first_line = served
    assert re.fullmatch(r"\d+\n", first_line), first_line
    assert process.poll() is None  # still serving


def test_the_served_pack_reports_every_policy_with_its_level(served: tuple[subprocess.Popen[bytes], str]) -> None:
    _, first_line = served
    with grpc.insecure_channel(f"127.0.0.1:{first_line.strip()}") as channel:
        info = analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=10)
    policies = {p["name"]: p.get("enforcementLevel", "ADVISORY") for p in json_format.MessageToDict(info)["policies"]}
    assert info.name == rules.PACK_NAME and info.supportsConfig
    assert policies == {
        p.name: (p.enforcement_level.value.upper() if p.enforcement_level else "") for p in rules.POLICIES
    }


def test_the_served_pack_analyzes_a_resource(served: tuple[subprocess.Popen[bytes], str]) -> None:
    _, first_line = served
    request = analyzer_pb2.AnalyzeRequest(
        type="kubernetes:gateway.networking.k8s.io/v1:TLSRoute", urn="urn:pulumi:s::p::t::r", name="r"
    )
    request.properties.update({"metadata": {"name": "r"}, "spec": {"hostnames": ["192.0.2.1"]}})
    with grpc.insecure_channel(f"127.0.0.1:{first_line.strip()}") as channel:
        response = analyzer_pb2_grpc.AnalyzerStub(channel).Analyze(request, timeout=10)
    assert [d.policyName for d in response.diagnostics] == ["tlsroute-hostnames-are-dns-names"]


def test_pulumipolicy_yaml_runs_the_pack_with_python_in_the_projects_virtualenv() -> None:
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert (PACK / project["runtime"]["options"]["virtualenv"]).resolve() == (analyzer.ROOT / ".venv").resolve()
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])


def test_requirements_install_this_project_with_the_policy_extra() -> None:
    lines = [line for line in (PACK / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines == ["-e ..[policy]"]
    # `pulumi install` runs pip in the pack directory, where `..` is the project.
    assert ((PACK / "..").resolve() / "pyproject.toml").exists()
    extras = tomllib.loads((analyzer.ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("pulumi-policy") for requirement in extras["policy"])


def test_every_policy_has_a_unique_name_a_description_and_remediation_steps() -> None:
    names = [p.name for p in rules.POLICIES]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)
    infos = analyzer.policy_infos(analyzer.servicer())
    for name, info in infos.items():
        assert info["description"].endswith("."), name
        assert info["remediationSteps"].endswith("."), name
        assert info["displayName"], name
