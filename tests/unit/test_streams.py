"""The NACK stream specs in parts: the ones the config alone decides, and each CPC's, which only its lists decide."""

from __future__ import annotations

import pytest

from dsxbus import permissions, stackfile, streams
from dsxbus.config import CrossLayer, EventBus
from tests.unit.stackconfigs import cpc, csc

OWN_LISTS = CrossLayer(csc_exports=("broadcast.>",), csc_prefixed_exports=("cmd.>", "cfg.>"))


def _csc(cpcs: int, *, uplinks: bool = True) -> EventBus:
    ids = {f"c{i}": f"organization/dsx-bus/cpc-c{i}" for i in range(cpcs)}
    raw = csc(cpcs=ids, crossLayer={"cscExports": ["fleet.>"]}, mqttStreams={"uplinks": uplinks})
    return stackfile.parse(raw, source="Pulumi.test.yaml")[0]


def _in_parts(bus: EventBus, lists: dict[str, CrossLayer]) -> dict[str, dict[str, object]]:
    specs = streams.own_nack_specs(bus)
    for cluster_id in bus.cpc_ids:
        specs |= streams.cpc_nack_specs(bus, cluster_id, lists.get(cluster_id))
    return specs


@pytest.mark.parametrize("uplinks", [False, True])
def test_the_specs_in_parts_are_the_specs_of_the_whole_fleet_in_the_same_order(uplinks: bool) -> None:
    bus = _csc(4, uplinks=uplinks)
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
    assert set(mine) == {"mqtt-msgs-cpc-c1", "mqtt-rmsgs-cpc-c1", "mqtt-msgs-from-cpc-c1", "mqtt-rmsgs-from-cpc-c1"}
    assert mine == {name: spec for name, spec in streams.nack_specs(bus, {"c1": OWN_LISTS}).items() if name in mine}
    every_cpcs = {name for c in bus.cpc_ids for name in streams.cpc_nack_specs(bus, c, None)}
    assert streams.own_nack_specs(bus) == {n: s for n, s in streams.nack_specs(bus).items() if n not in every_cpcs}


def test_the_csc_sources_a_cpcs_qos1_messages_under_its_prefix_through_an_uplink_stream() -> None:
    bus = _csc(1)
    lists = CrossLayer(cpc_exports=("sensor.>", "status.>"))
    uplink = streams.cpc_nack_specs(bus, "c0", lists)["mqtt-msgs-from-cpc-c0"]

    assert "subjects" not in uplink  # sourced only: it captures no live publish on the CSC
    (source,) = uplink["sources"]
    assert source["name"] == "$MQTT_msgs"
    assert (source["externalApiPrefix"], source["externalDeliverPrefix"]) == ("$JS.CPC-c0.API", "cpc2csc.c0")
    assert source["subjectTransforms"] == [
        {"source": "$MQTT.msgs.sensor.>", "dest": "$MQTT.msgs.cpc.c0.sensor.>"},
        {"source": "$MQTT.msgs.status.>", "dest": "$MQTT.msgs.cpc.c0.status.>"},
    ]


def test_the_csc_mqtt_streams_take_of_each_uplink_only_that_cpcs_namespace() -> None:
    """A source stores what no transform matches as it came: whoever holds CPC c0's leaf key could put
    `$MQTT.msgs.cpc.c1.command.x` into c0's uplink. The CSC's own filter keeps it out of `$MQTT_msgs`."""
    specs = streams.own_nack_specs(_csc(2))

    for kind in ("msgs", "rmsgs"):
        sources = specs[f"mqtt-{kind}"]["sources"]
        assert [(s["name"], s["subjectTransforms"]) for s in sources] == [
            (f"MQTT_{kind}_from_cpc_{c}", [{"source": f"$MQTT.{kind}.cpc.{c}.>", "dest": ""}]) for c in ("c0", "c1")
        ]
        # Across accounts: each uplink is in its CPC's account on the CSC (topology.csc_accounts).
        assert [(s["externalApiPrefix"], s["externalDeliverPrefix"]) for s in sources] == [
            (f"$JS.CSC-CPC-{c}.API", f"uplink2csc.{c}") for c in ("c0", "c1")
        ]


def test_nack_creates_each_uplink_stream_in_its_cpcs_account_as_nack_sources_through_that_accounts_api() -> None:
    bus = _csc(1)
    spec = streams.cpc_nack_specs(bus, "c0", None)["mqtt-msgs-from-cpc-c0"]
    assert spec["jsDomain"] == "CSC-CPC-c0"
    assert spec["nkey"].endswith("/nack-sources.nk")
    # The grant NACK signs in to SOURCES with reaches that API (and with uplinks off, no other).
    grant = permissions.nack_sources_grant(bus).pub
    assert grant is not None and f"$JS.{spec['jsDomain']}.API.>" in grant.allow
    assert permissions.nack_sources_grant(_csc(1, uplinks=False)) == permissions.NACK_GRANT


def test_uplink_streams_are_sized_as_the_other_per_cpc_streams() -> None:
    bus = _csc(1)
    specs = streams.cpc_nack_specs(bus, "c0", None)
    assert {specs[n]["maxBytes"] for n in specs} == {bus.mqtt_streams.per_cpc_max_bytes}


def test_a_csc_without_uplinks_has_two_streams_per_cpc_and_sources_none() -> None:
    bus = _csc(2, uplinks=False)
    specs = streams.nack_specs(bus)
    assert set(specs) == {
        *(f"mqtt-{kind}" for kind in ("msgs", "rmsgs", "sess", "qos2in", "out")),
        *(f"mqtt-{kind}-cpc-{c}" for kind in ("msgs", "rmsgs") for c in ("c0", "c1")),
    }
    assert "sources" not in specs["mqtt-msgs"] and "sources" not in specs["mqtt-rmsgs"]
    assert streams.streams_per_cpc(bus) == 2


def test_a_csc_with_uplinks_has_four_streams_per_cpc() -> None:
    bus = _csc(2)
    assert len([s for s in streams.mqtt_streams(bus) if s.for_one_cpc]) == 2 * streams.streams_per_cpc(bus) == 8


def test_a_cpc_reserves_no_per_cpc_stream() -> None:
    bus = stackfile.parse(cpc(), source="Pulumi.test.yaml")[0]
    assert streams.streams_per_cpc(bus) == 0
