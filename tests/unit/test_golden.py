"""dsx-bus renders what the upstream chart renders, for the chart's own CSC and CPC-1 scenarios.

Upstream: research/dsx/rendered/{csc,cpc}.yaml, rendered from values-{csc,cpc}.yaml. The comparison is
semantic: upstream JSON-ish nats.conf is read as JSON once its `include` lines and bare `$VAR`s are dealt
with, and accounts.conf / leafnodes.conf are read with small line regexes into the same tree shape that
`dsxbus.natsconf` builds. Every difference found is asserted explicitly, then removed, then the rest must be
equal:

1. nats.conf: upstream has `allow_non_tls: true` and `tls: {}` (the nats chart's defaults with no TLS
   configured); dsx-bus leaves both out. With no certificate there is no TLS to allow plaintext beside.
2. nats.conf: `jetstream.max_memory_store` is `2Gi` upstream and 2147483648 (the same bytes) in dsx-bus,
   which writes sizes as plain integers.
3. nats.conf: `jetstream.domain` is `$NATS_JS_DOMAIN` upstream (from the `nats-env-config` ConfigMap) and
   the literal value of that variable in dsx-bus.
4. nats-mtls.conf: the first leaf remote's account is `$MTLS_LEAF_ACCOUNT` upstream and the literal value of
   that variable (CSC / CPC) in dsx-bus.
5. permissions.json: the CSC's `leaf-cpc-<id>` entries carry `permissions` confining the leaf to its own
   `cpc.<id>.>` (docs/measured-facts.md §3); upstream gives leafs the whole CSC account. Extra-account leafs
   (`leaf-<account>-cpc-<id>`) keep their whole, fleet-wide account but for the server's internals.
6. permissions.json: `nack-controller` and `surveyor` carry `permissions` (the JetStream API; the SYS pings
   Surveyor sends) where upstream gives them their whole account (docs/threat-model.md). So do nats-mtls's
   `mtls-leaf` (what the cluster's mTLS clients may do, and MQTT's needs; never `$SYS.`) and `mtls-sys-leaf`
   (answers and events, no system requests).
7. accounts.conf of a CPC: upstream's CPC account imports the whole CSC JetStream API (`$JS.API.>` as
   `$JS.CSC.API.>`) and all flow control (`$JS.FC.>`), so any client of the CPC account (anonymous MQTT lands
   there) could administer the CSC's streams. dsx-bus imports only consumer creation on the CPC's own source
   streams on the CSC and their flow control (docs/threat-model.md).
8. Input, not output: the upstream CSC values have OAuth2 clients and no `jwks`; dsx-bus refuses that (the
   auth-callout would have no OAuth2 authenticator), so the scenario here adds a jwks block, which changes
   none of the compared files. dsx-bus also needs `leafEndpoint` on the CSC and a server certificate source
   (`mtls.hostnames` + `certificateIssuer`) when mTLS is on; neither appears in the compared files.
9. Input, not output: upstream's noauth and mTLS `mqtt-client` hold whole accounts (the CSC's JetStream API, every
   CPC's commands); dsx-bus refuses such grants unless the entry acknowledges them (dsxbus.grants), so the
   scenarios do. `acknowledge` is config only and never rendered, so the compared permissions.json is unchanged.
10. accounts.conf of the CSC: the per-CPC source streams live in an account of their own, SOURCES (a push
   consumer a CPC's leaf creates delivers into that account only: docs/threat-model.md). The CSC account exports
   consumer creation and flow control of its two sourced MQTT streams and the deliver prefix `csc2sources.>` to
   SOURCES; SOURCES exports its consumer creation, and each CPC's flow control and deliveries (`csc2cpc.<id>.>`),
   to that CPC's account (difference 13), which imports them (as `$JS.CSC-SOURCES.API.`). On a CPC, the `CSC`
   account exports that consumer creation instead of the whole `$JS.API.>` (which it had mapped to the CSC's
   domain), and the CPC account imports it unrenamed.
11. accounts.conf of a CPC: a CSC with `mqttStreams.uplinks` sources the CPC's `$MQTT_msgs` and `$MQTT_rmsgs` (QoS 1
   and retained up, which upstream loses: docs/measured-facts.md §1). The CPC account exports those sources'
   deliveries (`cpc2csc.<id>.>`), and the `CSC` account imports them and the flow control of the CPC's two streams,
   whether or not its CSC has uplinks (a CPC does not know). On the CSC (uplinks are on unless `mqttStreams.uplinks:
   false`), each CPC's account (difference 13) has JetStream and holds that CPC's uplink streams; it exports its
   JetStream API (to SOURCES, for NACK, and to the CSC account, which imports consumer creation on the uplinks as
   `$JS.CSC-CPC-<id>.API.`), their flow control and deliveries (`uplink2csc.<id>.>`) to the CSC account.
   permissions.json of the CSC: `nack-sources`, NACK's identity in SOURCES, with NACK's grant and each CPC
   account's JetStream API.
12. nats.conf and nats-mtls.conf: `mqtt.max_ack_pending` is written out (1024, nats-server's own default) where
   upstream leaves it unset: before 2.15.1 a reload with it unset silences every held QoS 1 subscription
   (dsxbus.versions.MQTT_RELOAD_KEEPS_MAX_ACK_PENDING), and the chart's reloader reloads on every config and
   certificate change.
13. accounts.conf and permissions.json of the CSC: each CPC's leaf lands in an account of its own, `CPC-<id>`
   (upstream: the CSC account), which exports to the CSC account only that CPC's `cpc.<id>.` cpcExports and
   imports only the cscExports and that CPC's cscPrefixedExports (none in these scenarios), and its stream
   sources' consumer creation, flow control and deliveries from SOURCES. A forged flow control request or
   JetStream answer from a CPC's leaf is answered in that account (docs/threat-model.md, holes A and B).
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsxbus import natsconf, permissions, render, stackfile, subjects, topology
from dsxbus.config import EventBus
from dsxbus.errors import ConfigError

RENDERED = Path(__file__).resolve().parent.parent / "fixtures" / "upstream-render"

# Difference 9 (input): upstream's noauth and mTLS client hold whole accounts; dsx-bus refuses that unacknowledged.
ANONYMOUS = ["crossClusterCommands", "broadcasts", "serverApis", "wholeAccount"]
OPERATOR = ["crossClusterCommands", "serverApis"]

CSC_RAW: dict[str, Any] = {
    "clusterType": "csc",
    "leafEndpoint": "nats://172.18.200.1:7422",
    "cpcs": {"1": "cpc-1", "2": "cpc-2"},
    "mtls": {"enabled": True, "hostnames": ["nats-mtls.csc.example.com"], "certificateIssuer": {"name": "ca"}},
    "extraAccounts": {"LaunchLayer": {"enabled": True, "jetstream": True}},
    "auth": {
        "jwks": {"url": "https://idp.example.com/jwks.json", "issuer": "https://idp.example.com", "audience": "dsx"},
        "permissions": {
            "oauth2": {
                "mqtt-client": {
                    "azp": "mqtt-client",
                    "account": "CSC",
                    "permissions": {"pub": {"allow": ["test.>"]}, "sub": {"allow": ["test.>"]}},
                }
            },
            "mtls": {"mqtt-client": {"identity": "CN=mqtt-client.csc", "account": "CSC", "acknowledge": OPERATOR}},
            "noauth": {"account": "CSC", "acknowledge": ANONYMOUS},
        },
    },
    "authCallout": {"image": "registry.example.com/dsx-exchange/auth-callout:v0.1.0"},
}

CPC_RAW: dict[str, Any] = {
    "clusterType": "cpc",
    "clusterId": "1",
    "cscEndpoint": "nats://172.18.200.1:7422",
    "mtls": {"enabled": True, "hostnames": ["nats-mtls.cpc-1.example.com"], "certificateIssuer": {"name": "ca"}},
    "extraAccounts": {"LaunchLayer": {"enabled": True, "jetstream": True}},
    "crossLayer": {"cscExports": ["broadcast.>"], "cscPrefixedExports": ["command.>"], "cpcExports": ["sensor.>"]},
    "auth": {
        "permissions": {
            "mtls": {"mqtt-client": {"identity": "CN=mqtt-client.cpc-1", "account": "CPC", "acknowledge": OPERATOR}},
            "noauth": {"account": "CPC", "acknowledge": ANONYMOUS},
        }
    },
    "authCallout": {"image": "registry.example.com/dsx-exchange/auth-callout:v0.1.0"},
}

SCENARIOS = {"csc": CSC_RAW, "cpc": CPC_RAW}


# ---- reading the upstream render ------------------------------------------------------------------


@cache
def _config_maps(scenario: str) -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    for doc in yaml.safe_load_all((RENDERED / f"{scenario}.yaml").read_text()):
        if doc and doc.get("kind") == "ConfigMap":
            maps[doc["metadata"]["name"]] = doc["data"]
    return maps


def _upstream(scenario: str, config_map: str, key: str) -> str:
    return _config_maps(scenario)[config_map][key]


_INCLUDE = re.compile(r"^\s*include [^;]+;\s*$", re.MULTILINE)
_BARE_VAR = re.compile(r"(?<![\"\w.])\$([A-Z_][A-Z0-9_]*)\b(?!\")")
_BARE_SIZE = re.compile(r":\s*(\d+[KMGT]i)\b")


def _json_conf(text: str) -> dict[str, Any]:
    """The chart's sorted-JSON nats.conf: drop `include` lines, quote bare `$VAR` and `2Gi`."""
    text = _INCLUDE.sub("", text)
    text = _BARE_VAR.sub(r'"$\1"', text)
    text = _BARE_SIZE.sub(r': "\1"', text)
    text = re.sub(r",(\s*[}\]])", r"\1", text)  # a removed include may leave nothing to trail
    result: dict[str, Any] = json.loads(text)
    return result


