"""Hypothesis strategies for label keys, values, requirements and selectors.

Kept beside the tests for now; they may move into ``meshmirror.testing`` later.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from meshmirror.labels import Operator, Requirement, Selector

INT64_MAX = 2**63 - 1

# A few fixed keys so that generated selectors and label sets collide often; "in" and
# "notin" are keywords only in operator position and must still work as keys and values.
COMMON_KEYS = ("a", "b", "in", "notin", "example.com/app", "x.y-z_0")
COMMON_VALUES = ("", "a", "b", "in", "notin", "1", "2", "01", "A_b.c-0")

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?"


def label_names() -> st.SearchStrategy[str]:
    """The name part of a key (also any non-empty value): 1-63 ASCII characters."""
    return st.from_regex(_NAME, fullmatch=True)


def dns_subdomains() -> st.SearchStrategy[str]:
    """Lowercase RFC 1123 subdomains of at most 253 characters."""
    labels = st.lists(st.from_regex(_DNS_LABEL, fullmatch=True), min_size=1, max_size=4)
    return labels.map(".".join).filter(lambda s: len(s) <= 253)


def label_keys() -> st.SearchStrategy[str]:
    """Valid label keys, with or without a prefix, often one of `COMMON_KEYS`."""
    prefixed = st.builds(lambda p, n: f"{p}/{n}", dns_subdomains(), label_names())
    return st.one_of(st.sampled_from(COMMON_KEYS), label_names(), prefixed)


def label_values() -> st.SearchStrategy[str]:
    """Valid label values (empty included), often one of `COMMON_VALUES`."""
    return st.one_of(st.sampled_from(COMMON_VALUES), st.just(""), label_names())


def int_operands() -> st.SearchStrategy[str]:
    """Operands of ``>``/``<``: ASCII digits, maybe with leading zeros, <= 2**63-1."""
    return st.builds(
        lambda n, zeros: "0" * zeros + str(n),
        st.integers(min_value=0, max_value=INT64_MAX),
        st.integers(min_value=0, max_value=3),
    )


def label_sets() -> st.SearchStrategy[dict[str, str]]:
    """Label sets over keys that selectors use, with values that exercise ``>``/``<``."""
    values = st.one_of(
        label_values(),
        st.integers(min_value=-(2**64), max_value=2**64).map(str),
        st.sampled_from(["+5", " 2", "2_0", "\uff12", "9223372036854775808", "0x1", "1e3"]),
    )
    return st.dictionaries(label_keys(), values, max_size=6)


_ALL_OPS = tuple(Operator)
_DICT_OPS = (
    Operator.EQUALS,
    Operator.IN,
    Operator.NOT_IN,
    Operator.EXISTS,
    Operator.DOES_NOT_EXIST,
)


@st.composite
def requirements(
    draw: st.DrawFn,
    keys: st.SearchStrategy[str] | None = None,
    operators: tuple[Operator, ...] = _ALL_OPS,
) -> Requirement:
    """A valid `Requirement`; set values are distinct, as the string form de-duplicates them."""
    key = draw(keys if keys is not None else label_keys())
    op = draw(st.sampled_from(operators))
    values: list[str] = []
    if op in (Operator.IN, Operator.NOT_IN):
        values = draw(st.lists(label_values(), min_size=1, max_size=4, unique=True))
    elif op in (Operator.GREATER_THAN, Operator.LESS_THAN):
        values = [draw(int_operands())]
    elif op not in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        values = [draw(label_values())]
    return Requirement(key, op, values)


def selectors(max_size: int = 6) -> st.SearchStrategy[Selector]:
    """Selectors whose string form parses back to an equal selector."""
    return st.lists(requirements(), max_size=max_size).map(Selector)


@st.composite
def representable_selectors(draw: st.DrawFn, max_size: int = 6) -> Selector:
    """Selectors that survive ``to_label_selector`` and back unchanged: one requirement per
    key, and only ``=``, ``in``, ``notin``, exists and not-exists."""
    keys = draw(st.lists(label_keys(), max_size=max_size, unique=True))
    return Selector([draw(requirements(st.just(k), _DICT_OPS)) for k in keys])


def selector_texts() -> st.SearchStrategy[str]:
    """Arbitrary text biased towards selector syntax: special characters, the whitespace
    the lexer knows, whitespace it does not know, keywords and unicode."""
    pieces = st.one_of(
        st.sampled_from(
            [*list("=!(),<> \t\r\n"), "==", "!=", "in", "notin", "\x0b", "\x0c", "\xa0"]
        ),
        st.sampled_from(["a", "x", "b/c", "a.b-c", "01", "9223372036854775808", "-1", "A_b", ""]),
        st.text(max_size=4),
    )
    return st.lists(pieces, max_size=20).map("".join)


def json_like() -> st.SearchStrategy[Any]:
    """Arbitrary JSON-like values, biased to look like a LabelSelector."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=5),
        st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "a", "-a", "", "x/y/z"]),
    )
    names = st.sampled_from(
        ["matchLabels", "matchExpressions", "key", "operator", "values", "a", "b", "matchlabels"]
    )

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.one_of(names, st.text(max_size=3)), children, max_size=4),
        )

    return st.recursive(scalars, extend, max_leaves=20)
