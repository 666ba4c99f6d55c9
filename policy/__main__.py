"""The dsx-bus CrossGuard policy pack: `pulumi preview --policy-pack policy` starts this (docs/policy-pack.md)."""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# Pulumi runs the pack with this directory as sys.path[0]; the repository root makes it the package `policy`,
# as it is for the tests, so its modules import each other one way.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.rules import PACK_DESCRIPTION, PACK_NAME, POLICIES  # after the path above

# Starts the analyzer's gRPC server, prints its port on stdout for the engine and serves until killed:
# nothing may print to stdout before it.
PolicyPack(
    name=PACK_NAME,
    description=PACK_DESCRIPTION,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.ADVISORY,  # each policy sets its own level; this only covers none set
)
