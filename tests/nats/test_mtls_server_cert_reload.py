"""A re-issued nats-mtls server certificate (keyGenerations.mtlsServer, cert-manager renewal) is taken up by a reload.

In the cluster cert-manager writes the new certificate and key into Secret `nats-mtls-server-tls`, the kubelet
updates the mounted files, and the chart's config reloader, which watches them
(tests/charts/test_nats_conf.py::test_the_reloader_watches_every_certificate_file_nats_conf_names), signals
nats-server to reload; so the generation does not roll nats-mtls (tests/program/test_rollout.py). Here: the MQTT
listener's TLS block as dsxbus.natsconf renders it for nats-mtls, its files rewritten in place, and
`nats-server --signal reload=<pid>` as the reloader sends it.

One server, unlike the deployment: MQTT's JetStream is its own (nats-mtls uses the main servers' through its leafs)
and the client certificate's DN names a static user (as `dsx-bus local` does; the deployment asks the auth-callout).

With the rendered `max_ack_pending` a held QoS 1 subscription keeps receiving on every version; without it, the
nats-server defect it avoids (versions.MQTT_RELOAD_KEEPS_MAX_ACK_PENDING) silences it before 2.15.1.
"""

from __future__ import annotations

import dataclasses
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from natstools import reload, served_certificate

from dsxbus import certs, naming, natsconf, versions
from dsxbus.local import clients, plan, servers
from dsxbus.topology import Account, User

SANS = ("mqtt-mtls.test", "127.0.0.1")
CLIENT = "mqtt-client"
# A reload swaps the TLS config in well under 0.1 s here; 2 s leaves room on two shared cores.
RELOAD_WAIT = 2.0


@dataclasses.dataclass
class Rig:
    server: servers.Server
    ca: certs.LocalCa
    cert_dir: Path
    client: tuple[str, str, str]
    """ca, certificate and key files of an MQTT client the server's CA signed."""
    conf: Path
    rendered: str
    """The config as dsxbus.natsconf renders it, `max_ack_pending` included, whatever the server started with."""


