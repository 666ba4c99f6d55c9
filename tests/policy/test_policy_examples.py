"""The example stacks, run in bootstrap order, pass the pack: no mandatory violation; the advisories they raise are
intended (noauth is enabled in the examples; CPCs are pending on the first CSC `up`)."""

from __future__ import annotations

import copy

import pytest

from policy import rules
from tests.policy import analyzer
from tests.policy.analyzer import Capture
from tests.program import harness

NOAUTH = "noauth-disabled"


@pytest.mark.parametrize("stack", ["csc_first", "cpc_a", "cpc_b", "csc"])
def test_no_example_stack_has_a_mandatory_violation(stack: str, request: pytest.FixtureRequest) -> None:
    capture: Capture = request.getfixturevalue(stack)
    assert analyzer.mandatory(analyzer.analyze(capture, analyzer.example_config())) == []


def test_the_first_csc_up_lists_each_pending_cpc_and_noauth_as_advisories(csc_first: Capture) -> None:
    found = analyzer.analyze(csc_first, analyzer.example_config())
    assert analyzer.summary(found) == [
        ("cpcs-pending", "ADVISORY", "csc-auth-callout-permissions"),
        ("cpcs-pending", "ADVISORY", "csc-auth-callout-permissions"),
        (NOAUTH, "ADVISORY", "csc-auth-callout-permissions"),
    ]
    pending = sorted(d.message for d in found if d.policy == "cpcs-pending")
    assert pending[0].startswith("CPC 'a' (stack organization/dsx-bus/cpc-a) has not been deployed yet")
    assert pending[1].startswith("CPC 'b' (stack organization/dsx-bus/cpc-b) has not been deployed yet")
    assert "run `pulumi up` on that CPC's stack, then on this one again" in pending[0]


@pytest.mark.parametrize(("stack", "account"), [("cpc_a", "CPC"), ("cpc_b", "CPC"), ("csc", "CSC")])
def test_the_deployed_example_stacks_raise_only_the_noauth_advisory(
    stack: str, account: str, request: pytest.FixtureRequest
) -> None:
    capture: Capture = request.getfixturevalue(stack)
    found = analyzer.analyze(capture, analyzer.example_config())
    assert analyzer.summary(found) == [(NOAUTH, "ADVISORY", f"{capture.stack}-auth-callout-permissions")]
    assert f"noauth is enabled: every client that brings no credentials lands in account {account!r}" in (
        found[0].message
    )


def _without_noauth(stack: str) -> dict[str, object]:
    bus = copy.deepcopy(harness.stack_config(stack)["dsx-bus:eventBus"])
    del bus["auth"]["permissions"]["noauth"]
    return dict(bus)


def test_a_deployed_csc_without_noauth_passes_without_any_diagnostic(cpc_outputs: dict[str, dict[str, object]]) -> None:
    clean = analyzer.capture_stack("csc", event_bus=_without_noauth("csc"), stack_outputs=cpc_outputs)
    assert analyzer.analyze(clean, analyzer.example_config()) == []


def test_a_cpc_without_noauth_passes_without_any_diagnostic(csc_first: Capture) -> None:
    clean = analyzer.capture_stack(
        "cpc-a", event_bus=_without_noauth("cpc-a"), stack_outputs={"organization/dsx-bus/csc": csc_first.exports}
    )
    assert analyzer.analyze(clean, analyzer.example_config()) == []


def test_the_example_policy_config_names_every_policy_at_its_default_level() -> None:
    config = analyzer.example_config()
    assert list(config) == [policy.name for policy in rules.POLICIES]
    for policy in rules.POLICIES:
        assert policy.enforcement_level is not None
        assert config[policy.name]["enforcementLevel"] == policy.enforcement_level.value


def test_the_example_policy_config_satisfies_every_policy_schema() -> None:
    reconciled = analyzer.reconcile(analyzer.servicer(), analyzer.example_config())
    assert reconciled["mtls-names-agree"]["clientUrls"]["csc"] == ["ssl://mqtt-mtls.csc.dsx.example.com:8883"]
    assert reconciled["images-pinned"] == {"enforcementLevel": "advisory", "floatingTags": ["latest"]}
