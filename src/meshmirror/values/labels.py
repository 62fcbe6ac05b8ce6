"""Kubernetes label keys, values and selectors, exactly as apimachinery defines them.

The string form is read by a small lexer and a recursive-descent parser with the grammar of
apimachinery's ``labels.Parse``::

    selector     ::= "" | requirement ("," requirement)*
    requirement  ::= ["!"] KEY [set-op "(" [VALUE] ("," [VALUE])* ")" | exact-op [VALUE]]
    set-op       ::= "in" | "notin"
    exact-op     ::= "=" | "==" | "!=" | ">" | "<"

Whitespace between tokens is space, tab, CR or LF; ``= ! ( ) , < >`` are special characters;
anything else belongs to a key or a value, which are then validated.  ``str(selector)`` is
apimachinery's canonical ``Selector.String()``.

>>> sel = parse_selector("tier in (web, api), !canary")
>>> str(sel)
'!canary,tier in (api,web)'
>>> sel.matches({"tier": "web"}), sel.matches({"tier": "web", "canary": ""})
(True, False)
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

import attrs

__all__ = [
    "LabelError",
    "Operator",
    "Requirement",
    "Selector",
    "SelectorError",
    "SelectorTypeError",
    "is_valid_key",
    "is_valid_value",
    "parse_selector",
    "validate_key",
    "validate_value",
]

# --------------------------------------------------------------------------- errors


class LabelError(ValueError):
    """A label key or value that Kubernetes would reject.

    ``text`` is the offending key or value, ``reason`` what is wrong with it and what is
    allowed, ``kind`` is ``"key"`` or ``"value"``.

    >>> try:
    ...     validate_value("-x")
    ... except LabelError as err:
    ...     print(err.text, "|", err.kind)
    -x | value
    """

    def __init__(self, text: str, reason: str, kind: str = "key") -> None:
        super().__init__(f"invalid label {kind} {text!r}: {reason}")
        self.text = text
        self.reason = reason
        self.kind = kind

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.text, self.reason, self.kind))


class SelectorError(ValueError):
    """A label selector (string or ``LabelSelector`` dict) that cannot be used.

    ``text`` is the whole selector text (or ``repr`` of the dict), ``token`` the first bad
    token, key, value or operator (``None`` when there is none, e.g. at the end of the text),
    ``reason`` what is wrong.

    >>> try:
    ...     parse_selector("env in (prod dev)")
    ... except SelectorError as err:
    ...     print(err.token)
    dev
    """

    def __init__(self, text: str, token: str | None, reason: str) -> None:
        at = "" if token is None else f" at {token!r}"
        super().__init__(f"invalid label selector {text!r}{at}: {reason}")
        self.text = text
        self.token = token
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.text, self.token, self.reason))


class SelectorTypeError(SelectorError, TypeError):
    """A selector given as something that is not a selector at all (``None``, a number):
    ``text`` is its ``repr``."""


# --------------------------------------------------------------------------- keys and values

_NAME_MAX: Final = 63
_PREFIX_MAX: Final = 253
# Explicit ASCII classes and ``fullmatch``: no \w, \d or $ (which would accept a final "\n").
_NAME_RE: Final = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_LABEL: Final = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_RE: Final = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")
_NAME_RULE: Final = (
    "consist of ASCII alphanumeric characters, '-', '_' or '.', and start and end with an "
    "alphanumeric character (e.g. 'MyName', 'my.name' or '123-abc')"
)
_PREFIX_RULE: Final = (
    "must be a lowercase RFC 1123 subdomain: lowercase ASCII alphanumeric characters, '-' "
    "or '.', starting and ending with an alphanumeric character (e.g. 'example.com')"
)


def _key_problem(key: str) -> str | None:
    if len(key) <= _NAME_MAX and _NAME_RE.fullmatch(key):
        return None  # the common case: a plain name
    parts = key.split("/")
    if len(parts) > 2:
        return (
            "a label key is an optional DNS subdomain prefix and '/' followed by a name, "
            "with at most one '/' (e.g. 'example.com/MyName')"
        )
    problems = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            problems.append("prefix part must be non-empty")
        elif len(prefix) > _PREFIX_MAX:
            problems.append(f"prefix part must be no more than {_PREFIX_MAX} characters")
        elif not _SUBDOMAIN_RE.fullmatch(prefix):
            problems.append("prefix part " + _PREFIX_RULE)
    name = parts[-1]
    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > _NAME_MAX:
        problems.append(f"name part must be no more than {_NAME_MAX} characters")
    elif not _NAME_RE.fullmatch(name):
        problems.append("name part must " + _NAME_RULE)
    return "; ".join(problems) or None


def _value_problem(value: str) -> str | None:
    if len(value) > _NAME_MAX:
        return f"must be no more than {_NAME_MAX} characters"
    if value and not _NAME_RE.fullmatch(value):
        return "must be empty or " + _NAME_RULE
    return None


def _not_text(value: object, kind: str) -> LabelError:
    return LabelError(
        repr(value), f"a label {kind} must be a string, not {type(value).__name__}", kind
    )


def validate_key(key: str) -> None:
    """Raise `LabelError` unless *key* is a valid label key (``[prefix/]name``).

    >>> validate_key("example.com/App_1")
    >>> try:
    ...     validate_key("Example.com/app")
    ... except LabelError as err:
    ...     print(err.reason[:40])
    prefix part must be a lowercase RFC 1123
    """
    if not isinstance(key, str):
        raise _not_text(key, "key")
    problem = _key_problem(key)
    if problem is not None:
        raise LabelError(key, problem, "key")


def validate_value(value: str) -> None:
    """Raise `LabelError` unless *value* is a valid label value (empty allowed).

    >>> validate_value("")
    >>> try:
    ...     validate_value("a" * 64)
    ... except LabelError as err:
    ...     print(err.reason)
    must be no more than 63 characters
    """
    if not isinstance(value, str):
        raise _not_text(value, "value")
    problem = _value_problem(value)
    if problem is not None:
        raise LabelError(value, problem, "value")


def is_valid_key(key: str) -> bool:
    """Whether *key* is a valid label key.

    >>> is_valid_key("app"), is_valid_key("a/b/c")
    (True, False)
    """
    return isinstance(key, str) and _key_problem(key) is None


def is_valid_value(value: str) -> bool:
    """Whether *value* is a valid label value.

    >>> is_valid_value(""), is_valid_value("x\\n")
    (True, False)
    """
    return isinstance(value, str) and _value_problem(value) is None


_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
# strconv.ParseInt(s, 10, 64): one optional sign, ASCII digits only (no "_", no spaces).
_INT_RE: Final = re.compile(r"([+-]?)0*([0-9]{1,19})")


def _parse_int64(text: str) -> int | None:
    m = _INT_RE.fullmatch(text)
    if m is None:
        return None
    n = -int(m.group(2)) if m.group(1) == "-" else int(m.group(2))
    return n if _INT64_MIN <= n <= _INT64_MAX else None


# --------------------------------------------------------------------------- requirements


class Operator(str, enum.Enum):
    """A requirement's operator, spelled as apimachinery's ``selection.Operator``."""

    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


_SET_OPS: Final = frozenset({Operator.IN, Operator.NOT_IN})
_EXACT_OPS: Final = frozenset({Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS})
_UNARY_OPS: Final = frozenset({Operator.EXISTS, Operator.DOES_NOT_EXIST})
_INT_OPS: Final = frozenset({Operator.GREATER_THAN, Operator.LESS_THAN})
# Match kinds: the value must be in the set / must not be / key present / absent / > / <.
_M_IN, _M_NOT_IN, _M_EXISTS, _M_ABSENT, _M_GT, _M_LT = range(6)
# Per operator: how it prints between key and values in String(), and its match kind.
_OPS: Final = MappingProxyType(
    {
        Operator.EQUALS: ("=", _M_IN),
        Operator.DOUBLE_EQUALS: ("==", _M_IN),
        Operator.NOT_EQUALS: ("!=", _M_NOT_IN),
        Operator.IN: (" in (", _M_IN),
        Operator.NOT_IN: (" notin (", _M_NOT_IN),
        Operator.EXISTS: ("", _M_EXISTS),
        Operator.DOES_NOT_EXIST: ("", _M_ABSENT),
        Operator.GREATER_THAN: (">", _M_GT),
        Operator.LESS_THAN: ("<", _M_LT),
    }
)
_Check = tuple[int, str, Any]  # (kind, key, frozenset of values | int bound | None)


def _to_operator(op: Operator | str) -> Operator:
    try:
        return Operator(op)
    except ValueError:
        allowed = ", ".join(o.value for o in Operator)
        raise SelectorError(repr(op), str(op), f"unknown operator; allowed: {allowed}") from None


def _to_values(values: Iterable[str]) -> tuple[str, ...]:
    out = () if isinstance(values, str) else tuple(values)
    if isinstance(values, str) or not all(isinstance(v, str) for v in out):
        raise TypeError(f"values must be an iterable of strings, not {values!r}")
    return tuple(sorted(out))


def _requirement_problem(
    key: str, op: Operator, values: Sequence[str], spelling: str = ""
) -> tuple[str, str] | None:
    """The first problem of a requirement as (bad token, reason), in apimachinery's order.
    *spelling* is the operator as the user wrote it (default: as String() prints it)."""
    problem = _key_problem(key)
    if problem is not None:
        return key, f"invalid label key {key!r}: {problem}"
    name = spelling or _OPS[op][0].strip(" (") or op.value
    if op in _SET_OPS and not values:
        return name, f"operator {name!r} needs at least one value"
    if (op in _EXACT_OPS or op in _INT_OPS) and len(values) != 1:
        return name, f"operator {name!r} needs exactly one value"
    if op in _UNARY_OPS and values:
        return values[0], f"operator {name!r} takes no values"
    if op in _INT_OPS and _parse_int64(values[0]) is None:
        return values[0], f"the value {values[0]!r} of {name!r} must be a base-10 64-bit integer"
    for value in values:
        problem = _value_problem(value)
        if problem is not None:
            return value, f"invalid label value {value!r} for key {key!r}: {problem}"
    return None


@attrs.frozen
class Requirement:
    """One condition of a selector: a key, an operator and values.

    Construction validates like apimachinery's ``NewRequirement`` and raises `SelectorError`.
    ``values`` is kept sorted (duplicates kept, as the dict form keeps them).

    >>> r = Requirement("env", Operator.NOT_IN, ["prod", "dev"])
    >>> str(r), r.values
    ('env notin (dev,prod)', ('dev', 'prod'))
    >>> r.matches({}), r.matches({"env": "dev"})
    (True, False)
    """

    key: str
    operator: Operator = attrs.field(converter=_to_operator)
    values: tuple[str, ...] = attrs.field(default=(), converter=_to_values)
    _check: _Check = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        problem = _requirement_problem(self.key, self.operator, self.values)
        if problem is not None:
            text = f"Requirement({self.key!r}, {self.operator.value!r}, {self.values!r})"
            raise SelectorError(text, problem[0], problem[1])
        kind = _OPS[self.operator][1]
        arg: Any = None
        if kind in (_M_IN, _M_NOT_IN):
            arg = frozenset(self.values)
        elif kind in (_M_GT, _M_LT):
            arg = _parse_int64(self.values[0])
        object.__setattr__(self, "_check", (kind, self.key, arg))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether *labels* satisfy this requirement (labels are not validated)."""
        return _matches_all((self._check,), labels)

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        text = self.key + _OPS[op][0] + ",".join(self.values)
        return text + ")" if op in _SET_OPS else text


