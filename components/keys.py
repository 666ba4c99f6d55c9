"""One NKey per component: Pulumi-kept entropy encoded as a secret seed and a publishable public key."""

from __future__ import annotations

import pulumi
import pulumi_random as random

from dsxbus import nkeys, rotation


class NKey(pulumi.ComponentResource):
    """A seed that stays a Pulumi secret and its public key, which is safe to export."""

    seed: pulumi.Output[str]
    public_key: pulumi.Output[str]

    def __init__(
        self, name: str, kind: nkeys.KeyKind, generation: int = 0, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("dsx-bus:keys:NKey", name, None, opts)
        # The entropy lives (encrypted) in Pulumi state, so every `up` yields the same keys and a
        # lost cluster gets its old identities back. Rotation: a new generation changes the keepers, and Pulumi
        # replaces the RandomBytes (new entropy, new key).
        entropy = random.RandomBytes(
            f"{name}-entropy",
            length=32,
            keepers=rotation.keepers(generation),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.seed = pulumi.Output.secret(entropy.base64.apply(lambda b64: nkeys.seed_from_entropy(kind, b64)))
        # Derived from a secret, so Pulumi would mark it secret; a public key is meant to be read by
        # the other stacks (and by operators), so it is published in the clear.
        self.public_key = pulumi.Output.unsecret(self.seed.apply(nkeys.public_key_from_seed))
        self.register_outputs({"publicKey": self.public_key})
