"""SOQL text → syntax tree: a tokenizer and a recursive-descent parser for the subset
Mailferry uses (reference 2.2 and 2.3). It never evaluates anything; `query.py` checks the
tree against the org's schema and runs it.

Grammar (keywords case-insensitive):
    query     := SELECT item ("," item)* FROM name [WHERE cond] [ORDER BY order ("," order)*]
                 [LIMIT int] [OFFSET int]
    item      := COUNT "(" ")" | "(" query ")" | path
    cond      := term (AND term)* | term (OR term)*     -- mixing AND/OR needs parentheses
    term      := NOT term | "(" cond ")" | path op value | path [NOT] IN "(" value ("," value)* ")"
                 | path LIKE string
    value     := 'string' | number | true | false | null | 2024-05-01 | 2024-05-01T12:00:00Z
                 | TODAY | YESTERDAY | TOMORROW | LAST_N_DAYS:n | NEXT_N_DAYS:n | N_DAYS_AGO:n
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .errors import ApiError

KEYWORDS = frozenset(
    "SELECT FROM WHERE AND OR NOT IN LIKE ORDER BY ASC DESC NULLS FIRST LAST LIMIT OFFSET "
    "NULL TRUE FALSE GROUP HAVING WITH USING INCLUDES EXCLUDES FOR TYPEOF".split()
)
DATE_LITERALS = frozenset({"TODAY", "YESTERDAY", "TOMORROW"})
DATE_N_LITERALS = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO"})
COMPARISONS = frozenset({"=", "!=", "<>", "<", ">", "<=", ">="})
# LIKE wildcards inside a pattern tuple (everything else there is a one-character string).
ANY_RUN, ANY_ONE = 0, 1
# Deeper nesting of parentheses or NOT is refused rather than recursed into.
MAX_NESTING = 40

# Backslash escapes allowed inside a string literal (reference 2.3); \uXXXX and the LIKE-only
# \_ and \% are handled separately.
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\dT])")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_SPACE = re.compile(r"\s+")


class SoqlError(ApiError):
    """A query error in Salesforce's shape: the query, a caret, "ERROR at Row:r:Column:c"."""

    def __init__(self, code: str, text: str, pos: int, detail: str):
        row = text.count("\n", 0, pos) + 1
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line = text[line_start:line_end if line_end >= 0 else len(text)]
        column = pos - line_start + 1
        # Long lines are cut around the error, as Salesforce shows only a window.
        cut = max(0, column - 60)
        window = line[cut:cut + 120]
        message = f"\n{window}\n{' ' * (column - 1 - cut)}^\nERROR at Row:{row}:Column:{column}\n{detail}"
        super().__init__(400, code, message)


@dataclass(frozen=True)
class Token:
    kind: str  # name, string, number, date, datetime, op, punct, colon, end
    value: object
    pos: int
    raw: str
    # Strings only: the LIKE pattern (characters, ANY_RUN for %, ANY_ONE for _), and whether
    # the literal used the LIKE-only \_ or \%.
    like: tuple = ()
    like_escape: bool = False


@dataclass(frozen=True)
class Path:
    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Literal:
    kind: str  # string, number, boolean, null, date, datetime, dateliteral
    value: object
    pos: int
    raw: str
    like: tuple = ()
    like_escape: bool = False


@dataclass(frozen=True)
class Compare:
    path: Path
    op: str  # =, !=, <, >, <=, >=, LIKE, IN, NOT IN
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Logic:
    op: str  # AND, OR, NOT
    parts: tuple


@dataclass(frozen=True)
class Order:
    path: Path
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Count:
    pos: int


