"""The CSC's ConfigMaps that grow with its CPCs, as helm and the program write them, against the check that keeps
them under Kubernetes' 1 MiB (dsxbus.checks.configmaps)."""

from __future__ import annotations

from dsxbus import render
from dsxbus.checks import configmaps
from dsxbus.config import CrossLayer
from tests.charts.cluster import Deployment
from tests.charts.podspec import Manifest
from tests.program.harness import Run


def _size(manifest: Manifest) -> int:
    return sum(len(str(value).encode()) for value in manifest["data"].values())


def _config_map(manifests: list[Manifest], name: str) -> Manifest:
    (found,) = [m for m in manifests if m["kind"] == "ConfigMap" and m["metadata"]["name"] == name]
    return found


def _lists(*cpcs: Run) -> dict[str, CrossLayer]:
    return {run.stack.removeprefix("cpc-"): CrossLayer.model_validate(run.outputs["crossLayer"]) for run in cpcs}


def test_the_nats_chart_config_map_is_never_larger_than_the_check_takes_it_to_be(
    deployments: dict[str, Deployment], cpc_a: Run, cpc_b: Run
) -> None:
    csc = deployments["csc"]
    actual = _size(_config_map(csc.rendered("nats"), "nats-config"))
    files = render.cluster_files(csc.bus, cpc_lists=_lists(cpc_a, cpc_b))
    (nats, *_) = configmaps.sizes(render.sharded_nats_conf(csc.bus, files.nats_conf), "")
    assert nats.name == "nats-config"
    assert actual <= nats.size
    # Without the margin, the pretty JSON of `config.merge` is what the chart writes, within 2 % (and 128 bytes: the
    # accounts that grow are in other ConfigMaps, so what remains is small, and each include line is shorter than
    # the key it comes from).
    assert abs(nats.size - configmaps.CHART_OVERHEAD - actual) <= 0.02 * actual + 128


def test_the_estimate_with_every_next_key_admitted_is_no_smaller_than_the_permissions_the_program_writes(
    deployments: dict[str, Deployment], cpc_a: Run, cpc_b: Run
) -> None:
    csc = deployments["csc"]
    written = _size(_config_map(csc.program, "auth-callout-permissions"))
    estimated = {s.name: s.size for s in configmaps.estimated_sizes(csc.bus, _lists(cpc_a, cpc_b))}
    assert written <= estimated["auth-callout-permissions"]


def test_each_accounts_config_map_the_program_writes_is_the_size_the_check_takes_it_to_be(
    deployments: dict[str, Deployment], cpc_a: Run, cpc_b: Run
) -> None:
    csc = deployments["csc"]
    files = render.cluster_files(csc.bus, cpc_lists=_lists(cpc_a, cpc_b))
    checked = {s.name: s.size for s in configmaps.sizes(render.sharded_nats_conf(csc.bus, files.nats_conf), "")}
    written = {
        m["metadata"]["name"]: _size(m)
        for m in csc.program
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("nats-accounts-")
    }
    assert written == {name: size for name, size in checked.items() if name.startswith("nats-accounts-")}
    assert written  # the CSC's accounts are in one at least
