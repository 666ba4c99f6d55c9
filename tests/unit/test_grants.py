"""What a permission grant reaches (dsxbus.grants): cross-cluster commands, broadcasts, server APIs, whole accounts,
with deny lists honoured exactly (checked against brute force)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dsxbus import grants
from dsxbus.crosslayer import CrossLayer
from dsxbus.grants import Danger, Landing
from dsxbus.model import GrantRisk, Permissions, SubjectRule

FLEET = CrossLayer(csc_exports=("broadcast.>",), csc_prefixed_exports=("command.>",), cpc_exports=("sensor.>",))
CSC = grants.landing("csc", "CSC", [FLEET])
CPC = grants.landing("cpc", "CPC", [FLEET], "a")
WINDOW = grants.landing("cpc", "CSC", [FLEET], "a")


def _pub(*allow: str, deny: tuple[str, ...] = ()) -> Permissions:
    return Permissions(pub=SubjectRule(allow=allow, deny=deny), sub=SubjectRule(allow=("test.>",)))


def _risks(permissions: Permissions | None, where: Landing) -> dict[str, str]:
    """risk -> witness of the first finding of each risk."""
    found: dict[str, str] = {}
    for reached in grants.reach(permissions, where):
        found.setdefault(reached.risk, reached.witness)
    return found


# --- brute force ----------------------------------------------------------------------------------

patterns = st.builds(
    lambda tokens, tail: ".".join(tokens + [">"] * tail),
    st.lists(st.sampled_from(["a", "b", "*"]), min_size=1, max_size=3),
    st.booleans(),
) | st.just(">")


def _matches(pattern: str, subject: str) -> bool:
    p, s = pattern.split("."), subject.split(".")
    if p[-1] == ">":
        return len(s) >= len(p) and all(t in ("*", u) for t, u in zip(p[:-1], s, strict=False))
    return len(s) == len(p) and all(t in ("*", u) for t, u in zip(p, s, strict=True))


def _every_subject(*pattern_list: str) -> Iterator[str]:
    named = {t for p in pattern_list for t in p.split(".")} - {"*", ">"}
    alphabet = sorted(named | {"z"})
    for n in range(1, max(p.count(".") for p in pattern_list) + 3):
        for tokens in itertools.product(alphabet, repeat=n):
            yield ".".join(tokens)


@given(patterns, st.lists(patterns, max_size=3), patterns, st.lists(patterns, max_size=2))
@example("a.*", ["a.b", "a.*"], ">", [])
@example("a.>", ["a.*"], "a.>", [])
@example(">", ["a.>"], "*.b", ["b.b"])
@example("*.b", ["a.*"], "a.>", [])
def test_what_escapes_into_a_danger_agrees_with_brute_force(
    allow: str, deny: list[str], danger: str, excluding: list[str]
) -> None:
    found = grants.escapes(allow, deny, Danger("serverApis", danger, "", tuple(excluding)))
    stopped = [*deny, *excluding]
    expected = [
        s
        for s in _every_subject(allow, danger, *stopped)
        if _matches(allow, s) and _matches(danger, s) and not any(_matches(d, s) for d in stopped)
    ]
    assert (found is not None) == bool(expected), expected[:3]
    if found is not None:
        assert _matches(allow, found) and _matches(danger, found)
        assert not any(_matches(d, found) for d in stopped)


# --- the CSC --------------------------------------------------------------------------------------


def test_a_wildcard_cpc_id_on_the_csc_commands_every_cpc() -> None:
    (found,) = grants.reach(_pub("test.>", "cpc.*.command.>"), CSC, grants.OPERATOR_RISKS)
    assert (found.risk, found.index, found.allow, found.witness) == (
        "crossClusterCommands",
        1,
        "cpc.*.command.>",
        "cpc.x.command.x",
    )
    assert "cscPrefixedExports 'command.>'" in found.what


def test_a_deny_of_one_cpc_leaves_the_others_commanded() -> None:
    assert _risks(_pub("cpc.*.command.>", deny=("cpc.x.>",)), CSC) == {"crossClusterCommands": "cpc.xx.command.xx"}


def test_a_deny_that_takes_the_whole_overlap_stops_the_reach() -> None:
    assert _risks(_pub("cpc.*.>", deny=("cpc.*.command.>",)), CSC) == {}


def test_denies_that_cover_a_grant_only_together_stop_it() -> None:
    assert _risks(_pub("$KV.>", deny=("$KV.*", "$KV.*.>")), CSC) == {}
    assert _risks(_pub("$KV.>", deny=("$KV.*",)), CSC) == {"serverApis": "$KV.x.x"}


def test_the_csc_telemetry_a_cpc_sends_up_is_no_command() -> None:
    assert _risks(_pub("cpc.*.sensor.>"), CSC) == {}


def test_publishing_a_broadcast_on_the_csc_reaches_every_cpc() -> None:
    assert _risks(_pub("broadcast.>"), CSC) == {"broadcasts": "broadcast.x"}


def test_broadcasts_and_whole_accounts_are_risks_for_anonymous_clients_only() -> None:
    assert grants.risks_for("noauth") == ("crossClusterCommands", "broadcasts", "serverApis", "wholeAccount")
    for kind in ("oauth2", "mtls", "nkey"):
        assert grants.risks_for(kind) == ("crossClusterCommands", "serverApis")
    assert grants.reach(_pub("broadcast.>"), CSC, grants.risks_for("oauth2")) == []


def test_a_cpcs_stream_sourcing_on_the_csc_is_cross_cluster() -> None:
    assert _risks(_pub("csc2cpc.>"), CSC) == {"crossClusterCommands": "csc2cpc.x.x"}


def test_another_jetstream_domain_on_the_csc_is_a_cpc_and_its_own_api_is_not() -> None:
    assert _risks(_pub("$JS.CPC-b.API.>"), CSC) == {
        "serverApis": "$JS.CPC-b.API.x",
        "crossClusterCommands": "$JS.CPC-b.API.x",
    }
    assert _risks(_pub("$JS.API.>", "$JS.CSC.API.>", "$JS.FC.>"), CSC) == {"serverApis": "$JS.API.x"}


def test_unknown_lists_make_every_subject_addressed_to_a_cpc_a_possible_command() -> None:
    unknown = grants.landing("csc", "CSC", None)
    assert _risks(_pub("cpc.*.sensor.>"), unknown) == {"crossClusterCommands": "cpc.x.sensor.x"}
    assert _risks(_pub("broadcast.>"), unknown) == {}  # what is broadcast is not known: not judged


def test_the_lists_of_several_cpcs_are_judged_together() -> None:
    own = CrossLayer(csc_prefixed_exports=("config.>",))
    where = grants.landing("csc", "CSC", [FLEET, own])
    assert where.csc_prefixed_exports == ("command.>", "config.>")
    assert _risks(_pub("cpc.*.config.>"), where) == {"crossClusterCommands": "cpc.x.config.x"}


# --- a CPC ----------------------------------------------------------------------------------------


def test_telemetry_on_a_cpc_crosses_to_the_csc_as_meant() -> None:
    assert _risks(_pub("sensor.>"), CPC) == {}


def test_a_cpc_grant_without_a_pub_allow_list_reaches_the_cscs_jetstream() -> None:
    found = grants.reach(Permissions(sub=SubjectRule(allow=("command.>",))), CPC)
    assert [(r.risk, r.direction, r.index, r.witness) for r in found] == [
        ("wholeAccount", "pub", None, "x"),
        ("crossClusterCommands", "pub", None, "$JS.CSC.API.x"),
        ("serverApis", "pub", None, "$JS.x"),
    ]


def test_no_allow_list_is_the_whole_account_unless_the_deny_list_takes_everything() -> None:
    nothing = Permissions(pub=SubjectRule(deny=(">",)), sub=SubjectRule(allow=("command.>",)))
    assert grants.reach(nothing, CPC) == []
    only: tuple[GrantRisk, ...] = ("wholeAccount",)
    everything = grants.reach(None, CPC, only)
    assert [(r.direction, r.what) for r in everything] == [
        ("pub", "every subject of account 'CPC'"),
        ("sub", "every subject of account 'CPC'"),
    ]


def test_a_cpcs_window_on_the_csc_lets_its_own_telemetry_cross_and_nothing_else() -> None:
    assert _risks(_pub("cpc.a.sensor.>"), WINDOW) == {}
    assert _risks(_pub("cpc.b.sensor.>"), WINDOW) == {"crossClusterCommands": "cpc.b.sensor.x"}
    assert _risks(_pub("cpc.a.command.>"), WINDOW) == {"crossClusterCommands": "cpc.a.command.x"}


def test_the_jetstream_api_in_a_cpcs_window_is_the_cscs() -> None:
    (found,) = [r for r in grants.reach(_pub("$JS.API.>"), WINDOW) if r.risk == "crossClusterCommands"]
    assert found.witness == "$JS.API.x"
    assert "$JS.CSC.API.>" in found.what


# --- other accounts -------------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["SYS", "LaunchLayer"])
def test_other_accounts_know_only_server_apis_and_the_whole_account(account: str) -> None:
    where = grants.landing("csc", account, [FLEET])
    assert _risks(_pub("cpc.*.command.>", "broadcast.>"), where) == {}
    assert _risks(None, where) == {"wholeAccount": "x", "serverApis": "$JS.x"}


def test_an_account_given_as_an_env_reference_is_judged_only_on_what_every_account_has() -> None:
    where = grants.landing("csc", None, [FLEET])
    assert _risks(_pub("cpc.*.command.>", "$SYS.REQ.>"), where) == {"serverApis": "$SYS.REQ.x"}


def test_an_unknown_cluster_with_a_csc_account_is_judged_as_either() -> None:
    where = grants.landing(None, "CSC", None)
    assert _risks(_pub("cpc.*.command.>"), where) == {"crossClusterCommands": "cpc.x.command.x"}


def test_an_invalid_subject_is_left_to_validation() -> None:
    assert grants.reach(_pub("a.>.b"), CSC) == []


# --- messages and readers ------------------------------------------------------------------------


def test_a_finding_says_who_may_publish_what_and_what_it_does() -> None:
    (found,) = grants.reach(_pub("cpc.*.command.>"), CSC, grants.OPERATOR_RISKS)
    assert grants.describe(found, "noauth") == (
        "allows pub 'cpc.*.command.>', so anonymous clients (noauth) may publish to 'cpc.x.command.x': a command to a "
        "CPC (cscPrefixedExports 'command.>': the CSC's cpc.<id>.command.> reaches CPC <id> as command.>, and a "
        "wildcard id reaches every CPC)"
    )
    assert grants.describe(found, "oauth2", "app").startswith("allows pub 'cpc.*.command.>', so OAuth2 client 'app'")


def test_permissions_json_is_read_leniently() -> None:
    read = grants.permissions_of({"pub": {"allow": ["a.>", 3], "extra": True}, "sub": "nonsense", "resp": {"max": 1}})
    assert read == Permissions(pub=SubjectRule(allow=("a.>",)), sub=None)
    assert grants.permissions_of(None) is None


@pytest.mark.parametrize(
    ("kind", "name", "internal"),
    [
        ("nkey", "nack-controller", True),
        ("nkey", "surveyor", True),
        ("nkey", "mtls-sys-leaf", True),
        ("nkey", "leaf-cpc-a", True),
        ("nkey", "leaf-launchlayer-cpc-a", True),
        ("mtls", "sveltos-agent", True),
        ("nkey", "my-service", False),
        ("mtls", "mqtt-client", False),
        ("oauth2", "sveltos-agent", False),
    ],
)
def test_dsx_bus_own_identities_are_told_from_the_operators(kind: str, name: str, internal: bool) -> None:
    assert grants.internal_identity(kind, name) is internal
