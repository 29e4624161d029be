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

Safety: the text is read by a small tokenizer and a precedence-climbing parser
(:mod:`layers.expression_parser`) into a tree of
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
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layers.expression_parser import (
    ARITHMETIC,
    KEYWORDS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NESTING,
    Binary,
    Column,
    ExpressionError,
    Literal,
    Logic,
    Node,
    Test,
    Unary,
    caret_lines,
    parse,
    tokenize,
)

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "MAX_NESTING", "Expression", "ExpressionError", "caret_lines", "column_kind",
           "filter_mask", "parse", "tokenize"]

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

    def mask(self, frame: pd.DataFrame, *, kinds_from: pd.DataFrame | None = None) -> np.ndarray:
        """True for each row of ``frame`` where the condition holds (unknown → False)."""
        n = len(frame)
        with np.errstate(all="ignore"):
            val = _Evaluator(self.text, frame, kinds_from).value(self.tree)
        if val.kind not in ("bool", "null"):
            raise ExpressionError(f"the filter gives {val.what}, not a condition", self.text, 0,
                                  "Compare it with a value, e.g. residents > 50")
        if val.kind == "null":
            return np.zeros(n, dtype=bool)
        data = np.asarray(val.data, dtype=bool)
        return np.broadcast_to(data, (n,)).copy() if data.ndim == 0 else data

    def check(self, frame: pd.DataFrame) -> None:
        """Raise the error :meth:`mask` would raise for ``frame`` (unknown column, types), cheaply:
        on none of its rows, with the kinds of its columns (an object column's kind needs its values)."""
        self.mask(frame.iloc[:0], kinds_from=frame)


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


def _column(series: pd.Series, kind: str | None = None) -> tuple[str, Any, Any]:
    """(kind, data, null mask) of a column, without copying numbers."""
    kind = kind or column_kind(series)
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
    def __init__(self, text: str, frame: pd.DataFrame, kinds_from: pd.DataFrame | None = None):
        self.text, self.frame, self.n, self.kinds_from = text, frame, len(frame), kinds_from
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
            if node.op in ARITHMETIC:
                return self.arith(node.op, left, right, node)
            return self.compare(node.op, left, right, node)
        if isinstance(node, Test):
            return self.test(node)
        raise self.error("cannot evaluate this part", node)  # pragma: no cover (every node type is handled)

    # --------------------------------------------------------------------------- columns
    def column(self, node: Column) -> _Val:
        name = self.resolve(node)
        if name not in self.cache:
            i = list(self.frame.columns).index(name)
            kind = column_kind(self.kinds_from.iloc[:, i]) if self.kinds_from is not None else None
            kind, data, null = _column(self.frame.iloc[:, i], kind)
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
