"""`dsx-bus local rotate STACK --leaf` on a running local federation: a CPC's leaf keys rotated in the window the
Pulumi program uses (docs/operations.md), under an MQTT QoS 1 stream from that CPC to the CSC."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
import yaml
from natstools import rogue_leaf_node
from rotation_rig import rotate_local_under_load

from dsxbus import cli, naming
from dsxbus.local import runner, servers, state
from dsxbus.local.servers import LocalError
from dsxbus.local.state import Federation

STACK = "cpc-a"


@pytest.fixture
def pair(tmp_path: Path, make_project: Callable[[Path], Path]) -> Iterator[Federation]:
    """A federation of its own (the rotation changes its keys and restarts servers): the CSC and cpc-a."""
    project = make_project(tmp_path / "project")
    with runner.running_federation(project, tmp_path / "run", ["csc", STACK], say=lambda _: None) as running:
        yield running


def test_rotating_a_cpcs_leaf_key_under_a_qos1_stream_loses_no_message(pair: Federation) -> None:
    outcome = rotate_local_under_load(pair, STACK, count=300)

    assert outcome.rotation_error is None
    assert outcome.lost == [], f"lost {len(outcome.lost)} of {outcome.sent}"
    started, ended = outcome.rotation_span
    during = [index for index, at in outcome.delivered.items() if started <= at <= ended]
    assert len(during) > 10, "the stream did not run while the rotation did"
    assert outcome.rotation is not None and outcome.rotation.current != outcome.rotation.retired


async def _signs_in(federation: Federation, seed: str) -> bool:
    try:
        client = await nats.connect(federation.csc.main.url("client"), nkeys_seed_str=seed, connect_timeout=2)
    except (nats.errors.Error, OSError):
        return False
    await client.close()
    return True


def _leaf_signs_in(directory: Path, federation: Federation, seed: str) -> bool:
    """A leaf node dialling the CSC with `seed`: connected, or refused (its log names the authorization error)."""
    with rogue_leaf_node(directory, federation, seed) as leaf:

        def verdict() -> bool | None:
            if servers.leaf_count(leaf):
                return True
            return False if "authorization violation" in leaf.log.read_text().lower() else None

        return servers.wait_for(verdict, 5, "the leaf to connect or be refused")


def test_after_local_rotate_the_csc_refuses_the_old_leaf_key_and_admits_the_new_one(
    pair: Federation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = pair.keys[STACK].leaf[naming.CSC]

    assert cli.main(["local", "rotate", STACK, "--leaf", "--run-dir", str(pair.run_dir)]) == 0

    new = state.load(pair.run_dir).keys[STACK].leaf[naming.CSC]
    assert f"{old.public_key} -> {new.public_key}" in capsys.readouterr().out
    assert not _leaf_signs_in(tmp_path, pair, old.seed)
    assert _leaf_signs_in(tmp_path, pair, new.seed)


def test_after_local_rotate_the_cpc_dials_with_the_new_key(pair: Federation) -> None:
    """The CSC restarted admitting only the new keys takes every leaf of the CPC back."""
    rotation = runner.rotate_leaf(pair.run_dir, STACK, say=lambda _: None)
    rotated = state.load(pair.run_dir)

    runner.restart(rotated, "csc")  # waits for every leaf of the federation, or fails naming the refused one

    assert {a: k.public_key for a, k in rotated.keys[STACK].leaf.items()} == rotation.current
    assert all(row["running"] and row["leafs"] == row["expectedLeafs"] for row in runner.status(pair.run_dir))


def test_without_the_admission_window_the_cpcs_leaf_is_refused_and_the_stream_stalls(pair: Federation) -> None:
    """The control: the CPC switches before the CSC admits its new key."""
    outcome = rotate_local_under_load(pair, STACK, count=300, admit_first=False, give_up=1.0, timeout=2.0)

    assert outcome.lost, "the stream went on although the CPC's new key was not admitted"
    assert outcome.rotation_error is not None and "authorization" in outcome.rotation_error.lower()


def test_local_rotate_refuses_the_csc_an_unknown_stack_and_a_missing_key_family(
    pair: Federation, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = ["--run-dir", str(pair.run_dir)]
    before = pair.run_dir.joinpath(state.KEYS).read_text()

    assert cli.main(["local", "rotate", STACK, *run_dir]) == 1
    assert "name the keys to rotate: --leaf" in capsys.readouterr().err
    assert cli.main(["local", "rotate", "csc", "--leaf", *run_dir]) == 1
    assert "csc is the CSC, which holds no leaf key" in capsys.readouterr().err
    assert cli.main(["local", "rotate", "cpc-z", "--leaf", *run_dir]) == 1
    assert "'cpc-z' is not in the federation" in capsys.readouterr().err
    assert pair.run_dir.joinpath(state.KEYS).read_text() == before


def test_local_rotate_refuses_stack_files_that_no_longer_render_the_running_configs(pair: Federation) -> None:
    csc_file = pair.project / "Pulumi.csc.yaml"
    document = yaml.safe_load(csc_file.read_text())
    document["config"]["dsx-bus:eventBus"]["crossLayer"]["cpcExports"].append("status.>")
    csc_file.write_text(yaml.safe_dump(document, sort_keys=False))
    before = pair.run_dir.joinpath(state.KEYS).read_text()

    with pytest.raises(LocalError, match="is not what the stack files render now"):
        runner.rotate_leaf(pair.run_dir, STACK, say=lambda _: None)

    assert pair.run_dir.joinpath(state.KEYS).read_text() == before


def test_local_rotate_refuses_while_the_cpc_is_stopped_and_names_the_restart(pair: Federation) -> None:
    servers.stop(pair.clusters[STACK].main)

    with pytest.raises(LocalError, match=f"dsx-bus local restart {STACK}"):
        runner.rotate_leaf(pair.run_dir, STACK, say=lambda _: None)
