"""routinesSyntaxCheck: would this stored program still parse under the 8.0 grammar?

MySQL Shell parses each SHOW CREATE with the server's own grammar. No Python package carries MySQL 8.0's
grammar, so the candidates were measured on a fixed list of cases (tests/fixtures/precheck/
routines_syntax_cases.json; table in docs/routines-syntax.md; `python -m runbook_lib.engines.mysql.upgrade_checks.routine_syntax`
prints it):

* ``tokens`` (primary): MySQL lexing (strings, quoted names, comments, /*! */ kept as code), then 8.0's new
  reserved words used unquoted where an identifier stands (not after '.', not as a function name, not in
  the places 8.0's grammar uses them as keywords: FOR EACH ROW, ROWS BETWEEN, WITH RECURSIVE, OVER (...),
  CREATE FUNCTION, MEMBER OF, ...), plus syntax 8.0 removed (GROUP BY ... ASC/DESC, SQL_CACHE, QUERY CACHE
  statements, EXPLAIN EXTENDED/PARTITIONS, PROCEDURE ANALYSE, IDENTIFIED BY PASSWORD, GRANT ... IDENTIFIED BY,
  PASSWORD() in SET PASSWORD, '.<table>').
* fallbacks, labelled as such and used only when asked for: ``regex`` (the earlier reserved-word scan),
  ``sqlglot`` (MySQL dialect, statement by statement) and ``sqlparse`` (its lexer and keyword classes).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from runbook_lib.engines.mysql.upgrade_checks.catalog import RESERVED_80, reserved_words
from runbook_lib.engines.mysql.upgrade_checks.sqltext import Token, empty_dot_tables, group_by_direction, tokens

# Reserved words that are also function names (allowed right before '(').
_FUNCTIONS = {"CUME_DIST", "DENSE_RANK", "FIRST_VALUE", "LAG", "LAST_VALUE", "LEAD", "NTH_VALUE", "NTILE",
              "PERCENT_RANK", "RANK", "ROW_NUMBER", "GROUPING", "JSON_TABLE", "ROW", "LATERAL", "EXCEPT", "INTERSECT"}
_FRAME_NEXT = {"BETWEEN", "UNBOUNDED", "CURRENT"}
_TABLE_CONTEXT = {"INTO", "TABLE", "JOIN", "FROM", "UPDATE", "EXISTS", "TABLES"}


def _word(tok: Token | None) -> str:
    return tok.upper if tok is not None and tok.kind == "word" else (tok.text if tok is not None else "")


def _keyword_use(word: str, prev: Token | None, nxt: Token | None, nxt2: Token | None) -> bool:
    """True when `word` stands where 8.0's grammar uses it as a keyword (so unquoted is right)."""
    p, n = _word(prev), _word(nxt)
    if n == "(":
        if word in ("JSON_TABLE", "LATERAL"):
            return True  # table functions: they stand where a table name stands
        return word in _FUNCTIONS and p not in _TABLE_CONTEXT or word == "OVER" or word == "OF" and p == "MEMBER"
    rules: dict[str, Callable[[], bool]] = {
        "ROW": lambda: p in ("EACH", "CURRENT"),
        "ROWS": lambda: n in _FRAME_NEXT or (nxt is not None and nxt.kind == "number" and _word(nxt2) in
                                             ("PRECEDING", "FOLLOWING")),
        "GROUPS": lambda: n in _FRAME_NEXT,
        "OVER": lambda: p == ")" and nxt is not None and nxt.kind in ("word", "qident"),
        "WINDOW": lambda: nxt is not None and nxt.kind in ("word", "qident") and _word(nxt2) == "AS",
        "RECURSIVE": lambda: p == "WITH",
        "FUNCTION": lambda: p in ("CREATE", "DROP", "ALTER", "ON", "AGGREGATE", "EXISTS") or
        (prev is not None and prev.kind in ("var", "qident") and n != "="),
        "OF": lambda: p in ("MEMBER", "UPDATE", "SHARE"),
        "MEMBER": lambda: n == "OF",
        "ARRAY": lambda: n == ")",
        "EMPTY": lambda: p == "ON" or n == "ON",
        "PERSIST": lambda: p == "SET",
        "PERSIST_ONLY": lambda: p == "SET",
        "ADMIN": lambda: p == "WITH" and n == "OPTION",
        "EXCEPT": lambda: n in ("SELECT", "ALL", "DISTINCT", "TABLE", "VALUES"),
        "INTERSECT": lambda: n in ("SELECT", "ALL", "DISTINCT", "TABLE", "VALUES"),
        "FULL": lambda: p == "SHOW",
    }
    rule = rules.get(word)
    return bool(rule and rule())


