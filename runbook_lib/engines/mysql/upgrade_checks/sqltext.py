"""A small MySQL lexer for stored bodies, view and generated-column text: what is code, what is a string,
a quoted name or a comment. The text checks (removed functions, GROUP BY ASC/DESC, '.<table>', reserved
words) look only at code tokens, so a word inside a string or a comment never counts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>--(?:[ \t][^\n]*)?(?:\n|$)|\#[^\n]*|/\*(?!!)(?:.|\n)*?(?:\*/|$))
  | (?P<vcomment>/\*!\d*|\*/)
  | (?P<string>'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?)
  | (?P<qident>`(?:[^`]|``)*`?)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w$])|0x[0-9a-fA-F]+|\.\d+)
  | (?P<var>@@?(?:[\w$.]+|`(?:[^`]|``)*`|'[^']*')?)
  | (?P<word>[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*|\d+[A-Za-z_$][\w$]*)
  | (?P<op>.)
""", re.X | re.S)


@dataclass(frozen=True)
class Token:
    kind: str      # word | qident | string | number | var | op
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


@lru_cache(maxsize=None)
def _tokens(sql: str) -> tuple[Token, ...]:
    out = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup or "op"
        if kind in ("ws", "comment", "vcomment"):
            continue
        out.append(Token(kind, m.group(), m.start()))
    return tuple(out)


def tokens(sql: str) -> list[Token]:
    """Code tokens of `sql` (whitespace and comments dropped; /*! ... */ content kept as code). Cached: six text
    checks read the same bodies; forget() empties the cache when a run ends."""
    return list(_tokens(sql))


def forget() -> None:
    _tokens.cache_clear()


def function_calls(sql: str) -> list[str]:
    """Upper-case names of unqualified calls (a word followed by '('), in order of appearance."""
    toks = tokens(sql)
    found = []
    for i, tok in enumerate(toks[:-1]):
        if tok.kind == "word" and toks[i + 1].text == "(" and not (i and toks[i - 1].text == "."):
            found.append(tok.upper)
    return found


def statements(sql: str) -> list[list[Token]]:
    """Tokens split at ';' (stored bodies: one list per statement, nesting ignored)."""
    out: list[list[Token]] = [[]]
    for tok in tokens(sql):
        if tok.text == ";":
            out.append([])
        else:
            out[-1].append(tok)
    return [s for s in out if s]


_GROUP_BY_HINT = re.compile(r"\bGROUP\s+BY\b(?s:.)*\b(ASC|DESC)\b", re.I)
_EMPTY_DOT_HINT = re.compile(r"(?:^|[\s,(]|\b(?:FROM|JOIN|INTO|UPDATE|TABLE|STRAIGHT_JOIN))\.\s*[\w`$\u0080-\uffff]", re.I)


def group_by_direction(sql: str) -> str | None:
    """'ASC' or 'DESC' when a GROUP BY list carries a direction (removed in 8.0.13), else None.

    As the Shell does: after GROUP BY, until ORDER BY or the end of the statement, an ASC/DESC token. (A text
    without GROUP BY ... ASC/DESC anywhere is not lexed at all.)"""
    if not _GROUP_BY_HINT.search(sql):
        return None
    toks = tokens(sql)
    in_group = False
    depth = 0
    for i, tok in enumerate(toks):
        up = tok.upper if tok.kind == "word" else tok.text
        if up == "(":
            depth += 1
        elif up == ")":
            depth -= 1
            if in_group and depth < 0:
                in_group, depth = False, 0
        elif up == ";":
            in_group, depth = False, 0
        elif up == "GROUP" and i + 1 < len(toks) and toks[i + 1].upper == "BY":
            in_group, depth = True, 0
        elif up in ("ORDER", "HAVING", "LIMIT", "WINDOW", "UNION", "SELECT", "INTO", "FOR") and depth <= 0:
            in_group = False
        elif in_group and depth == 0 and tok.kind == "word" and up in ("ASC", "DESC"):
            return up
    return None


def empty_dot_tables(sql: str) -> bool:
    """True when a table is named '.<table>' (a dot with no schema before it), removed in 8.0: a dot right
    after FROM/JOIN/INTO/UPDATE/TABLE, a comma or an opening parenthesis, followed by a name."""
    if not _EMPTY_DOT_HINT.search(sql):
        return False
    toks = tokens(sql)
    for i, tok in enumerate(toks[:-1]):
        if tok.text != "." or toks[i + 1].kind not in ("word", "qident"):
            continue
        prev = toks[i - 1] if i else None
        if prev is None or (prev.kind == "op" and prev.text in ",(") or \
                (prev.kind == "word" and prev.upper in ("FROM", "JOIN", "INTO", "UPDATE", "TABLE", "STRAIGHT_JOIN")):
            return True
    return False


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_path(*parts: str) -> str:
    return ".".join(quote_ident(p) for p in parts)


def sql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
