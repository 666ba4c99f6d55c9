"""Throughput and latency across a leaf, with clients that are not the bottleneck.

Raw-protocol clients on plain sockets (NATS client protocol, MQTT 3.1.1), each in its own process: publishers
write pipelined PUB / PUBLISH frames in large batched writes and end with PING (NATS, MQTT QoS 0) or the last
PUBACK (MQTT QoS 1), so the server has taken every message; the subscriber counts its subject's frames in C
(`bytes.count`) for NATS, or walks MQTT frames (and acknowledges QoS 1 ones). Every case runs side by side in
one run, alternating, `--reps` times; medians and ratios are printed.

Cases, core NATS: a plain nats-server (and one with a JetStream domain, as the bus's servers have), within one
cluster, a bare leaf between two plain servers in each direction, and the bus's CPC -> leaf -> CSC (`sensor.x` ->
`cpc.a.sensor.x`) and CSC -> leaf -> CPC (`cpc.a.command.x` -> `command.x`); plain and CPC -> CSC again with two
publisher processes (the publishers are not the bottleneck if two do no better than one). MQTT QoS 0 and 1: the
same two directions against publisher and subscriber within the publishing cluster. Each case also reports the CPU
each side used per message (servers from /proc, clients from getrusage), which the load of other processes moves
far less than the rates. Latency: one message at a time, publisher and subscriber sockets in one process,
p50 / p99 / p99.9.

Run: .venv/bin/python benchmarks/throughput.py [--quick] [--reps 3]
Prints numbers; it is not a test.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import nkeys

from dsxbus import naming, subjects
from dsxbus.local import runner, servers
from dsxbus.local.plan import MQTT_ADMIN_USER
from dsxbus.local.state import Federation, LocalCluster

PROJECT = Path(__file__).resolve().parents[1]
PAYLOAD = b"x" * 128  # no protocol keyword can occur inside it, so frames are counted by scanning
BATCH_BYTES = 256 * 1024
IDLE = 3.0
"""Seconds without a message after which a subscriber reports what it got (a lost message never comes)."""
PROBE_TIMEOUT = 5.0
"""How long interest may take to cross the leaf before a case is reported as not delivering."""

CTX = multiprocessing.get_context("fork")


@dataclass(frozen=True)
class Endpoint:
    """Where a raw client connects: a NATS nkey seed, or an MQTT user and password (None: no auth)."""

    port: int
    seed: str | None = None
    user: str | None = None
    password: str | None = None


# ---- NATS client protocol ------------------------------------------------------------------------------


def _read_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("server closed the connection")
        line += chunk
    return line


def nats_connect_frame(info: dict[str, Any], seed: str | None) -> bytes:
    """CONNECT without +OK acks (verbose off); with a seed, the nkey and its signature of the server's nonce."""
    options: dict[str, Any] = {"verbose": False, "pedantic": False, "protocol": 1, "headers": False}
    if seed:
        pair = nkeys.from_seed(seed.encode())
        options["nkey"] = pair.public_key.decode()
        options["sig"] = base64.urlsafe_b64encode(pair.sign(info["nonce"].encode())).decode().rstrip("=")
    return b"CONNECT " + json.dumps(options).encode() + b"\r\n"


def nats_open(end: Endpoint) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", end.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    info = _read_line(sock)
    if not info.startswith(b"INFO "):
        raise ConnectionError(f"expected INFO, got {info[:80]!r}")
    sock.sendall(nats_connect_frame(json.loads(info[5:]), end.seed) + b"PING\r\n")
    nats_await_pong(sock)
    return sock


def nats_await_pong(sock: socket.socket) -> None:
    """Everything written before our PING has been processed once its PONG arrives (one connection, in order)."""
    buffer = b""
    while b"PONG\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk or b"-ERR" in chunk:
            raise ConnectionError(f"server refused: {chunk[:200]!r}")
        buffer = buffer[-5:] + chunk


def nats_pub_frame(subject: str, payload: bytes) -> bytes:
    return f"PUB {subject} {len(payload)}\r\n".encode() + payload + b"\r\n"


def nats_msg_marker(subject: str, sid: int) -> bytes:
    """What starts each MSG frame of this subscription: count it to count the messages."""
    return f"MSG {subject} {sid} ".encode()


