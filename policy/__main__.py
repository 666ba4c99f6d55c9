"""The dsx-bus CrossGuard policy pack: `pulumi preview --policy-pack policy` starts this (docs/policy-pack.md)."""

from typing import TYPE_CHECKING

from pulumi_policy import EnforcementLevel, PolicyPack

if TYPE_CHECKING:  # type checkers run from the repository root, where this directory is the package `policy`
    from policy.rules import PACK_DESCRIPTION, PACK_NAME, POLICIES
else:  # the pack runs with this directory as sys.path[0] (`python -m pulumi.policy <engine> .`)
    from rules import PACK_DESCRIPTION, PACK_NAME, POLICIES

# Starts the analyzer's gRPC server, prints its port on stdout for the engine and serves until killed:
# nothing may print to stdout before it.
PolicyPack(
    name=PACK_NAME,
    description=PACK_DESCRIPTION,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.ADVISORY,  # each policy sets its own level; this only covers none set
)
