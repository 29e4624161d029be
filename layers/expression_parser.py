"""The filter language's tokenizer and parser (see :mod:`layers.expressions` for the language).

``parse(text)`` turns the text into a small tree of :class:`Node` objects by precedence climbing
(one loop per binding power, so nesting costs few Python frames). Nothing here evaluates
anything: the tree is data. The length of the text, the nesting and the depth of the tree are
bounded, so hostile input gets an :class:`ExpressionError`, never a ``RecursionError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from layers.errors import CityDeskError

MAX_LENGTH = 10_000  # characters
MAX_NESTING = 100  # parentheses / prefix operators inside each other
MAX_DEPTH = 200  # depth of the expression tree (and / or chains are flat and do not count)
KEYWORDS = frozenset(["and", "or", "not", "in", "like", "ilike", "contains", "is", "null", "between", "true", "false"])
COMPARISONS = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
ARITHMETIC = ("+", "-", "*", "/", "%")
_MATCH = ("like", "ilike", "contains")
# binding powers: or < and < not < comparisons < + - < * / % < unary minus
_BP_OR, _BP_AND, _BP_NOT, _BP_CMP, _BP_SUM, _BP_PROD, _BP_NEG = 1, 2, 3, 4, 5, 6, 7
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[^\W\d]\w*)
  | (?P<op>==|!=|<>|<=|>=|[=<>+\-*/%(),])
""", re.VERBOSE)
_HINTS = {"&": "write 'and'", "|": "write 'or'", "!": "write 'not', or '!=' for 'not equal'",
          ".": "columns have no attributes; only values, columns and operators are allowed",
          "[": "lists are written in parentheses: kind in ('a', 'b')", ";": "write one expression"}


class ExpressionError(CityDeskError):
    """A filter expression that cannot be read or evaluated. ``position`` is 0-based into ``text``."""

    def __init__(self, problem: str, text: str = "", position: int | None = None, fix: str | None = None):
        self.text, self.position = text, position
        super().__init__(problem, fix=fix)

    @property
    def message(self) -> str:
        where = f" at position {self.position + 1}" if self.position is not None else ""
        line = f"{self.problem[:1].upper()}{self.problem[1:]}{where}."
        if self.fix:
            line += f" {self.fix[:1].upper()}{self.fix[1:]}" + ("" if self.fix[-1] in "?!" else ".")
        if self.position is None or not self.text:
            return line
        return f"{line}\n{caret_lines(self.text, self.position)}"


