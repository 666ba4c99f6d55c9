"""What the local runner renders for each cluster, checked on the text and with `nats-server -t`."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from dsxbus import fleet
from dsxbus.local import plan, servers


def _confs(project: Path) -> dict[str, str]:
    stacks = fleet.load(project)
    resolved = {name: fleet.resolve(stacks, name) for name in stacks}
    keys = {name: plan.generate_keys(item.bus) for name, item in resolved.items()}
    cpc_keys = {item.bus.cluster_id or "": keys[n] for n, item in resolved.items() if item.bus.cluster_type == "cpc"}
    return {
        name: plan.main_conf(
            item, keys[name], cpc_keys, csc_leaf_url="nats://127.0.0.1:7422", store_dir="/tmp/dsx-bus-plan-test"
        )
        for name, item in resolved.items()
    }


def test_every_rendered_local_config_loads_in_nats_server(tmp_path: Path, make_project: Callable[[Path], Path]) -> None:
    for name, text in _confs(make_project(tmp_path / "project")).items():
        conf = tmp_path / f"{name}.conf"
        conf.write_text(text)
        result = subprocess.run(
            [servers.nats_server_binary(), "-t", "-c", str(conf)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_noauth_is_configured_for_mqtt_only_so_no_anonymous_leaf_or_client_gets_in(
    tmp_path: Path, make_project: Callable[[Path], Path]
) -> None:
    for name, text in _confs(make_project(tmp_path / "project")).items():
        mqtt, leafnodes = text.index("\n  mqtt: {"), text.index("\n  leafnodes: {")
        assert text.count("no_auth_user") == 1, name
        assert mqtt < text.index("no_auth_user") < leafnodes, name


def test_each_cpc_leaf_user_on_the_csc_is_confined_to_its_own_prefix(
    tmp_path: Path, make_project: Callable[[Path], Path]
) -> None:
    csc = _confs(make_project(tmp_path / "project"))["csc"]

    assert csc.count('"cpc.a.>"') == 2 and csc.count('"cpc.b.>"') == 2  # publish and subscribe allow
    assert '"csc2cpc.a.>"' in csc and '"$JS.CPC-b.API.>"' in csc
