"""nats-mtls as deployed takes up a re-issued server certificate by a reload; its MQTT subscriptions survive it.

A second nats-mtls from the local federation's own rendered config (listen ports free, its own certificate
directory and CA): no JetStream of its own, MQTT's sessions and QoS 1 state on the main servers through its leafs,
as in the cluster. Its files are rewritten in place and `nats-server --signal reload=<pid>` sent, as the chart's
reloader does. (The federation's running nats-mtls cannot be reloaded: `local up` rewrites its config with the
ports it chose, which a reload refuses.) tests/nats/test_mtls_server_cert_reload.py has the single-server case,
and there the nats-server defect (versions.MQTT_RELOAD_KEEPS_MAX_ACK_PENDING) the rendered `max_ack_pending` avoids.
"""

from __future__ import annotations

import queue
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from natstools import reload, served_certificate

from dsxbus import certs
from dsxbus.local import clients, servers
from dsxbus.local.state import Federation

STACK = "cpc-a"
SANS = ("127.0.0.1",)
RELOADED = "Reloaded server configuration"
DELIVERY_WAIT = 2.0
"""Delivered within 0.1 s where it is delivered at all."""
_LISTENER = re.compile(r'^(\s*(?:listen|http): )"127\.0\.0\.1:\d+"', re.MULTILINE)


@dataclass
class Twin:
    server: servers.Server
    ca: certs.LocalCa
    cert_dir: Path
    client: tuple[str, str, str]


@pytest.fixture
def twin(federation: Federation, tmp_path: Path) -> Iterator[Twin]:
    mtls = federation.clusters[STACK].mtls
    assert mtls is not None
    identity = federation.clusters[STACK].mtls_clients["mqtt-client"].identity  # the DN its static user maps
    ca = certs.LocalCa("nats-mtls reload CA")
    cert_dir = certs.write_tls_dir(tmp_path / "certs", ca, ca.server(SANS[0], SANS))
    client = ca.client(identity.removeprefix("CN="))
    (tmp_path / "client.crt").write_bytes(client.certificate)
    (tmp_path / "client.key").write_bytes(client.key)
    text = _LISTENER.sub(r'\1"127.0.0.1:-1"', mtls.conf.read_text())
    text = text.replace(str(mtls.conf.parent / "certs" / "nats-mtls"), str(cert_dir))
    text = text.replace(f'server_name: "{mtls.name}"', f'server_name: "{mtls.name}-twin"')
    assert str(cert_dir) in text and "-twin" in text
    conf = tmp_path / "nats-mtls.conf"
    conf.write_text(text)
    server = servers.wait_ready(servers.start("twin", conf, tmp_path / "twin.log"), ("mqtt", "http"))
    try:
        servers.wait_for(lambda: True if servers.leaf_count(server) == 2 else None, 5.0, "the twin's two leafs")
        yield Twin(
            server, ca, cert_dir, (str(cert_dir / "ca.crt"), str(tmp_path / "client.crt"), str(tmp_path / "client.key"))
        )
    finally:
        servers.stop(server)


def _client(twin: Twin) -> clients.Mqtt:
    client = clients.Mqtt(twin.server.ports["mqtt"], tls=twin.client)
    client.connect()
    return client


def _served_public_key(twin: Twin) -> bytes:
    der = served_certificate(twin.server.ports["mqtt"], twin.client)
    public_key = x509.load_der_x509_certificate(der).public_key()
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("qos", [0, 1])
def test_nats_mtls_reloads_a_reissued_certificate_and_a_held_subscription_keeps_receiving(twin: Twin, qos: int) -> None:
    before = _served_public_key(twin)
    topic = f"test/mtls-reload/qos{qos}"
    held = _client(twin)
    try:
        assert held.subscribe(f"{topic}/#", qos) == qos
        reissued = twin.ca.server(SANS[0], SANS)
        (twin.cert_dir / "tls.crt").write_bytes(reissued.certificate)
        (twin.cert_dir / "tls.key").write_bytes(reissued.key)
        reload(twin.server)
        servers.wait_for(lambda: True if RELOADED in twin.server.log.read_text() else None, 2.0, "the reload")
        assert _served_public_key(twin) != before
        publisher = _client(twin)
        try:
            publisher.publish(f"{topic}/after", b"after the reload", qos=qos)
        finally:
            publisher.close()
        try:
            delivery = held.messages.get(timeout=DELIVERY_WAIT)
        except queue.Empty:
            delivery = None
        assert delivery is not None, f"a QoS {qos} subscription held across the reload received nothing"
        assert (delivery.subject, delivery.payload) == (f"{topic}/after", b"after the reload")
        assert held.client.is_connected()
    finally:
        held.close()
