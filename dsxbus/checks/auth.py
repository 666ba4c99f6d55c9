"""The auth-callout's identities (`auth.permissions`, `authCallout`): accounts, subjects, keys, names dsx-bus takes."""

from __future__ import annotations

from dsxbus import naming, nkeys, subjects
from dsxbus.checks import accounts
from dsxbus.config import EventBus, MtlsIdentity, NkeyIdentity, NoAuth, OAuth2Client, Permissions
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    found = _entry_problems(bus)
    found += _nkey_problems(bus)
    found += _extra_env_problems(bus)
    found += _rogue_leaf_problems(bus)
    found += _unreachable_mtls_problems(bus)
    return found


def _entry_problems(bus: EventBus) -> list[Problem]:
    """Each entry lands in an account this cluster has and names valid subjects."""
    known = accounts.known(bus)
    found: list[Problem] = []
    for _, _, path, entry in identities(bus):
        if os_env_reference(entry.account):
            continue
        if entry.account not in known:
            found.append(
                Problem(
                    key_path(*path, "account"),
                    entry.account,
                    f"no such account on this {bus.cluster_type.upper()}; use one of "
                    f"{', '.join(known)} (extra accounts must be listed in extraAccounts)",
                )
            )
        elif isinstance(entry, NoAuth) and entry.account == naming.SYS:
            found.append(
                Problem(
                    key_path(*path, "account"),
                    entry.account,
                    "anonymous clients would land in the system account: $SYS. subjects report and control every "
                    "server. Put noauth in the cluster's own account or an extra account",
                )
            )
        found += _subject_problems(path, entry.permissions)
    return found


def _nkey_problems(bus: EventBus) -> list[Problem]:
    generated = naming.generated_permission_names(
        bus.cluster_type, bus.mtls.enabled, bus.cpc_ids, bus.enabled_extra_accounts
    )
    found: list[Problem] = []
    for name, entry in bus.auth.permissions.nkey.items():
        if name in generated:
            found.append(
                Problem(
                    key_path("auth", "permissions", "nkey", name),
                    name,
                    "dsx-bus generates an nkey entry with this name and would overwrite yours; rename it",
                )
            )
        if not os_env_reference(entry.public_key) and not nkeys.is_public_key(entry.public_key, nkeys.KeyKind.USER):
            found.append(
                Problem(
                    key_path("auth", "permissions", "nkey", name, "public_key"),
                    entry.public_key,
                    "not a valid NKey user public key (56 characters starting with U)",
                )
            )
    return found


def _extra_env_problems(bus: EventBus) -> list[Problem]:
    generated = naming.generated_env_names(bus.cluster_type, bus.mtls.enabled, bus.cpc_ids, bus.enabled_extra_accounts)
    return [
        Problem(
            key_path("authCallout", "extraEnvs", env),
            env,
            "dsx-bus sets this env var itself (it carries a generated key); remove it",
        )
        for env in bus.auth_callout.extra_envs
        if env in generated
    ]


def _rogue_leaf_problems(bus: EventBus) -> list[Problem]:
    noauth = bus.auth.permissions.noauth
    if bus.cluster_type != "csc" or noauth is None or noauth.account not in (naming.CSC, *bus.enabled_extra_accounts):
        return []
    # What noauth may publish is held to the grant rules; what it may read, a rogue leaf reads too.
    return [
        Problem(
            key_path("auth", "permissions", "noauth", "account"),
            noauth.account,
            "the auth-callout cannot tell a leaf connection from a client, so a leaf with no key "
            "lands in this account with the noauth permissions (docs/measured-facts.md §3) and receives whatever "
            "noauth may subscribe to. Remove noauth on the CSC for production",
            warning=True,
        )
    ]


def _unreachable_mtls_problems(bus: EventBus) -> list[Problem]:
    mtls = bus.auth.permissions.mtls
    if not mtls or bus.mtls.enabled:
        return []
    return [
        Problem(
            key_path("auth", "permissions", "mtls"),
            sorted(mtls),
            "mtls.enabled is false, so these identities can never connect",
            warning=True,
        )
    ]


Entry = OAuth2Client | MtlsIdentity | NkeyIdentity | NoAuth
Identity = tuple[str, str | None, tuple[str | int, ...], Entry]
"""(kind, name, key path, entry) of a permissions.json entry the operator writes; noauth has no name."""


def identities(bus: EventBus) -> list[Identity]:
    perms = bus.auth.permissions
    found: list[Identity] = []
    for kind, entries in (("oauth2", perms.oauth2), ("mtls", perms.mtls), ("nkey", perms.nkey)):
        for name, entry in entries.items():
            found.append((kind, name, ("auth", "permissions", kind, name), entry))
    if perms.noauth is not None:
        found.append(("noauth", None, ("auth", "permissions", "noauth"), perms.noauth))
    return found


def os_env_reference(value: str) -> bool:
    """`${VAR}` / `$VAR`: the auth-callout expands env references in these fields at run time."""
    return value.startswith("$")


def _subject_problems(path: tuple[str | int, ...], permissions: Permissions | None) -> list[Problem]:
    found: list[Problem] = []
    if permissions is None:
        return found
    for direction in ("pub", "sub"):
        rule = getattr(permissions, direction)
        if rule is None:
            continue
        for verdict in ("allow", "deny"):
            for index, subject in enumerate(getattr(rule, verdict)):
                reason = subjects.problem(subject)
                if reason is not None:
                    found.append(
                        Problem(
                            key_path(*path, "permissions", direction, verdict, index),
                            subject,
                            f"not a valid NATS subject: it {reason}",
                        )
                    )
    return found


def oauth2_problems(bus: EventBus, *, inherited: bool = False) -> list[Problem]:
    if not bus.auth.permissions.oauth2 or bus.jwks is not None:
        return []
    where = " (and the CSC exports none to inherit)" if inherited else ""
    return [
        Problem(
            key_path("auth", "permissions", "oauth2"),
            sorted(bus.auth.permissions.oauth2),
            f"OAuth2 clients need auth.jwks (url, issuer, audience) on every cluster{where}: without it the "
            "auth-callout has no OAuth2 authenticator and these clients are rejected or fall to noauth",
        )
    ]