_ACCOUNT = re.compile(r"^(\w+) \{$")
_EXPORT = re.compile(r'^\{ (stream|service): "([^"]+)"(?:, response_type: (\w+))? \}$')
_IMPORT = re.compile(r'^\{ (stream|service): \{ account: (\w+), subject: "([^"]+)" \}(?:, to: "([^"]+)")? \}$')
_MAPPING = re.compile(r'^"([^"]+)": "([^"]+)"$')
_JETSTREAM = re.compile(r"^jetstream: (true|false)$")


def _accounts_conf(text: str) -> dict[str, Any]:
    """The chart's accounts.conf (INVENTORY §4) as the tree `natsconf.accounts_tree` builds; unknown lines fail."""
    accounts: dict[str, Any] = {}
    current: dict[str, Any] | None = None
    section: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if current is None:
            match = _ACCOUNT.match(line)
            assert match, f"not an account start: {line!r}"
            current = accounts.setdefault(match.group(1), {})
        elif section is None and line in ("exports: [", "imports: [", "mappings: {"):
            section = line.split(":")[0]
            current[section] = {} if section == "mappings" else []
        elif section is not None and line in ("]", "}"):
            section = None
        elif section is None and line == "}":
            current = None
        elif section is None and (match := _JETSTREAM.match(line)):
            current["jetstream"] = match.group(1) == "true"
        elif section == "exports" and (match := _EXPORT.match(line)):
            export: dict[str, Any] = {match.group(1): match.group(2)}
            if match.group(3):
                export["response_type"] = match.group(3)
            current["exports"].append(export)
        elif section == "imports" and (match := _IMPORT.match(line)):
            item: dict[str, Any] = {match.group(1): {"account": match.group(2), "subject": match.group(3)}}
            if match.group(4):
                item["to"] = match.group(4)
            current["imports"].append(item)
        elif section == "mappings" and (match := _MAPPING.match(line)):
            current["mappings"][match.group(1)] = match.group(2)
        else:
            raise AssertionError(f"unexpected accounts.conf line: {line!r}")
    assert current is None and section is None, "accounts.conf ends inside a block"
    return accounts


