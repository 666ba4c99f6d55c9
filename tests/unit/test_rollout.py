"""dsxbus.rollout and dsxbus.rotation: what a pod-template checksum covers, and how a generation becomes entropy."""

from __future__ import annotations

from dsxbus import naming, natsconf, rollout, rotation
from dsxbus.config import KeyGenerations


def test_the_checksum_does_not_depend_on_the_order_of_its_parts() -> None:
    assert rollout.checksum({"a": "1", "b": "2"}) == rollout.checksum({"b": "2", "a": "1"})


def test_the_checksum_tells_a_value_moved_between_parts() -> None:
    assert rollout.checksum({"a": "1 b", "b": ""}) != rollout.checksum({"a": "1", "b": " b"})


def test_env_references_are_read_from_a_chart_map_and_a_pod_list_alike() -> None:
    ref = {"valueFrom": {"secretKeyRef": {"name": "nats-leaf-csc", "key": "seed"}}}
    expected = (rollout.EnvReference("LEAF_USER_SEED", "secret", "nats-leaf-csc", "seed"),)
    assert rollout.env_references({"LEAF_USER_SEED": ref, "GOMEMLIMIT": "1638MiB"}) == expected
    assert rollout.env_references([{"name": "LEAF_USER_SEED", **ref}, {"name": "X", "value": "y"}]) == expected


def _tree_with_remote() -> natsconf.Tree:
    return {"leafnodes": {"remotes": [{"urls": ["nats://csc:7422"], "account": "CSC"}]}}


def test_leaf_remotes_are_read_at_start_on_a_version_that_cannot_reload_them() -> None:
    assert "leafnodes.remotes" in rollout.unreloadable_parts(_tree_with_remote(), "2.12.6")


def test_leaf_remotes_are_left_to_the_reloader_where_a_reload_applies_them() -> None:
    assert rollout.unreloadable_parts(_tree_with_remote(), "2.15.1") == {}


def test_an_unknown_version_is_taken_for_one_that_cannot_reload_leaf_remotes() -> None:
    assert rollout.unreloadable_parts(_tree_with_remote(), None) != {}


def test_generation_zero_has_no_keepers_so_existing_keys_stay() -> None:
    assert rotation.keepers(0) is None
    assert rotation.keepers(3) == {"generation": "3"}


def test_every_service_key_belongs_to_a_generation_family() -> None:
    generations = KeyGenerations(auth_callout=1, nack=2, surveyor=3, mtls_leaf=4)
    found = {key.name: rotation.service_key_generation(generations, key) for key in naming.service_keys("csc", True)}
    assert found == {
        "nats-auth-signing": 1,
        "nats-xkey": 1,
        "nats-authx-user": 1,
        "nats-nack-user": 2,
        "nats-nack-sources-user": 2,
        "nats-surveyor": 3,
        "nats-mtls-leaf": 4,
        "nats-mtls-authx-leaf": 4,
        "nats-mtls-sys-leaf": 4,
    }


def test_a_next_leaf_entry_names_the_leaf_it_takes_over() -> None:
    owner = naming.leaf_entry_name(naming.next_leaf_permission("a", "LaunchLayer"))
    assert owner == naming.LeafEntryName("a", "launchlayer", next=True)
    assert naming.leaf_entry_name(naming.leaf_permission("a")) == naming.LeafEntryName("a", None)


def test_the_next_key_entry_copies_the_grants_of_the_leaf_entry_it_takes_over() -> None:
    entry = {"public_key": "${NKEY_LEAF_CPC_a_PUBKEY}", "account": "CSC", "permissions": {"pub": {"allow": ["x"]}}}
    document = {"nkey": {"leaf-cpc-a": entry}}
    found = rotation.with_next_leaf_keys(document, {"a": {"CSC": "UNEXT"}}, ())
    assert found["nkey"]["leaf-cpc-a-next"] == {**entry, "public_key": "UNEXT"}
    assert found["nkey"]["leaf-cpc-a"] == entry


def test_a_cpc_without_a_leaf_entry_gets_no_next_key_entry() -> None:
    found = rotation.with_next_leaf_keys({"nkey": {}}, {"a": {"CSC": "UNEXT"}}, ())
    assert found["nkey"] == {}


def test_a_cpc_holds_its_current_and_next_leaf_keys_in_alternating_slots() -> None:
    assert [rotation.leaf_slot(g) for g in rotation.leaf_window_generations(0)] == [0, 1]
    assert [rotation.leaf_slot(g) for g in rotation.leaf_window_generations(1)] == [1, 0]
    assert rotation.leaf_slot_suffix(0) == ""  # the resource a leaf key had before windows: same identity
