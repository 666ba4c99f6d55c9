"""The run state in the run dir: what `local up` records is what `local status`, `check` and `down` load back."""

from __future__ import annotations

import json
import os
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
    assert recorded["csc"]["lists"] == {"cscExports": [], "cscPrefixedExports": [], "cpcExports": []}
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


def _damage(text: str, how: str) -> str:
    document = json.loads(text)
    if how == "truncated":
        return text[: len(text) // 2]
    if how == "not JSON":
        return "{" + text
    if how == "empty":
        return ""
    if how == "a list":
        return "[]"
    if how == "a PID that is text":
        document["clusters"]["cpc-a"]["main"]["pid"] = "102"
    elif how == "clusters as a list":
        document["clusters"] = list(document["clusters"].values())
    elif how == "an unknown role":
        document["clusters"]["csc"]["role"] = "hub"
    elif how == "a port out of range":
        document["clusters"]["csc"]["main"]["ports"]["client"] = 70000
    elif how == "a missing key":
        del document["clusters"]["cpc-a"]["expectedLeafs"]
    elif how == "a config outside the run dir":
        document["clusters"]["csc"]["main"]["conf"] = "/tmp/another-federation/csc/nats.conf"
    elif how == "a relative log path":
        document["clusters"]["cpc-a"]["mtls"]["log"] = "cpc-a/nats-mtls.log"
    elif how == "another version":
        document["version"] = state.STATE_VERSION + 1
    elif how == "no version (written before versions)":
        del document["version"]
    return json.dumps(document)


DAMAGE = [
    "truncated",
    "not JSON",
    "empty",
    "a list",
    "a PID that is text",
    "clusters as a list",
    "an unknown role",
    "a port out of range",
    "a missing key",
    "a config outside the run dir",
    "a relative log path",
    "another version",
    "no version (written before versions)",
]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_state_file_is_refused_naming_the_file_and_the_way_to_recover(tmp_path: Path, how: str) -> None:
    state.save(_federation(tmp_path))
    path = tmp_path / state.STATE
    path.write_text(_damage(path.read_text(), how))

    with pytest.raises(state.CorruptStateError) as refused:
        state.load(tmp_path)

    assert str(path) in str(refused.value) and state.FORCE_DOWN in str(refused.value)


@pytest.mark.parametrize("how", ["truncated", "a seed that is no seed", "a stack without keys"])
def test_a_damaged_keys_file_is_refused_without_printing_a_seed(tmp_path: Path, how: str) -> None:
    federation = _federation(tmp_path)
    state.save(federation)
    path = tmp_path / state.KEYS
    document = json.loads(path.read_text())
    if how == "truncated":
        text = path.read_text()[:100]
    elif how == "a seed that is no seed":
        document["cpc-a"]["admin"]["CPC"] = "XX" + document["cpc-a"]["admin"]["CPC"][2:]
        text = json.dumps(document)
    else:
        del document["cpc-a"]
        text = json.dumps(document)
    path.write_text(text)

    with pytest.raises(state.CorruptStateError) as refused:
        state.load(tmp_path)

    assert str(path) in str(refused.value) and state.FORCE_DOWN in str(refused.value)
    seeds = [k.seed for keys in federation.keys.values() for k in (*keys.admin.values(), *keys.leaf.values())]
    assert not any(seed[:20] in str(refused.value) for seed in seeds)


def test_a_state_file_is_replaced_whole_and_no_temp_file_stays_behind(tmp_path: Path) -> None:
    federation = _federation(tmp_path)
    state.save(federation)
    before = (tmp_path / state.STATE).stat().st_ino

    federation.csc.main.pid = 4242
    state.save(federation)

    assert (tmp_path / state.STATE).stat().st_ino != before  # a new file renamed over the old: never torn
    assert state.load(tmp_path).csc.main.pid == 4242
    assert sorted(p.name for p in tmp_path.iterdir()) == [state.KEYS, state.STATE]


@pytest.mark.parametrize("what", ["a symlink", "a FIFO", "a directory"])
def test_a_state_file_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path: Path, what: str) -> None:
    state.save(_federation(tmp_path))
    path = tmp_path / state.STATE
    path.unlink()
    if what == "a symlink":
        path.symlink_to("/dev/zero")  # a read that would never end
    elif what == "a FIFO":
        os.mkfifo(path)  # an open for reading that would wait for a writer forever
    else:
        path.mkdir()

    with pytest.raises(state.CorruptStateError, match="dsx-bus writes a regular file here"):
        state.load(tmp_path)
