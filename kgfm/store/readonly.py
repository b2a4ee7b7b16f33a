"""What a read-only user query may be: an allow-list of read clauses over a Cypher tokenizer.

``kgfm cypher`` without ``--write`` (and any server answering user queries) calls
:func:`check_read_only` before the query reaches a store. The databases guard too (the embedded
store opens read-only, Neo4j runs the query in a READ transaction), but neither covers every
statement: LadybugDB runs ``CHECKPOINT``, ``COPY ... TO``, ``EXPORT DATABASE``, ``INSTALL`` /
``LOAD`` extensions and ``ATTACH`` on a read-only database, and ArcadeDB ignores Bolt's access
mode. So the rule is an allow-list, checked on tokens (strings, comments and backtick-quoted
names are never read as keywords):

* a statement starts with ``MATCH``, ``OPTIONAL MATCH``, ``WITH``, ``UNWIND``, ``RETURN``,
  ``CALL`` or ``EXPLAIN``/``PROFILE`` before one of these;
* every clause of it (a keyword at the query's own nesting level that follows a complete
  expression, or any Cypher clause keyword) is one of :data:`READ_CLAUSES`;
* ``CALL`` names a subquery block (``CALL { ... }``, checked by the same rules) or a procedure
  in :data:`READ_PROCEDURES`; ``EXISTS``/``COUNT``/``COLLECT { ... }`` blocks are checked too;
* the functions in :data:`STATE_FUNCTIONS` (sequence counters) are refused.

Everything else -- ``CREATE``, ``MERGE``, ``SET``, ``DELETE``, ``REMOVE``, ``DROP``, ``ALTER``,
``FOREACH``, ``LOAD``, ``COPY``, ``EXPORT``/``IMPORT DATABASE``, ``CHECKPOINT``, ``INSTALL``,
``ATTACH``/``DETACH``, ``USE``, transactions, ``SHOW``, unknown clauses, other procedures --
is refused with :class:`ReadOnlyViolation`, whose message names ``--write``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kgfm.store.base import StoreError

#: Clause keywords a read-only query may use (``OPTIONAL`` only before ``MATCH``).
READ_CLAUSES = frozenset(
    {"MATCH", "OPTIONAL", "WITH", "UNWIND", "RETURN", "WHERE", "ORDER", "SKIP", "OFFSET", "LIMIT",
     "UNION", "CALL", "YIELD", "EXPLAIN", "PROFILE", "FINISH"}
)
STATEMENT_STARTS = frozenset({"MATCH", "OPTIONAL", "WITH", "UNWIND", "RETURN", "CALL", "EXPLAIN", "PROFILE"})

#: Every clause keyword of Neo4j 5 and LadybugDB that is *not* a read clause: refused wherever it
#: stands at a query's own level, even where it does not follow an expression.
OTHER_CLAUSES = frozenset(
    {"CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER", "FOREACH", "LOAD", "COPY",
     "EXPORT", "IMPORT", "CHECKPOINT", "INSTALL", "UNINSTALL", "ATTACH", "USE", "BEGIN", "COMMIT",
     "ROLLBACK", "SHOW", "GRANT", "DENY", "REVOKE", "START", "STOP", "TERMINATE", "ENABLE", "RENAME",
     "UPDATE", "INSERT", "UPSERT", "TRUNCATE", "VACUUM", "ANALYZE", "PRAGMA", "LET", "FILTER", "NEXT"}
)

#: Procedures known to only read (case-insensitive): Neo4j 5 schema/metadata and LadybugDB catalog.
READ_PROCEDURES = frozenset(
    {"db.labels", "db.relationshiptypes", "db.propertykeys", "db.schema.visualization",
     "db.schema.nodetypeproperties", "db.schema.reltypeproperties", "dbms.components", "db.info",
     "db.ping", "show_tables", "table_info", "show_connection", "db_version", "show_functions",
     "current_setting", "show_indexes", "show_sequences", "show_attached_databases"}
)

#: Functions that change database state although they sit in an expression.
STATE_FUNCTIONS = frozenset({"nextval", "setval"})

# Words that may follow a complete expression inside a clause (infix operators, CASE parts,
# sort order, aliases, type predicates), and words after which an operand is still to come.
_INFIX = frozenset(
    {"AS", "AND", "OR", "XOR", "NOT", "IN", "IS", "STARTS", "ENDS", "CONTAINS", "WHEN", "THEN", "ELSE",
     "END", "ASC", "ASCENDING", "DESC", "DESCENDING", "NULL", "TYPED", "NORMALIZED", "PATHS", "PATH",
     "GROUPS", "GROUP", "SHORTEST"}
)
_OPEN_ENDED = frozenset(
    {"AS", "AND", "OR", "XOR", "NOT", "IN", "IS", "STARTS", "ENDS", "CONTAINS", "WHEN", "THEN", "ELSE",
     "CASE", "DISTINCT", "BY", "ALL", "ANY", "NONE", "SINGLE", "SHORTEST", "TYPED", "WITH"}
     | READ_CLAUSES | OTHER_CLAUSES
)
_BLOCK_OPENERS = frozenset({"CALL", "EXISTS", "COUNT", "COLLECT"})

WRITE_HINT = "pass --write to allow statements that change the store or files"


class ReadOnlyViolation(StoreError):
    """A query that is not read-only; the message names the clause and ``--write``."""


class CypherSyntaxError(StoreError):
    """A query the tokenizer cannot read (unterminated string, comment or backtick name)."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "word" | "name" (backtick-quoted) | "param" | "string" | "number" | "punct"
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?")
_PARAM = re.compile(r"\$(?:`(?:[^`]|``)*`|\w+)")