_REMOTE = re.compile(r"\{\s*urls: (\[[^\]]*\])\s*nkey: \$(\w+)\s*account: \"?(\w+)\"?\s*\}")


def _leafnodes_conf(text: str) -> dict[str, Any]:
    remotes = [
        {"urls": json.loads(urls), "account": account, "nkey": f"${var}"}
        for urls, var, account in _REMOTE.findall(text)
    ]
    assert len(remotes) == text.count("urls:"), "a remote the regex did not read"
    return {"remotes": remotes} if remotes else {}


def _upstream_main(scenario: str) -> dict[str, Any]:
    tree = _json_conf(_upstream(scenario, "nats-config", "nats.conf"))
    tree["accounts"].update(_accounts_conf(_upstream(scenario, "nats-accounts-config", "accounts.conf")))
    tree["leafnodes"].update(_leafnodes_conf(_upstream(scenario, "nats-leafnodes-config", "leafnodes.conf")))
    return tree


def _upstream_mtls(scenario: str) -> dict[str, Any]:
    tree = _json_conf(_upstream(scenario, "nats-mtls-config", "nats.conf"))
    tree["accounts"].update(_accounts_conf(_upstream(scenario, "nats-mtls-accounts-config", "accounts.conf")))
    return tree


def _upstream_env(scenario: str) -> dict[str, str]:
    return _config_maps(scenario)["nats-env-config"]