def _where(sql: str, pos: int) -> str:
    line = sql.count("\n", 0, pos) + 1
    column = pos - (sql.rfind("\n", 0, pos) + 1)
    return f"at line {line},{column}"


_REMOVED_WORDS = ("SQL_CACHE", "QUERY", "EXTENDED", "PARTITIONS", "ANALYSE", "IDENTIFIED", "PASSWORD", "GROUP", ".")


@lru_cache(maxsize=16)
def _hint(words: frozenset[str]) -> re.Pattern[str]:
    return re.compile(r"(?<![\w$])(" + "|".join(sorted(words)) + r")(?![\w$])", re.I)


def check(sql: str, words: list[str] | None = None, target: str = "8.0.39") -> str | None:
    """Why `sql` (a CREATE statement or a body) would not parse in `target`, or None."""
    reserved = set(words if words is not None else reserved_words(target))
    upper = sql.upper()
    if not _hint(frozenset(reserved)).search(sql) and not any(w in upper for w in _REMOVED_WORDS[:-1]) \
            and not empty_dot_tables(sql):
        return None  # none of the words or syntax this looks for appears anywhere: nothing to lex
    toks = tokens(sql)
    for i, tok in enumerate(toks):
        if tok.kind != "word" or tok.upper not in reserved:
            continue
        prev = toks[i - 1] if i else None
        if prev is not None and prev.text == "." and prev.pos + 1 == tok.pos:
            continue  # after a dot a word is always an identifier
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        nxt2 = toks[i + 2] if i + 2 < len(toks) else None
        if not _keyword_use(tok.upper, prev, nxt, nxt2):
            return f"{_where(sql, tok.pos)}: '{tok.text}' is a reserved word in 8.0 and is not quoted"
    return _removed_syntax(sql, toks, target)


def _removed_syntax(sql: str, toks: list[Token], target: str) -> str | None:
    words = [(t.upper if t.kind == "word" else t.text, t) for t in toks]
    for i, (w, tok) in enumerate(words):
        nxt = words[i + 1][0] if i + 1 < len(words) else ""
        nxt2 = words[i + 2][0] if i + 2 < len(words) else ""
        found = None
        if w == "SQL_CACHE":
            found = "SQL_CACHE was removed in 8.0"
        elif w in ("FLUSH", "RESET") and nxt == "QUERY" and nxt2 == "CACHE":
            found = f"{w} QUERY CACHE was removed in 8.0"
        elif w == "EXPLAIN" and nxt in ("EXTENDED", "PARTITIONS"):
            found = f"EXPLAIN {nxt} was removed in 8.0"
        elif w == "PROCEDURE" and nxt == "ANALYSE":
            found = "PROCEDURE ANALYSE was removed in 8.0"
        elif w == "IDENTIFIED" and nxt == "BY" and nxt2 == "PASSWORD":
            found = "IDENTIFIED BY PASSWORD was removed in 8.0"
        elif w == "GRANT" and any(x == "IDENTIFIED" for x, _ in words[i:_end(words, i)]):
            found = "GRANT ... IDENTIFIED BY was removed in 8.0 (CREATE USER first)"
        elif w == "SET" and nxt == "PASSWORD" and any(x == "PASSWORD" and y == "(" for (x, _), (y, _) in
                                                         zip(words[i + 2:_end(words, i)], words[i + 3:_end(words, i)])):
            found = "PASSWORD() in SET PASSWORD was removed in 8.0"
        if found:
            return f"{_where(sql, tok.pos)}: {found}"
    from runbook_lib.engines.mysql.upgrade_checks.catalog import version_key
    if version_key(target) >= (8, 0, 13):
        direction = group_by_direction(sql)
        if direction:
            return f"GROUP BY ... {direction} was removed in 8.0.13"
    if empty_dot_tables(sql):
        return "the '.<table>' syntax was removed in 8.0"
    return None


def _end(words: list[tuple[str, Token]], start: int) -> int:
    for j in range(start, len(words)):
        if words[j][0] == ";":
            return j
    return len(words)


