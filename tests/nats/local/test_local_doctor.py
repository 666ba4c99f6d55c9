"""`dsx-bus doctor` on real local federations: healthy is exit 0, a killed CPC and a stalled stream source are
named, and what a server runs is compared with what is deployed."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from natstools import seed_client

from dsxbus import cli, doctor, fleet, versions
from dsxbus.local import runner, servers
from dsxbus.local.state import Federation
from dsxbus.nkeys import KeyPair


def _doctor(federation: Federation, *stacks: str, json_out: bool = False) -> list[str]:
    argv = ["--dir", str(federation.project), "doctor", *stacks, "--run-dir", str(federation.run_dir)]
    return [*argv, "--timeout", "1", *(["--json"] if json_out else [])]


SETTLE = 5.0
"""Measured: every stream source flows 0.2 s after `local up` returns; until then each is 'never heard from'."""


def _settled(federation: Federation) -> Federation:
    stacks = fleet.load(federation.project)

    def healthy() -> bool | None:
        where, absent = doctor.targets(stacks, [], federation.run_dir, federation.project)
        return True if not doctor.examine(stacks, where, 1, absent) else None

    servers.wait_for(healthy, SETTLE, "every stream source to flow", 0.1)
    return federation


@pytest.fixture
def own_federation(tmp_path: Path, make_project: Callable[[Path], Path], nats_version: str) -> Iterator[Federation]:
    """Its own federation (~1 s to start): these tests kill and freeze its servers."""
    project = make_project(tmp_path / "project")
    with runner.running_federation(project, tmp_path / "run", say=lambda _: None) as running:
        yield _settled(running)


def test_a_healthy_federation_has_no_findings_and_exits_0(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    _settled(federation)
    assert cli.main(_doctor(federation, json_out=True)) == 0
    assert json.loads(capsys.readouterr().out) == {"healthy": True, "findings": []}


def test_a_server_running_another_version_than_the_deployed_one_is_named(federation: Federation) -> None:
    """What was observed is real; only the version the stacks deploy is another."""
    stacks = fleet.load(federation.project)
    bus = fleet.resolve(stacks, "cpc-a").bus
    observed = doctor.observe([federation.clusters["cpc-a"].main.url("http")], timeout=2)
    findings = [f for f in doctor.diagnose("cpc-a", bus, "2.0.0", observed, {}) if f.where.startswith("server ")]
    (finding,) = findings
    assert finding.where == "server cpc-a"
    assert f"runs nats-server {federation.nats_version}, but 2.0.0 is deployed" in finding.what


def test_a_killed_cpc_is_named_by_its_own_endpoint_and_by_the_csc_missing_its_leaf(
    own_federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    servers.stop(own_federation.clusters["cpc-a"].main, sig=signal.SIGKILL)

    assert cli.main(_doctor(own_federation)) == 1

    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("cpc-a: http://127.0.0.1:") and "does not answer" in line for line in lines)
    assert any(line.startswith("csc: leaf from CPC a (cpc-a): is not connected in account CPC-a") for line in lines)
    assert not any(line.startswith("cpc-b") or "CPC b" in line for line in lines), lines


def test_a_stalled_stream_source_is_named_with_its_stream_and_origin(own_federation: Federation) -> None:
    """Freezing the CSC (SIGSTOP) stops every CPC's sources hearing from it, while the CPC answers."""
    csc = own_federation.csc.main
    stacks = fleet.load(own_federation.project)
    cpc_b = fleet.resolve(stacks, "cpc-b").bus
    url = own_federation.clusters["cpc-b"].main.url("http")

    def stalled() -> list[str] | None:
        found = [str(f) for f in doctor.diagnose("cpc-b", cpc_b, None, doctor.observe([url], 1), {})]
        return found or None

    os.kill(csc.pid, signal.SIGSTOP)
    try:
        found = servers.wait_for(stalled, doctor.STALLED_AFTER_NS / 1e9 + 5, "cpc-b's sources to stall", 0.5)
    finally:
        os.kill(csc.pid, signal.SIGCONT)
    assert any(
        line.startswith("cpc-b: stream $MQTT_msgs in account CPC, source MQTT_msgs_cpc_b: is stalled: last heard")
        for line in found
    ), found


