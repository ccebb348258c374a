"""Custom metrics: carecard's own small expression language, parsed, checked and compiled to SQL.

A custom metric (``policy.custom_metrics``, SPEC §5) is declared as a *ratio* of two conditions
or as an *aggregate* expression. The text is tokenized and parsed here by a small Pratt parser,
type-checked against the names the caller allows, and compiled to a DuckDB aggregate expression
over the ``judged`` table. Nothing the user wrote is ever pasted into SQL: names are emitted as
quoted identifiers (and only names the caller allows), text as escaped string literals, numbers
re-printed from their parsed values. The declarations around the expressions (ids, labels,
units) are validated by the config loader (`policy_section`), which builds each `CustomMetric`
with `ratio_metric` or `aggregate_metric` from the expressions compiled here.

Grammar (EBNF; ``{ }`` = repeat, ``[ ]`` = optional; binding from loosest to tightest)::

    expression  = disjunction ;
    disjunction = conjunction { "or" conjunction } ;
    conjunction = negation { "and" negation } ;
    negation    = "not" negation | comparison ;
    comparison  = sum [ ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) sum
                      | "in" "[" literal { "," literal } "]" ] ;
    sum         = product { ( "+" | "-" ) product } ;
    product     = unary { ( "*" | "/" ) unary } ;
    unary       = "-" unary | primary ;
    primary     = literal | name | call | "(" expression ")" ;
    call        = name "(" [ expression { "," expression } ] ")" ;
    literal     = [ "-" ] number | string | "true" | "false" | "null" ;
    number      = digits [ "." digits ] [ ( "e" | "E" ) [ "+" | "-" ] digits ]
                | "." digits [ ( "e" | "E" ) [ "+" | "-" ] digits ] ;
    string      = "'" { any character except "'" | "''" } "'" ;
    name        = letter_or_underscore { letter_or_underscore | digit } ;  (not a keyword)

Keywords: ``and or not in true false null``. Functions (in an aggregate only): ``count()``,
``count(condition)``, ``sum(x)``, ``mean(x)``, ``median(x)``, ``quantile(x, q)`` with a number
``q`` from 0 to 1 (type 7, like every percentile of SPEC §5), ``min(x)``, ``max(x)``.

Rules the checker adds to the grammar:

- A comparison has a field (or arithmetic over fields) on the left and a literal on the right;
  ``== null`` and ``!= null`` test for a missing value. Timestamps can only be tested for null
  (use ``frt_minutes`` or ``resolution_hours`` for durations).
- Conditions are two-valued: a comparison involving a missing value is false, so
  ``not (category == 'complaint')`` includes interactions without a category while
  ``category != 'complaint'`` does not. A yes/no field used as a condition is false when missing.
- Ratio conditions are about one interaction: no aggregate calls. An aggregate expression is
  arithmetic over aggregate calls and numbers; aggregates do not nest, and a bare field outside
  an aggregate is an error. Division by zero gives no value (an empty cell), not infinity.
- Every aggregate is over the actionable interactions (``excluded_by IS NULL``) of the period
  and segment. A ratio's n is the count of its denominator; an aggregate's n is the count of
  actionable interactions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from generator.errors import ConfigError, Problem, did_you_mean, quote, quoted
from generator.model import MetricInfo
from generator.sqltext import attribute_column, sql_ident, sql_str

# --- the syntax tree --------------------------------------------------------------------------
# Positions (0-based offsets into the expression text) do not take part in equality, so a tree
# compares equal to the tree of its pretty-printed text.


@dataclass(frozen=True)
class Number:
    """A number literal (a leading minus is folded into it)."""

    value: int | float
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Text:
    """A 'single-quoted' text literal."""

    value: str
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Boolean:
    """`true` or `false`."""

    value: bool
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Null:
    """`null`: a missing value."""

    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name:
    """A field, dimension or derived column."""

    name: str
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Unary:
    """`-x` or `not x`."""

    op: str
    operand: Node
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Binary:
    """An arithmetic, comparison or logical operator between two operands."""

    op: str
    left: Node
    right: Node
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class In:
    """`x in [a, b, …]`."""

    operand: Node
    items: tuple[Node, ...]
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """A function call such as `median(frt_minutes)`."""

    function: str
    args: tuple[Node, ...]
    pos: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


Node = Number | Text | Boolean | Null | Name | Unary | Binary | In | Call
_LITERALS = (Number, Text, Boolean, Null)

KEYWORDS: frozenset[str] = frozenset({"and", "or", "not", "in", "true", "false", "null"})
COMPARISONS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=")
ARITHMETIC: tuple[str, ...] = ("+", "-", "*", "/")
#: Binding power of each infix operator (higher binds tighter).
INFIX: dict[str, int] = {
    "or": 10, "and": 20, **{op: 40 for op in COMPARISONS}, "in": 40,
    "+": 50, "-": 50, "*": 60, "/": 60,
}
_NOT_POWER = 30
_MINUS_POWER = 70
_ATOM_POWER = 100
#: Aggregate functions -> (fewest, most) arguments.
FUNCTIONS: dict[str, tuple[int, int]] = {
    "count": (0, 1), "sum": (1, 1), "mean": (1, 1), "median": (1, 1),
    "quantile": (2, 2), "min": (1, 1), "max": (1, 1),
}
_FUNCTION_ALIASES = {
    "avg": "mean", "average": "mean", "percentile": "quantile", "p": "quantile",
    "total": "sum", "n": "count", "len": "count",
}

# --- types of the names -----------------------------------------------------------------------

#: Type of each canonical field (SPEC §3.2) and derived column of `judged`; any other allowed
#: name is a dimension, which is text.
FIELD_TYPES: dict[str, str] = {
    "id": "text",
    "received_at": "time",
    "channel": "text",
    "first_response_at": "time",
    "resolved_at": "time",
    "csat": "number",
    "sentiment_start": "number",
    "sentiment_end": "number",
    "public": "bool",
    "moved_private": "bool",
    "reach": "number",
    "needs_reply": "bool",
    "frt_minutes": "number",
    "resolution_hours": "number",
    "within_target": "bool",
    "target_minutes": "number",
}
#: Derived columns of `judged` and the canonical fields they are computed from.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "frt_minutes": ("first_response_at",),
    "resolution_hours": ("resolved_at",),
    "within_target": ("first_response_at",),
    "target_minutes": (),
}
DERIVED_NAMES: tuple[str, ...] = tuple(DERIVED_FROM)

#: Units a custom metric may declare, and which way is better.
UNITS: tuple[str, ...] = ("minutes", "hours", "count", "score", "ratio")
BETTER: tuple[str, ...] = ("higher", "lower")
#: Deepest nesting of operators, calls and parentheses an expression may have (it keeps the
#: recursive parser, checker and printer far from Python's recursion limit).
MAX_DEPTH = 64
_ACTIONABLE = f"{sql_ident('excluded_by')} IS NULL"
_ALL_ACTIONABLE = f"count(*) FILTER (WHERE {_ACTIONABLE})"


# --- the public API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomMetric:
    """A validated custom metric, compiled to SQL aggregate expressions over `judged`."""

    id: str
    """Metric id ([a-z][a-z0-9_]*), unique among built-in and custom metrics."""
    label: str
    """Human label for cards and charts."""
    unit: str
    """`ratio`, `minutes`, `hours`, `count` or `score`."""
    better: str
    """`higher` (default) or `lower`: which direction is an improvement."""
    definition: str
    """The definition as written: the expression(s) in a sentence."""
    value_sql: str
    """Aggregate SQL for the value, usable in `SELECT … FROM judged GROUP BY …`."""
    n_sql: str
    """Aggregate SQL for n: the denominator count (ratio) or the actionable count (aggregate)."""
    kind: str = "ratio"
    """`ratio` or `aggregate`: how the metric was declared."""
    n_label: str = "actionable interactions"
    """What n counts."""
    names: tuple[str, ...] = ()
    """Fields, dimensions and derived columns the expressions read, sorted."""
    needs: tuple[str, ...] = ()
    """Canonical fields the metric needs (derived columns resolved), sorted."""

    @property
    def is_ratio(self) -> bool:
        """True for ratio metrics (changes in percentage points)."""
        return self.unit == "ratio"

    def info(self) -> MetricInfo:
        """Return the metric's description in the form built-in metrics have."""
        return MetricInfo(
            self.id, self.label, self.unit, self.better, self.definition, self.n_label, self.needs
        )


