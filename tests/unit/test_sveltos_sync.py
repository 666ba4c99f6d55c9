"""The in-cluster sync keeps `sveltos-nats` on the certificate cert-manager renews (dsxbus.sveltos.sync).

The CronJob's real script runs under /bin/sh against a stand-in `kubectl` that keeps Secrets in a JSON file;
certificates come from a real CA.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from dsxbus import certs
from dsxbus.sveltos import agent, sync
from dsxbus.sveltos.config import Sveltos

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "dsx"

FAKE_KUBECTL = f"""#!{sys.executable}
import json, os, sys
state_path = os.environ["FAKE_KUBECTL_STATE"]
state = json.load(open(state_path))
args = sys.argv[1:]
verb, _, ns, name = args[0], args[1], args[3], args[4]
secret = state.setdefault(ns + "/" + name, {{"data": {{}}}})
if verb == "get":
    key = args[6].removeprefix("jsonpath={{.data.").removesuffix("}}").replace("\\\\.", ".")
    sys.stdout.write(secret["data"].get(key, ""))
elif verb == "patch":
    secret["data"].update(json.loads(args[args.index("-p") + 1])["data"])
    state["patches"] = state.get("patches", 0) + 1
    json.dump(state, open(state_path, "w"))
"""


def _block() -> Sveltos:
    config = yaml.safe_load((ROOT / "Pulumi.csc.yaml").read_text())["config"]["dsx-bus:eventBus"]["sveltos"]
    return Sveltos.model_validate(config)


def _tls_data(ca: certs.LocalCa, client: certs.Pem) -> dict[str, str]:
    pems = {"ca.crt": ca.pem.certificate, "tls.crt": client.certificate, "tls.key": client.key}
    return {key: base64.b64encode(pem).decode() for key, pem in pems.items()}


class Cluster:
    """The two Secrets the sync touches, and running its CronJob once."""

    def __init__(self, directory: Path, block: Sveltos) -> None:
        self.directory = directory
        self.state = directory / "secrets.json"
        (directory / "kubectl").write_text(FAKE_KUBECTL)
        (directory / "kubectl").chmod(0o755)
        (directory / sync.SCRIPT_KEY).write_text(sync.SCRIPT)
        (directory / sync.TEMPLATE_KEY).write_text(sync.template(block, NAMESPACE, with_ca=True))
        self.block = block

    def write(self, data: dict[str, str], agent_json: str) -> None:
        encoded = base64.b64encode(agent_json.encode()).decode()
        secrets = {
            f"{NAMESPACE}/{agent.CLIENT_TLS_SECRET}": {"data": data},
            f"{agent.SECRET_NAMESPACE}/{agent.SECRET_NAME}": {"data": {agent.SECRET_KEY: encoded}},
        }
        self.state.write_text(json.dumps(secrets))

    def renew(self, data: dict[str, str]) -> None:
        """cert-manager writes the renewed certificate into its Secret, and nothing else."""
        state = json.loads(self.state.read_text())
        state[f"{NAMESPACE}/{agent.CLIENT_TLS_SECRET}"]["data"] = data
        self.state.write_text(json.dumps(state))

    def run_job(self) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            **sync.environment(NAMESPACE, agent.CLIENT_TLS_SECRET),
            "TEMPLATE": str(self.directory / sync.TEMPLATE_KEY),
            "PATH": f"{self.directory}:{os.environ['PATH']}",
            "FAKE_KUBECTL_STATE": str(self.state),
        }
        script = str(self.directory / sync.SCRIPT_KEY)
        return subprocess.run(["/bin/sh", script], env=env, capture_output=True, text=True, timeout=20, check=False)

    def agent_config(self) -> agent.MessagingConfig:
        data = json.loads(self.state.read_text())[f"{agent.SECRET_NAMESPACE}/{agent.SECRET_NAME}"]["data"]
        return agent.MessagingConfig.from_json(base64.b64decode(data[agent.SECRET_KEY]).decode())

    def patches(self) -> int:
        count: int = json.loads(self.state.read_text()).get("patches", 0)
        return count


def _deployed(cluster: Cluster, ca: certs.LocalCa, client: certs.Pem) -> None:
    """What `pulumi up` leaves: the issued certificate, and sveltos-nats made from it (components.sveltos)."""
    config = agent.messaging_config(
        cluster.block,
        server_url=agent.url(NAMESPACE),
        certificate=client.certificate,
        key=client.key,
        ca=ca.pem.certificate,
    )
    cluster.write(_tls_data(ca, client), config.to_json())


def _client_certificate(config: agent.MessagingConfig) -> bytes:
    transport = config.nats or config.jetstream
    assert transport is not None and transport.configuration.authorization is not None
    cert = transport.configuration.authorization.client_cert
    assert cert is not None
    return cert.cert_pem


@pytest.fixture
def cluster(tmp_path: Path) -> Cluster:
    return Cluster(tmp_path, _block())


def test_the_sync_leaves_sveltos_nats_alone_while_the_certificate_is_unchanged(cluster: Cluster) -> None:
    ca = certs.LocalCa()
    _deployed(cluster, ca, ca.client("sveltos-agent.csc"))
    done = cluster.run_job()
    assert done.returncode == 0, done.stderr
    assert cluster.patches() == 0  # the agent restarts on any change of the Secret: no change, no restart


def test_after_a_renewal_the_agent_config_carries_the_renewed_certificate(cluster: Cluster) -> None:
    ca = certs.LocalCa()
    first, renewed = ca.client("sveltos-agent.csc"), ca.client("sveltos-agent.csc")
    _deployed(cluster, ca, first)
    cluster.renew(_tls_data(ca, renewed))
    done = cluster.run_job()
    assert done.returncode == 0, done.stderr
    assert cluster.patches() == 1
    synced = _client_certificate(cluster.agent_config())
    assert synced == renewed.certificate != first.certificate
    # Issued by the CA the agent trusts and the auth-callout maps, with the same identity: it signs in as before.
    certificate = x509.load_pem_x509_certificate(synced)
    assert certificate.issuer == x509.load_pem_x509_certificate(ca.pem.certificate).subject
    assert certificate.subject == x509.load_pem_x509_certificate(first.certificate).subject


def test_a_certificate_secret_without_its_key_fails_the_job_and_keeps_the_working_config(cluster: Cluster) -> None:
    ca = certs.LocalCa()
    first = ca.client("sveltos-agent.csc")
    _deployed(cluster, ca, first)
    cluster.renew({"tls.crt": _tls_data(ca, first)["tls.crt"]})
    done = cluster.run_job()
    assert done.returncode == 1
    assert "has no tls.crt or tls.key" in done.stderr
    assert _client_certificate(cluster.agent_config()) == first.certificate
