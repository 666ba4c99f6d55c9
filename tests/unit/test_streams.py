"""The NACK stream specs in parts: the ones the config alone decides, and each CPC's, which only its lists decide."""

from __future__ import annotations

from dsxbus import stackfile, streams
from dsxbus.config import CrossLayer, EventBus
from tests.unit.stackconfigs import csc

OWN_LISTS = CrossLayer(csc_exports=("broadcast.>",), csc_prefixed_exports=("cmd.>", "cfg.>"))


def _csc(cpcs: int) -> EventBus:
    ids = {f"c{i}": f"organization/dsx-bus/cpc-c{i}" for i in range(cpcs)}
    return stackfile.parse(csc(cpcs=ids, crossLayer={"cscExports": ["fleet.>"]}), source="Pulumi.test.yaml")[0]


def _in_parts(bus: EventBus, lists: dict[str, CrossLayer]) -> dict[str, dict[str, object]]:
    specs = streams.own_nack_specs(bus)
    for cluster_id in bus.cpc_ids:
        specs |= streams.cpc_nack_specs(bus, cluster_id, lists.get(cluster_id))
    return specs


def test_the_specs_in_parts_are_the_specs_of_the_whole_fleet_in_the_same_order() -> None:
    bus = _csc(4)
    # c0 and c2 export their own lists; c1 and c3 none (not deployed, or deployed before exporting them).
    lists = {"c0": OWN_LISTS, "c2": CrossLayer(csc_exports=("other.>",))}
    whole = streams.nack_specs(bus, lists)
    parts = _in_parts(bus, lists)
    assert parts == whole
    assert list(parts) == list(whole)


def test_a_cpc_exporting_no_lists_gets_the_fleet_defaults_as_in_the_whole() -> None:
    bus = _csc(2)
    assert streams.cpc_nack_specs(bus, "c1", None) == {
        name: spec for name, spec in streams.nack_specs(bus).items() if name.endswith("-cpc-c1")
    }
    sources = streams.cpc_nack_specs(bus, "c1", None)["mqtt-msgs-cpc-c1"]["sources"]
    assert sources[0]["subjectTransforms"] == [{"source": "$MQTT.msgs.fleet.>", "dest": ""}]


def test_a_cpcs_specs_follow_its_own_lists_only() -> None:
    bus = _csc(3)
    mine = streams.cpc_nack_specs(bus, "c1", OWN_LISTS)
    assert set(mine) == {"mqtt-msgs-cpc-c1", "mqtt-rmsgs-cpc-c1"}
    assert mine == {name: spec for name, spec in streams.nack_specs(bus, {"c1": OWN_LISTS}).items() if name in mine}
    assert streams.own_nack_specs(bus) == streams.nack_specs(bus.model_copy(update={"cpcs": {}}))