def _matches_all(checks: tuple[_Check, ...], labels: Mapping[str, str]) -> bool:
    get = labels.get
    for kind, key, arg in checks:
        if kind == _M_IN:
            if get(key) not in arg:  # an absent key gives None, never in the set
                return False
        elif kind == _M_NOT_IN:
            if get(key) in arg:
                return False
        elif kind == _M_EXISTS:
            if key not in labels:
                return False
        elif kind == _M_ABSENT:
            if key in labels:
                return False
        else:
            value = get(key)
            number = None if value is None else _parse_int64(value)
            if number is None or not (number > arg if kind == _M_GT else number < arg):
                return False
    return True


# --------------------------------------------------------------------------- lexer and parser

_SPECIAL: Final = frozenset({"=", "==", "!=", "!", "(", ")", ",", "<", ">"})
# Longest match first: the only two-character operators are "==" and "!=".  Whitespace is
# exactly " \t\r\n"; findall skips it because no alternative matches it.
_TOKEN_RE: Final = re.compile(r"==|!=|[=!(),<>]|[^ \t\r\n=!(),<>]+")
# The tokens that may follow a key: "in", "notin", "=", "==", "!=", ">", "<".
_OPERATOR_TOKENS: Final = MappingProxyType({s.strip(" ("): op for op, (s, _) in _OPS.items() if s})


