"""The MQTT streams (dsxbus.checks.streams): on enough servers, and fitting the store they are in."""

from __future__ import annotations

from typing import Any

from dsxbus import stackfile
from tests.unit.stackconfigs import KEY, cpc, csc, only_error


def test_more_stream_replicas_than_nats_servers_is_refused() -> None:
    problem = only_error(cpc(mqttStreams={"replicas": 3}, nats={"replicas": 1}))
    assert problem.key == f"{KEY}.mqttStreams.replicas"
    assert problem.value == 3
    assert "nats.replicas = 1" in problem.fix
    assert "Lower it or add servers" in problem.fix


def test_mqtt_streams_on_file_storage_are_accepted() -> None:
    bus, _ = stackfile.parse(cpc(mqttStreams={"storage": "file"}), source="Pulumi.test.yaml")
    assert bus.mqtt_streams.storage == "file"


def test_file_stored_streams_that_do_not_fit_the_file_store_name_max_file_store() -> None:
    problem = only_error(cpc(mqttStreams={"storage": "file"}, nats={"maxFileStore": "100Mi"}))
    assert problem.key == f"{KEY}.nats.maxFileStore" and problem.value == "100Mi"
    assert "raise nats.maxFileStore" in problem.fix


def test_file_stored_streams_need_no_memory_store() -> None:
    stackfile.parse(cpc(mqttStreams={"storage": "file"}, nats={"maxMemoryStore": "1Mi"}), source="Pulumi.test.yaml")


def _csc_with_cpcs(count: int, **overrides: object) -> dict[str, Any]:
    return csc(cpcs={f"c{i}": f"organization/dsx-bus/cpc-c{i}" for i in range(count)}, **overrides)


def test_mqtt_streams_that_do_not_fit_the_memory_store_are_an_error_naming_every_reservation() -> None:
    # 5 x 64 MiB + 4 x 200 x 8 MiB = 6720 MiB > 2 GiB: JetStream would refuse the streams past the limit.
    problem = only_error(_csc_with_cpcs(200))
    assert problem.key == "dsx-bus:eventBus.nats.maxMemoryStore" and problem.value == "2Gi"
    assert "reserve 7046430720 (5 x mqttStreams.maxBytes (67108864) + 4 x 200 CPCs" in problem.fix
    assert "raise nats.maxMemoryStore, or lower mqttStreams.maxBytes / perCpcMaxBytes" in problem.fix


def test_smaller_per_cpc_streams_fit_the_same_fleet_in_the_same_memory() -> None:
    streams = {"perCpcMaxBytes": 2 * 1024 * 1024}
    stackfile.parse(_csc_with_cpcs(200, mqttStreams=streams), source="Pulumi.test.yaml")


def test_uplinks_reserve_two_more_streams_per_cpc() -> None:
    # 5 x 64 MiB + 4 x 200 x 8 MiB = 6720 MiB.
    problem = only_error(_csc_with_cpcs(200, mqttStreams={"uplinks": True}))
    assert "reserve 7046430720 (5 x mqttStreams.maxBytes (67108864) + 4 x 200 CPCs" in problem.fix


def test_a_fleet_that_fits_without_uplinks_does_not_fit_with_them() -> None:
    # 5 x 64 MiB + 2 x 100 x 8 MiB = 1920 MiB fits 2 GiB; with uplinks (the default) 3520 MiB does not.
    stackfile.parse(_csc_with_cpcs(100, mqttStreams={"uplinks": False}), source="Pulumi.test.yaml")
    assert only_error(_csc_with_cpcs(100)).key == f"{KEY}.nats.maxMemoryStore"


def test_uplinks_are_on_by_default_and_no_warning() -> None:
    bus, warnings = stackfile.parse(_csc_with_cpcs(1), source="Pulumi.test.yaml")
    assert bus.mqtt_streams.uplinks_enabled
    assert f"{KEY}.mqttStreams.uplinks" not in [w.key for w in warnings]