def _skip_quoted(query: str, start: int, quote: str, what: str) -> int:
    i = start + 1
    while i < len(query):
        ch = query[i]
        if ch == "\\" and quote != "`":
            i += 2
            continue
        if ch == quote:
            if quote == "`" and query.startswith("``", i):
                i += 2
                continue
            return i + 1
        i += 1
    raise CypherSyntaxError(f"query: unterminated {what} starting at character {start + 1}")


def tokenize(query: str) -> list[Token]:
    """Cypher tokens; comments and whitespace dropped, strings and quoted names kept whole.

    Raises:
        CypherSyntaxError: unterminated string, block comment or backtick name.
    """
    tokens: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if (m := _SPACE.match(query, i)) is not None:
            i = m.end()
        elif query.startswith("//", i):
            end = query.find("\n", i)
            i = n if end < 0 else end + 1
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            if end < 0:
                raise CypherSyntaxError(f"query: unterminated /* comment starting at character {i + 1}")
            i = end + 2
        elif ch in "'\"":
            end = _skip_quoted(query, i, ch, "string")
            tokens.append(Token("string", query[i:end], i))
            i = end
        elif ch == "`":
            end = _skip_quoted(query, i, "`", "`quoted name`")
            tokens.append(Token("name", query[i + 1 : end - 1].replace("``", "`"), i))
            i = end
        elif ch == "$" and (m := _PARAM.match(query, i)) is not None:
            name = m.group()[1:]
            tokens.append(Token("param", name[1:-1].replace("``", "`") if name.startswith("`") else name, i))
            i = m.end()
        elif (m := _WORD.match(query, i)) is not None:
            tokens.append(Token("word", m.group(), i))
            i = m.end()
        elif ch.isdigit() and (m := _NUMBER.match(query, i)) is not None and m.end() > i:
            tokens.append(Token("number", m.group(), i))
            i = m.end()
        else:
            tokens.append(Token("punct", ch, i))
            i += 1
    return tokens


def query_parameters(query: str) -> list[str]:
    """The ``$parameters`` a query uses, in first-use order."""
    return list(dict.fromkeys(t.text for t in tokenize(query) if t.kind == "param"))


def _refuse(what: str, token: Token | None = None) -> ReadOnlyViolation:
    where = f" (character {token.pos + 1})" if token is not None else ""
    return ReadOnlyViolation(f"read-only query refused: {what}{where}; {WRITE_HINT}")


_CLOSE = {"(": ")", "[": "]", "{": "}"}


