"""Does `nats-server --signal reload` connect a leaf remote added to the config? (dsxbus.versions.LEAF_REMOTES_RELOAD)

Before 2.14 a reload refuses a changed `leafnodes.remotes` (nats-server PR #7937), so the program rolls the pods
when their leaf remotes change; from 2.14 on a reload connects the new remote and the pods are left alone.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from dsxbus import versions
from dsxbus.local import servers


def _hub(directory: Path, name: str) -> servers.Server:
    conf = directory / f"{name}.conf"
    conf.write_text('listen: "127.0.0.1:-1"\nhttp: "127.0.0.1:-1"\nleafnodes { listen: "127.0.0.1:-1" }\n')
    return servers.wait_ready(servers.start(name, conf, directory / f"{name}.log"), ("client", "http", "leaf"))


def _spoke_conf(hubs: list[servers.Server]) -> str:
    remotes = ", ".join(f'{{ urls: ["{hub.url("leaf")}"] }}' for hub in hubs)
    return f'listen: "127.0.0.1:-1"\nleafnodes {{ reconnect: "100ms", remotes: [ {remotes} ] }}\n'


def _leaf_connects(hub: servers.Server, timeout: float) -> bool:
    try:
        servers.wait_for(lambda: True if servers.leaf_count(hub) else None, timeout, "the added leaf remote")
    except servers.WaitTimeoutError:
        return False
    return True


def test_a_reload_connects_an_added_leaf_remote_only_where_versions_says_so(tmp_path: Path, nats_version: str) -> None:
    first, second = _hub(tmp_path, "hub-1"), _hub(tmp_path, "hub-2")
    conf = tmp_path / "spoke.conf"
    conf.write_text(_spoke_conf([first]))
    spoke = servers.wait_ready(servers.start("spoke", conf, tmp_path / "spoke.log"), ("client",))
    try:
        assert _leaf_connects(first, 5), "the spoke's first remote never connected"
        conf.write_text(_spoke_conf([first, second]))
        os.kill(spoke.pid, signal.SIGHUP)  # what `nats-server --signal reload` sends
        # 1 s: a remote that a reload adds connects within 0.15 s here (reconnect 100ms).
        assert _leaf_connects(second, 1) is versions.leaf_remotes_reload(nats_version)
    finally:
        for server in (spoke, first, second):
            servers.stop(server)
