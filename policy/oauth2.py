"""Policy 3: a cluster with OAuth2 clients has a complete JWKS block (url, issuer, audience)."""

from __future__ import annotations

import yaml
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from dsxbus import deployed, naming
from policy.reading import (
    AUTH_CALLOUT_CONFIG_FILE,
    Environment,
    Later,
    auth_callouts,
    objects_of,
)


def _validate_oauth2_jwks(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources = objects_of(args)
    later = Later()
    for callout in auth_callouts(resources, later):
        with later.reading(f"the auth-callout of {callout.permissions.label}"):
            oauth2 = callout.document.get("oauth2")
            clients = sorted(oauth2) if isinstance(oauth2, dict) else []
            environment = Environment(callout.deployments, resources)
            env: dict[str, str] = {}
            for name in (n for names in naming.JWKS_ENV_ALIASES.values() for n in names):
                setting = environment.get(name)
                if setting is not None:
                    env[name] = setting.value if setting.value is not None else f"from {setting.source}"
            configs = [yaml.safe_load(c.file(AUTH_CALLOUT_CONFIG_FILE) or "") for c in callout.configs] or [None]
            where = " and ".join(
                [c.label + " config.yaml" for c in callout.configs] + [d.label + " env" for d in callout.deployments]
            )
            for config in configs:
                sources = deployed.jwks_sources(config, env)
                missing = [key for key, source in sources.items() if source is None]
                if sources["url"] and missing:
                    report_violation(
                        f"{where or 'the auth-callout'}: jwks.url is set ({sources['url']}) but jwks."
                        f"{' and jwks.'.join(missing)} is not: the auth-callout exits at start (Fatal) and "
                        "crash-loops, so no client of this cluster can sign in. Fix: set url, issuer and audience "
                        "together (dsx-bus: auth.jwks), or none.",
                        callout.permissions.urn,
                    )
                elif clients and not sources["url"]:
                    report_violation(
                        f"{callout.permissions.label} grants OAuth2 clients {clients}, but no jwks url, issuer and "
                        f"audience is set (in {where or 'any auth-callout config'}): the auth-callout has "
                        "no OAuth2 authenticator, so these clients are rejected (or land in noauth when they sign in "
                        "as 'oauthtoken'). Fix: set auth.jwks url, issuer and audience on this cluster (a dsx-bus CPC "
                        "inherits the CSC's), or remove the oauth2 entries.",
                        callout.permissions.urn,
                    )
    later.settle()


OAUTH2_NEEDS_JWKS = StackValidationPolicy(
    name="oauth2-needs-jwks",
    display_name="OAuth2 clients come with a complete JWKS block",
    description=(
        "A cluster whose permissions.json has OAuth2 clients runs an auth-callout with jwks url, issuer and audience; "
        "and a jwks url never comes without issuer and audience (the auth-callout exits at start)."
    ),
    validate=_validate_oauth2_jwks,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set auth.jwks.url, .issuer and .audience (dsx-bus stack config, or the auth-callout's config.yaml jwks block "
        "/ JWKS_* env), or remove the oauth2 permissions."
    ),
)
