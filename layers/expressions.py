"""Filter expressions a planner can type, evaluated safely and vectorised over a table's columns.

Examples::

    population > 50 and use == "residential"
    name contains "katu"                     (contains ignores case)
    levels >= 3 or height > 10
    not covered                              (covered is a true/false column)
    kind in ("waste_basket", "recycling")
    residents is null                        (is not null)
    dist_m between 100 and 300               (both ends included)
    residents / floor_area_m2 > 0.02
    name like "Mann%"                        (% any text, _ one character; ilike ignores case)
    `building:levels` >= 3                   (a column whose name is not a plain word)

The rules:

- **Text is in quotes**, single or double: ``"residential"`` or ``'residential'``. A quote inside
  is doubled (``'it''s'``) or escaped with a backslash (``"say \\"hi\\""``).
- **Column names** are plain words (letters, digits, ``_``) or, when they hold spaces or other
  characters, written in **backticks**: ```building:levels```, ```floor area```. A quoted word is
  always text, never a column. Column names match exactly, else ignoring case when that is unique.
- **Keywords** ignore case: ``and or not in like ilike contains is null between true false``.
- **Operators**: ``= == != <> < <= > >=``, ``+ - * / %`` and parentheses. Text compares with text
  (``==`` is exact, ``<`` alphabetical), numbers with numbers, true/false columns with ``true`` /
  ``false``; comparing text with a number is an error that says so. Division by zero gives null.
- **Nulls** (empty cells): any comparison with a null is unknown and a feature whose condition is
  unknown is left out, so ``residents > 10`` and ``not (residents > 10)`` both leave out features
  without residents. Ask for them with ``residents is null``.

Safety: the text is read by a small tokenizer and a precedence-climbing parser into a tree of
a few node types, and that tree is evaluated with numpy / pandas column operations. No Python
``eval``/``exec``/``compile``, no ``DataFrame.query``/``eval``: nothing in an expression (a
project file someone sent you) can run code. Input length and nesting depth are bounded, so a
hostile expression gets a clear error, not a crash.

Every error is an :class:`ExpressionError` (a :class:`~layers.errors.CityDeskError`) whose
message names the problem, its position (1-based) and shows the text with a caret under it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import CityDeskError

MAX_LENGTH = 10_000  # characters
MAX_NESTING = 100  # parentheses / prefix operators inside each other
MAX_DEPTH = 200  # depth of the expression tree (and / or chains are flat and do not count)
KEYWORDS = frozenset(["and", "or", "not", "in", "like", "ilike", "contains", "is", "null", "between", "true", "false"])
_COMPARE = {"=": "==", "==": "==", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ARITH = ("+", "-", "*", "/", "%")
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
            elif op in _COMPARE or op in ("in", "like", "ilike", "contains", "is", "between", "not"):
                if min_bp > _BP_CMP:
                    break
                if isinstance(left, (Binary, Test)) and (left.op in _COMPARE.values() or isinstance(left, Test)):
                    raise self.error(f"comparisons cannot be chained ({tok.shown} after a comparison)",
                                     fix="Join them with 'and', e.g. a > 1 and a < 5")
                left = self.comparison(left)
            elif op in _ARITH:
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
        if op in _COMPARE:
            right = self.value_after(tok, _BP_SUM)
            return self.node(Binary, left.pos, left, right, op=_COMPARE[op], left=left, right=right)
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


# -------------------------------------------------------------------------------- evaluate

@dataclass
class _Val:
    """A value per row (arrays of length n) or one value for all rows (a literal)."""

    kind: str  # number, text, bool, time, null
    data: Any  # numpy array / pandas Series (text, time) / scalar; for bool: True only where not null
    null: Any  # numpy bool array or bool
    what: str  # how messages name it: "the column 'use' (text)", "the number 3"


class Expression:
    """A parsed filter. ``Expression(text).mask(frame)`` is a boolean numpy array, True for the
    rows that match; :meth:`check` finds column and type errors without touching the data."""

    def __init__(self, text: str):
        self.text = text
        self.tree = parse(text)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """True for each row of ``frame`` where the condition holds (unknown → False)."""
        n = len(frame)
        with np.errstate(all="ignore"):
            val = _Evaluator(self.text, frame).value(self.tree)
        if val.kind not in ("bool", "null"):
            raise ExpressionError(f"the filter gives {val.what}, not a condition", self.text, 0,
                                  "Compare it with a value, e.g. residents > 50")
        if val.kind == "null":
            return np.zeros(n, dtype=bool)
        data = np.asarray(val.data, dtype=bool)
        return np.broadcast_to(data, (n,)).copy() if data.ndim == 0 else data

    def check(self, frame: pd.DataFrame) -> None:
        """Raise the error :meth:`mask` would raise for ``frame`` (unknown column, types), cheaply."""
        self.mask(frame.iloc[:0])


def filter_mask(text: str, frame: pd.DataFrame) -> np.ndarray:
    """True for each row of ``frame`` where the filter ``text`` holds (see the module docstring)."""
    return Expression(text).mask(frame)


def column_kind(series: pd.Series) -> str:
    """How filters see a column: 'number', 'text', 'bool', 'time' or 'geometry' (cheap: the
    values of an object column are only scanned for their type)."""
    dtype = series.dtype
    if getattr(dtype, "name", "") == "geometry":
        return "geometry"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "time"
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred == "boolean":
            return "bool"
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return "number"
        if inferred in ("datetime", "datetime64"):
            return "time"
    return "text"


def _column(series: pd.Series) -> tuple[str, Any, Any]:
    """(kind, data, null mask) of a column, without copying numbers."""
    kind = column_kind(series)
    if kind == "geometry":
        return kind, None, None
    null = series.isna().to_numpy()
    if kind == "bool":
        if pd.api.types.is_object_dtype(series.dtype):
            return kind, series.fillna(False).to_numpy(dtype=bool) & ~null, null
        return kind, series.to_numpy(dtype=bool, na_value=False), null
    if kind == "number":
        if pd.api.types.is_object_dtype(series.dtype):
            series = pd.to_numeric(series)
        return kind, series.to_numpy(dtype=np.float64, na_value=np.nan), null
    if kind == "time":
        return kind, pd.to_datetime(series).reset_index(drop=True), null
    text = series if isinstance(series.dtype, pd.StringDtype) else series.astype("str")
    return kind, text.reset_index(drop=True), null


class _Evaluator:
    def __init__(self, text: str, frame: pd.DataFrame):
        self.text, self.frame, self.n = text, frame, len(frame)
        self.names = [str(c) for c in frame.columns]
        self.cache: dict[str, _Val] = {}

    def error(self, problem: str, node: Node, fix: str | None = None) -> ExpressionError:
        return ExpressionError(problem, self.text, node.pos, fix)

    def value(self, node: Node) -> _Val:
        if isinstance(node, Literal):
            return _literal(node.value)
        if isinstance(node, Column):
            return self.column(node)
        if isinstance(node, Logic):
            vals = [self.condition(item) for item in node.items]
            return _and(vals) if node.op == "and" else _or(vals)
        if isinstance(node, Unary):
            val = self.value(node.operand)
            if node.op == "not":
                return _not(self.as_condition(val, node.operand))
            return self.arith("-", _literal(0), val, node)
        if isinstance(node, Binary):
            left, right = self.value(node.left), self.value(node.right)
            if node.op in _ARITH:
                return self.arith(node.op, left, right, node)
            return self.compare(node.op, left, right, node)
        if isinstance(node, Test):
            return self.test(node)
        raise self.error("cannot evaluate this part", node)  # pragma: no cover (every node type is handled)

    # --------------------------------------------------------------------------- columns
    def column(self, node: Column) -> _Val:
        name = self.resolve(node)
        if name not in self.cache:
            kind, data, null = _column(self.frame.iloc[:, list(self.frame.columns).index(name)])
            if kind == "geometry":
                raise self.error(f"the geometry column '{name}' cannot be used in a filter", node,
                                 "Filter on attribute columns")
            self.cache[name] = _Val(kind, data, null, f"the column '{name}' ({kind})")
        return self.cache[name]

    def resolve(self, node: Column) -> Any:
        columns = list(self.frame.columns)
        if node.name in columns:
            return node.name
        by_str = [c for c in columns if str(c) == node.name]
        if by_str:
            return by_str[0]
        folded = [c for c in columns if str(c).casefold() == node.name.casefold()]
        if len(folded) == 1:
            return folded[0]
        close = difflib.get_close_matches(node.name, self.names, n=1, cutoff=0.6) or \
            difflib.get_close_matches(node.name.lower(), [c.lower() for c in self.names], n=1, cutoff=0.6)
        if close:
            match = next(c for c in self.names if c.lower() == close[0].lower()) if close[0] not in self.names \
                else close[0]
            shown = match if re.fullmatch(r"[^\W\d]\w*", match) and match.lower() not in KEYWORDS else f"`{match}`"
            fix = f"Did you mean {shown}?"
            if not node.quoted:
                fix += f" (Text is written in quotes: \"{node.name}\")"
        elif node.quoted:
            fix = "Columns: " + ", ".join(self.names[:12]) + (" …" if len(self.names) > 12 else "")
        else:
            fix = f"To compare with the text {node.name}, put it in quotes: \"{node.name}\""
        raise self.error(f"unknown column '{node.name}'", node, fix)

    # ------------------------------------------------------------------------- conditions
    def condition(self, node: Node) -> _Val:
        return self.as_condition(self.value(node), node)

    def as_condition(self, val: _Val, node: Node) -> _Val:
        if val.kind in ("bool", "null"):
            return val
        example = {"number": "e.g. residents > 0", "text": "e.g. use == \"residential\"",
                   "time": "e.g. built >= \"2020-01-01\""}.get(val.kind, "")
        raise self.error(f"{val.what} is not a condition (true or false)", node, f"Compare it with a value, {example}")

    def compare(self, op: str, a: _Val, b: _Val, node: Node) -> _Val:
        if a.kind == "null" or b.kind == "null":
            raise self.error(f"comparing with null is never true ({op} null)", node,
                             "Write 'is null' or 'is not null' instead")
        a, b = self.comparable(a, b, node)
        null = a.null | b.null
        if isinstance(a.data, pd.Series) or isinstance(b.data, pd.Series):
            x, y = (a.data, b.data) if isinstance(a.data, pd.Series) else (b.data, a.data)
            flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
            res = _cmp(x, y, op if x is a.data else flip.get(op, op))
            data = res.to_numpy(dtype=bool, na_value=False)
        else:
            data = _cmp(a.data, b.data, op)
        return _Val("bool", data & ~null, null, "a comparison")

    def comparable(self, a: _Val, b: _Val, node: Node) -> tuple[_Val, _Val]:
        """``a`` and ``b`` as values of one kind, or an error that says why they are not."""
        if a.kind == b.kind:
            return a, b
        kinds = {a.kind, b.kind}
        if kinds == {"bool", "number"}:
            return tuple(_Val("number", np.asarray(v.data, dtype=np.float64) if v.kind == "bool" else v.data,
                              v.null, v.what) for v in (a, b))
        if kinds == {"time", "text"}:
            text, time = (a, b) if a.kind == "text" else (b, a)
            if isinstance(text.data, str):
                try:
                    stamp = pd.Timestamp(text.data)
                except (ValueError, TypeError):
                    raise self.error(f"'{text.data}' is not a date", node, "Write dates as \"2024-05-31\"") from None
                tz = getattr(time.data.dtype, "tz", None)
                if tz is not None and stamp.tzinfo is None:
                    stamp = stamp.tz_localize(tz)
                conv = _Val("time", stamp, False, text.what)
                return (conv, time) if a is text else (time, conv)
        hint = "Compare text with text in quotes, numbers with numbers"
        for v, other in ((a, b), (b, a)):
            if v.kind == "text" and isinstance(v.data, str) and v.data in self.names:
                hint = f"To use the column {v.data}, write it in backticks: `{v.data}`"
            elif v.kind == "text" and other.kind == "number" and isinstance(other.data, (int, float)):
                hint = f"To compare as text, put the number in quotes: \"{other.data}\""
        raise self.error(f"cannot compare {a.what} with {b.what}", node, hint)

    def arith(self, op: str, a: _Val, b: _Val, node: Node) -> _Val:
        for v in (a, b):
            if v.kind not in ("number", "null"):
                raise self.error(f"'{op}' needs numbers, but {v.what} is not a number", node,
                                 "Arithmetic works on number columns only")
        if a.kind == "null" or b.kind == "null":
            return _Val("null", None, np.True_, "null")
        x, y = a.data, b.data
        null = a.null | b.null
        if op in ("/", "%"):
            null = null | (np.asarray(y) == 0)
        data = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "%": np.mod}[op](x, y)
        if isinstance(data, np.ndarray) and np.ndim(null):
            data = np.where(null, np.nan, data)
        what = "a number" if np.ndim(data) == 0 else "a calculated number"
        return _Val("number", data, null, what)

    def test(self, node: Test) -> _Val:
        val = self.value(node.operand)
        if node.op == "null":
            data = np.asarray(val.null)
            return _Val("bool", ~data if node.negate else data, np.False_, "a null test")
        if node.op == "between":
            low, high = (self.value(arg) for arg in node.args)
            res = _and([self.compare(">=", val, low, node), self.compare("<=", val, high, node)])
        elif node.op == "in":
            res = self.is_in(val, node)
        else:
            res = self.match(val, node)
        return _not(res) if node.negate else res

    def is_in(self, val: _Val, node: Test) -> _Val:
        if val.kind == "null":
            return _Val("null", None, np.True_, "null")
        items = [_literal(arg.value) for arg in node.args]
        values, operand = [], val
        for item, arg in zip(items, node.args, strict=True):
            if item.kind == "null":
                raise self.error("null in a list never matches", arg, "Write 'or x is null' instead")
            operand, item = self.comparable(val, item, Node(arg.pos))
            values.append(item.data)
        if isinstance(operand.data, pd.Series):
            data = operand.data.isin(values).to_numpy(dtype=bool, na_value=False)
        elif operand.kind == "text":  # a text literal
            data = np.bool_(operand.data in values)
        else:
            data = np.isin(np.asarray(operand.data, dtype=np.float64), np.asarray(values, dtype=np.float64))
        return _Val("bool", data & ~np.asarray(val.null), val.null, "a list test")

    def match(self, val: _Val, node: Test) -> _Val:
        if val.kind == "null":
            return _Val("null", None, np.True_, "null")
        if val.kind != "text":
            raise self.error(f"'{node.op}' works on text, but {val.what} is not text", node,
                             "Use = < > with numbers")
        pattern = node.args[0].value
        if node.op == "contains":
            def fn(s):
                return s.str.contains(pattern, case=False, regex=False)
        else:
            regex = "(?s)" + "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)

            def fn(s):
                return s.str.fullmatch(regex, case=node.op == "like")
        if isinstance(val.data, pd.Series):
            data = fn(val.data).to_numpy(dtype=bool, na_value=False)
        else:
            data = bool(fn(pd.Series([val.data], dtype="str")).iloc[0])
        return _Val("bool", data & ~np.asarray(val.null), val.null, "a text match")


def _literal(value: Any) -> _Val:
    if value is None:
        return _Val("null", None, np.True_, "null")
    if isinstance(value, bool):
        return _Val("bool", np.bool_(value), np.False_, f"{str(value).lower()}")
    if isinstance(value, (int, float)):
        return _Val("number", value, np.False_, f"the number {value}")
    return _Val("text", value, np.False_, f"the text '{value}'")


def _cmp(x, y, op: str):
    if op == "==":
        return x == y
    if op == "!=":
        return x != y
    if op == "<":
        return x < y
    if op == "<=":
        return x <= y
    if op == ">":
        return x > y
    return x >= y


def _not(v: _Val) -> _Val:
    if v.kind == "null":
        return v
    return _Val("bool", ~np.asarray(v.data) & ~np.asarray(v.null), v.null, "a condition")


def _and(vals: list[_Val]) -> _Val:
    """Kleene logic: false if any is false, else unknown if any is unknown, else true."""
    true, false = True, False
    for v in vals:
        t = False if v.kind == "null" else v.data
        null = True if v.kind == "null" else v.null
        true = true & t
        false = false | (~np.asarray(t) & ~np.asarray(null))
    null = ~np.asarray(true) & ~np.asarray(false)
    return _Val("bool", np.asarray(true), null, "a condition")


def _or(vals: list[_Val]) -> _Val:
    """Kleene logic: true if any is true, else unknown if any is unknown, else false."""
    true, false = False, True
    for v in vals:
        t = False if v.kind == "null" else v.data
        null = True if v.kind == "null" else v.null
        true = true | t
        false = false & (~np.asarray(t) & ~np.asarray(null))
    null = ~np.asarray(true) & ~np.asarray(false)
    return _Val("bool", np.asarray(true), null, "a condition")