def count_markers(chunk: bytes, tail: bytes, marker: bytes) -> tuple[int, bytes]:
    """Markers in `tail + chunk`, and the new tail: a marker split across two reads is counted once."""
    data = tail + chunk
    return data.count(marker), data[-(len(marker) - 1) :]


# ---- MQTT 3.1.1 ----------------------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def mqtt_packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def mqtt_connect_frame(client_id: str, user: str | None, password: str | None) -> bytes:
    flags = 0x02 | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)  # clean session
    body = _text("MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big") + _text(client_id)
    body += (_text(user) if user is not None else b"") + (_text(password) if password is not None else b"")
    return mqtt_packet(0x10, body)


def mqtt_publish_frame(topic: str, payload: bytes, qos: int, packet_id: int = 0) -> bytes:
    ident = packet_id.to_bytes(2, "big") if qos else b""
    return mqtt_packet(0x30 | (qos << 1), _text(topic) + ident + payload)


def mqtt_frames(data: bytes | bytearray) -> Iterator[tuple[int, int, int]]:
    """(first byte, body start, body end) of each whole frame in `data`; the rest waits for the next read."""
    at = 0
    while at + 2 <= len(data):
        length, shift, cursor = 0, 0, at + 1
        while True:
            if cursor >= len(data):
                return
            byte = data[cursor]
            length |= (byte & 0x7F) << shift
            cursor += 1
            if not byte & 0x80:
                break
            shift += 7
        if cursor + length > len(data):
            return
        yield data[at], cursor, cursor + length
        at = cursor + length