# -- fallbacks (measured, not used unless asked for) -----------------------------------------------------------
def check_regex(sql: str, words: list[str] | None = None, target: str = "8.0.39") -> str | None:
    """The earlier scan: a reserved word outside strings/comments, not followed by '('."""
    words = words if words is not None else reserved_words(target)
    code = re.sub(r"/\*.*?\*/|--[^\n]*|#[^\n]*", " ", sql, flags=re.S)
    code = re.sub(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`", " ", code)
    match = re.search(r"(?<![\w.@$])(" + "|".join(words) + r")(?![\w$])(?!\s*\()", code, re.I)
    return f"'{match.group(1)}' is reserved in 8.0" if match else None


def _statements_of(sql: str) -> list[str]:
    """Statements of a CREATE for sqlglot: the body without the CREATE header, BEGIN/END and labels."""
    body = sql.split("\n", 1)[1] if sql.lstrip().upper().startswith("CREATE") and "\n" in sql else sql
    body = re.sub(r"(?i)\bBEGIN\b|\bEND\b", ";", body)
    return [s.strip() for s in body.split(";") if s.strip()]


def check_sqlglot(sql: str, words: list[str] | None = None, target: str = "8.0.39") -> str | None:
    import logging

    import sqlglot
    from sqlglot.errors import ParseError, TokenError
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    for statement in _statements_of(sql):
        try:
            sqlglot.parse_one(statement, read="mysql")
        except (ParseError, TokenError) as exc:
            return f"sqlglot: {str(exc).splitlines()[0][:120]}"
    return None


def check_sqlparse(sql: str, words: list[str] | None = None, target: str = "8.0.39") -> str | None:
    import sqlparse
    from sqlparse import tokens as T
    reserved = set(words if words is not None else reserved_words(target))
    statement: Any = sqlparse.parse(sql)[0] if sql.strip() else None
    flat: list[Any] = [t for t in statement.flatten() if not t.is_whitespace] if statement is not None else []
    for i, tok in enumerate(flat):
        if tok.ttype in T.Name or tok.ttype in T.Keyword:
            nxt = flat[i + 1].value if i + 1 < len(flat) else ""
            prev = flat[i - 1].value if i else ""
            if tok.value.upper() in reserved and nxt != "(" and prev != ".":
                return f"sqlparse: '{tok.value}' is reserved in 8.0"
    return None


CANDIDATES: dict[str, Callable[[str, list[str] | None, str], str | None]] = {
    "tokens (primary)": check, "regex (fallback)": check_regex, "sqlglot (fallback)": check_sqlglot,
    "sqlparse (fallback)": check_sqlparse}
CASES = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "precheck" / "routines_syntax_cases.json"


def measure(cases: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Recall (of the cases that must fail) and false positives (of those that must pass) per candidate."""
    out: list[dict[str, Any]] = []
    bad = [c for c in cases if c["expect"] == "error"]
    good = [c for c in cases if c["expect"] == "ok"]
    for name, fn in CANDIDATES.items():
        try:
            verdict = {c["id"]: fn(c["sql"], None, c.get("target", "8.0.39")) is not None for c in cases}
        except ImportError as exc:
            out.append({"candidate": name, "error": f"not installed: {exc}"})
            continue
        missed = [c["id"] for c in bad if not verdict[c["id"]]]
        false = [c["id"] for c in good if verdict[c["id"]]]
        out.append({"candidate": name, "recall": f"{len(bad) - len(missed)}/{len(bad)}",
                    "false_positives": f"{len(false)}/{len(good)}", "missed": missed, "false": false})
    return out


def main() -> int:
    every = json.loads(CASES.read_text())
    for label in ("development", "held-out"):
        cases = [c for c in every if c.get("set", "development") == label]
        print(f"\n{label} set: {len(cases)} cases ({sum(c['expect'] == 'error' for c in cases)} must fail, "
              f"{sum(c['expect'] == 'ok' for c in cases)} must pass); 8.0 reserves {len(RESERVED_80)}+ new words\n")
        print("| candidate | recall | false positives | missed | wrongly flagged |\n|---|---|---|---|---|")
        for row in measure(cases):
            if "error" in row:
                print(f"| {row['candidate']} | - | - | {row['error']} | |")
                continue
            print(f"| {row['candidate']} | {row['recall']} | {row['false_positives']} | "
                  f"{', '.join(row['missed']) or '-'} | {', '.join(row['false']) or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