class ExpressionError(Exception):
    """A syntax or type problem in an expression; `expected` names the column."""

    def __init__(self, expected: str, found: str | None = None, hint: str = "") -> None:
        self.expected = expected
        self.found = found
        self.hint = hint
        found_text = "" if found is None else f", found {quote(found)}"
        super().__init__(f"expected {expected}{found_text}")


def parse_expression(text: str) -> Node:
    """Parse an expression into its syntax tree (no name or type checks); raise ExpressionError."""
    node = _Parser(text).parse()
    deepest = _deepest(node)
    if deepest is not None:
        raise _error_at(
            deepest.pos, f"at most {MAX_DEPTH} levels of nesting", _shorten(text[deepest.pos :]),
            "split the metric into simpler ones.",
        )
    return node


def format_expression(node: Node) -> str:
    """Print a syntax tree as expression text, with only the parentheses it needs."""
    return _format(node, 0)


def describe_condition(node: Node) -> str:
    """A condition in words for readers ('with a first response', "category is 'complaint'",
    'first response time at most 15 minutes'); the expression text where words fail."""
    return _words(node)


def compile_condition(text: str, allowed_names: Iterable[str], where: str = "condition") -> str:
    """Compile a condition on one interaction to SQL that is TRUE or FALSE; raise ConfigError."""
    return _compile_or_raise(text, allowed_names, "condition", where)


