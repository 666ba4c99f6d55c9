"""The dsx-bus CrossGuard policy pack (run by `pulumi preview --policy-pack policy`; see docs/policy-pack.md)."""