class _Checker:
    """Walks the tokens once; one call of :meth:`block` per query block (top level or ``{ }``)."""

    def __init__(self, tokens: list[Token]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def block(self, closer: str | None) -> None:
        """A query block: statements of clauses until ``closer`` (or the end)."""
        expect_clause = True  # at a statement start / after UNION: the next word must start one
        prev: Token | None = None
        clause = ""
        while (tok := self.peek()) is not None:
            if closer is not None and tok.kind == "punct" and tok.text == closer:
                return
            after_dot = prev is not None and prev.kind == "punct" and prev.text in ".:$"
            if tok.kind == "word" and not after_dot:
                word = tok.upper
                is_clause = word in READ_CLAUSES or word in OTHER_CLAUSES
                if word == "WITH" and prev is not None and prev.upper in ("STARTS", "ENDS"):
                    is_clause = False
                if prev is not None and prev.upper == "AS":
                    is_clause = False  # an alias, whatever it is called
                juxtaposed = prev is not None and _ends_operand(prev) and word not in _INFIX
                if expect_clause and word == "ALL" and clause == "UNION" and prev is not None and prev.upper == "UNION":
                    prev = tok
                    self.i += 1
                    continue
                if expect_clause and not is_clause:
                    if closer == "}" and prev is None:
                        raise _refuse(f"{tok.text!r} does not start a read clause", tok)
                    raise _refuse(f"{tok.text!r} is not a read clause", tok)
                if is_clause or juxtaposed:
                    if word not in READ_CLAUSES:
                        raise _refuse(f"{word} is not a read clause", tok)
                    if prev is not None and prev.upper == "OPTIONAL" and word not in ("MATCH", "CALL"):
                        raise _refuse(f"OPTIONAL {word}", tok)
                    clause = word
                    expect_clause = word in ("UNION", "OPTIONAL", "EXPLAIN", "PROFILE")
                    prev = tok
                    self.i += 1
                    if word == "CALL":
                        prev = self.call(tok)
                    continue
                if word.casefold() in STATE_FUNCTIONS and self._next_is("("):
                    raise _refuse(f"{tok.text}() changes database state", tok)
                expect_clause = False
            elif tok.kind == "punct" and tok.text in _CLOSE:
                if expect_clause and closer is None:
                    raise _refuse(f"{tok.text!r} does not start a read clause", tok)
                opener_word = prev.upper if prev is not None else ""
                self.i += 1
                if tok.text == "{" and (opener_word in _BLOCK_OPENERS or (clause == "CALL" and prev is not None and prev.text == ")")):
                    self.subquery(tok)
                else:
                    self.expression(_CLOSE[tok.text], tok)
                prev = self.t[self.i - 1] if self.i - 1 < len(self.t) else tok
                expect_clause = False
                continue
            elif tok.kind == "punct" and tok.text in ")]}":
                raise CypherSyntaxError(f"query: unbalanced {tok.text!r} at character {tok.pos + 1}")
            elif tok.kind == "punct" and tok.text == ";":
                expect_clause = True
                prev, clause = None, ""
                self.i += 1
                continue
            elif expect_clause:
                raise _refuse(f"{tok.text!r} does not start a read clause", tok)
            prev = tok
            self.i += 1
        if closer is not None:
            raise CypherSyntaxError(f"query: missing {closer!r}")

    def _next_is(self, text: str) -> bool:
        nxt = self.peek(1)
        return nxt is not None and nxt.kind == "punct" and nxt.text == text

    def subquery(self, opener: Token) -> None:
        self.block("}")
        self.i += 1  # the closing brace

    def expression(self, closer: str, opener: Token) -> None:
        """Inside ``( )``, ``[ ]`` or a map ``{ }``: no clauses, but nested query blocks are checked."""
        prev: Token | None = opener
        while (tok := self.peek()) is not None:
            if tok.kind == "punct" and tok.text == closer:
                self.i += 1
                return
            if tok.kind == "punct" and tok.text in _CLOSE:
                word = prev.upper if prev is not None else ""
                self.i += 1
                if tok.text == "{" and word in _BLOCK_OPENERS:
                    self.subquery(tok)
                else:
                    self.expression(_CLOSE[tok.text], tok)
                prev = self.t[self.i - 1]
                continue
            if tok.kind == "punct" and tok.text in ")]};":
                raise CypherSyntaxError(f"query: unbalanced {tok.text!r} at character {tok.pos + 1}")
            after_dot = prev is not None and prev.kind == "punct" and prev.text in ".:$"
            if tok.kind == "word" and not after_dot and tok.text.casefold() in STATE_FUNCTIONS and self._next_is("("):
                raise _refuse(f"{tok.text}() changes database state", tok)
            prev = tok
            self.i += 1
        raise CypherSyntaxError(f"query: missing {closer!r}")

    def call(self, call_tok: Token) -> Token:
        """After ``CALL``: a ``{`` subquery, a scoped ``( ... ) {`` subquery, or a read procedure."""
        tok = self.peek()
        if tok is None:
            raise _refuse("CALL without a procedure", call_tok)
        if tok.kind == "punct" and tok.text in "{(":
            return call_tok  # the block loop opens the brace/parenthesis and checks the subquery
        if tok.kind not in ("word", "name"):
            raise _refuse("CALL of something that is not a read procedure", tok)
        parts = [tok.text]
        self.i += 1
        while (dot := self.peek()) is not None and dot.kind == "punct" and dot.text == ".":
            part = self.peek(1)
            if part is None or part.kind not in ("word", "name"):
                break
            parts.append(part.text)
            self.i += 2
        name = ".".join(parts)
        if name.casefold() not in READ_PROCEDURES:
            raise _refuse(f"CALL {name} is not a known read procedure", tok)
        return self.t[self.i - 1]


def _ends_operand(tok: Token) -> bool:
    if tok.kind in ("name", "param", "string", "number"):
        return True
    if tok.kind == "word":
        return tok.upper not in _OPEN_ENDED
    return tok.text in ")]}*"


def check_read_only(query: str) -> None:
    """Refuse ``query`` unless it only reads (see the module docstring for the rules).

    Args:
        query: The Cypher text as the user wrote it.

    Raises:
        ReadOnlyViolation: a clause, procedure or function that may write, naming ``--write``.
        CypherSyntaxError: the query cannot be tokenized (unterminated string or comment).
    """
    tokens = tokenize(query)
    if not tokens:
        raise _refuse("the query is empty")
    _Checker(tokens).block(None)


_RETURN_ENDS = frozenset({"ORDER", "SKIP", "OFFSET", "LIMIT", "UNION"})


def return_columns(query: str) -> list[str] | None:
    """The result column names Neo4j gives ``query``: per item of its top-level ``RETURN``, the alias
    after ``AS``, else the expression's text as written (``count(*)``, ``type(r)``).

    LadybugDB names an unaliased column after its own rewrite of the expression (``COUNT_STAR()``,
    ``LOWER(n.name)`` for ``toLower(n.name)``, ``label(r)`` with every type name inlined), which is
    unreadable and can give two columns one name. ``None`` where there is nothing to name this way:
    no top-level ``RETURN`` (a bare ``CALL``), ``RETURN *``, ``EXPLAIN`` / ``PROFILE``, or a query the
    tokenizer cannot read.
    """
    try:
        tokens = tokenize(query)
    except CypherSyntaxError:
        return None
    if not tokens or tokens[0].upper in ("EXPLAIN", "PROFILE"):
        return None
    depths = _depths(tokens)
    tops = [i for i, tok in enumerate(tokens) if depths[i] == 0 and tok.upper == "RETURN"]
    if not tops:  # the last RETURN at the query's own level (UNION parts name alike)
        return None
    start = tops[-1] + 1
    if start < len(tokens) and tokens[start].upper == "DISTINCT":
        start += 1
    items: list[list[Token]] = [[]]
    for i in range(start, len(tokens)):
        tok = tokens[i]
        if depths[i] == 0 and (tok.text == ";" or (tok.upper in _RETURN_ENDS and tokens[i - 1].text != ".")):
            break
        if depths[i] == 0 and tok.text == ",":
            items.append([])
        else:
            items[-1].append(tok)
    names = []
    for item in items:
        if not item or (len(item) == 1 and item[0].text == "*" and item[0].kind == "punct"):
            return None
        if len(item) >= 3 and item[-2].upper == "AS" and item[-1].kind in ("word", "name"):
            names.append(item[-1].text)
            continue
        names.append(query[item[0].pos:_token_end(query, item[-1])])
    return names


def _depths(tokens: list[Token]) -> list[int]:
    """Each token's bracket depth; an opening or closing bracket counts at the depth outside it."""
    out, depth = [], 0
    for tok in tokens:
        if tok.kind == "punct" and tok.text in ")]}":
            depth -= 1
        out.append(depth)
        if tok.kind == "punct" and tok.text in "([{":
            depth += 1
    return out


def _token_end(query: str, tok: Token) -> int:
    if tok.kind == "name":
        return _skip_quoted(query, tok.pos, "`", "`quoted name`")
    if tok.kind == "param":
        return _PARAM.match(query, tok.pos).end()  # type: ignore[union-attr]
    return tok.pos + len(tok.text)
