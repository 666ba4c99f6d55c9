"""Create JetStream streams and consumers through the JetStream API, as NACK would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import nats

from dsxbus.local.servers import LocalError


async def _create(
    url: str,
    seed: str,
    configs: Sequence[dict[str, Any]],
    consumers: Sequence[dict[str, Any]],
    where: str,
    verb: str = "CREATE",
    api: str = "$JS.API",
) -> None:
    client = await nats.connect(url, nkeys_seed_str=seed, allow_reconnect=False, connect_timeout=5)
    requests = [(f"{api}.STREAM.{verb}.{c['name']}", c, f"stream {c['name']}") for c in configs]
    requests += [
        (
            f"{api}.CONSUMER.DURABLE.CREATE.{c['stream_name']}.{c['config']['durable_name']}",
            c,
            f"consumer {c['config']['durable_name']} on {c['stream_name']}",
        )
        for c in consumers
    ]
    try:
        for subject, body, what in requests:
            reply = json.loads((await client.request(subject, json.dumps(body).encode(), timeout=5)).data)
            if "error" in reply:
                # Creating an existing stream or consumer with the same config succeeds: this is a real conflict.
                raise LocalError(f"{where}: JetStream refused {what}: {reply['error']}")
    finally:
        await client.close()


def create_streams(
    url: str,
    seed: str,
    configs: Sequence[dict[str, Any]],
    where: str,
    consumers: Sequence[dict[str, Any]] = (),
    *,
    api: str = "$JS.API",
) -> None:
    """Streams first, then the durable consumers on them; `api`: the JetStream API prefix (`$JS.<domain>.API`)."""
    asyncio.run(_create(url, seed, configs, consumers, where, api=api))


def update_streams(url: str, seed: str, configs: Sequence[dict[str, Any]], where: str) -> None:
    """Existing streams take these configs; sources they did not have start at once."""
    asyncio.run(_create(url, seed, configs, (), where, "UPDATE"))
