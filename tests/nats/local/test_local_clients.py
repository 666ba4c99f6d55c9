"""The client toolkit the matrix and the tests share: sinks, and how `deliver` judges one route."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from dsxbus.local import clients
from dsxbus.local.clients import Delivery, Publish, Result, Sink


def test_sinks_count_only_their_own_route() -> None:
    sink = Sink("s", 1)
    sink.got.append(Delivery("a", b"route|abc|real"))
    assert sink.count(b"route|abc|real") == 1 and sink.tagged(b"other") == 0


def _straight_into(*sinks: Sink) -> Publish:
    """A publisher whose every message reaches `sinks` at once, as a route with interest already in place."""

    async def publish(payload: bytes) -> None:
        for sink in sinks:
            sink.got.append(Delivery("x", payload))

    return publish


def _deliver(publish: Publish, sinks: Sequence[Sink]) -> Result:
    return asyncio.run(clients.deliver("route", publish, sinks))


def test_a_route_passes_when_each_sink_gets_the_message_as_often_as_it_must() -> None:
    wanted, bystander = Sink("wanted", 1), Sink("bystander", 0)

    result = _deliver(_straight_into(wanted), [wanted, bystander])

    assert result.ok, result.detail
    assert result.detail == "wanted=1, bystander=0"


def test_a_route_fails_naming_the_sink_that_got_what_it_must_not() -> None:
    wanted, bystander = Sink("wanted", 1), Sink("bystander", 0)

    result = _deliver(_straight_into(wanted, bystander), [wanted, bystander])

    assert not result.ok
    assert "bystander got" in result.detail and "expected 0" in result.detail