def _upstream_permissions(scenario: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_upstream(scenario, "auth-callout-permissions", "permissions.json"))
    return result


# ---- dsx-bus side ---------------------------------------------------------------------------------


def _bus(scenario: str) -> EventBus:
    bus, _ = stackfile.parse(copy.deepcopy(SCENARIOS[scenario]))
    return bus


def _plain(value: Any) -> Any:
    """A natsconf tree with env references as `$NAME`, as upstream writes them."""
    if isinstance(value, topology.Var):
        return f"${value.name}"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _ours(scenario: str) -> render.ClusterFiles:
    return render.cluster_files(_bus(scenario))


def _ours_permissions(scenario: str) -> dict[str, Any]:
    """permissions.json as dsx-bus writes the file, read back."""
    result: dict[str, Any] = json.loads(permissions.render(permissions.permissions_document(_bus(scenario))))
    return result


# ---- the reader itself ----------------------------------------------------------------------------


def test_the_accounts_reader_refuses_a_line_it_does_not_know() -> None:
    with pytest.raises(AssertionError, match="unexpected"):
        _accounts_conf('CSC {\n  exports: [\n    { stream: "a.>", weird: 1 }\n  ]\n}\n')


def test_the_cpc_upstream_accounts_conf_reads_into_three_accounts() -> None:
    accounts = _accounts_conf(_upstream("cpc", "nats-accounts-config", "accounts.conf"))
    assert list(accounts) == ["CSC", "CPC", "LaunchLayer"]
    assert len(accounts["CSC"]["exports"]) == 6
    assert len(accounts["CPC"]["imports"]) == 5


# ---- accounts -------------------------------------------------------------------------------------


NARROWED: dict[
    str, list[dict[str, Any]]
] = {  # differences 7 and 10, for CPC 1: what replaces upstream's two wide imports, in the same place
    "imports": [{"service": {"account": "CSC", "subject": "$JS.API.>"}, "to": "$JS.CSC.API.>"}],
    "narrowed": [
        {"service": {"account": "CSC", "subject": f"$JS.CSC-SOURCES.API.CONSUMER.CREATE.{stream}{tail}"}}
        for stream in ("MQTT_msgs_cpc_1", "MQTT_rmsgs_cpc_1")
        for tail in ("", ".>")
    ],
    "flow_control": [{"service": {"account": "CSC", "subject": "$JS.FC.>"}}],
    "narrowed_flow_control": [
        {"service": {"account": "CSC", "subject": "$JS.FC.MQTT_msgs_cpc_1.>"}},
        {"service": {"account": "CSC", "subject": "$JS.FC.MQTT_rmsgs_cpc_1.>"}},
    ],
}


