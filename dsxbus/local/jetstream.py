"""Create the MQTT JetStream streams through the JetStream API, as NACK would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import nats

from dsxbus.local.servers import LocalError


async def _create(url: str, seed: str, configs: Sequence[dict[str, Any]], where: str) -> None:
    client = await nats.connect(url, nkeys_seed_str=seed, allow_reconnect=False, connect_timeout=5)
    try:
        for config in configs:
            subject = f"$JS.API.STREAM.CREATE.{config['name']}"
            reply = json.loads((await client.request(subject, json.dumps(config).encode(), timeout=5)).data)
            if "error" in reply:
                # Creating an existing stream with the same config succeeds, so this is a real conflict.
                raise LocalError(f"{where}: JetStream refused stream {config['name']}: {reply['error']}")
    finally:
        await client.close()


def create_streams(url: str, seed: str, configs: Sequence[dict[str, Any]], where: str) -> None:
    asyncio.run(_create(url, seed, configs, where))