def caret_lines(text: str, position: int, width: int = 70) -> str:
    """Two lines: (a window of) ``text`` on one line and a caret under ``position``."""
    flat = re.sub(r"\s", " ", text)
    start = max(0, min(position - width // 2, len(flat) - width))
    shown = flat[start:start + width]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + width < len(flat) else ""
    return f"  {prefix}{shown}{suffix}\n  {' ' * (len(prefix) + position - start)}^"


# ---------------------------------------------------------------------------------- tokens

@dataclass(frozen=True)
class Token:
    kind: str  # num, str, col (backticks), name, kw, op, end
    value: Any
    pos: int
    end: int

    @property
    def shown(self) -> str:
        return "the end" if self.kind == "end" else f"'{self.value}'" if self.kind != "str" else "a text"


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raise :class:`ExpressionError` at the first character that
    is not part of the language."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            value, end = _quoted(text, i)
            tokens.append(Token("col" if ch == "`" else "str", value, i, end))
            i = end
            continue
        m = _TOKEN.match(text, i)
        if m is None:
            hint = _HINTS.get(ch)
            raise ExpressionError(f"unexpected character '{ch}'", text, i, hint)
        kind, word = m.lastgroup, m.group()
        if kind == "num":
            if m.end() < n and (text[m.end()].isalpha() or text[m.end()] == "_"):
                raise ExpressionError(f"a number cannot be followed by letters ('{word}{text[m.end()]}…')", text,
                                      m.end(), "Write the number alone (distances are metres), or put text in "
                                      "quotes")
            value = float(word)
            tokens.append(Token("num", int(value) if value.is_integer() and abs(value) < 2**53 else value, i, m.end()))
        elif kind == "name":
            low = word.lower()
            tokens.append(Token("kw", low, i, m.end()) if low in KEYWORDS else Token("name", word, i, m.end()))
        elif kind == "op":
            tokens.append(Token("op", word, i, m.end()))
        i = m.end()
    tokens.append(Token("end", None, n, n))
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The text of the quoted string or backticked name starting at ``start``, and its end."""
    quote, out, i = text[start], [], start + 1
    escapes = {"n": "\n", "t": "\t"}
    while i < len(text):
        ch = text[i]
        if ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:  # doubled: one quote
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        if ch == "\\" and quote != "`" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(escapes.get(nxt, nxt) if nxt in "nt\\'\"" else ch + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    what = "column name" if quote == "`" else "text"
    raise ExpressionError(f"the {what} starting here has no closing {quote}", text, start,
                          f"Add a {quote} at its end")


# ------------------------------------------------------------------------------------ tree

@dataclass(frozen=True)
class Node:
    pos: int  # where in the text the node starts (0-based), for messages
    depth: int = field(default=1, compare=False, kw_only=True)


@dataclass(frozen=True)
class Literal(Node):
    value: Any = None  # float/int, str, bool or None (null)


@dataclass(frozen=True)
class Column(Node):
    name: str = ""
    quoted: bool = False  # written in backticks


@dataclass(frozen=True)
class Unary(Node):
    op: str = ""  # "not" or "-"
    operand: Node | None = None


@dataclass(frozen=True)
class Binary(Node):
    op: str = ""  # a comparison (==, !=, <, <=, >, >=) or arithmetic (+ - * / %)
    left: Node | None = None
    right: Node | None = None


@dataclass(frozen=True)
class Logic(Node):
    op: str = ""  # "and" or "or"
    items: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Test(Node):
    """``x in (...)``, ``x like/ilike/contains 'text'``, ``x is null``, ``x between a and b``."""

    op: str = ""
    operand: Node | None = None
    args: tuple[Node, ...] = ()
    negate: bool = False


def parse(text: str) -> Node:
    """The expression tree of ``text`` (syntax only: columns are checked when evaluated)."""
    if not isinstance(text, str):
        raise ExpressionError("the filter must be text")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the filter is too long ({len(text):,} characters, at most {MAX_LENGTH:,})")
    if not text.strip():
        raise ExpressionError("the filter is empty", fix="Type a condition, e.g. residents > 50")
    return _Parser(text).parse()


class _Parser:
    """Precedence climbing: one ``expr(min_bp)`` loop, so nesting costs few Python frames."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.nesting = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, problem: str, pos: int | None = None, fix: str | None = None) -> ExpressionError:
        return ExpressionError(problem, self.text, self.tok.pos if pos is None else pos, fix)

    def node(self, cls, pos: int, *children: Node, **kw) -> Node:
        depth = 1 + max((c.depth for c in children), default=0)
        if depth > MAX_DEPTH:
            raise self.error(f"the filter is too deeply nested (more than {MAX_DEPTH} operations inside each "
                             "other)", pos, "Write a shorter filter")
        return cls(pos, depth=depth, **kw)

    def parse(self) -> Node:
        tree = self.expr(0)
        tok = self.tok
        if tok.kind != "end":
            if tok.kind == "op" and tok.value == ")":
                raise self.error("this ')' has no matching '('")
            raise self.error(f"unexpected {tok.shown}", fix="Join conditions with 'and' or 'or'")
        return tree

    def expr(self, min_bp: int) -> Node:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(f"the filter nests too deep (more than {MAX_NESTING} levels)",
                             fix="Write a simpler filter")
        left = self.prefix()
        while True:
            tok = self.tok
            op = tok.value if tok.kind in ("op", "kw") else None
            if op in ("or", "and"):
                bp = _BP_OR if op == "or" else _BP_AND
                if bp < min_bp:
                    break
                self.take()
                right = self.expr(bp + 1)
                items = (left.items if isinstance(left, Logic) and left.op == op else (left,)) + (right,)
                left = self.node(Logic, left.pos, *items, op=op, items=items)
            elif op in COMPARISONS or op in ("in", "like", "ilike", "contains", "is", "between", "not"):
                if min_bp > _BP_CMP:
                    break
                if isinstance(left, (Binary, Test)) and (left.op in COMPARISONS.values() or isinstance(left, Test)):
                    raise self.error(f"comparisons cannot be chained ({tok.shown} after a comparison)",
                                     fix="Join them with 'and', e.g. a > 1 and a < 5")
                left = self.comparison(left)
            elif op in ARITHMETIC:
                bp = _BP_SUM if op in ("+", "-") else _BP_PROD
                if bp < min_bp:
                    break
                self.take()
                right = self.expr(bp + 1)
                left = self.node(Binary, left.pos, left, right, op=op, left=left, right=right)
            else:
                break
        self.nesting -= 1
        return left

    def value_after(self, what: Token, min_bp: int) -> Node:
        tok = self.tok
        if tok.kind == "end" or (tok.kind == "op" and tok.value in (")", ",")) or \
                (tok.kind == "kw" and tok.value in ("and", "or")):
            raise self.error(f"expected a value after '{what.value}'", tok.pos)
        return self.expr(min_bp)

    def comparison(self, left: Node) -> Node:
        tok = self.take()
        op = tok.value
        if op in COMPARISONS:
            right = self.value_after(tok, _BP_SUM)
            return self.node(Binary, left.pos, left, right, op=COMPARISONS[op], left=left, right=right)
        negate = False
        if op == "not":
            if self.tok.value not in ("in", "like", "ilike", "contains", "between"):
                raise self.error("expected in, like, ilike, contains or between after 'not'", tok.pos,
                                 fix="Put 'not' before a condition: not (a > 1)")
            negate, tok = True, self.take()
            op = tok.value
        if op == "is":
            negate = self.tok.value == "not"
            if negate:
                self.take()
            if self.tok.value != "null":
                raise self.error("expected 'null' after 'is'", fix="Write 'x is null' or 'x is not null'; "
                                 "compare values with =")
            self.take()
            return self.node(Test, left.pos, left, op="null", operand=left, negate=negate)
        if op == "in":
            items = self.in_list(tok)
            return self.node(Test, left.pos, left, op="in", operand=left, args=items, negate=negate)
        if op in _MATCH:
            pattern = self.tok
            if pattern.kind != "str":
                raise self.error(f"expected a text in quotes after '{op}'", fix=f"For example: name {op} \"katu\"")
            self.take()
            return self.node(Test, left.pos, left, op=op, operand=left,
                             args=(Literal(pattern.pos, value=pattern.value),), negate=negate)
        # between
        low = self.value_after(tok, _BP_SUM)
        if self.tok.value != "and":
            raise self.error("expected 'and' in 'between … and …'", fix="For example: dist_m between 100 and 300")
        and_tok = self.take()
        high = self.value_after(and_tok, _BP_SUM)
        return self.node(Test, left.pos, left, low, high, op="between", operand=left, args=(low, high), negate=negate)

    def in_list(self, in_tok: Token) -> tuple[Node, ...]:
        if not (self.tok.kind == "op" and self.tok.value == "("):
            raise self.error(f"expected '(' after '{in_tok.value}'", fix="For example: kind in ('bench', 'bin')")
        open_pos = self.take().pos
        items: list[Node] = []
        while True:
            tok = self.tok
            sign = 1
            if tok.kind == "op" and tok.value == "-" and self.tokens[self.i + 1].kind == "num":
                self.take()
                sign, tok = -1, self.tok
            if tok.kind in ("num", "str") or (tok.kind == "kw" and tok.value in ("true", "false", "null")):
                self.take()
                value = {"true": True, "false": False, "null": None}.get(tok.value, tok.value) \
                    if tok.kind == "kw" else tok.value
                items.append(Literal(tok.pos, value=value * sign if tok.kind == "num" else value))
            elif tok.kind == "op" and tok.value == ")" and not items:
                raise self.error("the list after 'in' is empty", fix="Give at least one value")
            else:
                raise self.error("expected a number or a text in quotes in the list after 'in'",
                                 fix="The list holds values, e.g. kind in ('bench', 'bin')")
            tok = self.take()
            if tok.kind == "op" and tok.value == ")":
                return tuple(items)
            if not (tok.kind == "op" and tok.value == ","):
                raise self.error(f"the '(' at position {open_pos + 1} is not closed: expected ',' or ')'", tok.pos)

    def prefix(self) -> Node:
        tok = self.take()
        if tok.kind == "num" or tok.kind == "str":
            return Literal(tok.pos, value=tok.value)
        if tok.kind == "col":
            if not tok.value:
                raise self.error("an empty column name", tok.pos, fix="Write the column name between the backticks")
            return Column(tok.pos, name=tok.value, quoted=True)
        if tok.kind == "name":
            if self.tok.kind == "op" and self.tok.value == "(":
                raise self.error(f"'{tok.value}(…)': functions are not supported", tok.pos,
                                 fix="Filters use columns, values and operators only")
            return Column(tok.pos, name=tok.value)
        if tok.kind == "kw" and tok.value in ("true", "false", "null"):
            return Literal(tok.pos, value={"true": True, "false": False, "null": None}[tok.value])
        if tok.kind == "kw" and tok.value == "not":
            operand = self.value_after(tok, _BP_NOT)
            return self.node(Unary, tok.pos, operand, op="not", operand=operand)
        if tok.kind == "op" and tok.value in ("-", "+"):
            operand = self.value_after(tok, _BP_NEG)
            return operand if tok.value == "+" else self.node(Unary, tok.pos, operand, op="-", operand=operand)
        if tok.kind == "op" and tok.value == "(":
            if self.tok.kind == "op" and self.tok.value == ")":
                raise self.error("expected a value inside '( )'", self.tok.pos)
            inner = self.expr(0)
            if not (self.tok.kind == "op" and self.tok.value == ")"):
                if self.tok.kind == "end":
                    raise self.error("this '(' is not closed", tok.pos, fix="Add a ')'")
                raise self.error(f"expected ')' to close the '(' at position {tok.pos + 1}, found {self.tok.shown}")
            self.take()
            return inner
        if tok.kind == "end":
            prev = self.tokens[self.i - 2] if self.i >= 2 else None
            if prev is not None:
                raise self.error(f"expected a value after '{prev.value}'", tok.pos)
            raise self.error("the filter is empty", tok.pos)
        if tok.kind == "kw":
            raise self.error(f"expected a value, found the keyword '{tok.value}'", tok.pos,
                             fix=f"A column called {tok.value} is written in backticks: `{tok.value}`")
        raise self.error(f"expected a value, found '{tok.value}'", tok.pos)
