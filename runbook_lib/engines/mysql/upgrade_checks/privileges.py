"""Can this account see what the checks read?

information_schema does not refuse a query: it hides what the account may not see. A user with only
USAGE gets empty TABLES, COLUMNS and ROUTINES and every check "passes". So before judging, the account's
global grants are read and each check that needs a missing one is reported as not run for that reason.
"""

from __future__ import annotations

import re
from typing import Any

# What each privilege (granted ON *.*) lets the checks see.
WHY = {
    "SELECT": "information_schema shows only objects the account has a privilege on, and mysql.proc, mysql.event "
              "and mysql.user need SELECT",
    "SHOW VIEW": "VIEW_DEFINITION is empty without it",
    "PROCESS": "the InnoDB dictionary tables (INNODB_SYS_*) need it",
    "TRIGGER": "information_schema.TRIGGERS lists only triggers of tables the account has TRIGGER on",
}
ALL = frozenset(WHY)
_GRANT = re.compile(r"^GRANT\s+(.+?)\s+ON\s+(\S+)\s+TO\s", re.I | re.S)


def global_privileges(grant_lines: list[str]) -> set[str]:
    """Privileges granted ON *.* in SHOW GRANTS output (ALL PRIVILEGES expands to everything)."""
    found: set[str] = set()
    for line in grant_lines:
        match = _GRANT.match(line.strip())
        if not match or match.group(2).replace("`", "") != "*.*":
            continue
        privs = [re.sub(r"\s*\(.*\)$", "", p).strip().upper() for p in match.group(1).split(",")]
        if any(p.startswith("ALL") for p in privs):
            return set(ALL) | {"ALL PRIVILEGES"}
        found.update(privs)
    return found


def missing_privileges(conn: Any) -> tuple[set[str], str]:
    """(needed privileges the current account lacks globally, the account as the server names it)."""
    with conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        account = str(cur.fetchone()[0])
        cur.execute("SHOW GRANTS")
        lines = [str(r[0]) for r in cur.fetchall()]
    return set(ALL) - global_privileges(lines), account


def grant_advice(privileges: set[str], account: str) -> str:
    user, _, host = account.partition("@")
    return f"GRANT {', '.join(sorted(privileges))} ON *.* TO '{user}'@'{host}';"
