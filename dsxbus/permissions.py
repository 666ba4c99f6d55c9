"""The auth-callout's permissions.json: operator entries plus the nkey entries dsx-bus generates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dsxbus import naming, subjects, topology, versions
from dsxbus.config import EventBus, MtlsIdentity, Permissions, SubjectRule
from dsxbus.crosslayer import CrossLayer
from dsxbus.sveltos import agent as sveltos_agent

NACK_GRANT = Permissions(pub=SubjectRule(allow=("$JS.API.>",)), sub=SubjectRule(allow=("_INBOX.>",)))
"""NACK manages its cluster's streams and consumers through the JetStream API (nats.go, replies to `_INBOX.`):
nothing of the account's own traffic. Upstream gives it the whole domain account."""


def nack_sources_grant(bus: EventBus) -> Permissions:
    """NACK in SOURCES: its per-CPC source streams, and with mqttStreams.uplinks each CPC account's uplink streams
    through that account's JetStream API (streams.MqttStream.api_domain)."""
    if not bus.mqtt_streams.uplinks_enabled:
        return NACK_GRANT
    apis = tuple(f"{topology.cpc_account_api(cluster_id)}.>" for cluster_id in bus.cpc_ids)
    return Permissions(pub=SubjectRule(allow=("$JS.API.>", *apis)), sub=NACK_GRANT.sub)


SURVEYOR_GRANT = Permissions(
    pub=SubjectRule(allow=("$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.>", "$SYS.REQ.ACCOUNT.PING.STATZ")),
    sub=SubjectRule(allow=("_INBOX.>",)),
)
"""Surveyor 0.9.7 polls the servers in SYS (statz, JSZ, gateways, account statz; collector_statz.go) and reads the
answers on its inboxes. Upstream gives it the whole SYS account, where `$SYS.REQ.SERVER.<id>.KICK`, account
connection lists and the auth-callout's `$SYS.REQ.USER.AUTH` also live."""


MTLS_SYS_LEAF_GRANT = Permissions(
    pub=SubjectRule(allow=("$SYS.SERVER.>", "$SYS.ACCOUNT.>", "$SYS._INBOX.>", "$SYS._INBOX_.>", "_INBOX.>")),
    sub=SubjectRule(
        allow=(
            "$SYS.REQ.>",
            "$SYS.SERVER.>",
            "$SYS.ACCOUNT.*.CLAIMS.UPDATE",
            "$SYS.ACCOUNT.*.LEAFNODE.CONNECT",
            "$SYS.DEBUG.>",
            "$SYS.LATENCY.>",
            "$SYS._INBOX.>",
            "$SYS._INBOX_.>",
        )
    ),
)
"""nats-mtls's leaf into SYS (`mtls-sys-leaf`): it answers the system requests the main servers pass on (Surveyor's
pings, on the asker's inbox) and sends its own server and account events; it asks nothing (no `$SYS.REQ.`: no
kick, reload or connection list of the main servers) and hears no connect events (user names and addresses).
What it drops by that: its start-up question for the other servers' account connection counts, which serve account
connection limits (dsx-bus sets none). Measured on each supported version: every subscription nats-mtls holds in
SYS is within `sub`, and a SYS client's pings are answered by nats-mtls too."""

SYSTEM = ("$SYS.>",)
"""System requests: every account answers some (`$SYS.REQ.ACCOUNT.PING.CONNZ` lists its connections)."""
MQTT_RELAY_PUB = ("$JS.ACK.>", "$MQTT.>")
MQTT_RELAY_SUB = ("$MQTT.>", "_INBOX.>")
"""Besides the domain's JetStream API: what MQTT (acks, its own `$MQTT.` store and replies) and the JetStream clients
(replies and pulled messages on `_INBOX.`) on nats-mtls need of the main servers."""


def mtls_relay_grant(bus: EventBus) -> Permissions:
    """What nats-mtls's leaf into the domain account (`mtls-leaf`) may do on the main servers: relay the cluster's
    mTLS clients, and nothing of its own.

    nats-mtls admits only the cluster's mTLS identities (`mtls_entries`), so its leaf carries the union of their
    grants (a direction one of them has no allow list for is the whole account there), plus what their MQTT and
    JetStream use on the main servers: the domain's JetStream API (nats-mtls maps `$JS.API.` there), acks, MQTT's
    own subjects and inbox replies. No system requests either way. Measured: mTLS MQTT at QoS 0 and 1 both ways and
    the Sveltos agent on JetStream work through it; its seed may neither command another cluster nor list the
    account's connections.
    """
    grants = [e.permissions for e in mtls_entries(bus).values() if e.account == bus.domain_account]
    api = f"{subjects.jetstream_api(bus.domain_account)}.>"
    prefixed = bus.effective_cross_layer.csc_prefixed_exports if bus.cluster_type == "cpc" else ()
    before_transform = versions.hub_checks_delivery_before_transform(versions.of_image(bus.images.nats))

    def as_delivered(patterns: list[str]) -> list[str]:
        # What the CSC sends this CPC arrives as `cpc.<id>.X` and is imported as `X`; before 2.15.1 the main
        # servers check the delivery to the leaf against `cpc.<id>.X`.
        if not before_transform:
            return []
        prefix = subjects.cpc_prefix(bus.cluster_id or "")
        return [prefix + p for p in patterns if any(subjects.intersects(p, e) for e in prefixed)]

    def relay(direction: str, internals: tuple[str, ...]) -> SubjectRule:
        allowed: list[str] = []
        for grant in grants:
            rule = getattr(grant, direction) if grant is not None else None
            if rule is not None and not rule.allow and ">" in rule.deny:
                continue  # this client may do nothing in this direction
            if rule is None or not rule.allow:
                return SubjectRule(allow=(">",), deny=SYSTEM)
            allowed += rule.allow
        if direction == "sub":
            allowed += as_delivered(allowed)
        return SubjectRule(allow=tuple(dict.fromkeys((*allowed, *internals))), deny=SYSTEM)

    return Permissions(pub=relay("pub", (api, *MQTT_RELAY_PUB)), sub=relay("sub", MQTT_RELAY_SUB))


