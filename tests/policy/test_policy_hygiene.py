"""Production hygiene (advisory by default): stream replicas that fit, pinned images (noauth: see the examples)."""

from __future__ import annotations

import copy

from tests.policy import analyzer, programs
from tests.policy.analyzer import Capture
from tests.program import harness

CONFIG = analyzer.example_config()
REPLICAS = "mqtt-stream-replicas-fit"
IMAGES = "images-pinned"


def test_mqtt_streams_with_more_replicas_than_nats_servers_are_advisory() -> None:
    # The config model refuses mqttStreams.replicas 3 on one server; the real components build it anyway. The
    # server count comes from the nats.conf the chart renders (a real engine analyzes that child of the Chart).
    bus = copy.deepcopy(harness.stack_config("csc")["dsx-bus:eventBus"]) | {"nats": {"replicas": 1}}

    def program() -> None:
        programs.bypassing_the_model(bus)
        programs.config_map("nats-config", "nats-config", {"nats.conf": programs.chart_rendered_nats_conf(bus)})

    capture = analyzer.capture(program, stack="csc", config=harness.stack_config("csc"))
    found = [d for d in analyzer.analyze(capture, CONFIG) if d.policy == REPLICAS]
    # The five MQTT streams, the two each CPC sources from and the two the CSC sources of it (dsxbus.streams).
    streams = sorted(
        ["mqtt-msgs", "mqtt-out", "mqtt-qos2in", "mqtt-rmsgs", "mqtt-sess"]
        + [
            f"mqtt-{kind}-{way}-{cpc}"
            for kind in ("msgs", "rmsgs")
            for cpc in ("a", "b")
            for way in ("cpc", "from-cpc")
        ]
    )
    assert analyzer.summary(found) == [
        *((REPLICAS, "ADVISORY", f"csc-streams-{s}") for s in streams),
        (REPLICAS, "ADVISORY", "nats-config"),
    ]
    by_resource = {d.resource: d.message for d in found}
    assert by_resource["csc-streams-mqtt-msgs"] == (
        "Stream mqtt-msgs (csc-streams-mqtt-msgs) ($MQTT_msgs): spec.replicas = 3 but ConfigMap nats-config "
        "runs 1 JetStream server(s): JetStream cannot place the stream, NACK keeps failing to create it, and MQTT "
        "QoS 1 and retained messages have nowhere to go. Fix: lower mqttStreams.replicas to at most 1, or raise "
        "nats.replicas."
    )
    assert by_resource["nats-config"].startswith(
        "ConfigMap nats-config nats.conf: mqtt.stream_replicas = 3 but it runs 1 JetStream server(s)"
    )


def test_streams_within_the_nats_cluster_size_pass(csc: Capture) -> None:
    assert [d for d in analyzer.analyze(csc, CONFIG) if d.policy == REPLICAS] == []


def test_a_stream_on_a_hand_written_release_is_checked_against_its_routes() -> None:
    def program() -> None:
        programs.nats_release({}, cluster={"routes": ["nats://nats-0:6222", "nats://nats-1:6222"]}, jetstream={})
        programs.custom("Stream", "jetstream.nats.io/v1beta2", "orders", {"name": "ORDERS", "replicas": 3})

    found = analyzer.analyze(analyzer.capture(program), CONFIG)
    assert analyzer.summary(found) == [(REPLICAS, "ADVISORY", "orders")]
    assert "spec.replicas = 3 but Release nats runs 2 JetStream server(s)" in found[0].message


def test_images_without_a_tag_or_with_latest_are_advisory(cpc_outputs: dict[str, dict[str, object]]) -> None:
    bus = copy.deepcopy(harness.stack_config("csc")["dsx-bus:eventBus"])
    bus["authCallout"]["image"] = "registry.dsx.example.com/dsx-exchange/auth-callout"
    bus["images"] = {"nats": "nats:latest", "acceptUntestedNatsVersion": True}
    found = [
        d
        for d in analyzer.analyze(analyzer.capture_stack("csc", event_bus=bus, stack_outputs=cpc_outputs), CONFIG)
        if d.policy == IMAGES
    ]
    assert analyzer.summary(found) == [
        (IMAGES, "ADVISORY", "csc-auth-callout-deployment"),
        (IMAGES, "ADVISORY", "csc-nats-nats"),
        (IMAGES, "ADVISORY", "csc-nats-nats-mtls"),
    ]
    by_resource = {d.resource: d.message for d in found}
    assert by_resource["csc-auth-callout-deployment"] == (
        "Deployment dsx-auth-callout (csc-auth-callout-deployment): container 'auth-callout' image "
        "'registry.dsx.example.com/dsx-exchange/auth-callout' has no tag, so every pull takes whatever ':latest' is "
        "then: a restart or a new node can pull a different build than the one reviewed. Fix: pin a version tag (or "
        "a digest)."
    )
    assert by_resource["csc-nats-nats"].startswith(
        "Chart nats (csc-nats-nats): values.container.image 'nats:latest' uses the floating tag 'latest'"
    )


def test_the_floating_tags_come_from_the_policy_config(csc: Capture) -> None:
    config = copy.deepcopy(CONFIG)
    config[IMAGES]["floatingTags"] = ["latest", "v0.1.0"]
    found = [d for d in analyzer.analyze(csc, config) if d.policy == IMAGES]
    assert analyzer.summary(found) == [(IMAGES, "ADVISORY", "csc-auth-callout-deployment")]
    assert "uses the floating tag 'v0.1.0'" in found[0].message
