"""Pod-template checksums: a workload rolls exactly when something it reads only at start changes.

What goes in: for every env var a pod takes from a Secret, a fingerprint of the key that Secret key holds: for a
key this stack generates, its name and generation (`keyGenerations`: the only thing that draws new entropy, see
dsxbus.rotation), for the CSC's copy of a CPC's leaf public key the key itself (it changes when that CPC rotates);
for env from a ConfigMap, the value; for a mounted Secret, its keys' fingerprints; config read only at start
(auth-callout's config.yaml); and, on nats-server versions that cannot reload them, the leaf remotes.

Why not the generated public keys themselves: a preview of a first deployment or of a rotation does not know
them yet, and an unknown annotation makes the whole chart's values unknown (nothing in them can be checked or
rendered in preview). The generation is known in preview and changes exactly when the entropy does, except
for a manual `pulumi up --replace` of one RandomBytes, which docs/operations.md replaces with generations.
Nothing secret enters the hash, so the annotation is no Pulumi secret and shows in diffs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dsxbus import natsconf, versions

ANNOTATION = "checksum/read-at-start"
"""The pod-template annotation on nats, nats-mtls, NACK and Surveyor."""
AUTH_CALLOUT_ANNOTATION = "checksum/config"
"""The auth-callout's (its name since the first release: renaming it would roll every auth-callout once)."""


@dataclass(frozen=True)
class EnvReference:
    """One env var a container reads from a Secret or ConfigMap key."""

    env: str
    kind: str
    """`secret` or `configMap`."""
    name: str
    key: str


_REF_KINDS = {"secretKeyRef": "secret", "configMapKeyRef": "configMap"}


def env_references(env: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> tuple[EnvReference, ...]:
    """The Secret/ConfigMap references of a container env, as a chart's `{NAME: {valueFrom}}` map or a pod's
    `[{name, valueFrom}]` list."""
    items = env.items() if isinstance(env, Mapping) else ((item["name"], item) for item in env)
    found = []
    for name, spec in items:
        value_from = spec.get("valueFrom", {}) if isinstance(spec, Mapping) else {}
        for field, kind in _REF_KINDS.items():
            if field in value_from:
                found.append(EnvReference(name, kind, value_from[field]["name"], value_from[field]["key"]))
    return tuple(found)


def generated_key_fingerprint(key_name: str, generation: int) -> str:
    """`nats-auth-signing@0`: a generated key, changed exactly when its generation is."""
    return f"{key_name}@{generation}"


def unreloadable_parts(tree: natsconf.Tree, version: str | None) -> dict[str, str]:
    """Parts of a nats-server config a reload cannot apply on `version`: its leaf remotes before 2.14
    (versions.leaf_remotes_reload). The chart's reloader applies the rest without a restart."""
    leafnodes = tree.get("leafnodes")
    remotes = leafnodes.get("remotes") if isinstance(leafnodes, dict) else None
    if not remotes or versions.leaf_remotes_reload(version):
        return {}
    return {"leafnodes.remotes": natsconf.render({"remotes": remotes})}


def checksum(parts: Mapping[str, str]) -> str:
    """SHA-256 over the named parts, order-independent; a name and a value can't run into the next."""
    return hashlib.sha256(json.dumps(dict(parts), sort_keys=True).encode()).hexdigest()