def compile_aggregate(text: str, allowed_names: Iterable[str], where: str = "aggregate") -> str:
    """Compile an aggregate expression to SQL over the actionable rows; raise ConfigError."""
    return _compile_or_raise(text, allowed_names, "aggregate", where)


def _compile_or_raise(text: str, names: Iterable[str], mode: str, where: str) -> str:
    compiled, errors = compile_expression(text, names, mode)
    if compiled is None:
        raise ConfigError([Problem(where, "", e.expected, e.found, e.hint) for e in errors])
    return compiled.sql


@dataclass(frozen=True)
class Compiled:
    """An expression parsed, checked and compiled."""

    text: str
    """The expression as written."""
    sql: str
    """The SQL it compiles to."""
    names: frozenset[str]
    """The fields, dimensions and derived columns it reads."""


def compile_expression(
    text: str, allowed_names: Iterable[str], mode: str
) -> tuple[Compiled | None, list[ExpressionError]]:
    """Parse, check and compile an expression as a `condition` or an `aggregate`.

    Return it with no problems, or None with every problem found (one for a syntax error).
    """
    try:
        node = parse_expression(text)
    except ExpressionError as error:
        return None, [error]
    checker = _Checker(text, frozenset(allowed_names))
    sql = checker.condition(node) if mode == "condition" else checker.aggregate(node)
    if checker.errors:
        return None, checker.errors
    return Compiled(text, sql, frozenset(checker.names)), []


# --- custom metrics from checked parts ---------------------------------------------------------


def ratio_metric(
    metric_id: str, label: str, better: str, numerator: Compiled, denominator: Compiled | None
) -> CustomMetric:
    """Return the ratio count(numerator ∧ denominator) / count(denominator) over the actionable
    interactions; n is that denominator."""
    population = _ACTIONABLE + (f" AND {denominator.sql}" if denominator else "")
    n_sql = f"count(*) FILTER (WHERE {population})"
    value_sql = (
        f"(CAST(count(*) FILTER (WHERE {population} AND {numerator.sql}) AS DOUBLE) "
        f"/ nullif({n_sql}, 0))"
    )
    written = " ".join(numerator.text.split())
    if denominator:
        among = " ".join(denominator.text.split())
        definition = f"Among actionable interactions where {among}, the share where {written}."
        # n in words, not in the expression language (it is shown on every card).
        n_label = n_label_of(describe_condition(parse_expression(denominator.text)))
    else:
        definition = f"Share of actionable interactions where {written}."
        n_label = "actionable interactions"
    names = numerator.names | (denominator.names if denominator else frozenset())
    return _metric(metric_id, label, "ratio", better, definition, value_sql, n_sql, n_label, names)


def aggregate_metric(
    metric_id: str, label: str, unit: str, better: str, expression: Compiled
) -> CustomMetric:
    """Return an aggregate expression over the actionable interactions; n is their count."""
    definition = f"{' '.join(expression.text.split())} over actionable interactions."
    return _metric(
        metric_id, label, unit, better, definition, expression.sql, _ALL_ACTIONABLE,
        "actionable interactions", expression.names, kind="aggregate",
    )


def _metric(
    metric_id: str, label: str, unit: str, better: str, definition: str, value_sql: str,
    n_sql: str, n_label: str, names: frozenset[str], kind: str = "ratio",
) -> CustomMetric:
    needs = {n for n in names if n in FIELD_TYPES and n not in DERIVED_FROM}
    needs.update(f for n in names for f in DERIVED_FROM.get(n, ()))
    return CustomMetric(
        id=metric_id, label=label, unit=unit, better=better, definition=definition,
        value_sql=value_sql, n_sql=n_sql, kind=kind, n_label=n_label,
        names=tuple(sorted(names)), needs=tuple(sorted(needs)),
    )


# --- the tokenizer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """One token: kind is `number`, `text`, `name`, `op` or `end`."""

    kind: str
    text: str
    pos: int
    value: object = None


