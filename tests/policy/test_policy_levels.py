"""Enforcement levels come from the policy config file, as the CLI applies it: the policy's entry, then `all`."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest

from tests.policy import analyzer, programs
from tests.policy.analyzer import Capture

CONFIG = analyzer.example_config()
ACKNOWLEDGED = {"grants-confined": {"acknowledged": CONFIG["grants-confined"]["acknowledged"]}}
"""The example's acknowledged grants (its admin clients), with no level: a setting, not a level."""


def _with(**levels: Any) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    for policy, level in levels.items():
        config[policy.replace("_", "-")]["enforcementLevel"] = level
    return config


def test_without_a_level_in_the_config_file_each_policy_runs_at_its_own_level(csc_first: Capture) -> None:
    assert analyzer.summary(analyzer.analyze(csc_first, ACKNOWLEDGED)) == analyzer.summary(
        analyzer.analyze(csc_first, CONFIG)
    )


def test_a_disabled_policy_reports_nothing(csc_first: Capture) -> None:
    found = analyzer.analyze(csc_first, _with(noauth_disabled="disabled", cpcs_pending="disabled"))
    assert found == []


def test_an_advisory_policy_can_be_made_mandatory(csc_first: Capture) -> None:
    found = analyzer.analyze(csc_first, _with(noauth_disabled="mandatory"))
    assert analyzer.summary(analyzer.mandatory(found)) == [
        ("noauth-disabled", "MANDATORY", "csc-auth-callout-permissions")
    ]


def test_a_mandatory_policy_can_be_made_advisory() -> None:
    capture = analyzer.capture(lambda: programs.nats_release(programs.cpc_accounts("1", ["x.>"], [], ["x.>"])))
    found = analyzer.analyze(capture, _with(cross_layer_lists_disjoint="advisory"))
    assert analyzer.summary(found) == [("cross-layer-lists-disjoint", "ADVISORY", "nats")]


def test_all_sets_every_policy_the_file_leaves_unset(csc_first: Capture) -> None:
    found = analyzer.analyze(csc_first, {"all": "mandatory", **ACKNOWLEDGED})
    assert analyzer.summary(found) == [
        ("cpcs-pending", "MANDATORY", "csc-auth-callout-permissions"),
        ("cpcs-pending", "MANDATORY", "csc-auth-callout-permissions"),
        ("noauth-disabled", "MANDATORY", "csc-auth-callout-permissions"),
    ]


def test_a_policy_entry_wins_over_all(csc_first: Capture) -> None:
    found = analyzer.analyze(
        csc_first, {"all": "mandatory", "cpcs-pending": "advisory", "noauth-disabled": "disabled", **ACKNOWLEDGED}
    )
    assert analyzer.summary(found) == [("cpcs-pending", "ADVISORY", "csc-auth-callout-permissions")] * 2


def test_config_outside_a_policy_schema_is_refused() -> None:
    config = copy.deepcopy(CONFIG)
    config["mtls-names-agree"]["clientUrls"] = ["ssl://not-keyed-by-stack:8883"]
    with pytest.raises(jsonschema.ValidationError):
        analyzer.reconcile(analyzer.servicer(), config)
