"""Key rotation: which generation each generated NKey belongs to, and the RandomBytes keepers that turn a new
generation into new entropy (Pulumi replaces a RandomBytes whose keepers change)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dsxbus import naming
from dsxbus.config import KeyGenerations

_FAMILY_OF: dict[str, str] = {
    **{key.name: "auth_callout" for key in (naming.AUTH_SIGNING, naming.XKEY, naming.AUTHX_USER)},
    **{key.name: "nack" for key in (naming.NACK_USER, naming.NACK_SOURCES_USER)},
    naming.SURVEYOR_USER.name: "surveyor",
    **{key.name: "mtls_leaf" for key in naming.MTLS_KEYS},
}


def service_key_generation(generations: KeyGenerations, key: naming.ServiceKey) -> int:
    """The generation of a service key's family (`keyGenerations.authCallout` for the issuer key...)."""
    generation: int = getattr(generations, _FAMILY_OF[key.name])
    return generation


def leaf_generation(generations: KeyGenerations) -> int:
    """The generation of a CPC's leaf keys (every account's)."""
    return generations.leaf


def mtls_server_certificate_fields(generation: int) -> dict[str, Any]:
    """The cert-manager Certificate spec fields that make a new `keyGenerations.mtlsServer` a new certificate with
    a new private key.

    Read in cert-manager v1.21.1: its trigger controller (pkg/controller/certificates/trigger) re-issues when
    `NewTriggerPolicyChain` fails (internal/controller/certificates/policies/policies.go), one link of which,
    `CurrentCertificateRequestMismatchesSpec` (policies/checks.go), compares the CSR of the CertificateRequest
    behind the current certificate with the spec (`pki.RequestMatchesSpec`, pkg/util/pki/match.go), subject
    `serialNumber` included. The CSR is cert-manager's own, so this holds whatever the issuer puts in the
    certificate. `privateKey.rotationPolicy: Always` (types_certificate.go; cert-manager's default only from
    v1.18) makes every issuance draw a new key; adding it re-issues nothing (`SecretPrivateKeyMismatchesSpec`
    compares algorithm and size only). Generation 0 sets no subject, as stacks had before generations existed,
    so it re-issues nothing."""
    fields: dict[str, Any] = {"privateKey": {"rotationPolicy": "Always"}}
    if generation != 0:
        fields["subject"] = {"serialNumber": f"dsx-bus-generation-{generation}"}
    return fields


def keepers(generation: int) -> dict[str, str] | None:
    """RandomBytes keepers for a generation. None for 0: the keys of stacks deployed before generations existed
    have no keepers, and adding `{generation: 0}` would replace (rotate) all of them on the next `up`."""
    return None if generation == 0 else {"generation": str(generation)}


# ---- the leaf-key window ------------------------------------------------------------------------------------------
# A CPC's leaf key is admitted by another stack (the CSC), so a new one must be admitted before the CPC dials with
# it. The CPC pre-publishes its next key: at generation g it holds the keys of g (its leafs dial with it) and g+1,
# and exports both (`leafKeyWindow`). The CSC admits the current key as upstream does (env, Secret
# `nats-leaf-cpc-<id>`) and the next one by a literal entry in permissions.json, which the auth-callout re-reads
# every 5 s (no restart). Raising the generation switches the CPC to a key its CSC already admits; the CSC's next
# `up` then admits g+1 (env) and g+2 (literal), and no longer g.

LEAF_SLOTS = 2
"""Keys a CPC holds per leaf account: the one it dials with and the next one."""


def leaf_window_generations(generation: int) -> tuple[int, int]:
    """The generations a CPC holds at `generation`: the current one, then the next."""
    return (generation, generation + 1)


def leaf_slot(generation: int) -> int:
    """Which of the CPC's key resources holds a generation (they alternate, so a rotation replaces only the one
    that held the key being retired)."""
    return generation % LEAF_SLOTS


def leaf_slot_suffix(slot: int) -> str:
    """Slot 0 keeps the resource name a leaf key had before windows existed (its entropy, its identity)."""
    return "" if slot == 0 else f"-slot{slot}"


def with_next_leaf_keys(
    document: Mapping[str, Any], next_keys: Mapping[str, Mapping[str, str]], extra_accounts: tuple[str, ...]
) -> dict[str, Any]:
    """permissions.json with an entry per pre-published next key (naming.next_leaf_permission): the grants of
    the leaf entry it will take over, the key itself as `public_key`. `next_keys`: CPC id -> account (`CSC` or an
    extra account) -> public key. A CPC without a leaf entry (pending, removed) gets none."""
    nkey = dict(document["nkey"])
    for cluster_id, keys in next_keys.items():
        for account in (None, *extra_accounts):
            permission = naming.leaf_permission(cluster_id, account)
            public_key = keys.get(account or naming.CSC)
            if permission in nkey and public_key:
                nkey[naming.next_leaf_permission(cluster_id, account)] = {**nkey[permission], "public_key": public_key}
    return {**document, "nkey": nkey}