def _tokenize(text: str) -> list[str]:
    """Split selector text into tokens; special tokens are the strings in ``_SPECIAL``."""
    return _TOKEN_RE.findall(text)


class _Parser:
    """Recursive descent over the token list; ``in``/``notin`` are keywords only where an
    operator is expected, and identifiers (keys or values) everywhere else."""

    __slots__ = ("pos", "text", "tokens")

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> str | None:
        token = self.peek()
        self.pos += 1
        return token

    def fail(self, token: str | None, expected: str) -> SelectorError:
        found = "end of string" if token is None else repr(token)
        return SelectorError(self.text, token, f"found {found}, expected {expected}")

    def selector(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token = self.peek()
            if token is None and not requirements:
                return requirements  # "" or only whitespace
            if token is None or (token in _SPECIAL and token != "!"):
                after = "identifier after ','" if requirements else "'!' or an identifier"
                raise self.fail(token, after)
            requirements.append(self.requirement())
            token = self.next()
            if token is None:
                return requirements
            if token != ",":
                raise self.fail(token, "',' or end of string")

    def requirement(self) -> Requirement:
        negated = self.peek() == "!"
        if negated:
            self.pos += 1
        key = self.next()
        if key is None or key in _SPECIAL:
            raise self.fail(key, "an identifier (a label key)")
        problem = _key_problem(key)
        if problem is not None:
            raise SelectorError(self.text, key, f"invalid label key {key!r}: {problem}")
        after = self.peek()
        if negated:  # whatever follows "!key" must be "," or the end
            return self.build(key, Operator.DOES_NOT_EXIST, ())
        if after is None or after == ",":
            return self.build(key, Operator.EXISTS, ())
        self.pos += 1
        op = _OPERATOR_TOKENS.get(after)
        if op is None:
            raise self.fail(after, "an operator: in, notin, =, ==, !=, > or <")
        if op in _SET_OPS:
            return self.build(key, op, self.set_values())
        value = self.peek()
        if value is None or value == ",":
            return self.build(key, op, ("",))  # nothing after the operator: the empty value
        self.pos += 1
        if value in _SPECIAL:
            raise self.fail(value, "a value")
        return self.build(key, op, (value,))

    def set_values(self) -> list[str]:
        token = self.next()
        if token != "(":
            raise self.fail(token, "'('")
        values: list[str] = []
        item_expected = True  # at the start of a (possibly empty) list item
        while True:
            token = self.next()
            if token == ")":
                if item_expected:
                    values.append("")  # "()", "(a,)"
                return sorted(set(values))
            if token == ",":
                if item_expected:
                    values.append("")  # "(,a)", "(a,,b)"
                item_expected = True
            elif item_expected and token is not None and token not in _SPECIAL:
                values.append(token)
                item_expected = False
            elif item_expected:
                raise self.fail(token, "',', ')' or a value")
            else:
                raise self.fail(token, "',' or ')'")

    def build(self, key: str, op: Operator, values: Sequence[str]) -> Requirement:
        try:
            return Requirement(key, op, values)
        except SelectorError as err:
            raise SelectorError(self.text, err.token, err.reason) from None


def _stable_sorted(requirements: Iterable[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(requirements, key=lambda r: r.key))


# --------------------------------------------------------------------------- selectors

_OPERATOR_NAMES: Final = MappingProxyType(
    {
        Operator.IN: "In",
        Operator.NOT_IN: "NotIn",
        Operator.EXISTS: "Exists",
        Operator.DOES_NOT_EXIST: "DoesNotExist",
    }
)
_DICT_OPERATORS: Final = MappingProxyType({name: op for op, name in _OPERATOR_NAMES.items()})


@attrs.frozen
class Selector:
    """A label selector: requirements ANDed, in canonical order (stable by key).

    ``Selector.everything()`` (no requirements) matches every label set and
    ``Selector.nothing()`` none; both print as ``""`` but are not equal.

    >>> a = Selector.parse("x=1, app in (b, a)")
    >>> str(a), a == Selector.parse("app in (a,b),x=1")
    ('app in (a,b),x=1', True)
    >>> Selector.everything() == Selector.nothing(), str(Selector.nothing())
    (False, '')
    """

    requirements: tuple[Requirement, ...] = attrs.field(default=(), converter=_stable_sorted)
    _nothing: bool = attrs.field(default=False, kw_only=True)
    _checks: tuple[_Check, ...] = attrs.field(init=False, eq=False, repr=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if self._nothing and self.requirements:
            raise ValueError("the nothing() selector has no requirements")
        object.__setattr__(self, "_checks", tuple(r._check for r in self.requirements))

    @classmethod
    def everything(cls) -> Selector:
        """The selector that matches every label set (``""``, an empty LabelSelector)."""
        return cls(())

    @classmethod
    def nothing(cls) -> Selector:
        """The selector that matches no label set (a ``None`` LabelSelector)."""
        return cls((), nothing=True)

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse the string form; same as `parse_selector`."""
        return parse_selector(text)

    @classmethod
    def from_label_selector(cls, selector: Mapping[str, Any] | None) -> Selector:
        """Convert a ``LabelSelector`` dict (``matchLabels``/``matchExpressions``).

        ``None`` selects nothing and an empty one everything, as ``LabelSelectorAsSelector``.

        >>> s = Selector.from_label_selector(
        ...     {"matchLabels": {"app": "web"},
        ...      "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]})
        >>> str(s)
        'app=web,env notin (dev)'
        >>> Selector.from_label_selector(None).is_nothing()
        True
        """
        if selector is None:
            return cls.nothing()
        return cls(_requirements_from_dict(selector))

    def to_label_selector(self) -> dict[str, Any] | None:
        """The ``LabelSelector`` dict, like apimachinery's ``ParseToLabelSelector``;
        None for `nothing` (a nil LabelSelector, as `from_label_selector` reads it).

        ``=``/``==`` become ``matchLabels``; set and exists operators ``matchExpressions``
        (values sorted, a repeated value kept, as ``LabelSelectorAsSelector`` keeps it);
        ``!=``, ``>`` and ``<`` raise `SelectorError`, as do two ``=`` requirements on one
        key with different values.

        >>> Selector.nothing().to_label_selector() is None
        True

        >>> Selector.parse("app==web,!canary").to_label_selector()
        {'matchLabels': {'app': 'web'}, 'matchExpressions': [{'key': 'canary', \
'operator': 'DoesNotExist'}]}
        """
        text = str(self)
        if self._nothing:
            return None
        match_labels: dict[str, str] = {}
        expressions: list[dict[str, Any]] = []
        for r in self.requirements:
            if r.operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS):
                old = match_labels.setdefault(r.key, r.values[0])
                if old != r.values[0]:
                    reason = f"matchLabels cannot hold two values for key {r.key!r}"
                    raise SelectorError(text, r.key, reason)
            elif r.operator in _OPERATOR_NAMES:
                expr: dict[str, Any] = {"key": r.key, "operator": _OPERATOR_NAMES[r.operator]}
                if r.values:
                    expr["values"] = list(r.values)  # sorted already
                expressions.append(expr)
            else:
                op = _OPS[r.operator][0]
                reason = f"operator {op!r} (in {str(r)!r}) has no LabelSelector form"
                raise SelectorError(text, op, reason)
        out = {"matchLabels": match_labels, "matchExpressions": expressions}
        return {name: part for name, part in out.items() if part}

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every requirement holds for *labels* (labels are not validated).

        >>> Selector.parse("x!=a,y notin (b)").matches({})
        True
        """
        return not self._nothing and _matches_all(self._checks, labels)

    def is_everything(self) -> bool:
        """Whether this selector places no restriction (apimachinery's ``Empty()``)."""
        return not self._nothing and not self.requirements

    def is_nothing(self) -> bool:
        """Whether this is the `nothing` selector."""
        return self._nothing

    def add(self, *requirements: Requirement) -> Selector:
        """A new selector with *requirements* added (`nothing` stays nothing).

        >>> str(Selector.parse("b").add(Requirement("a", Operator.EXISTS)))
        'a,b'
        """
        if self._nothing:
            return self
        return Selector(self.requirements + requirements)

    def __str__(self) -> str:
        return ",".join(map(str, self.requirements))


def parse_selector(text: str) -> Selector:
    """Parse a label selector string as apimachinery's ``labels.Parse``; raise `SelectorError`.

    An empty or all-whitespace string selects everything.

    >>> str(parse_selector("  b notin (y,,x) , a>010 ,!c "))
    'a>010,b notin (,x,y),!c'
    >>> try:
    ...     parse_selector("x in (a),")
    ... except SelectorError as err:
    ...     print(err)
    invalid label selector 'x in (a),': found end of string, expected identifier after ','

    Anything but a string is a :class:`SelectorTypeError` (a ``SelectorError`` and a
    ``TypeError``) naming it.
    """
    if not isinstance(text, str):
        raise SelectorTypeError(
            repr(text),
            None,
            f"a selector must be a string, not {type(text).__name__} ('' selects everything; "
            "Selector.from_label_selector reads a LabelSelector dict)",
        )
    return Selector(_Parser(text).selector())


def _requirements_from_dict(selector: Any) -> list[Requirement]:
    text = repr(selector)

    def check(ok: bool, token: Any, reason: str) -> None:
        if not ok:
            shown = token if token is None or isinstance(token, str) else repr(token)
            raise SelectorError(text, shown, reason)

    def is_list(value: Any) -> bool:
        return isinstance(value, Sequence) and not isinstance(value, (str, bytes))

    # First the shape and types (what decoding JSON into Go's LabelSelector checks) ...
    check(isinstance(selector, Mapping), None, "a LabelSelector must be a mapping or None")
    for field in selector:
        allowed = field in ("matchLabels", "matchExpressions")
        check(allowed, field, "unknown field (allowed: matchLabels, matchExpressions)")
    labels = selector.get("matchLabels")
    labels = {} if labels is None else labels
    exprs = selector.get("matchExpressions")
    exprs = [] if exprs is None else exprs
    check(isinstance(labels, Mapping), "matchLabels", "matchLabels must be a mapping")
    check(is_list(exprs), "matchExpressions", "matchExpressions must be a list")
    found: list[tuple[str, str, str | None, Any]] = []  # (where, key, operator name, values)
    for key in sorted(labels, key=lambda k: (not isinstance(k, str), str(k))):
        for item in (key, labels[key]):
            check(isinstance(item, str), item, f"matchLabels entries must be strings: {item!r}")
        found.append((f"matchLabels[{key!r}]", key, None, [labels[key]]))
    for i, expr in enumerate(exprs):
        where = f"matchExpressions[{i}]"
        check(isinstance(expr, Mapping), None, f"{where} must be a mapping")
        for field in expr:
            allowed = field in ("key", "operator", "values")
            check(allowed, field, f"{where}: unknown field (allowed: key, operator, values)")
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values")
        values = [] if values is None else values
        check(isinstance(key, str), key, f"{where}: the key must be a string")
        check(isinstance(op, str), op, f"{where}: the operator must be a string")
        check(is_list(values), "values", f"{where}: values must be a list of strings")
        for value in values:
            check(isinstance(value, str), value, f"{where}: values must be strings: {value!r}")
        found.append((where, key, op, values))
    # ... then the meaning, in LabelSelectorAsSelector's order.
    requirements = []
    for where, key, op, values in found:
        operator = Operator.EQUALS if op is None else _DICT_OPERATORS.get(op)
        if operator is None:
            choices = "(allowed: In, NotIn, Exists, DoesNotExist)"
            raise SelectorError(text, op, f"{where}: {op!r} is not a valid operator {choices}")
        problem = _requirement_problem(key, operator, values, op or "")
        if problem is not None:
            raise SelectorError(text, problem[0], f"{where}: {problem[1]}")
        requirements.append(Requirement(key, operator, values))
    return requirements
