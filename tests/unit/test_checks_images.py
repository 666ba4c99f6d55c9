"""The nats-server image (dsxbus.checks.images): a version dsx-bus was measured on, or an explicit opt-in."""

from __future__ import annotations

import pytest

from dsxbus import stackfile, versions
from dsxbus.errors import ConfigError

CPC = {
    "clusterType": "cpc",
    "clusterId": "a",
    "cscEndpoint": "nats://leaf.csc.example.com:7422",
    "authCallout": {"image": "registry.example.com/auth-callout:v1"},
}


def _nats_image_problems(images: dict[str, object]) -> list[str]:
    try:
        stackfile.parse({**CPC, "images": images}, source="Pulumi.cpc-a.yaml")
    except ConfigError as error:
        return [str(p) for p in error.problems if not p.warning]
    return []


@pytest.mark.parametrize("version", versions.SUPPORTED)
def test_every_supported_nats_image_is_accepted(version: str) -> None:
    assert _nats_image_problems({"nats": f"nats:{version}-alpine"}) == []


def test_an_unsupported_nats_image_is_an_error_naming_the_key_the_versions_and_the_opt_in() -> None:
    (problem,) = _nats_image_problems({"nats": "nats:2.11.0-alpine"})
    assert problem.startswith("dsx-bus:eventBus.images.nats = 'nats:2.11.0-alpine': nats-server 2.11.0 is not")
    assert "2.12.6, 2.15.1" in problem and "images.acceptUntestedNatsVersion: true" in problem


def test_a_nats_image_that_names_no_version_is_an_error_that_shows_how_to_pin_it() -> None:
    (problem,) = _nats_image_problems({"nats": "nats@sha256:" + "0" * 64})
    assert "names no nats-server version" in problem and "nats:2.12.6-alpine@sha256:" in problem


def test_the_opt_in_runs_an_untested_nats_image() -> None:
    assert _nats_image_problems({"nats": "nats:2.11.0-alpine", "acceptUntestedNatsVersion": True}) == []