def _narrow_cpc_js_imports(accounts: dict[str, Any]) -> dict[str, Any]:
    imports = accounts["CPC"]["imports"]
    for wide, narrow in (("imports", "narrowed"), ("flow_control", "narrowed_flow_control")):
        (entry,) = NARROWED[wide]
        at = imports.index(entry)
        imports[at : at + 1] = NARROWED[narrow]
    exports = accounts["CSC"]["exports"]
    at = exports.index({"service": "$JS.API.>", "response_type": "stream"})
    exports[at] = {"service": "$JS.CSC-SOURCES.API.CONSUMER.CREATE.>"}
    return accounts


def _to(account: str, *entries: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**entry, "accounts": [account]} for entry in entries]


def _from(account: str, kind: str, subject: str, to: str | None = None) -> dict[str, Any]:
    return {kind: {"account": account, "subject": subject}, **({"to": to} if to else {})}


_CREATE = [f"$JS.API.CONSUMER.CREATE.$MQTT_{kind}{tail}" for kind in ("msgs", "rmsgs") for tail in ("", ".>")]
_CPC_FC = {i: [f"$JS.FC.MQTT_{kind}_cpc_{i}.>" for kind in ("msgs", "rmsgs")] for i in ("1", "2")}


def _uplink_create(i: str) -> list[str]:
    return [
        f"$JS.API.CONSUMER.CREATE.MQTT_{kind}_from_cpc_{i}{tail}" for kind in ("msgs", "rmsgs") for tail in ("", ".>")
    ]


def _uplink_fc(i: str) -> list[str]:
    return [f"$JS.FC.MQTT_{kind}_from_cpc_{i}.>" for kind in ("msgs", "rmsgs")]


def _cpc_account(i: str) -> dict[str, Any]:
    """Differences 11 and 13: CPC `i`'s account on the CSC, where its leaf lands and its uplink streams live (the
    scenario's lists are empty)."""
    own = [f"$JS.API.CONSUMER.CREATE.MQTT_{kind}_cpc_{i}{tail}" for kind in ("msgs", "rmsgs") for tail in ("", ".>")]
    return {
        "jetstream": True,
        "exports": [
            {"service": "$JS.API.>", "response_type": "stream", "accounts": ["CSC", "SOURCES"]},
            *_to("CSC", *({"service": s} for s in _uplink_fc(i)), {"stream": f"uplink2csc.{i}.>"}),
        ],
        "imports": [
            *(_from("SOURCES", "service", s, s.replace("$JS.API.", "$JS.CSC-SOURCES.API.")) for s in own),
            *(_from("SOURCES", "service", s) for s in _CPC_FC[i]),
            _from("SOURCES", "stream", f"csc2cpc.{i}.>"),
        ],
    }


SOURCES_ACCOUNTS: dict[str, Any] = {  # differences 10 and 13, for the upstream CSC scenario's CPCs 1 and 2
    "CSC": {
        "jetstream": True,
        "exports": _to(
            "SOURCES",
            *({"service": s} for s in _CREATE),
            {"service": "$JS.FC.$MQTT_msgs.>"},
            {"service": "$JS.FC.$MQTT_rmsgs.>"},
            {"stream": "csc2sources.>"},
        ),
        # Difference 11: the CSC's MQTT streams source each CPC's uplink streams in that CPC's account.
        "imports": [
            entry
            for i in ("1", "2")
            for entry in (
                *(
                    _from(f"CPC-{i}", "service", s, s.replace("$JS.API.", f"$JS.CSC-CPC-{i}.API."))
                    for s in _uplink_create(i)
                ),
                *(_from(f"CPC-{i}", "service", s) for s in _uplink_fc(i)),
                _from(f"CPC-{i}", "stream", f"uplink2csc.{i}.>"),
            )
        ],
    },
    "SOURCES": {
        "jetstream": True,
        "exports": [
            {"service": "$JS.API.CONSUMER.CREATE.>", "accounts": ["CPC-1", "CPC-2"]},
            *(
                entry
                for i in ("1", "2")
                for entry in _to(f"CPC-{i}", *({"service": s} for s in _CPC_FC[i]), {"stream": f"csc2cpc.{i}.>"})
            ),
        ],
        "imports": [
            *(_from("CSC", "service", s, s.replace("$JS.API.", "$JS.CSC-MQTT.API.")) for s in _CREATE),
            _from("CSC", "service", "$JS.FC.$MQTT_msgs.>"),
            _from("CSC", "service", "$JS.FC.$MQTT_rmsgs.>"),
            _from("CSC", "stream", "csc2sources.>"),
            # NACK (as nack-sources) creates each CPC's uplink streams through that account's JetStream API.
            *(_from(f"CPC-{i}", "service", "$JS.API.>", f"$JS.CSC-CPC-{i}.API.>") for i in ("1", "2")),
        ],
    },
    "CPC-1": _cpc_account("1"),
    "CPC-2": _cpc_account("2"),
}


