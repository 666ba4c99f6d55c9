"""benchmarks/throughput.py's raw-protocol framing: what its counts and its sign-in rest on."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import nacl.signing

from dsxbus import nkeys


def _throughput() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "throughput.py"
    spec = importlib.util.spec_from_file_location("benchmark_throughput", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _throughput()


def test_a_msg_frame_split_across_two_reads_is_counted_once() -> None:
    marker = bench.nats_msg_marker("sensor.x", 1)
    frames = (marker + b"3\r\nxxx\r\n") * 3
    cut = len(marker) + 10 + len(marker) // 2  # inside the second frame's marker
    first, tail = bench.count_markers(frames[:cut], b"", marker)
    second, _ = bench.count_markers(frames[cut:], tail, marker)
    assert (first, second) == (1, 2)


def test_mqtt_frames_yields_whole_frames_only_and_reads_long_remaining_lengths() -> None:
    long = bench.mqtt_publish_frame("a/b", b"x" * 200, 1, 7)  # remaining length 207: two length bytes
    short = bench.mqtt_publish_frame("a/b", b"y", 0)
    data = long + short + long[:50]
    frames = list(bench.mqtt_frames(data))
    assert [(first, end - start) for first, start, end in frames] == [(0x32, 207), (0x30, 6)]
    start = frames[0][1]
    assert data[start : start + 7] == b"\x00\x03a/b\x00\x07"  # topic, then the packet id


def test_the_connect_frame_signs_the_servers_nonce_with_the_seed() -> None:
    pair = nkeys.generate(nkeys.KeyKind.USER)
    frame = bench.nats_connect_frame({"nonce": "abc123"}, pair.seed)
    options = json.loads(frame.removeprefix(b"CONNECT ").removesuffix(b"\r\n"))
    assert options["nkey"] == pair.public_key and options["verbose"] is False
    signature = base64.urlsafe_b64decode(options["sig"] + "=" * (-len(options["sig"]) % 4))
    raw_public = base64.b32decode(pair.public_key + "=" * (-len(pair.public_key) % 8))[1:33]
    nacl.signing.VerifyKey(raw_public).verify(b"abc123", signature)  # raises if the signature is wrong