@dataclass(frozen=True)
class Query:
    items: tuple  # Path | Count | Query (child subquery)
    sobject: str
    sobject_pos: int
    where: object  # Compare | Logic | None
    order: tuple[Order, ...]
    limit: int | None
    offset: int | None
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i = _SPACE.match(text, i).end()
            continue
        if char == "'":
            token, i = _string(text, i)
            tokens.append(token)
            continue
        if char in "(),":
            tokens.append(Token("punct", char, i, char))
            i += 1
            continue
        if char == ":":
            tokens.append(Token("colon", char, i, char))
            i += 1
            continue
        if char in "=!<>":
            two = text[i:i + 2]
            op = two if two in COMPARISONS else char
            if op not in COMPARISONS:
                raise SoqlError("MALFORMED_QUERY", text, i, f"unexpected token: '{char}'")
            tokens.append(Token("op", "!=" if op == "<>" else op, i, op))
            i += len(op)
            continue
        for kind, pattern in (("datetime", _DATETIME), ("date", _DATE), ("number", _NUMBER)):
            match = pattern.match(text, i)
            if match and (char.isdigit() or char in "+-"):
                raw = match.group()
                tokens.append(Token(kind, raw if kind != "number" else float(raw), i, raw))
                i = match.end()
                break
        else:
            match = _NAME.match(text, i)
            if not match:
                raise SoqlError("MALFORMED_QUERY", text, i, f"unexpected token: '{char}'")
            tokens.append(Token("name", match.group(), i, match.group()))
            i = match.end()
    tokens.append(Token("end", None, n, "<EOF>"))
    return tokens


def _string(text: str, start: int) -> tuple[Token, int]:
    """One quoted literal: its value, plus a LIKE regex where unescaped % and _ are wildcards."""
    value: list[str] = []
    like: list[str] = []
    like_escape = False
    i, n = start + 1, len(text)
    while i < n:
        char = text[i]
        if char == "'":
            raw = text[start:i + 1]
            return Token("string", "".join(value), start, raw, tuple(like), like_escape), i + 1
        if char == "\\":
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt.lower() in _ESCAPES or nxt in _ESCAPES:
                decoded = _ESCAPES.get(nxt, _ESCAPES.get(nxt.lower()))
                value.append(decoded)
                like.append(decoded)
                i += 2
                continue
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2:i + 6] or ""):
                decoded = chr(int(text[i + 2:i + 6], 16))
                value.append(decoded)
                like.append(decoded)
                i += 6
                continue
            if nxt and nxt in "_%":
                value.append(nxt)
                like.append(nxt)
                like_escape = True
                i += 2
                continue
            raise SoqlError(
                "MALFORMED_QUERY", text, start,
                f"Invalid string literal '{text[start + 1:i + 2]}...'. Illegal character sequence "
                f"'\\{nxt}' in string literal.",
            )
        value.append(char)
        if char == "%":
            if not like or like[-1] is not ANY_RUN:  # %% is %: keeps matching linear
                like.append(ANY_RUN)
        else:
            like.append(ANY_ONE if char == "_" else char)
        i += 1
    raise SoqlError("MALFORMED_QUERY", text, start, "unexpected token: <EOF> (unterminated string literal)")


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Query:
    """The syntax tree of one SOQL statement (cached: Mailferry repeats its query shapes)."""
    parser = _Parser(text, tokenize(text))
    query = parser.query(nested=False)
    parser.expect_end()
    return query


