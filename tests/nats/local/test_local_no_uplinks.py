"""A CSC with mqttStreams.uplinks: false (upstream's behaviour), on every supported version: no grant of the
uplinks, and a CPC's QoS 1 MQTT reaches the CSC as upstream's does (QoS 0 subscribers only).

Its own small federation (CSC and CPC a): the example CSC has the uplinks (the default), this one's stack file turns
them off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest
import yaml
from natstools import ROGUE_USER, flow_control_request, leaf_seed_client, rogue_leaf_node

from dsxbus import naming
from dsxbus.local import check, clients, runner, servers
from dsxbus.local.state import Federation

SETTLE = 1.0
"""How long the sinks that must get nothing are watched (a real uplink delivers in ~50 ms: test_local_forgery)."""


@pytest.fixture(scope="module")
def plain_federation(
    tmp_path_factory: pytest.TempPathFactory, make_project: Callable[[Path], Path], nats_version: str
) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp("no-uplinks")
    project = make_project(root / "project")
    stack_file = project / "Pulumi.csc.yaml"
    document = yaml.safe_load(stack_file.read_text())
    document["config"]["dsx-bus:eventBus"]["mqttStreams"] = {"uplinks": False}
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))
    with runner.running_federation(project, root / "run", ["csc", "cpc-a"], say=lambda _: None) as running:
        yield running


async def _forge_flow_control(federation: Federation, rogue: servers.Server) -> dict[str, object]:
    """As the attacker holding CPC a's leaf seed: hole A's forged flow control request, replying into CPC a's
    own `cpc.a.` commands (what a CSC answering it would publish there), and a positive control."""
    attacker = await nats.connect(rogue.url("client"), user=ROGUE_USER[0], password=ROGUE_USER[1])
    try:
        async with clients.opened(federation) as c:
            # Where CPC a's leaf lands on the CSC, and where a forged request would be answered.
            lands_in = naming.cpc_account("a")
            uplink = await c.sink(federation.csc, lands_in, "cpc2csc.>", 0)
            answered = await c.sink(federation.csc, lands_in, "cpc.a.command.forgery", 0)
            own = await c.sink(federation.csc, lands_in, "cpc.a.probe", 1)
            control = await clients.deliver(
                "rogue leaf a -> cpc.a.probe", clients.nats_publisher(attacker, "cpc.a.probe"), [own]
            )
            flow_control_request(rogue, "cpc2csc.a.S.forged", "cpc.a.command.forgery")
            await asyncio.sleep(SETTLE)
            return {"control": control.ok, "cpc2csc.> got": uplink.got, "the reply subject got": answered.got}
    finally:
        await attacker.close()


async def _leaf_seed_refused(federation: Federation) -> dict[str, bool]:
    async with leaf_seed_client(federation, "cpc-a") as (client, errors):
        for subject in ("cpc2csc.a.S.forged", "$JSC.R.forged"):
            await client.publish(subject, b"")
        await client.flush()
        await asyncio.sleep(0.2)
        return {s: errors.refused("publish", s) for s in ("cpc2csc.a.S.forged", "$JSC.R.forged")}


def test_without_uplinks_cpc_a_leaf_key_may_not_forge_flow_control_on_its_uplink_deliver_subjects(
    plain_federation: Federation, tmp_path: Path
) -> None:
    """Hole A needs CPC a's leaf to publish on `cpc2csc.a.>` (docs/threat-model.md): without uplinks the CSC
    grants it neither that nor `$JSC.R.>` (hole B), so the forged request from a rogue leaf never reaches the CSC
    account, and a client signing in with the seed is told so."""
    with rogue_leaf_node(tmp_path, plain_federation, plain_federation.keys["cpc-a"].leaf["CSC"].seed) as rogue:
        servers.wait_for(lambda: servers.leaf_count(rogue) or None, 5, "the rogue leaf to connect")
        found = asyncio.run(_forge_flow_control(plain_federation, rogue))
    assert found == {"control": True, "cpc2csc.> got": [], "the reply subject got": []}
    assert asyncio.run(_leaf_seed_refused(plain_federation)) == {"cpc2csc.a.S.forged": True, "$JSC.R.forged": True}


def test_without_uplinks_local_check_passes_with_upstreams_qos1_expectation(plain_federation: Federation) -> None:
    """A CPC's QoS 1 publish reaches the CSC's QoS 0 subscriber but not its QoS 1 one, and its retained message
    stays on the CPC: every route `local check` expects of a CSC without uplinks holds."""
    assert plain_federation.csc.uplinks is False
    results = check.run(plain_federation)
    assert [r for r in results if not r.ok] == []
    (qos1_up,) = [r for r in results if r.name.startswith("mqtt q1 cpc-a ")]
    assert check.QOS1_UP_NOTE in qos1_up.detail
    (retained_up,) = [r for r in results if r.name.startswith("mqtt retained cpc-a")]
    assert retained_up.name.endswith("-> csc not delivered")
