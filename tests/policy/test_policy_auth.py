"""OAuth2 needs JWKS: permissions.json with OAuth2 clients needs an auth-callout with jwks url, issuer and audience."""

from __future__ import annotations

import copy
from typing import Any

from tests.policy import analyzer, programs
from tests.policy.analyzer import Capture, Diagnostic
from tests.program import harness

CONFIG = analyzer.example_config()
JWKS = "oauth2-needs-jwks"
APP = {"pub": {"allow": ["app.>"]}, "sub": {"allow": ["app.>"]}}
OAUTH2_ONLY = {
    "oauth2": {"app": {"azp": "app", "account": "CSC", "permissions": APP}},
    "mtls": {},
    "nkey": {},
    "noauth": None,
}


def _hand(config_yaml: dict[str, Any], env: list[dict[str, Any]]) -> list[Diagnostic]:
    def program() -> None:
        programs.permissions(OAUTH2_ONLY)
        programs.auth_callout_config(config_yaml)
        programs.auth_callout(env)

    return analyzer.analyze(analyzer.capture(program), CONFIG)


def test_oauth2_clients_on_a_cluster_without_jwks_are_mandatory(cpc_outputs: dict[str, dict[str, object]]) -> None:
    bus = copy.deepcopy(harness.stack_config("csc")["dsx-bus:eventBus"])
    del bus["auth"]["jwks"]  # the config model refuses this; the real components build it anyway
    capture: Capture = analyzer.capture(
        lambda: programs.bypassing_the_model(bus),
        stack="csc",
        config=harness.stack_config("csc"),
        stack_outputs=cpc_outputs,
    )
    found = analyzer.analyze(capture, CONFIG)
    assert analyzer.summary(analyzer.mandatory(found)) == [(JWKS, "MANDATORY", "csc-auth-callout-permissions")]
    assert analyzer.only(found, JWKS).message == (
        "ConfigMap auth-callout-permissions (csc-auth-callout-permissions) grants OAuth2 clients ['csc-admin', "
        "'launchlayer-client', 'mqtt-client'], but no jwks url, issuer and audience is set (in ConfigMap "
        "dsx-auth-callout-config (csc-auth-callout-config) config.yaml and Deployment dsx-auth-callout "
        "(csc-auth-callout-deployment) env): the auth-callout has no OAuth2 authenticator, so these clients are "
        "rejected (or land in noauth when they sign in as 'oauthtoken'). Fix: set auth.jwks url, issuer and "
        "audience on this cluster (a dsx-bus CPC inherits the CSC's), or remove the oauth2 entries."
    )


def test_a_jwks_url_without_audience_makes_the_auth_callout_crash_loop() -> None:
    found = _hand({"jwks": {"url": "https://idp.example.com/jwks.json", "issuer": "https://idp.example.com"}}, [])
    assert analyzer.summary(found) == [(JWKS, "MANDATORY", "auth-callout-permissions")]
    assert found[0].message == (
        "ConfigMap auth-callout-config config.yaml and Deployment auth-callout env: jwks.url is set (config.yaml "
        "jwks.url = 'https://idp.example.com/jwks.json') but jwks.audience is not: the auth-callout exits at start "
        "(Fatal) and crash-loops, so no client of this cluster can sign in. Fix: set url, issuer and audience "
        "together (dsx-bus: auth.jwks), or none."
    )


def test_jwks_settings_given_as_env_vars_count() -> None:
    env: list[dict[str, Any]] = [
        {"name": "JWKS_URL", "value": "https://idp.example.com/jwks.json"},
        {"name": "AUTH_CALLOUT_JWKS_ISSUER", "value": "https://idp.example.com"},
        {"name": "JWKS_AUDIENCE", "valueFrom": {"secretKeyRef": {"name": "managed-elsewhere", "key": "aud"}}},
    ]
    assert _hand({"nats": {"url": "nats://nats:4222"}}, env) == []


def test_an_empty_jwks_env_var_does_not_count() -> None:
    env = [{"name": "JWKS_URL", "value": ""}]
    found = _hand({"nats": {"url": "nats://nats:4222"}}, env)
    assert analyzer.summary(found) == [(JWKS, "MANDATORY", "auth-callout-permissions")]
    assert "grants OAuth2 clients ['app']" in found[0].message


def test_a_cpc_inheriting_the_csc_jwks_passes(cpc_a: Capture) -> None:
    config_yaml = next(r for r in cpc_a.resources if r.name == "cpc-a-auth-callout-config")
    assert "dsx-exchange" in str(config_yaml.inputs)  # the inherited audience
    assert [d for d in analyzer.analyze(cpc_a, CONFIG) if d.policy == JWKS] == []
