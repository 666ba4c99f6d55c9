"""A referenced stack's outputs are checked before anything is admitted: a clean error naming both stacks."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from tests.program import harness
from tests.program.conftest import CSC_REF
from tests.program.harness import Run

CPC_A = "organization/dsx-bus/cpc-a"
CPC_B = "organization/dsx-bus/cpc-b"


def _refused(run: Run, referenced: str, output: str) -> str:
    """The one error line, after which nothing was declared."""
    assert isinstance(run.error, pulumi.RunError), run.error
    text = str(run.error) + "\n".join(run.errors())
    assert "Traceback" not in text and 'File "' not in text
    assert str(run.error) == f"1 problem(s) in Pulumi.{run.stack}.yaml; nothing was changed"
    [line] = run.errors()
    assert line.startswith(f"Pulumi.{run.stack}.yaml: dsx-bus:eventBus.")
    assert f" -> {referenced} output {output}" in line
    # Only the component and its stack reference reads exist: no Secret, no leaf admitted.
    assert not [c for c in run.registered() if c.type.startswith(("kubernetes:", "random:"))]
    return line


def _csc_with(cpc_a: Run, cpc_b: Run, **changes: Any) -> Run:
    outputs_a = {**cpc_a.outputs, **changes}
    return harness.run("csc", stack_outputs={CPC_A: outputs_a, CPC_B: cpc_b.outputs})


def test_a_cpc_entry_pointing_at_a_stack_of_another_cpc_is_refused(cpc_a: Run, cpc_b: Run) -> None:
    run = harness.run("csc", stack_outputs={CPC_A: cpc_b.outputs, CPC_B: cpc_b.outputs})
    line = _refused(run, CPC_A, "clusterId")
    assert line.endswith(
        "output clusterId = 'b': the CSC lists this stack as CPC 'a', but it is CPC 'b': point cpcs.a at CPC a's stack"
    )


def test_a_cpc_entry_pointing_at_a_csc_stack_is_refused(csc_first: Run, cpc_b: Run) -> None:
    run = harness.run("csc", stack_outputs={CPC_A: csc_first.outputs, CPC_B: cpc_b.outputs})
    line = _refused(run, CPC_A, "clusterType")
    assert "must name a CPC stack, and this is a CSC stack" in line


@pytest.mark.parametrize(
    ("output", "value"),
    [
        ("clusterType", ["cpc"]),
        ("clusterId", 1),
        ("leafPublicKeys", "UABC"),
        ("leafPublicKeys", {"CSC": ["U"]}),
        ("crossLayer", ["sensor.>"]),
        ("crossLayer", {"cpcExports": "sensor.>"}),
        ("natsServerVersion", {"v": 2}),
    ],
)
def test_a_cpc_output_of_the_wrong_type_is_refused_on_the_csc(
    output: str, value: object, cpc_a: Run, cpc_b: Run
) -> None:
    _refused(_csc_with(cpc_a, cpc_b, **{output: value}), CPC_A, output)


def test_a_cpc_stack_that_exports_nothing_yet_stays_pending(cpc_b: Run) -> None:
    run = harness.run("csc", stack_outputs={CPC_B: cpc_b.outputs})
    assert run.error is None
    assert run.outputs["pendingCpcs"] == ["a"]
    assert any("CPC 'a'" in w and "has not been deployed yet" in w for w in run.warnings())


@pytest.mark.parametrize(
    ("output", "value"),
    [
        ("clusterType", "cpc"),
        ("clusterType", None),
        ("leafEndpoint", "nats://leaf.csc.example.com:7422\ninclude /etc/passwd"),
        ("leafEndpoint", "leaf.csc.example.com"),
        ("leafEndpoint", 7422),
        ("fleetDefaults", "{}"),
        ("fleetDefaults", {"crossLayer": {"cscExports": 1}}),
    ],
)
def test_a_csc_output_that_is_no_csc_output_is_refused_on_a_cpc(output: str, value: object, csc_first: Run) -> None:
    run = harness.run("cpc-a", stack_outputs={CSC_REF: {**csc_first.outputs, output: value}})
    _refused(run, CSC_REF, output)


def test_a_csc_reference_pointing_at_a_cpc_stack_is_refused(cpc_b: Run) -> None:
    run = harness.run("cpc-a", stack_outputs={CSC_REF: cpc_b.outputs})
    line = _refused(run, CSC_REF, "clusterType")
    assert "must name a CSC stack, and this is a CPC stack" in line


def test_a_refusal_comes_in_pulumi_preview_too(cpc_b: Run) -> None:
    run = harness.run("csc", preview=True, stack_outputs={CPC_A: cpc_b.outputs, CPC_B: cpc_b.outputs})
    _refused(run, CPC_A, "clusterId")