_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",")
_MISTAKES = {
    "=": "compare with '=='.",
    "&&": "write 'and'.",
    "&": "write 'and'.",
    "||": "write 'or'.",
    "|": "write 'or'.",
    "!": "write 'not'.",
    '"': "write text in single quotes: 'like this'.",
    "<>": "write '!='.",
    ";": "write one expression, without ';'.",
    "--": "expressions have no comments (write '- -' for a double minus).",
}


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; raise ExpressionError on a character that fits none."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char == "'":
            start = i
            value, i = _string(text, i)
            tokens.append(Token("text", text[start:i], start, value))
            continue
        number = _NUMBER.match(text, i)
        if number:
            after = number.end()
            if after < len(text) and (text[after].isalnum() or text[after] == "_"):
                raise _error_at(i, "a number", text[i : _word_end(text, i)])
            literal = number.group()
            is_int = literal.isdigit()
            tokens.append(
                Token("number", literal, i, int(literal) if is_int else float(literal))
            )
            i = after
            continue
        name = _NAME.match(text, i)
        if name:
            tokens.append(Token("name", name.group(), i, name.group()))
            i = name.end()
            continue
        two = text[i : i + 2]
        if two in _OPERATORS:
            tokens.append(Token("op", two, i))
            i += 2
            continue
        if two in _MISTAKES:
            raise _error_at(i, "an operator", two, _MISTAKES[two])
        if char in _OPERATORS:
            tokens.append(Token("op", char, i))
            i += 1
            continue
        raise _error_at(i, "a value or an operator", char, _MISTAKES.get(char, ""))
    tokens.append(Token("end", "", len(text)))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    """Read a 'string' at start ('' is a quote); return its value and the offset after it."""
    parts: list[str] = []
    i = start + 1
    while True:
        close = text.find("'", i)
        if close < 0:
            raise _error_at(
                start, "a closing quote for the text", text[start:],
                "end the text with ' (write '' for a quote inside it).",
            )
        parts.append(text[i:close])
        if text.startswith("''", close):
            parts.append("'")
            i = close + 2
            continue
        return "".join(parts), close + 1


def _shorten(text: str) -> str:
    """Return the first 20 characters of text, marked when cut."""
    return text if len(text) <= 20 else text[:20] + "…"


def _deepest(root: Node) -> Node | None:
    """Return a node nested deeper than MAX_DEPTH, if any (walked without recursion)."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return node
        stack.extend((child, depth + 1) for child in _children(node))
    return None


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, *node.items)
    if isinstance(node, Call):
        return node.args
    return ()


def _word_end(text: str, i: int) -> int:
    """Return the end of the run of word characters from i."""
    while i < len(text) and (text[i].isalnum() or text[i] in "._"):
        i += 1
    return i


def _error_at(pos: int, expected: str, found: str | None, hint: str = "") -> ExpressionError:
    """Return an error naming the 1-based column of pos."""
    return ExpressionError(f"{expected} at column {pos + 1}", found, hint)


# --- the parser -------------------------------------------------------------------------------


class _Parser:
    """A Pratt parser over the tokens of one expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def fail(self, token: Token, expected: str, hint: str = "") -> ExpressionError:
        """Return an error at a token ('found the end' at the end)."""
        if token.kind == "end":
            return ExpressionError(
                f"{expected} at column {token.pos + 1}, found the end of the expression",
                None,
                hint,
            )
        return _error_at(token.pos, expected, token.text, hint)

    def previous_end(self) -> int:
        """Return the end offset of the last token consumed."""
        token = self.tokens[self.i - 1]
        return token.pos + len(token.text)

    def parse(self) -> Node:
        node = self.expression(0)
        token = self.peek()
        if token.kind != "end":
            hint = ""
            if token.kind == "name" and token.text.lower() in KEYWORDS:
                hint = f"did you mean '{token.text.lower()}'?"
            elif token.kind in ("name", "number", "text"):
                hint = "an operator such as 'and', '==' or '+' is missing before it."
            raise self.fail(token, "an operator or the end of the expression", hint)
        return node

    def expression(self, min_power: int) -> Node:
        self.depth += 1
        # Parentheses and operands each open a level: a tree within MAX_DEPTH needs fewer than
        # three times as many.
        if self.depth > 3 * MAX_DEPTH:
            raise self.fail(
                self.peek(), f"at most {MAX_DEPTH} levels of nesting",
                "split the metric into simpler ones.",
            )
        try:
            return self.operators(self.prefix(), min_power)
        finally:
            self.depth -= 1

    def operators(self, left: Node, min_power: int) -> Node:
        """Apply the infix operators that bind tighter than min_power to left."""
        while True:
            token = self.peek()
            op = token.text if token.kind in ("op", "name") else ""
            power = INFIX.get(op)
            if power is None or power <= min_power:
                return left
            self.advance()
            if op == "in":
                left = In(left, self.items(), left.pos, self.previous_end())
            else:
                right = self.expression(power)
                left = Binary(op, left, right, left.pos, right.end)
            if power == INFIX["=="]:
                after = self.peek()
                if after.text in COMPARISONS or (after.kind == "name" and after.text == "in"):
                    raise self.fail(
                        after, "'and' or 'or' between comparisons",
                        "write 'a < x and x < b' rather than 'a < x < b'.",
                    )

    def prefix(self) -> Node:
        token = self.advance()
        if token.kind == "number":
            return Number(token.value, token.pos, self.previous_end())  # type: ignore[arg-type]
        if token.kind == "text":
            return Text(str(token.value), token.pos, self.previous_end())
        if token.kind == "name":
            word = token.text
            if word in ("true", "false"):
                return Boolean(word == "true", token.pos, self.previous_end())
            if word == "null":
                return Null(token.pos, self.previous_end())
            if word == "not":
                operand = self.expression(_NOT_POWER)
                return Unary("not", operand, token.pos, operand.end)
            if word in KEYWORDS:
                raise self.fail(token, "a value")
            if self.peek().text == "(":
                self.advance()
                args: list[Node] = []
                if self.peek().text != ")":
                    args.append(self.expression(0))
                    while self.peek().text == ",":
                        self.advance()
                        args.append(self.expression(0))
                self.expect(")", "',' or ')'")
                return Call(word, tuple(args), token.pos, self.previous_end())
            return Name(word, token.pos, self.previous_end())
        if token.text == "-":
            following = self.peek()
            if following.kind == "number":
                self.advance()
                value = -following.value  # type: ignore[operator]
                return Number(value, token.pos, self.previous_end())
            operand = self.expression(_MINUS_POWER)
            return Unary("-", operand, token.pos, operand.end)
        if token.text == "(":
            inner = self.expression(0)
            self.expect(")", "')'")
            return inner
        self.i -= 1
        raise self.fail(token, "a value")

    def expect(self, text: str, expected: str) -> None:
        token = self.peek()
        if token.text != text or token.kind not in ("op",):
            raise self.fail(token, expected)
        self.advance()

    def items(self) -> tuple[Node, ...]:
        """Parse `[literal, …]` after `in`."""
        self.expect("[", "'[' to start a list of values")
        items = [self.literal()]
        while self.peek().text == ",":
            self.advance()
            items.append(self.literal())
        self.expect("]", "',' or ']'")
        return tuple(items)

    def literal(self) -> Node:
        token = self.peek()
        expected = "a number, 'text', true, false or null"
        if token.kind in ("number", "text") or token.text in ("true", "false", "null"):
            return self.prefix()
        if token.text == "-" and self.tokens[self.i + 1].kind == "number":
            return self.prefix()
        hint = f"quote text values: '{token.text}'." if token.kind == "name" else ""
        raise self.fail(token, expected, hint)


