"""Keys from dsxbus.nkeys are accepted by a real nats-server, and corrupted ones are not."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
import pytest
from natstools import nats_server

from dsxbus.nkeys import KeyKind, KeyPair, generate

LISTENING = re.compile(r"Listening for client connections on 127\.0\.0\.1:(\d+)")


def _corrupt(public_key: str) -> str:
    # One changed base32 character is a burst of at most 5 bits, which CRC-16 always detects.
    replacement = "B" if public_key[10] != "B" else "C"
    return public_key[:10] + replacement + public_key[11:]


def _callout_config(issuer: str, xkey: str, auth_user: str) -> str:
    return f"""
listen: 127.0.0.1:-1
accounts {{
  AUTH {{ users: [ {{ nkey: {auth_user} }} ] }}
  APP {{}}
}}
authorization {{
  auth_callout {{
    issuer: {issuer}
    xkey: {xkey}
    account: AUTH
    auth_users: [ {auth_user} ]
  }}
}}
"""


def _check_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "check.conf"
    config.write_text(text)
    return subprocess.run(
        [nats_server(), "-t", "-c", str(config)], capture_output=True, text=True, timeout=10, check=False
    )


@dataclass(frozen=True)
class CalloutKeys:
    issuer: KeyPair
    xkey: KeyPair
    auth_user: KeyPair


@pytest.fixture
def callout_keys() -> CalloutKeys:
    return CalloutKeys(issuer=generate(KeyKind.ACCOUNT), xkey=generate(KeyKind.CURVE), auth_user=generate(KeyKind.USER))


@dataclass(frozen=True)
class RunningServer:
    url: str
    user: KeyPair


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    user = generate(KeyKind.USER)
    config = tmp_path / "server.conf"
    config.write_text(f"listen: 127.0.0.1:-1\naccounts {{ APP {{ users: [ {{ nkey: {user.public_key} }} ] }} }}\n")
    log = tmp_path / "server.log"
    process = subprocess.Popen(
        [nats_server(), "-c", str(config), "-l", str(log)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield RunningServer(url=f"nats://127.0.0.1:{_wait_for_port(process, log)}", user=user)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if match := LISTENING.search(text):
            return int(match[1])
        if process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {process.returncode}:\n{text}")
        time.sleep(0.01)
    raise RuntimeError("nats-server did not report its client port within 5 s")


async def _ignore_error(_: Exception) -> None:
    # The refused connection is asserted on directly; the callback would only log it twice.
    return None


async def _round_trip(url: str, seed: str) -> bytes:
    client = await nats.connect(url, nkeys_seed_str=seed, allow_reconnect=False, error_cb=_ignore_error)
    try:
        subscription = await client.subscribe("dsx.nkeys.check")
        await client.publish("dsx.nkeys.check", b"ping")
        message = await subscription.next_msg(timeout=2)
        return bytes(message.data)
    finally:
        await client.close()


def test_the_server_accepts_generated_keys_as_callout_issuer_xkey_and_auth_user(
    tmp_path: Path, callout_keys: CalloutKeys
) -> None:
    text = _callout_config(
        callout_keys.issuer.public_key, callout_keys.xkey.public_key, callout_keys.auth_user.public_key
    )

    result = _check_config(tmp_path, text)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("corrupted", ["issuer", "xkey", "auth_user"])
def test_the_server_rejects_a_config_where_one_public_key_is_corrupted(
    tmp_path: Path, callout_keys: CalloutKeys, corrupted: str
) -> None:
    keys = {name: getattr(callout_keys, name).public_key for name in ("issuer", "xkey", "auth_user")}
    keys[corrupted] = _corrupt(keys[corrupted])

    result = _check_config(tmp_path, _callout_config(**keys))

    assert result.returncode != 0, result.stderr


@pytest.mark.parametrize(
    ("slot", "kind"),
    [("issuer", KeyKind.USER), ("xkey", KeyKind.ACCOUNT), ("auth_user", KeyKind.ACCOUNT)],
)
def test_the_server_rejects_a_config_where_a_key_of_the_wrong_kind_fills_a_slot(
    tmp_path: Path, callout_keys: CalloutKeys, slot: str, kind: KeyKind
) -> None:
    keys = {name: getattr(callout_keys, name).public_key for name in ("issuer", "xkey", "auth_user")}
    keys[slot] = generate(kind).public_key

    result = _check_config(tmp_path, _callout_config(**keys))

    assert result.returncode != 0, result.stderr


def test_a_listed_nkey_user_completes_a_publish_subscribe_round_trip(server: RunningServer) -> None:
    assert asyncio.run(_round_trip(server.url, server.user.seed)) == b"ping"


def test_a_user_whose_nkey_is_not_listed_is_refused(server: RunningServer) -> None:
    stranger = generate(KeyKind.USER)

    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(_round_trip(server.url, stranger.seed))