def test_cross_layer_lists_the_servers_did_not_load_are_named(
    federation: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The stack file says one thing, the running servers another (a change not yet deployed, a failed reload)."""
    project = tmp_path / "project"
    shutil.copytree(federation.project, project)
    path = project / "Pulumi.cpc-b.yaml"
    document = yaml.safe_load(path.read_text())
    document["config"]["dsx-bus:eventBus"]["crossLayer"]["cpcExports"] = ["sensor.>", "alarm.>"]  # was status.>
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    _settled(federation)

    argv = ["--dir", str(project), "doctor", "cpc-b", "--run-dir", str(federation.run_dir), "--timeout", "1"]
    assert cli.main(argv) == 1

    lines = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("cpc-b: account CSC: does not import stream 'alarm.>' from CPC as 'cpc.b.alarm.>'")
        for line in lines
    ), lines
    assert any(
        line.startswith("cpc-b: account CSC: imports stream 'status.>' from CPC as 'cpc.b.status.>', not in its config")
        for line in lines
    ), lines
    assert any(line.startswith("cpc-b: account CPC: does not export stream 'alarm.>'") for line in lines), lines


def test_a_cpc_leaf_signed_in_with_another_key_than_its_own_is_named(federation: Federation) -> None:
    """Observed for real; the key CPC a must sign in with is, for this check, CPC b's."""
    stacks = fleet.load(federation.project)
    csc = fleet.resolve(stacks, "csc").bus
    cpcs = {cid: fleet.resolve(stacks, f"cpc-{cid}").bus for cid in ("a", "b")}
    swapped = {"a": {"CSC": federation.keys["cpc-b"].leaf["CSC"].public_key}}
    _settled(federation)
    observed = doctor.observe([federation.csc.main.url("http")], 1)

    found = [str(f) for f in doctor.diagnose("csc", csc, None, observed, cpcs, swapped)]

    own = federation.keys["cpc-a"].leaf["CSC"].public_key
    assert found == [
        f"csc: leaf from CPC a (cpc-a) in account CPC-a: signed in as {own}, not as CPC a's leaf key "
        f"{swapped['a']['CSC']}. Fix: check which key CPC a's leaf Secret holds and which the CSC admits "
        "(auth.permissions: leaf-cpc-a)"
    ]


def test_an_nkey_identity_in_another_account_than_its_entry_names_is_named(
    federation: Federation, tester_key: KeyPair
) -> None:
    """The tester signs in (into CSC, as the running config says); the stack now says LaunchLayer."""
    stacks = fleet.load(federation.project)
    csc = fleet.resolve(stacks, "csc").bus
    tester = next(n for n, e in csc.auth.permissions.nkey.items() if e.public_key == tester_key.public_key)
    entry = csc.auth.permissions.nkey[tester].model_copy(update={"account": "LaunchLayer"})
    moved = csc.model_copy(
        update={
            "auth": csc.auth.model_copy(
                update={"permissions": csc.auth.permissions.model_copy(update={"nkey": {tester: entry}})}
            )
        }
    )

    async def observe_while_signed_in() -> doctor.Observed:
        async with seed_client(federation, tester_key.seed):
            return await asyncio.to_thread(doctor.observe, [federation.csc.main.url("http")], 1)

    observed = asyncio.run(observe_while_signed_in())
    found = [f for f in doctor.diagnose("csc", moved, None, observed, {}) if "nkey identity" in f.where]

    (finding,) = found
    assert finding.where.endswith(f"of nkey identity {tester!r}")
    assert finding.what == f"is in account CSC, but auth.permissions.nkey.{tester}.account is LaunchLayer"


def test_endpoints_named_with_monitor_are_held_to_the_version_the_stacks_deploy(
    federation: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the local state, the version that must run is `images.nats`'s."""
    _settled(federation)
    monitors = [f"--monitor={stack}={c.main.url('http')}" for stack, c in federation.clusters.items()]

    code = cli.main(["--dir", str(federation.project), "doctor", *monitors, "--timeout", "1"])

    lines = capsys.readouterr().out.splitlines()
    if federation.nats_version == versions.DEPLOYED:
        assert (code, lines) == (0, [])
    else:
        assert code == 1
        assert sorted(line.split(":")[0] for line in lines) == ["cpc-a", "cpc-b", "csc"]
        mismatch = f"runs nats-server {federation.nats_version}, but {versions.DEPLOYED} is deployed"
        assert all(mismatch in line for line in lines)
