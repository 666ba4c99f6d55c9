"""The chart-test helpers themselves: path relocation, env building, value-key patterns, tool availability."""

from __future__ import annotations

from pathlib import Path

import pytest

from dsxbus import nkeys
from dsxbus.config import Charts
from tests.charts import helm, serverconf, valuekeys
from tests.charts.podspec import Inventory, PodSpec, is_under, pod_spec_problems, reference_problems

ROOT = Path("/tmp/pod-root")


def test_relocate_moves_a_quoted_path_under_a_mount_below_the_root() -> None:
    text = '"cert_file": "/etc/nats-certs/tls.crt",'
    assert (
        serverconf.relocate(text, ["/etc/nats-certs"], ROOT) == '"cert_file": "/tmp/pod-root/etc/nats-certs/tls.crt",'
    )


def test_relocate_leaves_a_path_on_no_mount_as_written() -> None:
    text = '"ca_file": "/etc/nats-leaf-tls/ca.crt"'
    assert serverconf.relocate(text, ["/etc/nats-certs", "/etc/nats-config"], ROOT) == text


def test_relocate_does_not_take_a_sibling_directory_for_a_mount() -> None:
    text = '"ca_file": "/etc/nats-certs-old/ca.crt"'
    assert serverconf.relocate(text, ["/etc/nats-certs"], ROOT) == text


def test_relocate_moves_an_absolute_include_and_leaves_subjects_and_urls() -> None:
    text = 'include /etc/nats-config/extra.conf;\n"subject": "$SYS.REQ.USER.AUTH", "urls": ["nats://nats:7422"]'
    assert serverconf.relocate(text, ["/etc/nats-config"], ROOT) == (
        'include /tmp/pod-root/etc/nats-config/extra.conf;\n"subject": "$SYS.REQ.USER.AUTH", "urls": ["nats://nats:7422"]'
    )


def test_is_under_matches_the_directory_and_what_is_below_it_only() -> None:
    assert is_under("/etc/nats-certs", "/etc/nats-certs/")
    assert is_under("/etc/nats-certs/tls.crt", "/etc/nats-certs")
    assert not is_under("/etc/nats-certsx/tls.crt", "/etc/nats-certs")


def test_the_chart_conf_parses_with_bare_variables_in_values_and_lists() -> None:
    text = '{\n  "auth_users": [\n    $AUTHX_USER_NKEY\n  ],\n  "issuer": $AUTH_SIGNING_KEY,\n  "port": 4222\n}'
    assert serverconf.document(text) == {
        "auth_users": ["$AUTHX_USER_NKEY"],
        "issuer": "$AUTH_SIGNING_KEY",
        "port": 4222,
    }


def test_the_env_expands_earlier_variables_and_reads_secrets_and_the_downward_api() -> None:
    container = {
        "name": "nats",
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "SERVER_NAME", "value": "$(POD_NAME)"},
            {"name": "XKEY_PUBKEY", "valueFrom": {"secretKeyRef": {"name": "nats-xkey", "key": "pubkey"}}},
        ],
    }
    available = Inventory(secrets={"nats-xkey": {"pubkey": "XKEY"}})
    env = serverconf.environment(container, available, serverconf.PodIdentity("nats-1", "dsx"))
    assert env == {"POD_NAME": "nats-1", "SERVER_NAME": "nats-1", "XKEY_PUBKEY": "XKEY"}


def test_a_secret_value_no_stack_provides_gets_a_stand_in_of_the_right_kind() -> None:
    container = {
        "name": "nats",
        "env": [
            {"name": "AUTH_SIGNING_KEY", "valueFrom": {"secretKeyRef": {"name": "nats-auth-signing", "key": "pubkey"}}},
            {"name": "LEAF_USER_SEED", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "seed"}}},
        ],
    }
    available = Inventory(secrets={"nats-auth-signing": {"pubkey": ""}})  # a CPC not deployed yet: empty
    env = serverconf.environment(container, available, serverconf.PodIdentity("nats-0", "dsx"))
    assert nkeys.public_key_from_seed(env["LEAF_USER_SEED"]).startswith("U")
    assert env["AUTH_SIGNING_KEY"].startswith("A")