# --- the pretty-printer -----------------------------------------------------------------------


def _power(node: Node) -> int:
    """Return the binding power of a node's outermost operator."""
    if isinstance(node, Binary):
        return INFIX[node.op]
    if isinstance(node, In):
        return INFIX["in"]
    if isinstance(node, Unary):
        return _NOT_POWER if node.op == "not" else _MINUS_POWER
    return _ATOM_POWER


def _format(node: Node, min_power: int) -> str:
    """Print node; parenthesize it when it binds looser than its context requires."""
    text = _bare(node)
    return f"({text})" if _power(node) < min_power else text


def _bare(node: Node) -> str:
    if isinstance(node, Number):
        return str(node.value) if isinstance(node.value, int) else repr(float(node.value))
    if isinstance(node, Text):
        return "'" + node.value.replace("'", "''") + "'"
    if isinstance(node, Boolean):
        return "true" if node.value else "false"
    if isinstance(node, Null):
        return "null"
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Unary):
        if node.op == "not":
            return "not " + _format(node.operand, _NOT_POWER)
        # A number right after '-' would be read back as a negative literal.
        if isinstance(node.operand, Number):
            return f"-({_bare(node.operand)})"
        operand = _format(node.operand, _MINUS_POWER)
        return "- " + operand if operand.startswith("-") else "-" + operand
    if isinstance(node, Binary):
        power = INFIX[node.op]
        comparison = node.op in COMPARISONS
        left = _format(node.left, power + 1 if comparison else power)
        return f"{left} {node.op} {_format(node.right, power + 1)}"
    if isinstance(node, In):
        items = ", ".join(_bare(item) for item in node.items)
        return f"{_format(node.operand, INFIX['in'] + 1)} in [{items}]"
    args = ", ".join(_format(arg, 0) for arg in node.args)
    return f"{node.function}({args})"


# --- conditions in words ----------------------------------------------------------------------

#: Fields tested for a value: 'with a first response', 'without a resolution'.
_HAVING = {"frt_minutes": "a first response", "first_response_at": "a first response",
           "resolution_hours": "a resolution", "resolved_at": "a resolution",
           "csat": "a CSAT score", "sentiment_start": "a starting sentiment",
           "sentiment_end": "an ending sentiment", "within_target": "a response"}
