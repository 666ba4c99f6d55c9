"""Reading a NATS config tree (which certificate files it names) and sharing its accounts among files."""

from __future__ import annotations

import posixpath

from dsxbus import natsconf
from dsxbus.topology import Var


def test_certificate_files_are_found_anywhere_or_only_inside_lists() -> None:
    tree: natsconf.Tree = {
        "tls": {"cert_file": "/etc/a.crt", "key_file": "/etc/a.key"},
        "leafnodes": {"remotes": [{"url": "nats://x", "tls": {"ca_file": "/etc/leaf/ca.crt"}}]},
    }
    assert natsconf.certificate_files(tree) == ["/etc/a.crt", "/etc/a.key", "/etc/leaf/ca.crt"]
    assert natsconf.certificate_files(tree, in_lists_only=True) == ["/etc/leaf/ca.crt"]


def _accounts(*names: str) -> natsconf.Tree:
    return {"accounts": {name: {"jetstream": True, "exports": [{"stream": f"{name}.>"}]} for name in names}}


def test_render_entries_is_render_without_the_outer_braces_and_keeps_env_references() -> None:
    tree: natsconf.Tree = {"A": {"users": [{"nkey": Var("A_NKEY")}]}, "B-1": {}}
    inner = "".join("  " + line + "\n" for line in natsconf.render_entries(tree).splitlines())
    assert natsconf.render(tree) == "{\n" + inner + "}\n"
    assert "$A_NKEY" in natsconf.render_entries(tree)


def test_shards_take_the_named_accounts_in_order_and_the_chart_tree_includes_each_in_their_place() -> None:
    entry = len(natsconf.render_entries(_accounts("CPC-a")["accounts"]).encode())  # type: ignore[arg-type]
    tree: natsconf.Tree = {"server_name": "x", **_accounts("SYS", "CPC-a", "CPC-b", "CPC-c")}
    sharded = natsconf.shard_accounts(tree, ["CPC-a", "CPC-b", "CPC-c", "CPC-gone"], limit=2 * entry)
    assert [s.name for s in sharded.shards] == ["nats-accounts-0", "nats-accounts-1"]
    assert [s.text.count(": {") for s in sharded.shards] == [2, 1]  # two fit a shard, the third opens the next
    assert sharded.shards[0].text.startswith("CPC-a: {") and "CPC-c: {" in sharded.shards[1].text
    assert sharded.tree == {
        "server_name": "x",
        "accounts": {
            "SYS": {"jetstream": True, "exports": [{"stream": "SYS.>"}]},
            "nats-accounts-0$include": "../nats-accounts-0/accounts.conf",
            "nats-accounts-1$include": "../nats-accounts-1/accounts.conf",
        },
    }


def test_an_account_larger_than_a_shard_is_alone_in_its_own() -> None:
    sharded = natsconf.shard_accounts(_accounts("CPC-a", "CPC-b"), ["CPC-a", "CPC-b"], limit=10)
    assert [s.text.count(": {") for s in sharded.shards] == [1, 1]


def test_a_shard_mounts_under_etc_where_the_include_relative_to_the_chart_config_dir_finds_it() -> None:
    (shard,) = natsconf.shard_accounts(_accounts("CPC-a"), ["CPC-a"]).shards
    assert shard.mount_path == "/etc/nats-accounts-0"
    assert posixpath.normpath(posixpath.join(natsconf.CHART_CONFIG_DIR, shard.include)) == (
        "/etc/nats-accounts-0/accounts.conf"
    )


def test_nothing_named_nothing_moved() -> None:
    tree = _accounts("SYS")
    assert natsconf.shard_accounts(tree, []) == natsconf.ShardedConf(tree, ())
