"""Who gets in and what they may do, on a real local federation (docs/measured-facts.md §3, hardened)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import pytest
from natstools import PERMISSION, ServerErrors, leaf_seed_client, rogue_leaf_node

from dsxbus import naming, nkeys, versions
from dsxbus.local import clients, servers
from dsxbus.local.clients import Mqtt, Sink
from dsxbus.local.state import Federation
from dsxbus.nkeys import KeyPair


@pytest.fixture
def rogue_leaf(tmp_path: Path, federation: Federation, request: pytest.FixtureRequest) -> Iterator[servers.Server]:
    """A server dialling the CSC's leaf port with the key the test names (or none), landing in that key's account."""
    with rogue_leaf_node(tmp_path, federation, request.param) as server:
        yield server


def _log_has(server: servers.Server, text: str) -> bool | None:
    return True if text in server.log.read_text(errors="replace") else None


STRANGER = nkeys.generate(nkeys.KeyKind.USER)


@pytest.mark.parametrize("rogue_leaf", [STRANGER.seed], indirect=True)
def test_a_cpc_presenting_a_leaf_key_the_csc_does_not_know_is_refused(
    federation: Federation, rogue_leaf: servers.Server
) -> None:
    csc = federation.csc.main
    servers.wait_for(
        lambda: _log_has(csc, f'authentication error - Nkey "{STRANGER.public_key}"'), 5, "the CSC to refuse the key"
    )

    assert servers.leaf_count(rogue_leaf) == 0
    assert servers.leaf_count(csc) == federation.csc.expected_leafs[csc.name]


@pytest.mark.parametrize("rogue_leaf", [None], indirect=True)
def test_a_leaf_without_any_key_is_refused_although_anonymous_mqtt_is_allowed(
    federation: Federation, rogue_leaf: servers.Server
) -> None:
    # The hardened lab config: no_auth_user lives in mqtt{}, so it never admits a leaf (docs/measured-facts.md §3).
    servers.wait_for(lambda: _log_has(rogue_leaf, "Authorization Violation"), 5, "the rogue leaf to be refused")

    assert servers.leaf_count(rogue_leaf) == 0


async def _as_cpc_a_leaf(federation: Federation) -> tuple[list[str], list[clients.Result]]:
    csc, cpc_b = federation.csc, federation.cluster("b")
    async with leaf_seed_client(federation, "cpc-a") as (intruder, errors), clients.opened(federation) as c:
        command_b = await c.sink(cpc_b, "CPC", "command.x", 1)
        await intruder.subscribe("cpc.b.>")
        await intruder.flush()
        # The CSC itself may command cpc-b (interest is up), cpc-a's leaf identity may not.
        admin = clients.nats_publisher(await c.nc(csc, "CSC"), "cpc.b.command.x")
        allowed = await clients.deliver("csc admin -> cpc-b command.x", admin, [command_b])
        forged = clients.nats_publisher(intruder, "cpc.b.command.x")
        refused = await clients.deliver("cpc-a leaf -> cpc-b command.x", forged, [Sink("cpc-b", 0, command_b.got)])
        await intruder.flush()
        return errors.seen, [allowed, refused]


def test_cpc_a_leaf_identity_can_neither_read_cpc_b_nor_command_it(federation: Federation) -> None:
    errors, (allowed, refused) = asyncio.run(_as_cpc_a_leaf(federation))

    assert allowed.ok, allowed.detail
    assert refused.ok, refused.detail
    assert any(PERMISSION in e and "subscription" in e and "cpc.b.>" in e for e in map(str.lower, errors)), errors
    assert any(PERMISSION in e and "publish" in e and "cpc.b.command.x" in e for e in map(str.lower, errors)), errors


async def _unprefixed_export_as_cpc_a_leaf(federation: Federation, granted: bool) -> tuple[list[str], clients.Result]:
    csc, cpc_b = federation.csc, federation.cluster("b")
    async with leaf_seed_client(federation, "cpc-a") as (intruder, errors), clients.opened(federation) as c:
        # Where granted, CPC a's account on the CSC sees it (so it was published, and interest had time to
        # cross); it exports only `cpc.a.` subjects, so never the CSC account, never cpc-b.
        landed = await c.sink(csc, naming.cpc_account("a"), "sensor.x", 1 if granted else 0)
        on_csc = await c.sink(csc, "CSC", "sensor.x", 0)
        anything_b = await c.sink(cpc_b, "CPC", ">", 0)
        own_b = await c.sink(cpc_b, "CSC", ">", 0)
        forged = clients.nats_publisher(intruder, "sensor.x")  # cpc-a's cpcExports, unprefixed
        reached = await clients.deliver("cpc-a leaf -> sensor.x", forged, [landed, on_csc, anything_b, own_b])
        await intruder.flush()
        return errors.seen, reached


def test_the_unprefixed_exports_a_leaf_needs_before_2_15_1_are_granted_only_there_and_reach_no_csc_subscriber(
    federation: Federation, nats_version: str
) -> None:
    # Before 2.15.1 the leaf checks `sensor.x`, not `cpc.a.sensor.x` (nats-server#4608): it must be granted.
    granted = versions.leaf_checks_publish_before_transform(nats_version)
    errors, reached = asyncio.run(_unprefixed_export_as_cpc_a_leaf(federation, granted))

    assert reached.ok, reached.detail  # in CPC a's account only: nothing in the CSC account, nothing on cpc-b
    refused = any(PERMISSION in e and "publish" in e and "sensor.x" in e for e in map(str.lower, errors))
    assert refused is not granted, errors


async def _limited_client(federation: Federation, key: KeyPair) -> tuple[list[str], bytes]:
    errors = ServerErrors()
    client = await nats.connect(federation.csc.main.url("client"), nkeys_seed_str=key.seed, error_cb=errors.callback)
    try:
        await client.subscribe("other.>")
        await client.publish("other.x", b"no")
        inside = await client.subscribe("test.x")
        await client.publish("test.x", b"yes")
        message = await inside.next_msg(timeout=2)
        await client.flush()
        return errors.seen, bytes(message.data)
    finally:
        await client.close()


def test_a_client_limited_to_test_can_neither_publish_nor_subscribe_elsewhere(
    federation: Federation, tester_key: KeyPair
) -> None:
    errors, inside = asyncio.run(_limited_client(federation, tester_key))

    assert inside == b"yes"
    assert any(PERMISSION in e and "subscription" in e and "other.>" in e for e in map(str.lower, errors)), errors
    assert any(PERMISSION in e and "publish" in e and "other.x" in e for e in map(str.lower, errors)), errors


async def _anonymous_nats(url: str) -> None:
    async def quiet(_: Exception) -> None:
        return None

    client = await nats.connect(url, allow_reconnect=False, connect_timeout=2, error_cb=quiet)
    await client.close()


def test_an_anonymous_nats_client_is_refused(federation: Federation) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(_anonymous_nats(federation.csc.main.url("client")))


async def _anonymous_mqtt_lands(federation: Federation) -> tuple[clients.Result, int]:
    csc = federation.csc
    anonymous = Mqtt(csc.main.ports["mqtt"])
    anonymous.connect()
    try:
        refused = anonymous.subscribe("secret/x", 0)  # noauth may subscribe test.> and cpc.*.sensor.> only
        async with clients.opened(federation) as c:
            sinks = [await c.sink(csc, "CSC", "test.x", 1), await c.sink(csc, "LaunchLayer", ">", 0)]
            await c.flush()
            publish = clients.mqtt_publisher(anonymous, "test/x", 0)
            return await clients.deliver("anonymous mqtt -> CSC test.x", publish, sinks), refused
    finally:
        anonymous.close()


def test_anonymous_mqtt_lands_in_the_noauth_account_with_its_permissions_only(federation: Federation) -> None:
    landed, refused_qos = asyncio.run(_anonymous_mqtt_lands(federation))

    assert landed.ok, landed.detail
    assert refused_qos == 128


def _mtls(federation: Federation, *, with_certificate: bool) -> Mqtt:
    csc = federation.csc
    assert csc.mtls is not None and federation.ca is not None
    identity = csc.mtls_clients["mqtt-client"]
    cert = (identity.cert, identity.key) if with_certificate else (None, None)
    return Mqtt(csc.mtls.ports["mqtt"], tls=(str(federation.ca), *cert))


def test_mtls_mqtt_without_a_client_certificate_is_refused(federation: Federation) -> None:
    client = _mtls(federation, with_certificate=False)

    with pytest.raises(OSError):  # the handshake fails, or the server closes before any CONNACK
        client.connect(timeout=3)

    mtls = federation.csc.mtls
    assert mtls is not None
    servers.wait_for(
        lambda: _log_has(mtls, "client didn't provide a certificate"), 3, "nats-mtls to log the refused handshake"
    )


async def _mtls_round_trip(federation: Federation) -> tuple[clients.Result, int]:
    client = _mtls(federation, with_certificate=True)
    client.connect()
    try:
        refused = client.subscribe("other/x", 0)  # CN=mqtt-client.csc may use test.> only
        async with clients.opened(federation) as c:
            # Published on nats-mtls, seen on the main server through the mtls leaf.
            sinks = [await c.sink(federation.csc, "CSC", "test.mtls", 1)]
            await c.flush()
            publish = clients.mqtt_publisher(client, "test/mtls", 0)
            return await clients.deliver("mtls mqtt -> main CSC", publish, sinks), refused
    finally:
        client.close()


def test_mtls_mqtt_with_the_identity_certificate_lands_in_its_account_with_its_permissions(
    federation: Federation,
) -> None:
    landed, refused_qos = asyncio.run(_mtls_round_trip(federation))

    assert landed.ok, landed.detail
    assert refused_qos == 128


async def _mtls_qos1(federation: Federation) -> list[clients.Result]:
    """QoS 1 both ways between an mTLS client and the main servers: MQTT on nats-mtls keeps its sessions and
    messages in the main servers' JetStream, through nats-mtls's leaf (and its grant, permissions.mtls_relay_grant)."""
    client = _mtls(federation, with_certificate=True)
    client.connect()
    try:
        down = clients.Sink("mtls mqtt q1 test/q1/down", 1)
        granted = client.subscribe("test/q1/down", 1, down)
        async with clients.opened(federation) as c:
            up = c.mqtt_sink(federation.csc, "test/q1/up", 1, 1)
            to_mtls = clients.mqtt_publisher(c.mq(federation.csc), "test/q1/down", 1)
            results = [clients.Result("mtls subscribe q1 granted", granted == 1, f"granted {granted}")]
            results.append(await clients.deliver("csc mqtt q1 -> mtls mqtt", to_mtls, [down]))
            results.append(
                await clients.deliver("mtls mqtt q1 -> csc mqtt", clients.mqtt_publisher(client, "test/q1/up", 1), [up])
            )
            results.append(clients.Result("delivered at q1", {d.qos for d in down.got + up.got} == {1}, str(down.got)))
            return results
    finally:
        client.close()


def test_mtls_mqtt_qos1_crosses_nats_mtls_both_ways(federation: Federation) -> None:
    for result in asyncio.run(_mtls_qos1(federation)):
        assert result.ok, f"{result.name}: {result.detail}"