#: Numeric fields compared with a number: (words, unit after the number).
_MEASURES = {"frt_minutes": ("first response time", " minutes"),
             "resolution_hours": ("resolution time", " hours"),
             "target_minutes": ("first-response target", " minutes")}
#: Yes/no fields used as a condition.
_FLAGS = {"public": "public", "moved_private": "moved to a private channel",
          "within_target": "answered within target", "needs_reply": "needing a reply"}
_OPERATOR_WORDS = {"==": "is", "!=": "is not", "<": "is below", "<=": "is at most",
                   ">": "is above", ">=": "is at least"}


def _words(node: Node) -> str:
    if isinstance(node, Binary) and node.op in ("and", "or"):
        return f"{_words_in(node.left, node.op)} {node.op} {_words_in(node.right, node.op)}"
    if isinstance(node, Unary) and node.op == "not":
        inner = _words(node.operand)
        return f"not {inner}" if isinstance(node.operand, Name) else f"not ({inner})"
    if isinstance(node, Name):
        return _FLAGS.get(node.name, node.name.replace("_", " "))
    if isinstance(node, Binary) and node.op in COMPARISONS and isinstance(node.left, Name):
        name = node.left.name
        if isinstance(node.right, Null) and node.op in ("==", "!="):
            having = _HAVING.get(name, "a " + name.replace("_", " "))
            return ("with " if node.op == "!=" else "without ") + having
        words, unit = _MEASURES.get(name, (name.replace("_", " "), ""))
        if not isinstance(node.right, Number):
            unit = ""
        return f"{words} {_OPERATOR_WORDS[node.op]} {_bare(node.right)}{unit}"
    if isinstance(node, In) and isinstance(node.operand, Name):
        items = ", ".join(_bare(item) for item in node.items)
        return f"{node.operand.name.replace('_', ' ')} is one of {items}"
    return f"'{format_expression(node)}'"


def _words_in(node: Node, op: str) -> str:
    """A part of an and/or in words, bracketed when it is the other of the two."""
    text = _words(node)
    other = "or" if op == "and" else "and"
    return f"({text})" if isinstance(node, Binary) and node.op == other else text


def n_label_of(population: str) -> str:
    """'actionable interactions with a first response' / "… where category is 'x'"."""
    if population.startswith(("with ", "without ")):
        return f"actionable interactions {population}"
    return f"actionable interactions where {population}"


# --- the checker and compiler -----------------------------------------------------------------

_SQL_OPERATORS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LITERAL_WORDS = "a number, 'text', true, false or null"