def _add_sources_account(accounts: dict[str, Any]) -> dict[str, Any]:
    assert accounts["CSC"] == {"jetstream": True}
    extras = {name: value for name, value in accounts.items() if name != "CSC"}
    return {**SOURCES_ACCOUNTS, **extras}


def _add_uplinks(accounts: dict[str, Any]) -> dict[str, Any]:
    """Difference 11, for CPC 1."""
    accounts["CSC"]["imports"] += [
        _from("CPC", "stream", "cpc2csc.1.>"),
        _from("CPC", "service", "$JS.FC.$MQTT_msgs.>"),
        _from("CPC", "service", "$JS.FC.$MQTT_rmsgs.>"),
    ]
    accounts["CPC"]["exports"] += [{"stream": "cpc2csc.1.>"}]
    return accounts


def _documented_accounts(scenario: str, accounts: dict[str, Any]) -> dict[str, Any]:
    """Differences 7, 10 and 11 applied to upstream's accounts."""
    return _add_uplinks(_narrow_cpc_js_imports(accounts)) if scenario == "cpc" else _add_sources_account(accounts)


@pytest.mark.parametrize("scenario", ["csc", "cpc"])
def test_the_cluster_accounts_equal_upstream_accounts_conf(scenario: str) -> None:
    upstream = _documented_accounts(
        scenario, _accounts_conf(_upstream(scenario, "nats-accounts-config", "accounts.conf"))
    )
    ours = _plain(natsconf.accounts_tree(topology.cluster_accounts(_bus(scenario))))
    assert ours == upstream
    assert list(ours) == list(upstream)  # CSC before CPC: the measured shape


@pytest.mark.parametrize("scenario", ["csc", "cpc"])
def test_the_mtls_accounts_equal_upstream_nats_mtls_accounts_conf(scenario: str) -> None:
    upstream = _accounts_conf(_upstream(scenario, "nats-mtls-accounts-config", "accounts.conf"))
    ours = _plain(natsconf.accounts_tree(topology.mtls_accounts(_bus(scenario))))
    domain = "CSC" if scenario == "csc" else "CPC"
    assert {domain: ours.pop(domain)} == upstream
    assert set(ours) == {"AUTH", "AUTHX", "SYS"}  # inline in upstream's nats-mtls.conf, compared below


# ---- leaf remotes ---------------------------------------------------------------------------------


def test_the_cpc_leaf_remotes_equal_upstream_leafnodes_conf() -> None:
    upstream = _leafnodes_conf(_upstream("cpc", "nats-leafnodes-config", "leafnodes.conf"))["remotes"]
    bus = _bus("cpc")
    ours = [_plain(natsconf.remote_tree(r)) for r in topology.leaf_remotes(bus, bus.csc_endpoint or "")]
    assert ours == upstream
    assert [r["nkey"] for r in ours] == ["$LEAF_USER_SEED", "$LEAF_LAUNCHLAYER_USER_SEED"]


