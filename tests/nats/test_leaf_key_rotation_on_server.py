"""A CPC's leaf key rotation loses nothing: the hub admits the pre-published key before the spoke switches to it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rotation_rig import rotate_under_load


def test_rotating_a_leaf_key_under_an_at_least_once_stream_loses_no_message(tmp_path: Path, nats_version: str) -> None:
    outcome = asyncio.run(rotate_under_load(tmp_path, nats_version, count=150))
    assert outcome.answered == set(range(outcome.sent))
    assert outcome.received >= set(range(outcome.sent))
    assert outcome.new_key_dials, "after the rotation the spoke does not dial with the new key"


def test_without_the_pre_admitted_key_the_switch_refuses_the_leaf_and_the_stream_stalls(
    tmp_path: Path, nats_version: str
) -> None:
    outcome = asyncio.run(rotate_under_load(tmp_path, nats_version, count=150, pre_admitted=False, give_up=1.0))
    assert outcome.answered != set(range(outcome.sent))  # the control: the window is what keeps the stream whole
