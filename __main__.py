"""The dsx-bus Pulumi program: one stack per cluster, the CSC or a CPC of the DSX Event Bus."""

import pulumi

from components import program

bus = program.load_event_bus()
provider = program.kubernetes_provider(bus)
for name, value in program.build(bus, provider).items():
    pulumi.export(name, value)
