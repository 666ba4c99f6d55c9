"""The dsx-bus CrossGuard policies: the silent failures of a DSX Event Bus deployment, found in `pulumi preview`.

Each policy reads Kubernetes objects (or chart values, or dsx-bus component outputs) into plain values and asks
`dsxbus` the same questions the config model asks, so a stack that does not use dsx-bus's components (or bypasses
its config model) is held to the same rules. One module per policy family: cross_layer, mtls, oauth2, leafs,
grants, hygiene; reading.py turns what the analyzer hands over into plain values.
"""

from __future__ import annotations

from pulumi_policy import Policy

from policy.cross_layer import CROSS_LAYER_DOUBLE_ROUTE, CROSS_LAYER_EXPORTS_DISJOINT, CROSS_LAYER_LISTS_DISJOINT
from policy.grants import GRANTS_CONFINED
from policy.hygiene import IMAGES_PINNED, MQTT_STREAM_REPLICAS_FIT, NOAUTH_DISABLED
from policy.leafs import CPCS_PENDING, LEAF_KEYS_ADMITTED, LEAF_LEAST_PRIVILEGE
from policy.mtls import MTLS_NAMES_AGREE, TLSROUTE_HOSTNAMES_ARE_DNS_NAMES
from policy.oauth2 import OAUTH2_NEEDS_JWKS

PACK_NAME = "dsx-bus"
PACK_DESCRIPTION = (
    "DSX Event Bus misconfigurations that nats-server, Envoy or the auth-callout only reveal at run time: "
    "overlapping cross-layer lists, mTLS name mismatches, OAuth2 without JWKS, unadmitted or over-privileged "
    "CPC leafs, anonymous or operator grants reaching other clusters or server APIs, and production hygiene."
)

POLICIES: list[Policy] = [
    CROSS_LAYER_LISTS_DISJOINT,
    CROSS_LAYER_EXPORTS_DISJOINT,
    TLSROUTE_HOSTNAMES_ARE_DNS_NAMES,
    MTLS_NAMES_AGREE,
    OAUTH2_NEEDS_JWKS,
    LEAF_KEYS_ADMITTED,
    LEAF_LEAST_PRIVILEGE,
    GRANTS_CONFINED,
    CPCS_PENDING,
    CROSS_LAYER_DOUBLE_ROUTE,
    NOAUTH_DISABLED,
    MQTT_STREAM_REPLICAS_FIT,
    IMAGES_PINNED,
]
