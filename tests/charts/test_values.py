"""The program pins packaged chart versions and passes only value keys the charts read."""

from __future__ import annotations

import tarfile

import yaml

from dsxbus import versions
from dsxbus.config import Charts
from tests.charts import helm, valuekeys
from tests.charts.cluster import Deployment


def test_every_chart_the_program_pins_is_a_packaged_chart(deployment: Deployment) -> None:
    for release in deployment.releases.values():
        assert helm.archive(release.chart, release.version).is_file()


def test_every_value_key_the_program_passes_is_one_the_chart_reads(deployment: Deployment) -> None:
    problems = [
        problem
        for release in deployment.releases.values()
        for problem in valuekeys.unknown_keys(
            release.chart, release.values, helm.default_values(release.chart, release.version)
        )
    ]
    assert problems == []


def test_the_pinned_nats_chart_ships_the_deployed_nats_server_version() -> None:
    helm.require_tools()
    with tarfile.open(helm.archive("nats", Charts().nats)) as package:
        member = package.extractfile("nats/Chart.yaml")
        assert member is not None
        chart = yaml.safe_load(member.read())
    assert chart["appVersion"] == versions.DEPLOYED