def _env(name: str | None) -> str:
    return "${" + (name or "") + "}"


def _permissions_json(permissions: Permissions | None) -> dict[str, Any]:
    if permissions is None:
        return {}
    return {"permissions": permissions.model_dump(exclude_none=True, exclude_defaults=True)}


def generated_nkey_entries(
    bus: EventBus,
    cpc_lists: Mapping[str, CrossLayer] | None = None,
    public_keys: Mapping[str, str] | None = None,
    cpc_versions: Mapping[str, str | None] | None = None,
) -> dict[str, dict[str, Any]]:
    """The nkey entries for internal users (naming.generated_users), each with its grant; public keys are `${ENV}`
    references unless given by entry name.

    On the CSC each CPC's leaf entry carries least-privilege permissions derived from its routing
    (topology.leaf_permissions); upstream gives leafs the whole CSC account. `mtls-authx-leaf` keeps upstream's
    (no permissions: the whole AUTHX account).
    """
    grants: dict[str, Permissions] = {
        naming.NACK_PERMISSION: NACK_GRANT,
        naming.NACK_SOURCES_PERMISSION: nack_sources_grant(bus),
        naming.SURVEYOR_PERMISSION: SURVEYOR_GRANT,
        naming.MTLS_SYS_LEAF_PERMISSION: MTLS_SYS_LEAF_GRANT,
    }
    if bus.mtls.enabled:
        grants[naming.MTLS_LEAF_PERMISSION] = mtls_relay_grant(bus)
    if bus.cluster_type == "csc":
        for cluster_id, leaf in topology.cpc_leaf_permissions(bus, cpc_lists, cpc_versions).items():
            grants[naming.leaf_permission(cluster_id)] = leaf
            for account in bus.enabled_extra_accounts:
                extra = topology.extra_leaf_permissions(bus.extra_accounts[account].jetstream)
                grants[naming.leaf_permission(cluster_id, account)] = extra
    keys = public_keys or {}
    users = naming.generated_users(bus.cluster_type, bus.mtls.enabled, bus.cpc_ids, bus.enabled_extra_accounts)
    return {
        user.permission: {
            "public_key": keys.get(user.permission, _env(user.public_key.env)),
            "account": user.account,
            **_permissions_json(grants.get(user.permission)),
        }
        for user in users
    }


def mtls_entries(bus: EventBus) -> dict[str, MtlsIdentity]:
    """The operator's mTLS identities, plus the Sveltos agent's unless the operator already names its identity."""
    entries = dict(bus.auth.permissions.mtls)
    block = bus.sveltos
    if block.enabled:
        identity = block.identity_for(bus.cluster_name)
        if all(entry.identity != identity for entry in entries.values()):
            entries[sveltos_agent.PERMISSION_NAME] = MtlsIdentity(
                identity=identity,
                account=bus.domain_account,
                permissions=sveltos_agent.bus_permissions(block, bus.domain_account),
            )
    return entries


def permissions_document(
    bus: EventBus,
    cpc_lists: Mapping[str, CrossLayer] | None = None,
    public_keys: Mapping[str, str] | None = None,
    cpc_versions: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """The whole permissions.json (INVENTORY §3 schema): operator entries verbatim, generated nkey/mTLS merged."""
    perms = bus.auth.permissions

    def dump(model: Any) -> dict[str, Any]:
        return dict(model.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True))

    document: dict[str, Any] = {
        "oauth2": {name: {**dump(entry), "account": entry.account} for name, entry in perms.oauth2.items()},
        "mtls": {name: {**dump(entry), "account": entry.account} for name, entry in mtls_entries(bus).items()},
        "nkey": {name: {**dump(entry), "account": entry.account} for name, entry in perms.nkey.items()},
        "noauth": None if perms.noauth is None else {**dump(perms.noauth), "account": perms.noauth.account},
    }
    document["nkey"].update(generated_nkey_entries(bus, cpc_lists, public_keys, cpc_versions))
    return document


def render(document: Mapping[str, Any]) -> str:
    """Sorted keys, compact, as Helm's toJson writes it: it is one ConfigMap, which Kubernetes limits to 1 MiB, and
    every CPC adds a leaf entry (compact, 1,000 CPCs take 0.89 MB; indented they took 1.57: checks.configmaps)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"