def test_an_optional_reference_may_be_missing() -> None:
    pod = PodSpec(
        "Deployment/x",
        {
            "containers": [
                {"name": "x", "envFrom": [{"secretRef": {"name": "maybe", "optional": True}}]},
            ],
            "volumes": [{"name": "v", "configMap": {"name": "absent"}}],
        },
    )
    assert reference_problems(pod, Inventory()) == [
        "Deployment/x: volume 'v' names ConfigMap 'absent', which does not exist"
    ]


def test_an_init_container_mount_of_an_undeclared_volume_is_reported() -> None:
    pod = PodSpec("Pod/x", {"initContainers": [{"name": "i", "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]})
    assert pod_spec_problems(pod) == ["Pod/x: container 'i' mounts volume 'v', which the pod does not declare"]


def test_a_double_star_pattern_spans_any_number_of_path_segments() -> None:
    assert valuekeys.is_free_form("nats", ("config", "merge"))
    assert valuekeys.is_free_form("nats", ("config", "leafnodes", "tls", "patch"))
    assert not valuekeys.is_free_form("nats", ("config", "leafnodes", "tls"))
    assert not valuekeys.is_free_form("nack", ("jetstream", "merge"))


def test_every_listed_exception_names_a_key_its_chart_has(chart_tools: None) -> None:
    pinned = Charts()
    versions = {"nats": pinned.nats, "nack": pinned.nack, "surveyor": pinned.surveyor}
    for chart, patterns in valuekeys.FREE_FORM.items():
        defaults = helm.default_values(chart, versions[chart])
        for pattern in patterns:
            if "*" not in pattern:
                assert valuekeys.unknown_keys(chart, _nested(pattern, {"x": 1}), defaults) == [], pattern
    for chart, paths in valuekeys.DOCUMENTED_IN_COMMENTS.items():
        assert all(not _in(helm.default_values(chart, versions[chart]), p) for p in paths), "now in values.yaml"


def _nested(dotted: str, leaf: object) -> dict[str, object]:
    value: object = leaf
    for part in reversed(dotted.split(".")):
        value = {part: value}
    assert isinstance(value, dict)
    return value


def _in(values: object, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True


def test_without_helm_the_chart_tests_skip_naming_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv(helm.CHARTS_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"helm not on PATH: \.ci/run installs it from the npm package"):
        helm.require_tools()


def test_in_ci_missing_charts_fail_the_chart_tests_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(helm.CHARTS_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"no packaged charts in {tmp_path}"):
        helm.require_tools()


def test_a_chart_version_that_is_not_packaged_fails_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "nats-2.12.5.tgz").write_bytes(b"")
    with pytest.raises(
        helm.ChartNotPackagedError, match=r"nats 2\.12\.6 .* no nats-2\.12\.6\.tgz \(found: nats-2\.12\.5\.tgz\)"
    ):
        helm.archive("nats", "2.12.6", tmp_path)


def test_a_leaf_remote_needs_tls_only_towards_a_tls_leaf_listener_of_the_namespace() -> None:
    hub = {"leafnodes": {"port": 7422, "tls": {"ca_file": "/etc/x/ca.crt"}}}
    plain = {"leafnodes": {"remotes": [{"urls": ["nats://nats.dsx.svc:7422"]}, {"urls": ["nats://csc:7422"]}]}}
    with_tls = {"leafnodes": {"remotes": [{"urls": ["nats://nats:7422"], "tls": {"ca_file": "/etc/x/ca.crt"}}]}}
    services = {"nats": "nats", "nats-headless": "nats"}
    assert serverconf.leaf_tls_problems({"nats": hub, "spoke": plain}, services, "dsx") == [
        "spoke: leafnodes.remotes[0] dials nats://nats.dsx.svc:7422, a TLS leaf listener, without tls settings"
    ]
    assert serverconf.leaf_tls_problems({"nats": hub, "spoke": with_tls}, services, "dsx") == []
