"""Extra accounts (`extraAccounts`): names that stay clear of the built-in accounts and of each other."""

from __future__ import annotations

import re
from collections import defaultdict

from dsxbus import naming
from dsxbus.config import EventBus
from dsxbus.errors import Problem, key_path


def problems(bus: EventBus) -> list[Problem]:
    found: list[Problem] = []
    well_named: list[str] = []
    for name in bus.enabled_extra_accounts:
        why = _name_problem(name)
        if why is None:
            well_named.append(name)
        else:
            found.append(Problem(key_path("extraAccounts", name), name, why))
    return found + _token_collisions(well_named)


def _name_problem(name: str) -> str | None:
    if not re.fullmatch(naming.ACCOUNT_NAME_PATTERN, name):
        return "account names start with a letter and use letters and digits only"
    if name.upper() in naming.RESERVED_ACCOUNTS:
        return f"{', '.join(sorted(naming.RESERVED_ACCOUNTS))} are built-in accounts; choose another name"
    if name.upper().startswith("CPC"):
        return "names starting with 'cpc' are reserved for CPC routing; rename it"
    return None


def _token_collisions(names: list[str]) -> list[Problem]:
    """Env var and Secret keys carry the account name folded to one case, so `Tools` and `TOOLS` would share keys."""
    found: list[Problem] = []
    for what, token_of in (("env var", naming.account_env_token), ("Secret", naming.account_secret_token)):
        sharing: dict[str, list[str]] = defaultdict(list)
        for name in names:
            sharing[token_of(name)].append(name)
        found += [
            Problem(
                key_path("extraAccounts"),
                same,
                f"these accounts share the {what} token {token!r} (names differ only in case): "
                "their keys would overwrite each other; rename one",
            )
            for token, same in sharing.items()
            if len(same) > 1
        ]
    return found


def known(bus: EventBus) -> tuple[str, ...]:
    """Accounts an operator permission may name on this cluster."""
    own = (naming.CSC,) if bus.cluster_type == "csc" else (naming.CPC, naming.CSC)
    return (*own, naming.SYS, *bus.enabled_extra_accounts)