class _Checker:
    """Type-check a syntax tree and compile it to SQL, collecting every problem."""

    def __init__(self, text: str, allowed: frozenset[str]) -> None:
        self.text = text
        self.allowed = allowed
        self.errors: list[ExpressionError] = []
        self.names: set[str] = set()
        self.inside: str | None = None
        """The aggregate function being compiled, if any."""

    def span(self, node: Node) -> str:
        return self.text[node.pos : node.end]

    def error(self, node: Node, expected: str, hint: str = "", found: str | None = None) -> None:
        """Record a problem at a node (found defaults to the node's text)."""
        self.errors.append(
            _error_at(node.pos, expected, self.span(node) if found is None else found, hint)
        )

    # row level: the value of one interaction

    def value(self, node: Node) -> tuple[str, str]:
        """Return (type, SQL) of a row-level value; type 'error' once a problem is reported."""
        if isinstance(node, Number):
            return "number", _number_sql(node.value)
        if isinstance(node, Text):
            return "text", sql_str(node.value)
        if isinstance(node, Boolean):
            return "bool", "TRUE" if node.value else "FALSE"
        if isinstance(node, Null):
            return "null", "NULL"
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Unary) and node.op == "-":
            kind, sql = self.value(node.operand)
            self.numeric(node.operand, kind)
            return "number", f"(- {sql})"
        if isinstance(node, Binary) and node.op in ARITHMETIC:
            left_kind, left = self.value(node.left)
            right_kind, right = self.value(node.right)
            self.numeric(node.left, left_kind)
            self.numeric(node.right, right_kind)
            return "number", _arithmetic(node, left, right)
        if isinstance(node, Call):
            self.misplaced_call(node)
            return "error", "NULL"
        return "bool", self.condition(node)

    def name(self, node: Name) -> tuple[str, str]:
        if node.name not in self.allowed:
            self.unknown_name(node)
            return "error", "NULL"
        self.names.add(node.name)
        if node.name in FIELD_TYPES:
            return FIELD_TYPES[node.name], sql_ident(node.name)
        return "text", sql_ident(attribute_column(node.name))  # a dimension or other column

    def unknown_name(self, node: Name) -> None:
        word = node.name
        if word in FUNCTIONS:
            hint = f"'{word}' is a function: write {word}(…)."
        else:
            options = sorted(self.allowed | KEYWORDS)
            hint = did_you_mean(word, options) or did_you_mean(word.lower(), options)
            if not hint:
                hint = f"the known names are {quoted(sorted(self.allowed))}."
        self.error(node, "a field or dimension name", hint)

    def misplaced_call(self, node: Call) -> None:
        if node.function not in FUNCTIONS:
            self.unknown_function(node)
        elif self.inside is not None:
            self.error(
                node, f"a value of one interaction inside '{self.inside}'",
                "aggregates cannot be nested.", found=node.function,
            )
        else:
            self.error(
                node, "a condition on one interaction",
                "a ratio counts the interactions itself: write only the condition, or declare "
                "an 'aggregate'.", found=node.function,
            )

    def unknown_function(self, node: Call) -> None:
        names = ", ".join(list(FUNCTIONS)[:-1]) + " or " + list(FUNCTIONS)[-1]
        alias = _FUNCTION_ALIASES.get(node.function.lower())
        hint = f"did you mean '{alias}'?" if alias else did_you_mean(node.function, FUNCTIONS)
        self.error(node, f"a function: {names}", hint, found=node.function)

    def numeric(self, node: Node, kind: str) -> None:
        """Report a value that arithmetic or an aggregate cannot take."""
        if kind in ("number", "error"):
            return
        hints = {
            "bool": f"count({self.span(node)}) counts the interactions where it holds.",
            "time": "use frt_minutes or resolution_hours for durations.",
            "text": "",
            "null": "",
        }
        self.error(node, "a number", hints[kind])

    def condition(self, node: Node) -> str:
        """Return SQL that is TRUE or FALSE (never NULL) for one interaction."""
        if isinstance(node, Unary) and node.op == "not":
            return f"(NOT {self.condition(node.operand)})"
        if isinstance(node, Binary) and node.op in ("and", "or"):
            left, right = self.condition(node.left), self.condition(node.right)
            return f"({left} {node.op.upper()} {right})"
        if isinstance(node, Binary) and node.op in COMPARISONS:
            return self.comparison(node)
        if isinstance(node, In):
            return self.membership(node)
        if isinstance(node, Boolean):
            return "TRUE" if node.value else "FALSE"
        kind, sql = self.value(node)
        if kind == "bool":
            return f"coalesce({sql}, FALSE)"
        if kind != "error":
            hint = ""
            if isinstance(node, Name):
                example = "'…'" if kind == "text" else "…"
                hint = f"compare it with a value, e.g. {node.name} == {example}."
            self.error(node, "a condition", hint)
        return "FALSE"

    def operand(self, node: Node, op: str) -> tuple[str, str]:
        """Return (type, SQL) of a comparison's left side; type 'error' for a literal."""
        if isinstance(node, _LITERALS):
            self.error(
                node, f"a field or an expression over fields before '{op}'",
                "write the field on the left and the value on the right, e.g. csat >= 4.",
            )
            return "error", "NULL"
        return self.value(node)

    def comparison(self, node: Binary) -> str:
        if isinstance(node.left, _LITERALS):
            self.operand(node.left, node.op)
            return "FALSE"
        kind, left = self.operand(node.left, node.op)
        right = node.right
        if not isinstance(right, _LITERALS):
            if isinstance(right, Name) and right.name not in self.allowed:
                hint = f"quote text values: '{right.name}'."
            else:
                hint = "compare a field with a fixed value; fields cannot be compared to fields."
            self.error(right, f"{_LITERAL_WORDS} after '{node.op}'", hint)
            return "FALSE"
        if kind == "error":
            return "FALSE"
        if isinstance(right, Null):
            if node.op in ("==", "!="):
                return f"({left} IS {'NOT ' if node.op == '!=' else ''}NULL)"
            self.error(
                right, f"a number or 'text' after '{node.op}'",
                "test for a missing value with '== null' or '!= null'.",
            )
            return "FALSE"
        if not self.compatible(kind, right, node.op):
            return "FALSE"
        _, literal = self.value(right)
        return f"coalesce({left} {_SQL_OPERATORS[node.op]} {literal}, FALSE)"

    def compatible(self, kind: str, literal: Node, op: str) -> bool:
        """Report a literal that cannot be compared with a value of the given type."""
        if kind == "number" and not isinstance(literal, Number):
            hint = ""
            if isinstance(literal, Text) and _NUMBER.fullmatch(literal.value.strip()):
                hint = "remove the quotes."
            self.error(literal, f"a number after '{op}'", hint)
            return False
        if kind == "text" and not isinstance(literal, Text):
            self.error(literal, f"'text' in single quotes after '{op}'",
                       f"quote it: '{self.span(literal)}'.")
            return False
        if kind == "bool" and op not in ("==", "!=", "in"):
            self.error(literal, f"'==', '!=' or 'in' with a yes/no value, not '{op}'",
                       found=op)
            return False
        if kind == "bool" and not isinstance(literal, Boolean):
            self.error(literal, f"true or false after '{op}'",
                       "a yes/no field can also be the condition itself, or be negated with "
                       "'not'.")
            return False
        if kind == "time":
            self.error(
                literal, f"null after '{op}' (timestamps can only be tested for a missing value)",
                "use frt_minutes or resolution_hours for durations; periods are already cut by "
                "received_at.",
            )
            return False
        return kind != "null"

    def membership(self, node: In) -> str:
        kind, left = self.operand(node.operand, "in")
        if kind == "error":
            return "FALSE"
        sqls = []
        ok = True
        for item in node.items:
            if isinstance(item, Null):
                self.error(item, "a number or 'text' in the list",
                           "test for a missing value with '== null'.")
                ok = False
            elif self.compatible(kind, item, "in"):
                sqls.append(self.value(item)[1])
            else:
                ok = False
        if not ok:
            return "FALSE"
        return f"coalesce({left} IN ({', '.join(sqls)}), FALSE)"

    # aggregate level: one value per period and segment

    def aggregate(self, node: Node) -> str:
        """Return SQL for an aggregate expression: arithmetic over aggregate calls and numbers."""
        if isinstance(node, Number):
            return _number_sql(node.value)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Unary) and node.op == "-":
            return f"(- {self.aggregate(node.operand)})"
        if isinstance(node, Binary) and node.op in ARITHMETIC:
            return _arithmetic(node, self.aggregate(node.left), self.aggregate(node.right))
        if isinstance(node, Name):
            if node.name not in self.allowed:
                self.unknown_name(node)
            else:
                self.error(
                    node, "an aggregate such as median(frt_minutes) or count()",
                    f"wrap the field in an aggregate, e.g. mean({node.name}).",
                )
            return "NULL"
        hint = ""
        if not isinstance(node, _LITERALS):
            hint = "count(condition) counts the interactions where a condition holds."
        self.error(node, "a number or an aggregate such as count()", hint)
        return "NULL"

    def call(self, node: Call) -> str:
        if node.function not in FUNCTIONS:
            self.unknown_function(node)
            return "NULL"
        fewest, most = FUNCTIONS[node.function]
        if not fewest <= len(node.args) <= most:
            words = {0: "no argument", 1: "one argument", 2: "two arguments"}
            wanted = " or ".join(words[n] for n in range(fewest, most + 1))
            self.error(node, f"{wanted} for '{node.function}'")
            return "NULL"
        self.inside = node.function
        try:
            if node.function == "count":
                where = _ACTIONABLE
                if node.args:
                    where += f" AND {self.condition(node.args[0])}"
                return f"count(*) FILTER (WHERE {where})"
            kind, sql = self.value(node.args[0])
            self.numeric(node.args[0], kind)
            filtered = f" FILTER (WHERE {_ACTIONABLE})"
            # Sums run over exact decimals: the engine's parallel summation order must not
            # change the last digit between builds (byte-identical output).
            exact = f"CAST({sql} AS DECIMAL(38, 9))"
            if node.function == "sum":
                return f"coalesce(CAST(sum({exact}){filtered} AS DOUBLE), 0)"
            if node.function == "mean":
                return f"CAST(avg({exact}){filtered} AS DOUBLE)"
            if node.function in ("min", "max"):
                return f"{node.function}({sql}){filtered}"
            q = 0.5 if node.function == "median" else self.fraction(node.args[1])
            return f"quantile_cont({sql}, {_number_sql(q)}){filtered}"
        finally:
            self.inside = None

    def fraction(self, node: Node) -> float:
        """Return quantile's q, a number literal from 0 to 1."""
        if isinstance(node, Number) and 0 <= node.value <= 1:
            return float(node.value)
        hint = ""
        if isinstance(node, Number) and 1 < node.value <= 100:
            hint = f"write percentiles as fractions: {node.value / 100:g} for {node.value:g}."
        self.error(node, "a number from 0 to 1", hint)
        return 0.5


def _arithmetic(node: Binary, left: str, right: str) -> str:
    """Return SQL for an arithmetic operator; dividing by zero gives NULL, not infinity."""
    if node.op == "/" and not (isinstance(node.right, Number) and node.right.value != 0):
        right = f"nullif({right}, 0)"
    return f"({left} {node.op} {right})"


def _number_sql(value: float) -> str:
    """Return a number as a SQL literal (negative ones in parentheses: no '--' ever forms)."""
    text = str(value) if isinstance(value, int) else repr(float(value))
    return f"({text})" if text.startswith("-") else text
