"""The grants dsx-bus gives NACK and Surveyor, on a real nats-server: what they do works, nothing else does.

The clients do what the real ones do over the wire: NACK manages streams and consumers through the JetStream API
with `_INBOX.` replies; Surveyor 0.9.7 pings `$SYS.REQ.SERVER.PING` (and `.JSZ`) and `$SYS.REQ.ACCOUNT.PING.STATZ`
and reads the answers on an inbox.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import nats
import nats.errors
import pytest
from nats.aio.client import Client as Nats
from natstools import PERMISSION, ServerErrors

from dsxbus import natsconf, nkeys, permissions
from dsxbus.local import servers
from dsxbus.topology import Account, User

NACK = nkeys.generate(nkeys.KeyKind.USER)
SURVEYOR = nkeys.generate(nkeys.KeyKind.USER)
APP = nkeys.generate(nkeys.KeyKind.USER)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, nats_version: str) -> Iterator[servers.Server]:
    root = tmp_path_factory.mktemp("grants")
    accounts = natsconf.accounts_tree(
        (
            Account(
                "CPC",
                jetstream=True,
                users=(User(nkey=NACK.public_key, permissions=permissions.NACK_GRANT), User(nkey=APP.public_key)),
            ),
            Account("SYS", users=(User(nkey=SURVEYOR.public_key, permissions=permissions.SURVEYOR_GRANT),)),
        )
    )
    tree: natsconf.Tree = {
        "listen": "127.0.0.1:-1",
        "http": "127.0.0.1:-1",
        "jetstream": {"store_dir": str(root / "js"), "max_memory_store": 64 * 1024 * 1024},
        "system_account": "SYS",
        "accounts": accounts,
    }
    conf = root / "grants.conf"
    conf.write_text(natsconf.render(tree))
    started = servers.start("grants", conf, root / "grants.log")
    try:
        yield servers.wait_ready(started, ("client", "http"))
    finally:
        servers.stop(started)


async def _connect(server: servers.Server, key: nkeys.KeyPair, errors: ServerErrors) -> Nats:
    client: Nats = await nats.connect(server.url("client"), nkeys_seed_str=key.seed, error_cb=errors.callback)
    return client


async def _nack_manages_streams(server: servers.Server) -> list[str]:
    errors = ServerErrors()
    client = await _connect(server, NACK, errors)
    try:
        js = client.jsm()
        await js.add_stream(name="S", subjects=["s.>"], storage="memory")
        await js.update_stream(name="S", subjects=["s.>", "t.>"], storage="memory")
        await js.add_consumer("S", durable_name="C", ack_policy="explicit")
        await js.delete_consumer("S", "C")
        info = await js.stream_info("S")
        await js.delete_stream("S")
        return [info.config.name or "", *errors.seen]
    finally:
        await client.close()


def test_nack_can_create_update_and_delete_streams_and_consumers(server: servers.Server) -> None:
    assert asyncio.run(_nack_manages_streams(server)) == ["S"]


async def _nack_beyond(server: servers.Server) -> list[str]:
    errors = ServerErrors()
    client = await _connect(server, NACK, errors)
    try:
        await client.publish("sensor.x", b"forged telemetry")
        await client.subscribe(">")
        await client.flush()
        await asyncio.sleep(0.2)
        return errors.seen
    finally:
        await client.close()


def test_nack_can_neither_publish_nor_read_the_account_traffic(server: servers.Server) -> None:
    seen = asyncio.run(_nack_beyond(server))
    assert any(PERMISSION in e and "publish" in e and "sensor.x" in e for e in seen), seen
    assert any(PERMISSION in e and "subscription" in e and '">"' in e for e in seen), seen


async def _surveyor_polls(server: servers.Server) -> dict[str, int]:
    errors = ServerErrors()
    client = await _connect(server, SURVEYOR, errors)
    answers: dict[str, int] = {}
    try:
        for subject in ("$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.JSZ", "$SYS.REQ.ACCOUNT.PING.STATZ"):
            reply = await client.request(subject, b"", timeout=2)
            answers[subject] = len(json.loads(reply.data))
        return answers
    finally:
        await client.close()


def test_surveyor_gets_an_answer_to_each_of_its_polls(server: servers.Server) -> None:
    answers = asyncio.run(_surveyor_polls(server))
    assert set(answers) == {"$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.JSZ", "$SYS.REQ.ACCOUNT.PING.STATZ"}
    assert all(size > 0 for size in answers.values()), answers


async def _surveyor_beyond(server: servers.Server) -> tuple[list[str], bool]:
    errors = ServerErrors()
    client = await _connect(server, SURVEYOR, errors)
    try:
        varz = await client.request("$SYS.REQ.SERVER.PING.VARZ", b"", timeout=2)
        server_id = json.loads(varz.data)["server"]["id"]
        try:
            # Kicking, account connection lists and the auth-callout's own subject live beside the pings.
            await client.request("$SYS.REQ.ACCOUNT.CPC.CONNZ", b"", timeout=0.5)
            answered = True
        except nats.errors.TimeoutError:
            answered = False
        await client.publish(f"$SYS.REQ.SERVER.{server_id}.KICK", b'{"cid": 1}')
        await client.publish("$SYS.REQ.USER.AUTH", b"{}")
        await client.subscribe("$SYS.>")
        await client.flush()
        await asyncio.sleep(0.2)
        return errors.seen, answered
    finally:
        await client.close()


def test_surveyor_can_neither_kick_nor_list_connections_nor_listen_to_the_system_account(
    server: servers.Server,
) -> None:
    seen, answered = asyncio.run(_surveyor_beyond(server))
    assert not answered
    for subject in ("$sys.req.account.cpc.connz", ".kick", "$sys.req.user.auth"):
        assert any(PERMISSION in e and "publish" in e and subject in e for e in seen), (subject, seen)
    assert any(PERMISSION in e and "subscription" in e and "$sys.>" in e for e in seen), seen
