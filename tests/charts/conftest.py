"""The example stacks in bootstrap order plus variants with the optional features on, each rendered by real helm.

Without helm or the packaged charts these tests skip, naming what is missing; in CI (`CI=true`) they fail.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dsxbus import versions
from dsxbus.local import binaries, servers
from tests.charts import helm
from tests.charts.cluster import Deployment
from tests.program import harness

# The bootstrap-order session fixtures of the program tests: csc (before any CPC), cpc-a, cpc-b, csc again.
from tests.program.conftest import CSC_REF, cpc_a, cpc_b, csc, csc_first

__all__ = ["cpc_a", "cpc_b", "csc", "csc_first"]

Change = Callable[[dict[str, Any]], None]

CPC_REFS = {"a": "organization/dsx-bus/cpc-a", "b": "organization/dsx-bus/cpc-b"}


def _leaf_server_tls(bus: dict[str, Any]) -> None:
    bus["cscLeafServerTLS"] = {"secretName": "leaf-tls", "verify": True}


def _leaf_client_tls(bus: dict[str, Any]) -> None:
    bus["cpcLeafClientTLS"] = {"secretName": "leaf-tls"}


def _leaf_client_tls_outside_etc(bus: dict[str, Any]) -> None:
    # The chart copies only mounts under reloader.natsVolumeMountPrefixes (`/etc/`) into the reloader.
    bus["cpcLeafClientTLS"] = {"secretName": "leaf-tls", "mountPath": "/var/lib/nats-leaf-tls"}


def _server_cert_sans(bus: dict[str, Any]) -> None:
    del bus["mtls"]["certificateIssuer"]
    bus["mtls"]["serverCertSans"] = list(bus["mtls"]["hostnames"])


def _monitoring_on(bus: dict[str, Any]) -> None:
    bus["monitoring"] = {"alerts": {"enabled": True, "team": "dsx"}, "grafanaDashboard": {"enabled": True}}


def _no_service_monitors(bus: dict[str, Any]) -> None:
    bus["monitoring"] = {"serviceMonitors": False}


def _no_mtls(bus: dict[str, Any]) -> None:
    bus["mtls"] = {"enabled": False}
    del bus["auth"]["permissions"]["mtls"]


def _one_server(bus: dict[str, Any]) -> None:
    bus["nats"] = {"replicas": 1}
    bus["mqttStreams"] = {"replicas": 1}


def _file_storage(bus: dict[str, Any]) -> None:
    bus["mqttStreams"] = {"storage": "file"}
    bus["nats"] = {"maxFileStore": "20Gi", "storageClassName": "fast-ssd"}


VARIANTS: dict[str, tuple[str, Change]] = {
    "csc-leaf-tls": ("csc", _leaf_server_tls),
    "cpc-a-leaf-tls": ("cpc-a", _leaf_client_tls),
    "cpc-a-leaf-tls-outside-etc": ("cpc-a", _leaf_client_tls_outside_etc),
    "cpc-b-server-cert-sans": ("cpc-b", _server_cert_sans),
    "cpc-b-monitoring": ("cpc-b", _monitoring_on),
    "cpc-b-no-service-monitors": ("cpc-b", _no_service_monitors),
    "cpc-b-no-mtls": ("cpc-b", _no_mtls),
    "csc-one-server": ("csc", _one_server),
    "csc-file-storage": ("csc", _file_storage),
}
"""Variant -> (the example stack it changes, the change to its eventBus)."""

EXAMPLES = ("csc-first", "cpc-a", "cpc-b", "csc")
DEPLOYMENTS = (*EXAMPLES, *VARIANTS)


@pytest.fixture(scope="session")
def chart_tools() -> None:
    """helm and the packaged charts, or a skip (a failure in CI) that says what is missing and how to get it."""
    helm.require_tools()


@pytest.fixture(scope="session")
def deployments(
    chart_tools: None, csc_first: harness.Run, cpc_a: harness.Run, cpc_b: harness.Run, csc: harness.Run
) -> dict[str, Deployment]:
    runs = {"csc-first": csc_first, "cpc-a": cpc_a, "cpc-b": cpc_b, "csc": csc}
    # Variants see the other stacks as deployed: a CPC the first CSC `up`, a CSC both CPCs.
    outputs = {
        "csc": {CPC_REFS["a"]: cpc_a.outputs, CPC_REFS["b"]: cpc_b.outputs},
        "cpc-a": {CSC_REF: csc_first.outputs},
        "cpc-b": {CSC_REF: csc_first.outputs},
    }
    for name, (stack, change) in VARIANTS.items():
        bus = copy.deepcopy(harness.stack_config(stack)["dsx-bus:eventBus"])
        change(bus)
        run = harness.run(stack, event_bus=bus, stack_outputs=outputs[stack])
        assert run.error is None, f"variant {name}: {run.errors()}"
        runs[name] = run
    found = {name: Deployment(name, run) for name, run in runs.items()}
    # One pass of parallel helm processes for every registration; tests then read the session cache.
    helm.render_all(r for d in found.values() for r in d.releases.values())
    return found


@pytest.fixture(params=DEPLOYMENTS)
def deployment(request: pytest.FixtureRequest, deployments: dict[str, Deployment]) -> Deployment:
    return deployments[request.param]


@pytest.fixture
def deployed_nats_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The pinned nats-server of the deployed version, whatever another test directory selected before."""
    monkeypatch.delenv(binaries.BINARY_ENV, raising=False)
    monkeypatch.setenv(binaries.VERSION_ENV, versions.DEPLOYED)
    yield servers.nats_server_binary()