def mqtt_open(end: Endpoint, name: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", end.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(mqtt_connect_frame(f"bench-{name}-{time.monotonic_ns()}", end.user, end.password))
    connack = _recv_exactly(sock, 4)
    if connack[0] != 0x20 or connack[3] != 0:
        raise ConnectionError(f"MQTT connection refused: {connack!r}")
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return data


def mqtt_subscribe(sock: socket.socket, topics: list[str], qos: int) -> None:
    """Read frame by frame up to the SUBACK: a probe may be delivered before it, and no byte after it is taken."""
    body = (1).to_bytes(2, "big") + b"".join(_text(t) + bytes([qos]) for t in topics)
    sock.sendall(mqtt_packet(0x82, body))
    while True:
        first, length, shift = _recv_exactly(sock, 1)[0], 0, 0
        while True:
            byte = _recv_exactly(sock, 1)[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        content = _recv_exactly(sock, length)
        if first >> 4 == 9:  # SUBACK: packet id, then one return code per topic
            if any(code == 0x80 for code in content[2:]):
                raise ConnectionError(f"MQTT subscribe to {topics} refused: {content!r}")
            return
        if first >> 4 == 3 and first & 0x06:  # an early QoS 1 probe: acknowledge it like any other
            size = int.from_bytes(content[:2], "big")
            sock.sendall(b"\x40\x02" + content[2 + size : 4 + size])


# ---- one case: subscriber, probes, publishers ------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """Who publishes where and who subscribes to what; NATS when `qos` is None, else MQTT at that QoS."""

    name: str
    pub: Endpoint
    pub_subject: str
    sub: Endpoint
    sub_subject: str
    qos: int | None = None
    sub_qos: int | None = None
    publishers: int = 1

    @property
    def mqtt(self) -> bool:
        return self.qos is not None


def _probe(subject: str) -> str:
    return subject + "probe"  # a sibling under the same export; subscribed after the measured subject


def _subscriber(case: Case, count: int, ready: Event, out: Any) -> None:
    """Counts the measured subject's messages; probes (another subject) only tell that interest has arrived."""
    with contextlib.closing(_sub_socket(case)) as sock:
        sock.settimeout(PROBE_TIMEOUT + 1)
        received, first, last = _sub_count(case, sock, count, ready)
    out.put((received, first, last, _cpu_self()))


def _sub_socket(case: Case) -> socket.socket:
    if case.mqtt:
        sock = mqtt_open(case.sub, "sub")
        mqtt_subscribe(sock, [case.sub_subject, _probe(case.sub_subject)], case.sub_qos or 0)
        return sock
    sock = nats_open(case.sub)
    sock.sendall(f"SUB {case.sub_subject} 1\r\nSUB {_probe(case.sub_subject)} 2\r\nPING\r\n".encode())
    nats_await_pong(sock)
    return sock


def _sub_count(case: Case, sock: socket.socket, count: int, ready: Event) -> tuple[int, float, float]:
    received, first, last = 0, 0.0, 0.0
    if case.mqtt:
        read = _mqtt_reader(sock, case.sub_subject.encode())
    else:
        read = _nats_reader(sock, nats_msg_marker(case.sub_subject, 1), nats_msg_marker(_probe(case.sub_subject), 2))
    while received < count:
        try:
            got, probed = read()
        except TimeoutError:
            break
        if probed and not ready.is_set():
            ready.set()
            sock.settimeout(IDLE)
        if got:
            last = time.time()
            first = first or last
            received += got
    return received, first, last


def _nats_reader(sock: socket.socket, marker: bytes, probe: bytes) -> Callable[[], tuple[int, bool]]:
    tails = [b"", b"", b""]

    def read() -> tuple[int, bool]:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise TimeoutError
        got, tails[0] = count_markers(chunk, tails[0], marker)
        probes, tails[1] = count_markers(chunk, tails[1], probe)
        pings, tails[2] = count_markers(chunk, tails[2], b"PING\r\n")
        if pings:  # the server's keep-alive; payloads are all `x`, so this is a frame
            sock.sendall(b"PONG\r\n" * pings)
        return got, probes > 0

    return read


def _mqtt_reader(sock: socket.socket, topic: bytes) -> Callable[[], tuple[int, bool]]:
    pending = bytearray()
    mine = len(topic).to_bytes(2, "big") + topic

    def read() -> tuple[int, bool]:
        nonlocal pending
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise TimeoutError
        pending += chunk
        got, probed, acks, used = 0, False, bytearray(), 0
        for first, start, end in mqtt_frames(pending):
            used = end
            if first >> 4 != 3:
                continue
            size = int.from_bytes(pending[start : start + 2], "big")
            if first & 0x06:  # QoS 1: acknowledge, or the server stops at max_ack_pending
                ident = pending[start + 2 + size : start + 4 + size]
                acks += b"\x40\x02" + ident
            if pending[start : start + 2 + size] == mine:
                got += 1
            else:
                probed = True
        del pending[:used]
        if acks:
            sock.sendall(acks)
        return got, probed

    return read


def _publisher(case: Case, count: int, go: Event, out: Any) -> None:
    """Connected before `go`, so the clock starts at the first write."""
    sock = mqtt_open(case.pub, "pub") if case.mqtt else nats_open(case.pub)
    with contextlib.closing(sock):
        go.wait()
        first = time.time()
        if case.qos == 1:
            _mqtt_publish_qos1(sock, case.pub_subject, count)
        else:
            _publish_pipelined(sock, case, count)
        out.put((first, time.time(), _cpu_self()))


def _publish_pipelined(sock: socket.socket, case: Case, count: int) -> None:
    frame = _frame(case.pub_subject, PAYLOAD, case.mqtt)
    per_batch = max(1, BATCH_BYTES // len(frame))
    batch = frame * per_batch
    for _ in range(count // per_batch):
        sock.sendall(batch)
    sock.sendall(frame * (count % per_batch))
    if case.mqtt:
        sock.sendall(b"\xc0\x00")  # PINGREQ; its PINGRESP comes after every PUBLISH before it is processed
        if _recv_exactly(sock, 2) != b"\xd0\x00":
            raise ConnectionError("no PINGRESP")
    else:
        sock.sendall(b"PING\r\n")
        nats_await_pong(sock)


def _mqtt_publish_qos1(sock: socket.socket, topic: str, count: int, window: int = 4096) -> None:
    """Pipelined QoS 1: up to `window` unacknowledged, packet ids cycling (never two in flight at once)."""
    sent = acked = 0
    leftover = b""
    per_batch = 256
    while acked < count:
        while sent < count and sent - acked < window:
            n = min(per_batch, count - sent, window - (sent - acked))
            sock.sendall(b"".join(mqtt_publish_frame(topic, PAYLOAD, 1, (sent + i) % 65535 + 1) for i in range(n)))
            sent += n
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError(f"the server closed the connection after {acked} of {count} PUBACKs")
        data = leftover + chunk
        whole = len(data) - len(data) % 4  # a PUBACK is 4 bytes; nothing else comes unasked
        acked += whole // 4
        leftover = data[whole:]


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_of(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) the processes have used so far: the servers, which are no children we wait for."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    received: int
    end_to_end: float
    """Messages per second from the first publish to the last arrival."""
    accepted: float
    """Messages per second from the first publish to the publishers' last PONG / PUBACK."""
    server_cpu: float = 0.0
    """CPU microseconds per message of every nats-server running (idle ones add nothing)."""
    pub_cpu: float = 0.0
    """CPU microseconds per message of the publisher processes, connecting included."""
    sub_cpu: float = 0.0


def run_case(case: Case, count: int, server_pids: Sequence[int]) -> Run:
    ready, go, out, stamps_out = CTX.Event(), CTX.Event(), CTX.Queue(), CTX.Queue()
    subscriber = CTX.Process(target=_subscriber, args=(case, count, ready, out))
    subscriber.start()
    share = count // case.publishers
    publishers = [
        CTX.Process(target=_publisher, args=(case, share + (count % case.publishers if i == 0 else 0), go, stamps_out))
        for i in range(case.publishers)
    ]
    try:
        if not _probe_until(case, ready):
            return Run(0, 0.0, 0.0)
        for process in publishers:
            process.start()
        time.sleep(0.2)  # every publisher connected
        cpu_before = cpu_of(server_pids)
        go.set()
        stamps = [stamps_out.get(timeout=120) for _ in publishers]
        subscriber.join(timeout=120)
        received, _, last, sub_cpu = out.get(timeout=5)
        server_cpu = cpu_of(server_pids) - cpu_before
    finally:
        for process in [p for p in (subscriber, *publishers) if p.pid is not None]:
            if process.is_alive():
                process.kill()
            process.join(timeout=5)
    first = min(s[0] for s in stamps)
    done = max(s[1] for s in stamps)
    per_message = 1e6 / count
    return Run(
        received,
        received / (last - first) if received else 0.0,
        count / (done - first),
        server_cpu * per_message,
        sum(s[2] for s in stamps) * per_message,
        sub_cpu * per_message,
    )


def _probe_until(case: Case, ready: Event) -> bool:
    """Probe messages until the subscriber has one: interest has crossed the leaf (and its subscription exists).
    MQTT probes go at the case's QoS, so a QoS 1 path that does not deliver shows here."""
    probe = _probe(case.pub_subject)
    sock = mqtt_open(case.pub, "probe") if case.mqtt else nats_open(case.pub)
    with contextlib.closing(sock):
        deadline = time.monotonic() + PROBE_TIMEOUT
        sent = 0
        while not ready.wait(0.02):
            if time.monotonic() > deadline:
                return False
            sent += 1
            qos = case.qos or 0
            frame = mqtt_publish_frame(probe, b"probe", qos, sent) if case.mqtt else nats_pub_frame(probe, b"probe")
            sock.sendall(frame)
    return True


# ---- latency ------------------------------------------------------------------------------------------


def latency(case: Case, samples: int) -> list[float]:
    """Microseconds from writing one message to reading it, one at a time (both sockets in one process, one
    clock); empty if nothing arrives."""
    sub = _sub_socket(case)
    pub = mqtt_open(case.pub, "lat") if case.mqtt else nats_open(case.pub)
    message = _frame(case.pub_subject, PAYLOAD, case.mqtt)
    probe = _frame(_probe(case.pub_subject), b"p", case.mqtt)
    end = PAYLOAD if case.mqtt else PAYLOAD + b"\r\n"
    with contextlib.closing(sub), contextlib.closing(pub):
        sub.settimeout(0.02)
        deadline = time.monotonic() + PROBE_TIMEOUT
        while True:  # interest first; late copies of the probes are drained below
            if time.monotonic() > deadline:
                return []
            pub.sendall(probe)
            with contextlib.suppress(TimeoutError):
                if sub.recv(1 << 16):
                    break
        with contextlib.suppress(TimeoutError):
            while sub.recv(1 << 16):
                pass
        sub.settimeout(5)
        timings = []
        for _ in range(samples):
            buffer = b""
            start = time.perf_counter_ns()
            pub.sendall(message)
            while not buffer.endswith(end):
                buffer += sub.recv(65536)
            timings.append((time.perf_counter_ns() - start) / 1000)
    return timings


def _frame(subject: str, payload: bytes, mqtt: bool) -> bytes:
    return mqtt_publish_frame(subject, payload, 0) if mqtt else nats_pub_frame(subject, payload)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# ---- the run ------------------------------------------------------------------------------------------


def _start(directory: Path, name: str, conf: str, ports: tuple[str, ...]) -> servers.Server:
    path = directory / f"{name}.conf"
    path.write_text(f'server_name: {name}\nlisten: "127.0.0.1:-1"\nhttp: "127.0.0.1:-1"\n{conf}')
    return servers.wait_ready(servers.start(name, path, directory / f"{name}.log"), ("client", "http", *ports))


@dataclass(frozen=True)
class Plain:
    """nats-servers as they come (no accounts, no auth, no TLS): one alone, and a hub with one leaf joined to it,
    so the leaf's own cost shows apart from the bus's accounts, imports and permissions; and one alone with a
    JetStream domain, as every server of the bus has (measured: it alone costs core NATS about 0.5 us a message)."""

    alone: servers.Server
    hub: servers.Server
    leaf: servers.Server
    domain: servers.Server

    @property
    def all(self) -> list[servers.Server]:
        return [self.alone, self.hub, self.leaf, self.domain]


def plain_servers(directory: Path) -> Plain:
    directory.mkdir()
    started: list[servers.Server] = []
    try:
        started.append(_start(directory, "plain", "", ()))
        started.append(_start(directory, "hub", 'leafnodes { listen: "127.0.0.1:-1" }\n', ("leaf",)))
        remote = f'leafnodes {{ remotes: [{{ url: "{started[1].url("leaf")}" }}] }}\n'
        started.append(_start(directory, "leaf", remote, ()))
        jetstream = f'jetstream {{ domain: "D", store_dir: "{directory / "jetstream"}" }}\n'
        started.append(_start(directory, "domain", jetstream, ()))
        servers.wait_for(lambda: True if servers.leaf_count(started[1]) == 1 else None, 10, "the plain leaf")
    except BaseException:
        for server in started:
            servers.stop(server)
        raise
    return Plain(*started)


@dataclass(frozen=True)
class Sides:
    """The federation's endpoints and cross-layer subjects the cases use."""

    cpc_nats: Endpoint
    csc_nats: Endpoint
    cpc_mqtt: Endpoint
    csc_mqtt: Endpoint
    up: tuple[str, str]
    """CPC subject published, CSC subject subscribed (cpcExports)."""
    down: tuple[str, str]
    """CSC subject published, CPC subject subscribed (cscPrefixedExports)."""


def sides(federation: Federation) -> Sides:
    cpc, csc = federation.cpcs[0], federation.csc

    def nats_end(cluster: LocalCluster, account: str) -> Endpoint:
        return Endpoint(cluster.main.ports["client"], seed=federation.keys[cluster.stack].admin[account].seed)

    def mqtt_end(cluster: LocalCluster) -> Endpoint:
        password = federation.keys[cluster.stack].mqtt_password
        return Endpoint(cluster.main.ports["mqtt"], user=MQTT_ADMIN_USER, password=password)

    prefix = subjects.cpc_prefix(cpc.id)
    up = subjects.concrete_subject(cpc.lists.cpc_exports[0])
    down = subjects.concrete_subject(cpc.lists.csc_prefixed_exports[0])
    return Sides(
        nats_end(cpc, naming.CPC),
        nats_end(csc, naming.CSC),
        mqtt_end(cpc),
        mqtt_end(csc),
        (up, prefix + up),
        (prefix + down, down),
    )


LOCAL = "bench.local"
"""In no cross-layer list: stays on the cluster that publishes it."""


@dataclass(frozen=True)
class Row:
    """One measured case and the baselines its ratio is taken against (names of other rows of the same run)."""

    case: Case
    baselines: tuple[str, ...] = ()


def nats_rows(plain: Plain, s: Sides) -> list[Row]:
    """Each federated case against a plain server, within one cluster, and a bare leaf in the same direction;
    and with two publishers against a plain server with two (the publishers are not the bottleneck if two do no
    better than one)."""
    alone, hub, leaf, domain = (Endpoint(p.ports["client"]) for p in plain.all)
    server, bare_up, bare_down = "NATS plain server", "NATS bare leaf, leaf -> hub", "NATS bare leaf, hub -> leaf"
    in_cpc, in_csc = "NATS within the CPC", "NATS within the CSC"
    return [
        Row(Case(server, alone, LOCAL, alone, LOCAL)),
        Row(Case("NATS plain server, JetStream domain", domain, LOCAL, domain, LOCAL), (server,)),
        Row(Case(in_cpc, s.cpc_nats, LOCAL, s.cpc_nats, LOCAL)),
        Row(Case(in_csc, s.csc_nats, LOCAL, s.csc_nats, LOCAL)),
        Row(Case(bare_up, leaf, LOCAL, hub, LOCAL), (server,)),
        Row(Case(bare_down, hub, LOCAL, leaf, LOCAL), (server,)),
        Row(Case("NATS CPC -> CSC", s.cpc_nats, s.up[0], s.csc_nats, s.up[1]), (server, in_cpc, bare_up)),
        Row(Case("NATS CSC -> CPC", s.csc_nats, s.down[0], s.cpc_nats, s.down[1]), (server, in_csc, bare_down)),
        Row(Case(f"{server}, 2 pub", alone, LOCAL, alone, LOCAL, publishers=2)),
        Row(
            Case("NATS CPC -> CSC, 2 pub", s.cpc_nats, s.up[0], s.csc_nats, s.up[1], publishers=2),
            (f"{server}, 2 pub",),
        ),
    ]


def mqtt_rows(s: Sides, qos: int, up_sub_qos: int) -> list[Row]:
    """Baselines: publisher and subscriber on the publishing cluster, the same QoS on each side as the federated
    case; CPC -> CSC again with two publishers (whether one publishing connection is the limit)."""
    topic, local = subjects.mqtt_topic, subjects.mqtt_topic(LOCAL)
    q = f"MQTT q{qos}"
    in_cpc, in_csc = f"{q} within the CPC, sub q{up_sub_qos}", f"{q} within the CSC, sub q{qos}"
    up = (s.cpc_mqtt, topic(s.up[0]), s.csc_mqtt, topic(s.up[1]), qos, up_sub_qos)
    down = (s.csc_mqtt, topic(s.down[0]), s.cpc_mqtt, topic(s.down[1]), qos, qos)
    return [
        Row(Case(in_cpc, s.cpc_mqtt, local, s.cpc_mqtt, local, qos, up_sub_qos)),
        Row(Case(f"{q} CPC -> CSC, sub q{up_sub_qos}", *up), (in_cpc,)),
        Row(Case(in_csc, s.csc_mqtt, local, s.csc_mqtt, local, qos, qos)),
        Row(Case(f"{q} CSC -> CPC, sub q{qos}", *down), (in_csc,)),
        Row(Case(f"{in_cpc}, 2 pub", s.cpc_mqtt, local, s.cpc_mqtt, local, qos, up_sub_qos, 2)),
        Row(Case(f"{q} CPC -> CSC, sub q{up_sub_qos}, 2 pub", *up, 2), (f"{in_cpc}, 2 pub",)),
    ]


def qos1_up_delivers(s: Sides, server_pids: Sequence[int]) -> bool:
    """Whether a QoS 1 subscriber on the CSC gets a CPC's QoS 1 publishes (docs/measured-facts.md §1: not yet)."""
    topic = subjects.mqtt_topic
    case = Case("probe", s.cpc_mqtt, topic(s.up[0]), s.csc_mqtt, topic(s.up[1]), 1, 1)
    return run_case(case, 1, server_pids).received == 1


def print_throughput(rows: list[Row], results: dict[str, list[Run]], counts: Callable[[Case], int]) -> None:
    medians = {name: statistics.median(r.end_to_end for r in runs) for name, runs in results.items()}
    for row in rows:
        runs, name = results[row.case.name], row.case.name
        shown = ", ".join(f"{r.end_to_end:,.0f}" for r in runs)
        print(
            f"  {name:<40} {medians[name]:>11,.0f} msgs/s ({shown});"
            f" server took {statistics.median(r.accepted for r in runs):,.0f} msgs/s;"
            f" received {'/'.join(str(r.received) for r in runs)} of {counts(row.case):,}"
        )
        cpu = {what: statistics.median(getattr(r, what) for r in runs) for what in ("server_cpu", "pub_cpu", "sub_cpu")}
        print(
            f"  {'':<40} CPU per message: servers {cpu['server_cpu']:.2f} us, publishers {cpu['pub_cpu']:.2f} us,"
            f" subscriber {cpu['sub_cpu']:.2f} us"
        )
        for base in row.baselines:
            ratio = medians[name] / medians[base] if medians[base] else 0.0
            print(f"  {'':<40} / {base}: {ratio:.3f}")


def print_latency(name: str, timings: list[float]) -> None:
    if not timings:
        print(f"  {name:<40} nothing arrived")
        return
    p50, p99, p999 = (percentile(timings, f) for f in (0.5, 0.99, 0.999))
    print(f"  {name:<40} p50 {p50:7.1f} us  p99 {p99:7.1f} us  p99.9 {p999:7.1f} us  ({len(timings):,} samples)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages and samples: well under a minute")
    parser.add_argument("--reps", type=int, default=3, help="alternating repetitions of every case (median)")
    parser.add_argument("--nats-messages", type=int, help="per core NATS case (default 1,000,000; quick 200,000)")
    parser.add_argument("--mqtt-messages", type=int, help="per MQTT QoS 0 case (default 200,000; quick 50,000)")
    parser.add_argument("--qos1-messages", type=int, help="per MQTT QoS 1 case (default 50,000; quick 10,000)")
    parser.add_argument("--samples", type=int, help="latency samples per path (default 10,000; quick 2,000)")
    args = parser.parse_args()
    quick = args.quick
    nats_n = args.nats_messages or (200_000 if quick else 1_000_000)
    mqtt_n = args.mqtt_messages or (50_000 if quick else 200_000)
    qos1_n = args.qos1_messages or (10_000 if quick else 50_000)
    samples = args.samples or (2_000 if quick else 10_000)

    def count(case: Case) -> int:
        return nats_n if case.qos is None else mqtt_n if case.qos == 0 else qos1_n

    scratch = Path(tempfile.mkdtemp(prefix="dsx-bus-throughput-"))
    plain = plain_servers(scratch / "plain")
    started = time.monotonic()
    try:
        federation = runner.up(PROJECT, run_dir=scratch / "run", say=lambda _: None)
        try:
            s = sides(federation)
            pids = [server.pid for server in plain.all + federation.servers()]
            up_q1 = qos1_up_delivers(s, pids)
            rows = nats_rows(plain, s)
            rows += mqtt_rows(s, 0, 0) + mqtt_rows(s, 1, 1 if up_q1 else 0)
            print(
                f"nats-server {servers.nats_server_version()}; {len(PAYLOAD)}-byte messages; raw-protocol clients, one"
                f" process each; median of {args.reps} alternating runs; msgs/s from first publish to last arrival"
            )
            if not up_q1:
                print(
                    "MQTT QoS 1 CPC -> CSC: a QoS 1 subscriber on the CSC got nothing (docs/measured-facts.md §1);"
                    " measured with a QoS 0 subscriber, against the same within the CPC"
                )
            results: dict[str, list[Run]] = {r.case.name: [] for r in rows}
            for _ in range(args.reps):
                for row in rows:
                    results[row.case.name].append(run_case(row.case, count(row.case), pids))
            print(f"core NATS, {nats_n:,} messages per run")
            print_throughput([r for r in rows if not r.case.mqtt], results, count)
            print(f"MQTT, {mqtt_n:,} (QoS 0) / {qos1_n:,} (QoS 1) messages per run")
            print_throughput([r for r in rows if r.case.mqtt], results, count)
            print(f"latency, one {len(PAYLOAD)}-byte message at a time, write to read")
            for row in rows:
                c = row.case
                if c.publishers == 1 and c.qos != 1:
                    print_latency(c.name, latency(c, samples))
        finally:
            for server in reversed(federation.servers()):
                servers.stop(server)
    finally:
        for server in plain.all:
            servers.stop(server)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"({time.monotonic() - started:.1f} s)")


if __name__ == "__main__":
    main()
