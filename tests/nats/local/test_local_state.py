"""The run state in the run dir: what `local up` records is what `local status`, `check` and `down` load back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsxbus import nkeys
from dsxbus.config import CrossLayer
from dsxbus.local import state
from dsxbus.local.plan import ClusterKeys
from dsxbus.local.servers import LocalError, Server
from dsxbus.local.state import Federation, LocalCluster, MtlsClient
from dsxbus.nkeys import KeyKind


def _server(directory: Path, name: str, pid: int) -> Server:
    return Server(name, directory / f"{name}.conf", directory / f"{name}.log", pid, {"client": 4222, "leaf": 7422})


def _federation(run_dir: Path) -> Federation:
    csc = LocalCluster("csc", "csc", "csc", run_dir / "csc", _server(run_dir, "csc", 101), expected_leafs={"csc": 1})
    cpc = LocalCluster(
        "cpc-a",
        "cpc",
        "a",
        run_dir / "cpc-a",
        _server(run_dir, "cpc-a", 102),
        mtls=_server(run_dir, "cpc-a-mtls", 103),
        lists=CrossLayer(csc_exports=("broadcast.>",), cpc_exports=("sensor.>", "status.>")),
        extra_accounts=["LaunchLayer"],
        noauth_account="CPC",
        mtls_clients={"device": MtlsClient("CN=device", "CPC", "device.crt", "device.key")},
        expected_leafs={"cpc-a": 3, "cpc-a-mtls": 2},
    )
    keys = {
        "csc": ClusterKeys(admin={"CSC": nkeys.generate(KeyKind.USER)}),
        "cpc-a": ClusterKeys(leaf={"CSC": nkeys.generate(KeyKind.USER)}, admin={"CPC": nkeys.generate(KeyKind.USER)}),
    }
    return Federation(run_dir, run_dir / "project", {"csc": csc, "cpc-a": cpc}, keys, run_dir / "ca.crt", "2.12.6")


def test_a_saved_federation_loads_back_as_it_was(tmp_path: Path) -> None:
    federation = _federation(tmp_path)

    state.save(federation)

    assert state.load(tmp_path) == federation


def test_only_the_owner_may_read_the_recorded_keys(tmp_path: Path) -> None:
    state.save(_federation(tmp_path))

    assert ((tmp_path / state.KEYS).stat().st_mode & 0o777) == 0o600
    assert ((tmp_path / state.STATE).stat().st_mode & 0o777) == 0o600


def test_a_cpcs_lists_are_recorded_under_the_stack_files_keys_and_a_cscs_as_empty(tmp_path: Path) -> None:
    state.save(_federation(tmp_path))

    recorded = json.loads((tmp_path / state.STATE).read_text())["clusters"]
    assert recorded["csc"]["lists"] == {}
    assert recorded["cpc-a"]["lists"] == {
        "cscExports": ["broadcast.>"],
        "cscPrefixedExports": [],
        "cpcExports": ["sensor.>", "status.>"],
    }


def test_a_federation_that_was_stopped_is_no_longer_recorded_but_its_run_dir_is_still_recognised(
    tmp_path: Path,
) -> None:
    state.save(_federation(tmp_path))

    state.forget(tmp_path)

    with pytest.raises(LocalError, match="dsx-bus local up"):
        state.load(tmp_path)
    assert state.is_run_dir(tmp_path) and not state.is_run_dir(tmp_path / "csc")