class _Parser:
    def __init__(self, text: str, tokens: list[Token]):
        self.text = text
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    # --- token helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_word(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == "name" and token.value.upper() == word

    def is_punct(self, char: str) -> bool:
        token = self.peek()
        return token.kind == "punct" and token.value == char

    def fail(self, token: Token, detail: str | None = None) -> SoqlError:
        return SoqlError("MALFORMED_QUERY", self.text, token.pos, detail or f"unexpected token: '{token.raw}'")

    def word(self, word: str) -> Token:
        if not self.is_word(word):
            raise self.fail(self.peek())
        return self.take()

    def punct(self, char: str) -> Token:
        if not self.is_punct(char):
            raise self.fail(self.peek())
        return self.take()

    def expect_end(self) -> None:
        if self.peek().kind != "end":
            raise self.fail(self.peek())

    # --- grammar
    def query(self, nested: bool) -> Query:
        self.word("SELECT")
        items = [self.item(nested)]
        while self.is_punct(","):
            self.take()
            items.append(self.item(nested))
        self.word("FROM")
        name = self.take()
        if name.kind != "name" or name.value.upper() in KEYWORDS or "." in name.value:
            raise self.fail(name)
        where = order = limit = offset = None
        if self.is_word("WHERE"):
            self.take()
            where = self.condition()
        if self.is_word("ORDER"):
            self.take()
            self.word("BY")
            order = [self.order_item()]
            while self.is_punct(","):
                self.take()
                order.append(self.order_item())
        if self.is_word("LIMIT"):
            self.take()
            limit = self.integer()
        if self.is_word("OFFSET"):
            self.take()
            offset = self.integer()
        if any(isinstance(i, Count) for i in items) and len(items) > 1:
            raise self.fail(self.tokens[0], "COUNT() must be the only element in the SELECT list.")
        return Query(tuple(items), name.value, name.pos, where, tuple(order or ()), limit, offset, self.text)

    def item(self, nested: bool):
        token = self.peek()
        if self.is_punct("("):
            if nested:
                raise self.fail(token)
            self.take()
            sub = self.query(nested=True)
            self.punct(")")
            return sub
        if self.is_word("COUNT") and self.peek(1).kind == "punct" and self.peek(1).value == "(":
            self.take()
            self.take()
            self.punct(")")
            return Count(token.pos)
        return self.path()

    def path(self) -> Path:
        token = self.take()
        if token.kind != "name" or token.value.upper() in KEYWORDS:
            raise self.fail(token)
        return Path(tuple(token.value.split(".")), token.pos)

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or token.value != int(token.value) or token.value < 0:
            raise self.fail(token)
        return int(token.value)

    def order_item(self) -> Order:
        path = self.path()
        descending = nulls_last = False
        if self.is_word("ASC"):
            self.take()
        elif self.is_word("DESC"):
            self.take()
            descending = True
        nulls_last = descending  # Salesforce's default: nulls first ascending, last descending
        if self.is_word("NULLS"):
            self.take()
            if self.is_word("FIRST"):
                nulls_last = False
            elif self.is_word("LAST"):
                nulls_last = True
            else:
                raise self.fail(self.peek())
            self.take()
        return Order(path, descending, nulls_last)

    def condition(self):
        parts = [self.term()]
        joiner = None
        while self.is_word("AND") or self.is_word("OR"):
            word = self.peek().value.upper()
            if joiner and word != joiner:
                # Salesforce refuses `a AND b OR c`: the grouping must be written out.
                raise self.fail(self.peek())
            joiner = word
            self.take()
            parts.append(self.term())
        return parts[0] if joiner is None else Logic(joiner, tuple(parts))

    def term(self):
        if self.is_word("NOT") or self.is_punct("("):
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise SoqlError("QUERY_TOO_COMPLICATED", self.text, self.peek().pos,
                                "Query is either selecting too many fields or the filter conditions are too complicated.")
            try:
                if self.take().value.upper() == "NOT":
                    return Logic("NOT", (self.term(),))
                inner = self.condition()
                self.punct(")")
                return inner
            finally:
                self.depth -= 1
        path = self.path()
        token = self.peek()
        if token.kind == "op":
            self.take()
            return Compare(path, token.value, (self.value(),))
        if self.is_word("LIKE"):
            self.take()
            value = self.value()
            if value.kind != "string":
                raise SoqlError("MALFORMED_QUERY", self.text, value.pos, f"unexpected token: '{value.raw}'")
            return Compare(path, "LIKE", (value,))
        negate = False
        if self.is_word("NOT") and self.is_word("IN", 1):
            self.take()
            negate = True
        if self.is_word("IN"):
            self.take()
            self.punct("(")
            if self.is_word("SELECT"):
                raise self.fail(self.peek(), "Semi-join subselects are not supported by this sandbox.")
            values = [self.value()]
            while self.is_punct(","):
                self.take()
                values.append(self.value())
            self.punct(")")
            return Compare(path, "NOT IN" if negate else "IN", tuple(values))
        raise self.fail(token)

    def value(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal("string", token.value, token.pos, token.raw, token.like, token.like_escape)
        if token.kind in ("number", "date", "datetime"):
            return Literal(token.kind, token.value, token.pos, token.raw)
        if token.kind == "name":
            upper = token.value.upper()
            if upper in ("TRUE", "FALSE"):
                return Literal("boolean", upper == "TRUE", token.pos, token.raw)
            if upper == "NULL":
                return Literal("null", None, token.pos, token.raw)
            if upper in DATE_LITERALS:
                return Literal("dateliteral", (upper, 0), token.pos, token.raw)
            if upper in DATE_N_LITERALS:
                if self.peek().kind != "colon":
                    raise self.fail(self.peek())
                self.take()
                amount = self.integer()
                return Literal("dateliteral", (upper, amount), token.pos, f"{token.raw}:{amount}")
        raise self.fail(token)