def test_the_csc_has_no_leaf_remotes_like_upstream() -> None:
    assert _leafnodes_conf(_upstream("csc", "nats-leafnodes-config", "leafnodes.conf")) == {}
    assert "remotes" not in _plain(_ours("csc").nats_conf)["leafnodes"]


# ---- whole server configs -------------------------------------------------------------------------


def _assert_and_remove_max_ack_pending(ours: dict[str, Any], upstream: dict[str, Any]) -> None:
    """Difference 12."""
    assert "max_ack_pending" not in upstream["mqtt"]
    assert ours["mqtt"].pop("max_ack_pending") == natsconf.MQTT_MAX_ACK_PENDING


@pytest.mark.parametrize("scenario", ["csc", "cpc"])
def test_the_main_nats_conf_equals_upstream_but_for_the_documented_differences(scenario: str) -> None:
    upstream = _upstream_main(scenario)
    ours = _plain(_ours(scenario).nats_conf)
    # 1. upstream's inert TLS defaults
    assert upstream.pop("allow_non_tls") is True
    assert upstream.pop("tls") == {}
    # 2. a size written with a unit upstream, in bytes here
    assert upstream["jetstream"]["max_memory_store"] == "2Gi"
    assert ours["jetstream"]["max_memory_store"] == natsconf.size_in_bytes("2Gi")
    upstream["jetstream"]["max_memory_store"] = ours["jetstream"]["max_memory_store"]
    # 3. the JetStream domain: an env reference upstream, its value here
    assert upstream["jetstream"]["domain"] == "$NATS_JS_DOMAIN"
    assert ours["jetstream"]["domain"] == _upstream_env(scenario)["NATS_JS_DOMAIN"]
    upstream["jetstream"]["domain"] = ours["jetstream"]["domain"]
    # 7, 10. the CPC account's narrowed imports of the CSC JetStream API; the CSC's SOURCES account
    upstream["accounts"] = _documented_accounts(scenario, upstream["accounts"])
    _assert_and_remove_max_ack_pending(ours, upstream)
    assert ours == upstream


@pytest.mark.parametrize("scenario", ["csc", "cpc"])
def test_the_nats_mtls_conf_equals_upstream_but_for_the_documented_difference(scenario: str) -> None:
    upstream = _upstream_mtls(scenario)
    files = _ours(scenario)
    assert files.nats_mtls_conf is not None
    ours = _plain(files.nats_mtls_conf)
    # 4. the mtls leaf's account: an env reference upstream, its value here
    first = upstream["leafnodes"]["remotes"][0]
    assert first["account"] == "$MTLS_LEAF_ACCOUNT"
    assert ours["leafnodes"]["remotes"][0]["account"] == _upstream_env(scenario)["MTLS_LEAF_ACCOUNT"]
    first["account"] = ours["leafnodes"]["remotes"][0]["account"]
    _assert_and_remove_max_ack_pending(ours, upstream)
    assert ours == upstream


@pytest.mark.parametrize("scenario", ["csc", "cpc"])
def test_the_pod_environment_equals_upstream_nats_env_config(scenario: str) -> None:
    assert render.pod_environment(_bus(scenario)) == _upstream_env(scenario)


# ---- permissions.json -----------------------------------------------------------------------------


def _without_service_grants(document: dict[str, Any]) -> dict[str, Any]:
    """Difference 6: the grants dsx-bus gives NACK and Surveyor, asserted and removed."""
    nkey = document["nkey"]
    assert nkey["nack-controller"].pop("permissions") == {
        "pub": {"allow": ["$JS.API.>"]},
        "sub": {"allow": ["_INBOX.>"]},
    }
    assert nkey["surveyor"].pop("permissions")["sub"] == {"allow": ["_INBOX.>"]}
    relay = nkey["mtls-leaf"].pop("permissions")
    assert relay["pub"]["deny"] == relay["sub"]["deny"] == ["$SYS.>"]
    sys_grant = permissions.MTLS_SYS_LEAF_GRANT.model_dump(mode="json", exclude_defaults=True)
    assert nkey["mtls-sys-leaf"].pop("permissions") == sys_grant
    return document