def _public_bytes(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _der(pem: certs.Pem) -> bytes:
    return x509.load_pem_x509_certificate(pem.certificate).public_bytes(serialization.Encoding.DER)


@contextmanager
def _running(tmp_path: Path, *, rendered_max_ack_pending: bool = True) -> Iterator[Rig]:
    ca = certs.LocalCa("nats-mtls reload test CA")
    cert_dir = certs.write_tls_dir(tmp_path / "nats-certs", ca, ca.server(SANS[0], SANS))
    settings = dataclasses.replace(plan.settings("nats-mtls", None), mtls_cert_dir=str(cert_dir))
    # As locally (dsxbus.local.plan.mtls_conf): the client certificate's DN names a user of the domain account.
    accounts = (Account(naming.SYS), Account(naming.CSC, jetstream=True, users=(User(user=f"CN={CLIENT}"),)))
    tree = natsconf.mtls_tree(accounts, (), None, settings)
    mqtt = tree["mqtt"]
    assert isinstance(mqtt, dict) and isinstance(mqtt["tls"], dict)
    mqtt["tls"]["verify_and_map"] = True
    assert mqtt["max_ack_pending"] == natsconf.MQTT_MAX_ACK_PENDING
    # nats-mtls reaches the main servers' JetStream through its leafs; alone, MQTT needs JetStream of its own.
    tree["jetstream"] = {"store_dir": str(tmp_path / "js"), "max_memory_store": 2**26, "max_file_store": 2**26}
    rendered = natsconf.render(tree, {})
    if not rendered_max_ack_pending:
        del mqtt["max_ack_pending"]
    conf = tmp_path / "nats-mtls.conf"
    conf.write_text(natsconf.render(tree, {}))
    client = ca.client(CLIENT)
    (tmp_path / "client.crt").write_bytes(client.certificate)
    (tmp_path / "client.key").write_bytes(client.key)
    server = servers.wait_ready(servers.start("nats-mtls", conf, tmp_path / "nats-mtls.log"), ("mqtt",))
    try:
        client_files = (str(cert_dir / "ca.crt"), str(tmp_path / "client.crt"), str(tmp_path / "client.key"))
        yield Rig(server, ca, cert_dir, client_files, conf, rendered)
    finally:
        servers.stop(server)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with _running(tmp_path) as running:
        yield running


@pytest.fixture
def rig_without_max_ack_pending(tmp_path: Path) -> Iterator[Rig]:
    with _running(tmp_path, rendered_max_ack_pending=False) as running:
        yield running


def _rewrite_in_place(cert_dir: Path, server: certs.Pem) -> None:
    """What a Secret volume update leaves behind: the same paths, the new certificate and key."""
    (cert_dir / "tls.crt").write_bytes(server.certificate)
    (cert_dir / "tls.key").write_bytes(server.key)


def _publish_on_a_new_connection(rig: Rig, topic: str, payload: bytes, qos: int) -> None:
    publisher = clients.Mqtt(rig.server.ports["mqtt"], tls=rig.client)
    publisher.connect()
    try:
        publisher.publish(topic, payload, qos=qos)
    finally:
        publisher.close()


def _delivered(client: clients.Mqtt, timeout: float) -> clients.Delivery | None:
    try:
        return client.messages.get(timeout=timeout)
    except queue.Empty:
        return None


def test_a_reload_serves_the_reissued_certificate_to_new_connections_and_keeps_an_mqtt_client_connected(
    rig: Rig,
) -> None:
    first = x509.load_pem_x509_certificate((rig.cert_dir / "tls.crt").read_bytes())
    assert served_certificate(rig.server.ports["mqtt"], rig.client) == first.public_bytes(serialization.Encoding.DER)
    held = clients.Mqtt(rig.server.ports["mqtt"], tls=rig.client)
    held.connect()
    try:
        assert held.subscribe("rotate/#", 0) == 0
        reissued = rig.ca.server(SANS[0], SANS)  # a new key, as privateKey.rotationPolicy: Always gives
        _rewrite_in_place(rig.cert_dir, reissued)
        reload(rig.server)
        servers.wait_for(
            lambda: True if served_certificate(rig.server.ports["mqtt"], rig.client) == _der(reissued) else None,
            RELOAD_WAIT,
            "the new certificate",
        )
        served = x509.load_der_x509_certificate(served_certificate(rig.server.ports["mqtt"], rig.client))
        assert _public_bytes(served) != _public_bytes(first)  # a new private key, not the old one re-signed
        _publish_on_a_new_connection(rig, "rotate/after", b"on the new certificate", qos=0)
        delivery = _delivered(held, clients.TIMEOUT)
        assert delivery is not None, "the client connected before the reload no longer receives"
        assert (delivery.subject, delivery.payload) == ("rotate/after", b"on the new certificate")
        assert held.client.is_connected()
    finally:
        held.close()


def _reload_with_a_reissued_certificate(rig: Rig) -> None:
    _rewrite_in_place(rig.cert_dir, rig.ca.server(SANS[0], SANS))
    reload(rig.server)


def _qos1_subscriber(rig: Rig, client_id: str | None = None) -> clients.Mqtt:
    """Connected, subscribed to `rotate/#` at QoS 1; `client_id`: a persistent session under that ID."""
    client = clients.Mqtt(rig.server.ports["mqtt"], tls=rig.client, client_id=client_id, clean_session=not client_id)
    client.connect()
    assert client.subscribe("rotate/#", 1) == 1
    return client


# 2 s: delivered within 0.1 s where it is delivered at all.
QOS1_WAIT = 2.0


def _logged(rig: Rig, line: str) -> None:
    servers.wait_for(lambda: True if line in rig.server.log.read_text() else None, RELOAD_WAIT, repr(line))


def test_a_qos1_subscription_held_across_a_reload_keeps_receiving(rig: Rig) -> None:
    held = _qos1_subscriber(rig)
    try:
        _reload_with_a_reissued_certificate(rig)
        _publish_on_a_new_connection(rig, "rotate/qos1", b"after the reload", qos=1)
        delivery = _delivered(held, QOS1_WAIT)
        assert delivery is not None, "the rendered max_ack_pending no longer keeps QoS 1 across a reload"
        assert (delivery.subject, delivery.payload) == ("rotate/qos1", b"after the reload")
    finally:
        held.close()


def test_without_max_ack_pending_a_reload_silences_a_held_qos1_subscription_before_2_15_1(
    rig_without_max_ack_pending: Rig, nats_version: str
) -> None:
    rig = rig_without_max_ack_pending
    held = _qos1_subscriber(rig)
    try:
        _reload_with_a_reissued_certificate(rig)
        _publish_on_a_new_connection(rig, "rotate/qos1", b"after the reload", qos=1)
        silenced = _delivered(held, QOS1_WAIT) is None
        assert silenced is versions.reload_zeroes_mqtt_max_ack_pending(nats_version)
        assert held.client.is_connected()  # silent, not disconnected: nothing tells the client
    finally:
        held.close()


def test_without_max_ack_pending_a_session_silenced_by_a_reload_stays_silent_when_its_client_reconnects(
    rig_without_max_ack_pending: Rig, nats_version: str
) -> None:
    rig = rig_without_max_ack_pending
    _qos1_subscriber(rig, "persistent").close()
    _reload_with_a_reissued_certificate(rig)
    resumed = clients.Mqtt(rig.server.ports["mqtt"], tls=rig.client, client_id="persistent", clean_session=False)
    resumed.connect()
    try:
        _publish_on_a_new_connection(rig, "rotate/qos1", b"to the resumed session", qos=1)
        silenced = _delivered(resumed, QOS1_WAIT) is None
        # The server keeps the session object, and its zeroed limit, while it runs: only a restart clears it.
        assert silenced is versions.reload_zeroes_mqtt_max_ack_pending(nats_version)
    finally:
        resumed.close()


def test_the_reload_that_brings_max_ack_pending_gives_silenced_qos1_subscriptions_their_deliveries_back(
    rig_without_max_ack_pending: Rig,
) -> None:
    """Upgrading a running nats-mtls to this config heals it without a restart: the reloader applies the new block."""
    rig = rig_without_max_ack_pending
    held = _qos1_subscriber(rig)
    try:
        _reload_with_a_reissued_certificate(rig)
        _logged(rig, "Reloaded: MQTT max_ack_pending = 0")  # what silences the session on 2.12.6
        rig.conf.write_text(rig.rendered)
        reload(rig.server)
        _logged(rig, f"Reloaded: MQTT max_ack_pending = {natsconf.MQTT_MAX_ACK_PENDING}")
        _publish_on_a_new_connection(rig, "rotate/qos1", b"after the upgrade", qos=1)
        delivery = _delivered(held, QOS1_WAIT)
        assert delivery is not None and delivery.payload == b"after the upgrade"
    finally:
        held.close()
