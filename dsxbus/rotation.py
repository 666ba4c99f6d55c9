"""Key rotation: which generation each generated NKey belongs to, and the RandomBytes keepers that turn a new
generation into new entropy (Pulumi replaces a RandomBytes whose keepers change)."""

from __future__ import annotations

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


def keepers(generation: int) -> dict[str, str] | None:
    """RandomBytes keepers for a generation. None for 0: the keys of stacks deployed before generations existed
    have no keepers, and adding `{generation: 0}` would replace (rotate) all of them on the next `up`."""
    return None if generation == 0 else {"generation": str(generation)}
