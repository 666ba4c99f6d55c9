"""Extra accounts (`extraAccounts`): names that stay clear of the built-in accounts and of each other."""

from __future__ import annotations

import re
from collections import defaultdict

from dsxbus import naming
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    found: list[Problem] = []
    env_tokens: dict[str, list[str]] = defaultdict(list)
    secret_tokens: dict[str, list[str]] = defaultdict(list)
    for name in bus.enabled_extra_accounts:
        key = key_path("extraAccounts", name)
        if not re.match(naming.ACCOUNT_NAME_PATTERN, name):
            found.append(Problem(key, name, "account names start with a letter and use letters and digits only"))
            continue
        if name.upper() in naming.RESERVED_ACCOUNTS:
            found.append(
                Problem(
                    key,
                    name,
                    f"{', '.join(sorted(naming.RESERVED_ACCOUNTS))} are built-in accounts; choose another name",
                )
            )
            continue
        if name.upper().startswith("CPC"):
            found.append(Problem(key, name, "names starting with 'cpc' are reserved for CPC routing; rename it"))
            continue
        env_tokens[naming.account_env_token(name)].append(name)
        secret_tokens[naming.account_secret_token(name)].append(name)
    for tokens, what in ((env_tokens, "env var"), (secret_tokens, "Secret")):
        for token, names in tokens.items():
            if len(names) > 1:
                found.append(
                    Problem(
                        key_path("extraAccounts"),
                        names,
                        f"these accounts share the {what} token {token!r} (names differ only in case): "
                        "their keys would overwrite each other; rename one",
                    )
                )
    return found


def known(bus: EventBus) -> tuple[str, ...]:
    """Accounts an operator permission may name on this cluster."""
    own = (naming.CSC,) if bus.cluster_type == "csc" else (naming.CPC, naming.CSC)
    return (*own, naming.SYS, *bus.enabled_extra_accounts)
