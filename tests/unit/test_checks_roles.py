"""What each role sets (dsxbus.checks.roles): a CPC names itself and finds the CSC; the CSC lists its CPCs."""

from __future__ import annotations

from dsxbus import stackfile
from tests.unit.stackconfigs import KEY, cpc, csc, only_error


def test_a_cluster_id_outside_lower_case_letters_and_digits_is_refused() -> None:
    problem = only_error(cpc(clusterId="Cpc-1"))
    assert problem.key == f"{KEY}.clusterId"
    assert problem.value == "Cpc-1"
    assert "[a-z0-9]+" in problem.fix


def test_a_cpc_id_outside_lower_case_letters_and_digits_is_refused() -> None:
    problem = only_error(csc(cpcs={"a": "organization/dsx-bus/cpc-a", "B_2": "organization/dsx-bus/cpc-b"}))
    assert problem.key == f"{KEY}.cpcs.B_2"
    assert problem.value == "B_2"
    assert "[a-z0-9]+" in problem.fix


def test_two_cpc_ids_naming_the_same_stack_are_refused() -> None:
    problem = only_error(csc(cpcs={"a": "organization/dsx-bus/cpc-a", "b": "organization/dsx-bus/cpc-a"}))
    assert problem.key == f"{KEY}.cpcs"
    assert problem.value == ["a", "b"]
    assert "each CPC has its own stack" in problem.fix


def test_a_leaf_endpoint_on_a_cpc_is_refused() -> None:
    problem = only_error(cpc(leafEndpoint="nats://leaf.cpc-a.example.com:7422"))
    assert problem.key == f"{KEY}.leafEndpoint"
    assert problem.value == "nats://leaf.cpc-a.example.com:7422"
    assert problem.fix == "only the CSC has this setting; remove it here"


def test_uplinks_on_a_cpc_are_refused() -> None:
    problem = only_error(cpc(mqttStreams={"uplinks": True}))
    assert problem.key == f"{KEY}.mqttStreams.uplinks"
    assert problem.value is True
    assert problem.fix == "only the CSC has this setting; remove it here"


def test_uplinks_off_on_a_cpc_are_as_good_as_unset() -> None:
    stackfile.parse(cpc(mqttStreams={"uplinks": False}), source="Pulumi.test.yaml")


def test_a_cluster_id_on_the_csc_is_refused() -> None:
    problem = only_error(csc(clusterId="a"))
    assert problem.key == f"{KEY}.clusterId"
    assert problem.value == "a"
    assert problem.fix == "only a CPC has this setting; remove it here"


def test_a_cpc_without_a_way_to_find_the_csc_is_refused() -> None:
    raw = cpc()
    del raw["cscStack"]
    raw["auth"]["permissions"].pop("oauth2")
    problem = only_error(raw)
    assert problem.key == f"{KEY}.cscStack"
    assert problem.value is None
    assert "set cscStack" in problem.fix


def test_a_csc_endpoint_with_port_0_or_a_line_break_is_refused() -> None:
    for url in ("nats://leaf.csc.example.com:0", "nats://leaf.csc.example.com:7422\ninclude /etc/passwd"):
        problem = only_error(cpc(cscEndpoint=url))
        assert problem.key == f"{KEY}.cscEndpoint"
        assert problem.value == url
        assert "nats://leaf.csc.example.com:7422" in problem.fix


def test_a_leaf_key_generation_on_the_csc_is_refused() -> None:
    problem = only_error(csc(keyGenerations={"leaf": 1}))
    assert problem.key == f"{KEY}.keyGenerations.leaf"
    assert problem.value == 1
    assert problem.fix == "only a CPC has this setting; remove it here"


def test_key_generations_of_the_csc_own_keys_are_accepted() -> None:
    raw = csc(keyGenerations={"authCallout": 2, "nack": 1, "surveyor": 1, "mtlsLeaf": 3})
    bus, found = stackfile.parse(raw, source="Pulumi.test.yaml")  # raises on any error
    assert bus.key_generations.mtls_leaf == 3
    assert all(p.warning for p in found)


def test_a_negative_key_generation_is_refused_naming_its_key() -> None:
    problem = only_error(cpc(keyGenerations={"leaf": -1}))
    assert problem.key == f"{KEY}.keyGenerations.leaf"
    assert problem.value == -1
