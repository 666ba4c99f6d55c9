"""The cross-layer routing matrix on a real local federation of the example stacks (docs/measured-facts.md §1)."""

from __future__ import annotations

import asyncio

import pytest
from natstools import stream_info

from dsxbus import naming, topology
from dsxbus.local import check, clients, servers
from dsxbus.local.clients import Result
from dsxbus.local.state import Federation


@pytest.fixture(scope="module")
def matrix(federation: Federation) -> list[Result]:
    return check.run(federation)


def _pick(matrix: list[Result], *parts: str) -> list[Result]:
    chosen = [r for r in matrix if all(p in r.name for p in parts)]
    assert chosen, f"no route named with {parts}"
    return chosen


def _assert_pass(results: list[Result]) -> None:
    failed = [f"{r.name}: {r.detail}" for r in results if not r.ok]
    assert not failed, "\n".join(failed)


def test_every_route_of_the_matrix_passes(matrix: list[Result]) -> None:
    _assert_pass(matrix)
    assert len(matrix) >= 20


def test_cpc_telemetry_reaches_the_csc_prefixed_and_no_other_cpc(matrix: list[Result]) -> None:
    routes = _pick(matrix, "nats cpc-", "-> csc cpc.")
    _assert_pass(routes)
    # cpc-b overrides the fleet lists with status.> as well: its own lists win.
    assert any("cpc-b status.x" in r.name for r in routes)


def test_a_csc_command_reaches_only_the_addressed_cpc(matrix: list[Result]) -> None:
    _assert_pass(_pick(matrix, "nats csc cpc.a.command.x -> only cpc-a"))
    _assert_pass(_pick(matrix, "nats csc cpc.b.command.x -> only cpc-b"))


def test_a_csc_broadcast_reaches_every_cpc(matrix: list[Result]) -> None:
    _assert_pass(_pick(matrix, "nats csc broadcast.x -> every cpc"))


def test_flows_are_one_way_and_unlisted_subjects_stay_local(matrix: list[Result]) -> None:
    _assert_pass(_pick(matrix, "stays on"))
    _assert_pass(_pick(matrix, "(in no list) stays local"))


def test_mqtt_topics_are_nats_subjects_across_the_layers_at_qos0(matrix: list[Result]) -> None:
    # `sensor/x` on a CPC is NATS `cpc.a.sensor.x` on the CSC and MQTT `cpc/a/sensor/x` there.
    _assert_pass(_pick(matrix, "mqtt q0 cpc-a sensor/x -> csc cpc/a/sensor/x"))


def test_mqtt_qos1_from_a_cpc_reaches_qos0_and_qos1_subscribers_on_the_csc_once_each(matrix: list[Result]) -> None:
    """Upstream loses it (docs/measured-facts.md §1): the CPC stores it and nothing sources it up. Here the CSC's
    uplink streams source it, and the core copy still serves QoS 0 subscribers: one copy each, none elsewhere."""
    routes = _pick(matrix, "mqtt q1 cpc-", "-> csc")
    _assert_pass(routes)
    for result in routes:
        assert "csc mqtt q1 cpc/" in result.detail and "=1" in result.detail


def test_mqtt_qos1_csc_to_cpc_goes_through_stream_sourcing(matrix: list[Result]) -> None:
    _assert_pass(_pick(matrix, "mqtt q1 csc cpc/a/command/x -> only cpc-a"))
    _assert_pass(_pick(matrix, "mqtt q1 csc broadcast/x -> every cpc"))


def test_a_retained_csc_message_reaches_a_cpc_retained(matrix: list[Result]) -> None:
    _assert_pass(_pick(matrix, "mqtt retained csc"))


def test_a_retained_cpc_message_reaches_the_csc_retained_under_its_prefix(matrix: list[Result]) -> None:
    _assert_pass(_pick(matrix, "mqtt retained cpc-a", "-> csc cpc/a/"))


def test_the_csc_runs_jetstream_domain_csc(federation: Federation) -> None:
    """Extra accounts and MQTT sessions on a CPC use the CSC's JetStream as domain CSC (docs/measured-facts.md §1)."""
    csc = stream_info(federation, federation.clusters["csc"], "CSC", "$MQTT_msgs")
    assert csc["cluster"] and "error" not in csc
    jsz = servers.monitor(federation.csc.main, "jsz")
    assert jsz is not None and jsz["config"]["domain"] == "CSC"


def test_the_csc_sources_each_cpcs_mqtt_streams_through_an_uplink_stream_in_that_cpcs_account(
    federation: Federation,
) -> None:
    """The CSC's `$MQTT_msgs` sources CPC a's uplink stream (account CPC-a) filtered to `cpc.a.`; the uplink sources
    CPC a's stream."""
    main = stream_info(federation, federation.clusters["csc"], naming.CSC, "$MQTT_msgs")
    account = naming.cpc_account("a")
    uplink = stream_info(federation, federation.clusters["csc"], account, topology.cpc_uplink_stream("msgs", "a"))

    sources, origins = main["sources"], uplink["sources"]
    assert isinstance(sources, list) and isinstance(origins, list)
    (from_a,) = [s for s in sources if s["name"] == topology.cpc_uplink_stream("msgs", "a")]
    (origin,) = origins
    assert [t["src"] for t in from_a["subject_transforms"]] == ["$MQTT.msgs.cpc.a.>"]
    assert from_a["external"]["api"] == topology.cpc_account_api("a")
    assert origin["name"] == "$MQTT_msgs" and origin["external"]["api"] == "$JS.CPC-a.API"
    assert from_a["active"] >= 0 and origin["active"] >= 0  # -1: never reached


def test_each_cpc_source_is_active_through_the_sources_account(federation: Federation) -> None:
    """CPC a's `$MQTT_msgs` sources its own stream in SOURCES, which sources the CSC account's `$MQTT_msgs`."""
    cpc = stream_info(federation, federation.clusters["cpc-a"], "CPC", "$MQTT_msgs")
    per_cpc = stream_info(
        federation, federation.clusters["csc"], naming.SOURCES, topology.cpc_source_stream("msgs", "a")
    )

    sources, origins = cpc["sources"], per_cpc["sources"]
    assert isinstance(sources, list) and isinstance(origins, list)
    (source,), (origin,) = sources, origins
    assert source["name"] == topology.cpc_source_stream("msgs", "a")
    assert source["external"]["api"] == topology.SOURCES_API
    assert source["active"] >= 0  # -1: the source never reached the CSC
    assert origin["name"] == "$MQTT_msgs" and origin["external"]["api"] == topology.MQTT_API
    assert origin["active"] >= 0


async def _extra_account_round_trip(federation: Federation) -> list[Result]:
    csc, cpc = federation.csc, federation.cluster("a")
    async with clients.opened(federation) as c:
        up = [await c.sink(csc, "LaunchLayer", "launch.x", 1), await c.sink(csc, "CSC", ">", 0)]
        down = [await c.sink(cpc, "LaunchLayer", "launch.y", 1), await c.sink(cpc, "CPC", ">", 0)]
        await c.flush()
        publish_up = clients.nats_publisher(await c.nc(cpc, "LaunchLayer"), "launch.x")
        publish_down = clients.nats_publisher(await c.nc(csc, "LaunchLayer"), "launch.y")
        return [
            await clients.deliver("LaunchLayer cpc-a -> csc", publish_up, up),
            await clients.deliver("LaunchLayer csc -> cpc-a", publish_down, down),
        ]


def test_an_extra_account_carries_core_nats_both_ways_and_stays_in_its_account(
    federation: Federation,
) -> None:
    _assert_pass(asyncio.run(_extra_account_round_trip(federation)))