def test_the_cpc_permissions_json_equals_upstream_but_for_service_grants() -> None:
    assert _without_service_grants(_ours_permissions("cpc")) == _upstream_permissions("cpc")


def test_the_csc_permissions_json_equals_upstream_but_for_leaf_and_service_grants() -> None:
    ours = _without_service_grants(_ours_permissions("csc"))
    # 10 and 11. NACK's identity in SOURCES, which also reaches each CPC account's uplink streams
    apis = ["$JS.API.>", "$JS.CSC-CPC-1.API.>", "$JS.CSC-CPC-2.API.>"]
    assert ours["nkey"].pop("nack-sources") == {
        "public_key": "${NKEY_NACK_SOURCES_PUBKEY}",
        "account": "SOURCES",
        "permissions": {"pub": {"allow": apis}, "sub": {"allow": ["_INBOX.>"]}},
    }
    leafs = {
        name: ours["nkey"][name].pop("permissions")
        for name in ("leaf-cpc-1", "leaf-cpc-2", "leaf-launchlayer-cpc-1", "leaf-launchlayer-cpc-2")
    }
    assert all(leafs.values())
    # 13. each CPC's leaf lands in its own account
    for cluster_id in ("1", "2"):
        entry = ours["nkey"][f"leaf-cpc-{cluster_id}"]
        assert entry["account"] == f"CPC-{cluster_id}"
        entry["account"] = "CSC"
    assert ours == _upstream_permissions("csc")


@pytest.mark.parametrize(("cluster_id", "other"), [("1", "2"), ("2", "1")])
def test_the_csc_confines_each_cpc_leaf_to_its_own_prefix(cluster_id: str, other: str) -> None:
    entry = _ours_permissions("csc")["nkey"][f"leaf-cpc-{cluster_id}"]
    allowed = {direction: entry["permissions"][direction]["allow"] for direction in ("pub", "sub")}
    for direction, patterns in allowed.items():
        assert f"cpc.{cluster_id}.>" in patterns, direction
        for pattern in patterns:
            witness = subjects.intersects(pattern, f"cpc.{other}.>")
            assert witness is None, f"{direction} {pattern!r} reaches CPC {other} ({witness!r})"
            assert subjects.intersects(pattern, f"csc2cpc.{other}.>") is None, pattern
    # The only deny: `$MQTT.` subjects of a leaf pass its allow lists (topology.LEAF_DENY).
    assert entry["permissions"]["pub"]["deny"] == entry["permissions"]["sub"]["deny"] == ["$MQTT.>"]


def test_extra_account_leafs_keep_their_fleet_wide_account_but_for_the_server_internals() -> None:
    ours = _ours_permissions("csc")["nkey"]["leaf-launchlayer-cpc-1"]
    rule = {"allow": [">"], "deny": ["$SYS.>", "$MQTT.>"]}  # LaunchLayer has JetStream on the CSC
    assert ours.pop("permissions") == {"pub": rule, "sub": rule}
    assert ours == _upstream_permissions("csc")["nkey"]["leaf-launchlayer-cpc-1"]


# ---- input differences ----------------------------------------------------------------------------


def test_the_upstream_csc_values_without_jwks_are_refused() -> None:
    raw = copy.deepcopy(CSC_RAW)
    del raw["auth"]["jwks"]
    with pytest.raises(ConfigError) as caught:
        stackfile.parse(raw)
    assert [p.key for p in caught.value.problems if not p.warning] == ["dsx-bus:eventBus.auth.permissions.oauth2"]


def test_the_jwks_block_changes_no_compared_file() -> None:
    with_jwks = _bus("csc")
    without = with_jwks.model_copy(update={"auth": with_jwks.auth.model_copy(update={"jwks": None})})
    a, b = render.cluster_files(with_jwks), render.cluster_files(without)
    assert (a.nats_conf, a.nats_mtls_conf, a.permissions) == (b.nats_conf, b.nats_mtls_conf, b.permissions)
