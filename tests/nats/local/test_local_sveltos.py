"""The Sveltos agent's exact credentials on a real local federation: it hears the CloudEvents routed to it, only those.

The credentials are the `sveltos-nats` JSON the program generates (here with the local CA's certificates),
decoded the way the agent decodes it; the permissions are the generated `sveltos-agent` mTLS entry, mapped
from the certificate's CN on nats-mtls as the auth-callout would.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
import yaml
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg

from dsxbus.local import clients, runner, servers
from dsxbus.local.state import Federation
from dsxbus.stackfile import load_stack
from dsxbus.sveltos import agent as sveltos_agent
from dsxbus.sveltos import manifests as sveltos_manifests
from dsxbus.sveltos.config import Sveltos

TIMEOUT = 5.0


@dataclass
class Agent:
    """What the agent has after reading its Secret: a URL, subjects and TLS files."""

    url: str
    subjects: tuple[str, ...]
    tls: ssl.SSLContext


def _decoded_secret(federation: Federation, stack: str) -> sveltos_agent.MessagingConfig:
    """The `sveltos-nats` JSON the program writes for `stack` (local CA's files), decoded as the agent does."""
    cluster = federation.clusters[stack]
    client = cluster.mtls_clients[sveltos_agent.PERMISSION_NAME]
    assert cluster.mtls is not None and federation.ca is not None
    generated = sveltos_agent.messaging_config(
        load_stack(federation.project, stack).bus.sveltos,
        server_url=f"tls://127.0.0.1:{cluster.mtls.ports['client']}",
        certificate=Path(client.cert).read_bytes(),
        key=Path(client.key).read_bytes(),
        ca=federation.ca.read_bytes(),
    ).to_json()
    return sveltos_agent.MessagingConfig.from_json(generated)


def _tls(auth: sveltos_agent.MessagingAuthorization | None, directory: Path) -> ssl.SSLContext:
    """What nats.go gets from the decoded []byte fields, which the agent writes to temporary files."""
    assert auth is not None and auth.client_cert is not None and auth.root_ca is not None
    for name, content in (("cert.pem", auth.client_cert.cert_pem), ("key.pem", auth.client_cert.key_pem)):
        (directory / name).write_bytes(content)
    context = ssl.create_default_context(cadata=auth.root_ca.decode())
    context.load_cert_chain(str(directory / "cert.pem"), str(directory / "key.pem"))
    return context


def _agent_credentials(federation: Federation, stack: str, tmp_path: Path) -> tuple[Sveltos, Agent]:
    decoded = _decoded_secret(federation, stack).nats
    assert decoded is not None
    configuration = decoded.configuration
    agent = Agent(configuration.url, configuration.subjects, _tls(configuration.authorization, tmp_path))
    return load_stack(federation.project, stack).bus.sveltos, agent


async def _connect(url: str, tls: ssl.SSLContext | None, errors: list[str]) -> Nats:
    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    client: Nats = await nats.connect(
        url, tls=tls, connect_timeout=TIMEOUT, max_reconnect_attempts=0, allow_reconnect=False, error_cb=on_error
    )
    return client


def _cloud_event(kind: str, user: str) -> bytes:
    """The seed's event, structured-mode JSON, as a publisher on the CSC sends it."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "auth.example.com",
        "type": f"auth.example.com.{kind}",
        "subject": user,
        "datacontenttype": "application/json",
        "data": {"user": user},
    }
    return json.dumps(event).encode()


async def _hear_from_csc(federation: Federation, agent: Agent) -> tuple[str, dict[str, Any], list[str]]:
    errors: list[str] = []
    received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    listener = await _connect(agent.url, agent.tls, errors)

    async def on_message(msg: Msg) -> None:
        received.put_nowait((msg.subject, msg.data))

    for subject in agent.subjects:
        await listener.subscribe(subject, cb=on_message)
    await listener.flush()
    publisher = await clients.nats_connect(federation.csc, federation, "CSC")
    try:
        payload = _cloud_event("login", "mgianluc")
        # Interest crosses two leafs (nats-mtls -> cpc-a -> CSC): publish until it is there.
        for _ in range(50):
            await publisher.publish("cpc.a.command.user.login", payload)
            await publisher.flush()
            try:
                subject, data = await asyncio.wait_for(received.get(), 0.2)
                break
            except TimeoutError:
                continue
        else:
            raise AssertionError("the agent heard nothing in 10 s")
    finally:
        await publisher.close()
        await listener.close()
    return subject, json.loads(data), errors


def test_the_agent_hears_a_cloud_event_the_csc_addresses_to_its_cpc(federation: Federation, tmp_path: Path) -> None:
    block, agent = _agent_credentials(federation, "cpc-a", tmp_path)

    subject, event, errors = asyncio.run(_hear_from_csc(federation, agent))

    assert subject == "command.user.login"
    assert sveltos_agent.cloud_event_problem(json.dumps(event).encode()) is None
    assert sveltos_agent.matching_rules(block, agent.subjects[0], event) == ["user-operation"]
    assert errors == []


async def _errors_after(agent: Agent, act: Callable[[Nats], Awaitable[object]]) -> list[str]:
    """What the server reports to the agent's connection after `act` (permission violations arrive async)."""
    errors: list[str] = []
    client = await _connect(agent.url, agent.tls, errors)
    try:
        await act(client)
        await client.flush()
        await asyncio.sleep(0.3)
    finally:
        await client.close()
    return errors


def test_the_agent_may_not_subscribe_beyond_its_subjects(federation: Federation, tmp_path: Path) -> None:
    _, agent = _agent_credentials(federation, "cpc-a", tmp_path)

    errors = asyncio.run(_errors_after(agent, lambda client: client.subscribe("broadcast.>")))

    assert any('permissions violation for subscription to "broadcast.>"' in e.lower() for e in errors), errors


def test_the_agent_may_not_publish(federation: Federation, tmp_path: Path) -> None:
    _, agent = _agent_credentials(federation, "cpc-a", tmp_path)

    errors = asyncio.run(_errors_after(agent, lambda client: client.publish("command.user.login", b"{}")))

    assert any('permissions violation for publish to "command.user.login"' in e.lower() for e in errors), errors


def test_the_agent_certificate_is_refused_on_another_cluster(federation: Federation, tmp_path: Path) -> None:
    _, agent = _agent_credentials(federation, "cpc-a", tmp_path)
    csc_mtls = federation.csc.mtls
    assert csc_mtls is not None

    # The TLS handshake succeeds (same CA locally); the identity CN=sveltos-agent.cpc-a is unknown there.
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(_connect(f"tls://127.0.0.1:{csc_mtls.ports['client']}", agent.tls, []))


def test_without_a_client_certificate_the_nats_mtls_client_port_refuses(federation: Federation, tmp_path: Path) -> None:
    _, agent = _agent_credentials(federation, "cpc-a", tmp_path)
    anonymous = ssl.create_default_context(cafile=str(federation.ca))

    # The server aborts the handshake; the client sees a TLS alert, a reset or a broken pipe, depending on timing.
    with pytest.raises(OSError):
        asyncio.run(_connect(agent.url, anonymous, []))
    mtls = federation.clusters["cpc-a"].mtls
    assert mtls is not None
    servers.wait_for(
        lambda: True if "client didn't provide a certificate" in mtls.log.read_text(errors="replace") else None,
        3,
        "cpc-a's nats-mtls to log the refused handshake",
    )


JETSTREAM_STREAM = "SVELTOS_USERS"


@pytest.fixture(scope="module")
def jetstream_federation(
    tmp_path_factory: pytest.TempPathFactory, make_project: Callable[[Path], Path], nats_version: str
) -> Iterator[Federation]:
    """The example stacks with cpc-a's agent on JetStream instead of core NATS."""
    root = tmp_path_factory.mktemp("sveltos-jetstream")
    project = make_project(root / "project")
    stack = project / "Pulumi.cpc-a.yaml"
    document = yaml.safe_load(stack.read_text())
    block = document["config"]["dsx-bus:eventBus"]["sveltos"]
    del block["nats"]
    block["jetstream"] = {"streams": [{"name": JETSTREAM_STREAM, "subjects": ["command.user.>"]}]}
    # With JetStream the agent matches `subject` against the stream name (SPEC §3.5).
    block["eventRules"][0]["match"][0]["subject"] = f"^{JETSTREAM_STREAM}$"
    stack.write_text(yaml.safe_dump(document, sort_keys=False))
    with runner.running_federation(project, root / "run", say=lambda _: None) as running:
        yield running


async def _consume_as_the_agent(federation: Federation, tmp_path: Path) -> tuple[dict[str, Any], list[str]]:
    decoded = _decoded_secret(federation, "cpc-a").jetstream
    assert decoded is not None
    configuration = decoded.configuration
    context = _tls(configuration.authorization, tmp_path)
    errors: list[str] = []
    agent = await _connect(configuration.url, context, errors)
    publisher = await clients.nats_connect(federation.csc, federation, "CSC")
    try:
        # What sveltos-agent v0.51 does per stream: look the stream and the durable up, pull, ack.
        js = agent.jetstream()
        (stream,) = configuration.streams
        await js.stream_info(stream.name)
        await js.consumer_info(stream.name, sveltos_manifests.CONSUMER)
        pull = await js.pull_subscribe_bind(durable=sveltos_manifests.CONSUMER, stream=stream.name)
        await publisher.publish("cpc.a.command.user.login", _cloud_event("login", "mgianluc"))
        await publisher.flush()
        (message,) = await pull.fetch(1, timeout=10)
        await message.ack_sync()
        left = await js.consumer_info(stream.name, sveltos_manifests.CONSUMER)
        assert left.num_ack_pending == 0 and left.num_pending == 0
        return json.loads(message.data), errors
    finally:
        await publisher.close()
        await agent.close()


def test_on_jetstream_the_agent_reads_and_acks_its_stream_with_exactly_its_permissions(
    jetstream_federation: Federation, tmp_path: Path
) -> None:
    event, errors = asyncio.run(_consume_as_the_agent(jetstream_federation, tmp_path))

    assert event["type"] == "auth.example.com.login"
    assert errors == []
