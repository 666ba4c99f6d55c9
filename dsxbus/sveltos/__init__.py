"""Project Sveltos on the bus: the `sveltos` block (config), what dsx-bus deploys for it (manifests), the agent.

research/sveltos/SPEC.md is the contract. The agent reads Secret `projectsveltos/sveltos-nats` (key
`sveltos-nats`, JSON) in each managed cluster, subscribes, and reports matching CloudEvents; event-manager
then runs the EventTriggers that reference the matching EventSource. The rules on the block: dsxbus.checks.sveltos.
"""
