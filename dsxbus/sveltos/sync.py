"""Keeping `sveltos-nats` valid across certificate renewals, inside the cluster.

The agent signs in with a client certificate (the auth-callout maps certificates, not passwords or tokens, to
identities), and cert-manager renews that certificate into its Secret; `sveltos-nats` holds a copy inside a JSON
document, so a copy made at `pulumi up` goes stale and, once the old certificate expires, the agent's TLS fails.
A CronJob in the bus namespace re-renders the document from the certificate Secret with `kubectl` and a
template, and patches `sveltos-nats` only when it differs: the agent restarts itself when that Secret's content
changes (research SPEC §3.3), so it picks up the renewed certificate without a `pulumi up`.

Trade-off against an identity that does not expire: the agent's config format takes a user/password, a token
or a client certificate, and the auth-callout admits none of the first two; a certificate of years' duration
would avoid the job but makes a stolen key useful for years and still expires. The job costs a ServiceAccount
that may read one Secret and patch one other, and an image to pin.
"""

from __future__ import annotations

import base64

from dsxbus.sveltos import agent
from dsxbus.sveltos.config import Sveltos

NAME = "sveltos-nats-sync"
"""The CronJob, its ServiceAccount, Roles and the ConfigMap with its script and template."""
SCRIPT_KEY, TEMPLATE_KEY = "sync.sh", "template.json"
MOUNT_PATH = "/sync"

_MARKERS = {"tls.crt": b"dsx-bus sync: tls.crt", "tls.key": b"dsx-bus sync: tls.key", "ca.crt": b"dsx-bus sync: ca.crt"}


def placeholder(key: str) -> str:
    """`@tls.crt@`: where the template takes the certificate Secret's `data[key]` (already base64 PEM, as the
    agent's JSON wants its certificate fields)."""
    return f"@{key}@"


def template(block: Sveltos, namespace: str, with_ca: bool) -> str:
    """The agent's JSON (agent.messaging_config) with placeholders where the certificate Secret's data goes."""
    text = agent.messaging_config(
        block,
        server_url=agent.url(namespace),
        certificate=_MARKERS["tls.crt"],
        key=_MARKERS["tls.key"],
        ca=_MARKERS["ca.crt"] if with_ca else b"",
    ).to_json()
    for key, marker in _MARKERS.items():
        text = text.replace(base64.b64encode(marker).decode(), placeholder(key))
    return text


SCRIPT = r"""#!/bin/sh
# Re-render sveltos-nats from the client certificate Secret; patch it only when it changed (the agent restarts).
set -eu
field() { kubectl get secret -n "$SOURCE_NAMESPACE" "$SOURCE_SECRET" -o "jsonpath={.data.$1}"; }
crt=$(field 'tls\.crt'); key=$(field 'tls\.key'); ca=$(field 'ca\.crt')
if [ -z "$crt" ] || [ -z "$key" ]; then
  echo "error: Secret $SOURCE_NAMESPACE/$SOURCE_SECRET has no tls.crt or tls.key: check its Certificate" >&2
  exit 1
fi
# base64 holds no '|', so it is a safe sed delimiter.
json=$(sed -e "s|@tls.crt@|$crt|g" -e "s|@tls.key@|$key|g" -e "s|@ca.crt@|$ca|g" "$TEMPLATE")
wanted=$(printf '%s' "$json" | base64 | tr -d '\n')
current=$(kubectl get secret -n "$TARGET_NAMESPACE" "$TARGET_SECRET" -o "jsonpath={.data.$TARGET_KEY}")
if [ "$wanted" = "$current" ]; then
  echo "$TARGET_NAMESPACE/$TARGET_SECRET is current"
  exit 0
fi
kubectl patch secret -n "$TARGET_NAMESPACE" "$TARGET_SECRET" --type merge \
  -p "{\"data\":{\"$TARGET_KEY\":\"$wanted\"}}"
echo "$TARGET_NAMESPACE/$TARGET_SECRET updated from $SOURCE_NAMESPACE/$SOURCE_SECRET"
"""


def environment(namespace: str, source_secret: str) -> dict[str, str]:
    """The script's env: where it reads the certificate and which Secret key it writes."""
    return {
        "SOURCE_NAMESPACE": namespace,
        "SOURCE_SECRET": source_secret,
        "TARGET_NAMESPACE": agent.SECRET_NAMESPACE,
        "TARGET_SECRET": agent.SECRET_NAME,
        "TARGET_KEY": agent.SECRET_KEY,
        "TEMPLATE": f"{MOUNT_PATH}/{TEMPLATE_KEY}",
    }
