"""Bad config fails the run with one clean error line per problem and no traceback; render mode and context."""

from __future__ import annotations

import json

import pulumi

from tests.program import harness
from tests.program.conftest import CSC_REF
from tests.program.harness import Run


def _bad(run: Run) -> list[str]:
    assert isinstance(run.error, pulumi.RunError), run.error
    text = str(run.error) + "\n".join(run.errors())
    assert "Traceback" not in text and 'File "' not in text
    return run.errors()


def test_each_config_problem_is_one_error_line_then_a_run_error() -> None:
    bus = harness.stack_config("cpc-a")["dsx-bus:eventBus"]
    bus["clusterId"] = 1  # YAML int: must be quoted
    bus["crossLayr"] = {}  # misspelt key
    del bus["authCallout"]
    run = harness.run("cpc-a", event_bus=bus)
    errors = _bad(run)
    assert len(errors) == 3, errors
    assert any("clusterId" in e and "quote it" in e for e in errors)
    assert any("crossLayr" in e for e in errors)
    assert any("authCallout" in e and "required" in e for e in errors)
    assert all(e.startswith("Pulumi.cpc-a.yaml: dsx-bus:eventBus") for e in errors)
    assert "3 problem(s)" in str(run.error)
    assert not run.registered("kubernetes:core/v1:Secret")  # nothing was declared


def test_a_missing_event_bus_key_says_where_to_put_it() -> None:
    errors = _bad(harness.run("csc", without=("dsx-bus:eventBus",)))
    assert len(errors) == 1 and "dsx-bus:eventBus is not set" in errors[0]


def test_an_event_bus_that_is_not_a_mapping_is_one_error() -> None:
    errors = _bad(harness.run("csc", extra_config={"dsx-bus:eventBus": json.dumps("not a mapping")}))
    assert len(errors) == 1 and "must be a mapping" in errors[0]


def test_a_cpc_whose_inherited_lists_overlap_fails_cleanly(csc_first: Run) -> None:
    outputs = dict(csc_first.outputs)
    outputs["fleetDefaults"] = {
        "crossLayer": {"cscExports": ["a.>"], "cpcExports": ["a.>"]},
        "jwks": csc_first.outputs["fleetDefaults"]["jwks"],
    }
    run = harness.run("cpc-a", stack_outputs={CSC_REF: outputs})
    errors = _bad(run)
    assert errors and all(e.startswith("with the CSC's fleet defaults: dsx-bus:eventBus.") for e in errors)
    # cpc-a's Sveltos subjects no longer have a route either: the same inherited lists, checked together.
    assert {e.split(" = ")[0].rsplit(".", 2)[-2] for e in errors} == {"crossLayer", "nats"}
    # Checked before anything is declared: only the component and the stack reference read exist.
    assert not [c for c in run.registered() if c.type.startswith("kubernetes:") or c.type.startswith("random:")]


def test_render_to_directory_mode_needs_no_cluster_context() -> None:
    run = harness.run("csc", extra_config={"dsx-bus:renderYamlToDirectory": "rendered/csc"})
    assert run.error is None
    (provider,) = run.registered("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == "rendered/csc"
    assert "context" not in provider.inputs


def test_values_outside_their_domain_are_clean_error_lines() -> None:
    bus = harness.stack_config("csc")["dsx-bus:eventBus"]
    bus["namespace"] = "Not A DNS Label"
    bus["nats"] = {"maxMemoryStore": "lots"}
    bus["mqttStreams"] = {"maxAge": "banana"}
    bus["leafEndpoint"] = "nats://[x:7422"
    errors = _bad(harness.run("csc", event_bus=bus))
    assert [e.split(" = ")[0] for e in errors] == [
        f"Pulumi.csc.yaml: dsx-bus:eventBus.{key}"
        for key in ("namespace", "mqttStreams.maxAge", "nats.maxMemoryStore", "leafEndpoint")
    ], errors


def test_a_csc_whose_config_maps_would_outgrow_kubernetes_with_the_cpcs_exported_lists_fails_cleanly(
    cpc_a: Run, cpc_b: Run
) -> None:
    """The CSC's own config fits; CPC a's exported lists (each a route in its account and in the CSC account on the
    CSC) make the CSC account, which no ConfigMap of accounts can split, larger than Kubernetes allows: refused at
    preview, nothing declared."""
    outputs = dict(cpc_a.outputs)
    outputs["crossLayer"] = {**outputs["crossLayer"], "cpcExports": [f"telemetry{i}.>" for i in range(10500)]}
    run = harness.run(
        "csc", stack_outputs={"organization/dsx-bus/cpc-a": outputs, "organization/dsx-bus/cpc-b": cpc_b.outputs}
    )
    errors = _bad(run)
    assert len(errors) == 1, errors
    assert "dsx-bus:eventBus.cpcs" in errors[0] and "the ConfigMap nats-accounts-0 would hold" in errors[0]
    assert "with the CPCs' exported lists and keys" in str(run.error)
    assert not run.registered("kubernetes:core/v1:ConfigMap")
