"""Tests for meshmirror.values.labels: apimachinery's vectors, the reference points, properties."""

from __future__ import annotations

import contextlib
import json
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meshmirror.values import labels as L
from meshmirror.values.labels import (
    LabelError,
    Operator,
    Requirement,
    Selector,
    SelectorError,
    is_valid_key,
    is_valid_value,
    parse_selector,
    validate_key,
    validate_value,
)
from strategies_labels import (
    json_like,
    label_sets,
    representable_selectors,
    requirements,
    selector_texts,
    selectors,
)

DATA = json.loads(
    (Path(__file__).parent / "data" / "apimachinery_selectors.json").read_text("utf-8")
)


def _id(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    shown = text if len(text) <= limit else f"{text[:limit]}...({len(text)})"
    return repr(shown) if isinstance(value, str) else shown


def _cases(section: str, *fields: str) -> list[Any]:
    out = []
    for i, case in enumerate(DATA[section]):
        label = " ".join(_id(case.get(f)) for f in fields)
        out.append(pytest.param(case, id=f"{i}-{case['go']}-{label}"))
    return out


def _req(spec: list[Any]) -> Requirement:
    key, op, values = spec
    return Requirement(key, op, values)


# --------------------------------------------------------------------------- vectors


def test_vector_count() -> None:
    total = sum(len(v) for v in DATA.values() if isinstance(v, list))
    assert total >= 300


@pytest.mark.parametrize("case", _cases("parse", "text"))
def test_vector_parse(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(SelectorError):
            parse_selector(case["text"])
    else:
        sel = parse_selector(case["text"])
        assert str(sel) == case["string"]
        assert not sel.is_nothing()
        assert parse_selector(str(sel)) == sel


@pytest.mark.parametrize("case", _cases("match", "selector", "labels"))
def test_vector_match(case: dict[str, Any]) -> None:
    assert parse_selector(case["selector"]).matches(case["labels"]) is case["matches"]


@pytest.mark.parametrize("case", _cases("requirements", "key", "operator", "values"))
def test_vector_requirement_constructor(case: dict[str, Any]) -> None:
    if case["valid"]:
        _req([case["key"], case["operator"], case["values"]])
    else:
        with pytest.raises(SelectorError):
            _req([case["key"], case["operator"], case["values"]])


@pytest.mark.parametrize("case", _cases("selectors", "requirements"))
def test_vector_constructed_selector(case: dict[str, Any]) -> None:
    sel = Selector([_req(r) for r in case["requirements"]])
    if "add" in case:
        sel = sel.add(*(_req(r) for r in case["add"]))
    if "string" in case:
        assert str(sel) == case["string"]
    if "labels" in case:
        assert sel.matches(case["labels"]) is case["matches"]


@pytest.mark.parametrize("case", _cases("label_selector", "input"))
def test_vector_label_selector_as_selector(case: dict[str, Any]) -> None:
    if case.get("error"):
        with pytest.raises(SelectorError):
            Selector.from_label_selector(case["input"])
        return
    sel = Selector.from_label_selector(case["input"])
    assert str(sel) == case["string"]
    assert sel.is_nothing() is case["nothing"]
    assert sel.matches(case["labels"]) is case["matches"]


@pytest.mark.parametrize("case", _cases("to_label_selector", "text"))
def test_vector_parse_to_label_selector(case: dict[str, Any]) -> None:
    sel = parse_selector(case["text"])
    if case.get("error"):
        with pytest.raises(SelectorError):
            sel.to_label_selector()
    else:
        assert sel.to_label_selector() == case["output"]


@pytest.mark.parametrize("case", _cases("keys", "key"))
def test_vector_key(case: dict[str, Any]) -> None:
    assert is_valid_key(case["key"]) is case["valid"]
    if case["valid"]:
        validate_key(case["key"])
    else:
        with pytest.raises(LabelError) as info:
            validate_key(case["key"])
        assert info.value.text == case["key"]


@pytest.mark.parametrize("case", _cases("values", "value"))
def test_vector_value(case: dict[str, Any]) -> None:
    assert is_valid_value(case["value"]) is case["valid"]
    if case["valid"]:
        validate_value(case["value"])
    else:
        with pytest.raises(LabelError) as info:
            validate_value(case["value"])
        assert info.value.text == case["value"]


@pytest.mark.parametrize("case", _cases("lexer", "text"))
def test_vector_lexer(case: dict[str, Any]) -> None:
    assert L._tokenize(case["text"]) == case["tokens"]


# --------------------------------------------------------------------------- reference points


def _str(text: str) -> str:
    return str(parse_selector(text))


def _bad(text: str) -> SelectorError:
    with pytest.raises(SelectorError) as info:
        parse_selector(text)
    return info.value


def test_ref01_whitespace_is_exactly_space_tab_cr_lf() -> None:
    assert _str(" \t\r\nx\t=\ra\n,\n\ny ") == "x=a,y"
    for ws in ["\v", "\f", "\u00a0", "\u2003", "\u3000", "\x85", "\u200b"]:
        _bad(f"x{ws}")
        _bad(f"x=a{ws},y")
        _bad(f"x in (a,{ws}b)")
    for other in ["|", ";", "&", "\x00"]:
        _bad(f"x=a{other}y=b")


def test_ref02_two_character_operators() -> None:
    assert _str("x==1,y!=2") == "x==1,y!=2"
    for text in ["x>=1", "x<=1", "x=>1", "x===1", "x! =1", "x=!1", "x<>1", "x!==1", "x=<1"]:
        _bad(text)


def test_ref03_operators_case_sensitive_and_keywords_contextual() -> None:
    for text in ["x IN (a)", "x In (a)", "x NOTIN (a)", "x notIn (a)", "x exists", "x gt 1"]:
        _bad(text)
    assert _str("in in (in)") == "in in (in)"
    assert _str("notin notin (notin, in)") == "notin notin (in,notin)"
    assert _str("in=notin,notin") == "in=notin,notin"
    assert _str("!in") == "!in"
    assert parse_selector("notin=in").matches({"notin": "in"})


def test_ref04_nothing_after_exact_operator_is_empty_value() -> None:
    assert _str("x=") == "x="
    assert _str("x==") == "x=="
    assert _str("x!=") == "x!="
    assert _str("x= ,y") == "x=,y"
    assert parse_selector("x=").matches({"x": ""})
    assert not parse_selector("x=").matches({})
    assert parse_selector("x!=").matches({})


def test_ref05_empty_set_values_and_dedup() -> None:
    for text in ["x in ()", "x in ( )", "x in (,)", "x in (,,)"]:
        assert parse_selector(text).requirements[0].values == ("",)
    assert parse_selector("x in (a,)").requirements[0].values == ("", "a")
    assert parse_selector("x in (,a)").requirements[0].values == ("", "a")
    assert parse_selector("x in (a,,b)").requirements[0].values == ("", "a", "b")
    assert _str("x in (b,a,b,a)") == "x in (a,b)"
    assert parse_selector("x in (a,)").matches({"x": ""})


def test_ref06_integer_operands() -> None:
    assert _str("x>9223372036854775807") == "x>9223372036854775807"
    assert _str("x<007") == "x<007"
    assert _str("x>" + "0" * 62 + "1") == "x>" + "0" * 62 + "1"
    assert parse_selector("x<007").matches({"x": "6"})
    bad = [
        "-1",
        "+1",
        "1_0",
        "\uff11",
        "\u0661",
        "9223372036854775808",
        "",
        "1.0",
        "0x1",
        "0" * 63 + "1",
    ]
    for operand in bad:
        err = _bad(f"x>{operand}")
        if operand:
            assert err.token == operand


def test_ref07_syntax_errors() -> None:
    cases = {
        "x=a,": None,
        "x=a,,y": ",",
        ",x": ",",
        "!x=a": "=",
        "!x in (a)": "in",
        "!!x": "!",
        "x in a": "a",
        "x in (a b)": "b",
        "x in (a) y": "y",
        "x in (a))": ")",
        "x in (a),": None,
        "x in (a": None,
        "x in (a,": None,
        "x in": None,
        "x y": "y",
        "x=a b": "b",
        "x=(a)": "(",
        "(": "(",
        ")": ")",
        "!": None,
    }
    for text, token in cases.items():
        err = _bad(text)
        assert err.token == token, text
        assert err.text == text


def test_ref08_empty_or_blank_selects_everything() -> None:
    for text in ["", " ", " \t\r\n "]:
        sel = parse_selector(text)
        assert sel == Selector.everything()
        assert sel.is_everything()
        assert sel.matches({})
        assert sel.matches({"a": "b"})
        assert str(sel) == ""


def test_ref09_key_rules() -> None:
    assert is_valid_key("a" * 253 + "/" + "b" * 63)
    assert not is_valid_key("a" * 254 + "/b")
    assert is_valid_key("a" * 100 + ".com/x")  # no 63 limit per dot-part of the prefix
    assert is_valid_key("example.com/MyName_1")
    assert is_valid_key("a" * 63)
    assert not is_valid_key("a" * 64)
    for bad in [
        "Example.com/x",
        "ex_ample.com/x",
        "a..b/x",
        "a/b/c",
        "/x",
        "x/",
        "",
        "-x",
        "x-",
        ".x",
    ]:
        assert not is_valid_key(bad), bad
    with pytest.raises(LabelError) as info:
        validate_key("Example.com/x")
    assert "prefix" in info.value.reason
    assert "Example.com/x" in str(info.value)


def test_ref10_value_rules() -> None:
    assert is_valid_value("")
    assert is_valid_value("A" * 63)
    assert is_valid_value("a.B_c-1")
    for bad in ["a" * 64, "-a", "a-", "_a", "a b", "a/b", "a,b"]:
        assert not is_valid_value(bad), bad


def test_ref11_ascii_only_and_full_match() -> None:
    for bad in ["é", "\u0661", "\uff41", "ß", "a\n", "\na", "a\r", "Ⅸ"]:
        assert not is_valid_key(bad), bad
        assert not is_valid_value(bad), bad
    with pytest.raises(SelectorError):
        Selector.from_label_selector({"matchLabels": {"x": "a\n"}})
    with pytest.raises(SelectorError):
        Selector.from_label_selector({"matchLabels": {"x\n": "a"}})
    ok = Selector.from_label_selector({"matchExpressions": [{"key": "x", "operator": "Exists"}]})
    assert str(ok) == "x"


def test_ref12_canonical_order_is_stable_by_key() -> None:
    # Same-key requirements keep their input order.  (apimachinery's sort.Sort is only
    # stable up to 12 requirements; see the module's report.)
    assert _str("b,a=2,a=1,a") == "a=2,a=1,a,b"
    assert _str("x=a,x=a") == "x=a,x=a"
    sel = Selector.from_label_selector(
        {
            "matchExpressions": [{"key": "a", "operator": "Exists"}],
            "matchLabels": {"b": "1", "a": "1"},
        }
    )
    assert str(sel) == "a=1,a,b=1"  # matchLabels first among equal keys
    assert _str("a.b=1,a-b=1,a/b=1,A=1,a=1") == "A=1,a=1,a-b=1,a.b=1,a/b=1"  # byte order


def test_ref13_string_form() -> None:
    assert _str(" x = a ") == "x=a"
    assert _str("x == a") == "x==a"
    assert _str("x != a") == "x!=a"
    assert _str("x > 1 , y < 2") == "x>1,y<2"
    assert _str("x in ( b , a )") == "x in (a,b)"
    assert _str("x notin (b,A,a)") == "x notin (A,a,b)"
    assert _str("x") == "x"
    assert _str("! x") == "!x"
    assert parse_selector("x=a") != parse_selector("x==a")


def test_ref14_everything_and_nothing() -> None:
    assert str(Selector.everything()) == str(Selector.nothing()) == ""
    assert Selector.everything() != Selector.nothing()
    assert hash(Selector.nothing()) == hash(Selector.nothing())
    assert Selector.nothing().is_nothing()
    assert not Selector.nothing().is_everything()
    assert not Selector.nothing().matches({})
    assert Selector.everything().matches({})
    assert Selector.nothing().add(Requirement("a", Operator.EXISTS)) == Selector.nothing()


def test_ref15_matching_absent_keys() -> None:
    absent: dict[str, str] = {}
    assert parse_selector("x!=a").matches(absent)
    assert parse_selector("x notin (a)").matches(absent)
    assert parse_selector("!x").matches(absent)
    for text in ["x=a", "x==a", "x in (a)", "x", "x in ()", "x=", "x>1", "x<1"]:
        assert not parse_selector(text).matches(absent), text
    assert parse_selector("x").matches({"x": ""})
    assert parse_selector("x in ()").matches({"x": ""})
    assert not parse_selector("x notin ()").matches({"x": ""})


def test_ref16_integer_comparison_of_label_values() -> None:
    gt = parse_selector("x>1")
    lt = parse_selector("x<1")
    assert gt.matches({"x": "2"})
    assert gt.matches({"x": "+2"})
    assert gt.matches({"x": "0002"})
    assert lt.matches({"x": "-5"})
    assert lt.matches({"x": "-9223372036854775808"})
    assert not gt.matches({"x": "1"})
    assert not lt.matches({"x": "1"})
    for bad in [" 2", "2 ", "2_0", "\uff12", "\u0662", "", "+", "-", "+-2", "2.0", "0x2", "1e3"]:
        assert not gt.matches({"x": bad}), bad
        assert not lt.matches({"x": bad}), bad
    assert not gt.matches({"x": "9223372036854775808"})
    assert not lt.matches({"x": "-9223372036854775809"})
    assert not gt.matches({"x": "9" * 5000})  # no int() digit-limit error either
    assert parse_selector("x>9223372036854775806").matches({"x": "9223372036854775807"})


def test_ref17_labels_not_validated_and_contradictions_valid() -> None:
    weird = {"bad key!": "x", "x": "not a valid value!"}
    assert parse_selector("x").matches(weird)
    assert parse_selector("x!=a").matches(weird)
    assert parse_selector("x notin (a)").matches(weird)
    for text in ["x=a,x=b", "x,!x", "x in (a),x notin (a)", "x>5,x<3"]:
        sel = parse_selector(text)
        assert not sel.is_nothing()
        assert not any(sel.matches(ls) for ls in [{}, {"x": "a"}, {"x": "b"}, {"x": "4"}])


def test_ref18_none_selects_nothing_empty_selects_everything() -> None:
    assert Selector.from_label_selector(None) == Selector.nothing()
    empties: list[dict[str, Any]] = [{}, {"matchLabels": {}}, {"matchExpressions": []}]
    for empty in [*empties, {"matchLabels": None}]:
        assert Selector.from_label_selector(empty) == Selector.everything()
    both: dict[str, Any] = {"matchLabels": {}, "matchExpressions": []}
    assert Selector.from_label_selector(both).is_everything()


def test_ref19_match_labels_are_equals_requirements() -> None:
    sel = Selector.from_label_selector({"matchLabels": {"b": "2", "a": ""}})
    assert sel.requirements == (
        Requirement("a", Operator.EQUALS, [""]),
        Requirement("b", Operator.EQUALS, ["2"]),
    )
    assert str(sel) == "a=,b=2"


def test_ref20_expression_operators() -> None:
    def expr(op: Any, values: Any = None, **extra: Any) -> dict[str, Any]:
        e: dict[str, Any] = {"key": "x", "operator": op, **extra}
        if values is not None:
            e["values"] = values
        return {"matchExpressions": [e]}

    for op in ["Gt", "Lt", "in", "IN", "notin", "exists", "Equals", "=", "", None, 1]:
        with pytest.raises(SelectorError):
            Selector.from_label_selector(expr(op, ["1"]))
    for op in ["In", "NotIn"]:
        no_values: list[list[str] | None] = [None, []]
        for values in no_values:
            with pytest.raises(SelectorError):
                Selector.from_label_selector(expr(op, values))
    for op, text in [("Exists", "x"), ("DoesNotExist", "!x")]:
        assert str(Selector.from_label_selector(expr(op))) == text
        assert str(Selector.from_label_selector(expr(op, []))) == text
        with pytest.raises(SelectorError):
            Selector.from_label_selector(expr(op, ["a"]))


def test_ref21_dict_form_keeps_duplicate_values() -> None:
    def expr(values: list[str]) -> Selector:
        return Selector.from_label_selector(
            {"matchExpressions": [{"key": "x", "operator": "In", "values": values}]}
        )

    assert str(expr(["b", "a", "b"])) == "x in (a,b,b)"
    assert str(expr([""])) == "x in ()"
    assert str(expr(["", ""])) == "x in (,)"
    assert expr(["b", "a", "b"]).requirements[0].values == ("a", "b", "b")
    assert expr(["a", "b"]) == parse_selector("x in (b,a)")


def test_ref22_selector_error_names_the_bad_token() -> None:
    assert issubclass(SelectorError, ValueError)
    assert issubclass(LabelError, ValueError)
    cases = [
        ("x in (a, b$)", "b$"),
        ("-x=a", "-x"),
        ("x=a,y>z", "z"),
        ("x ~ y", "~"),
    ]
    for text, token in cases:
        err = _bad(text)
        assert err.token == token
        assert repr(text) in str(err)
        assert repr(token) in str(err)
    with pytest.raises(SelectorError) as info:
        Selector.from_label_selector({"matchExpressions": [{"key": "x", "operator": "Gt"}]})
    assert info.value.token == "Gt"
    assert "'Gt'" in str(info.value)
    with pytest.raises(SelectorError) as info:
        Selector.from_label_selector({"matchLabels": {"ok": "-bad"}})
    assert info.value.token == "-bad"
    assert "'-bad'" in str(info.value)
    with pytest.raises(SelectorError) as info:
        Selector.from_label_selector({"matchLabels": {"ok": "v"}, "matchlabels": {}})
    assert info.value.token == "matchlabels"  # a misspelt field is no silent "everything"


def test_ref23_to_label_selector() -> None:
    sel = parse_selector("a=1,b==2,c in (y,x,y),d notin (z),e,!f")
    assert sel.to_label_selector() == {
        "matchLabels": {"a": "1", "b": "2"},
        "matchExpressions": [
            {"key": "c", "operator": "In", "values": ["x", "y"]},
            {"key": "d", "operator": "NotIn", "values": ["z"]},
            {"key": "e", "operator": "Exists"},
            {"key": "f", "operator": "DoesNotExist"},
        ],
    }
    back = Selector.from_label_selector(sel.to_label_selector())
    assert str(back) == "a=1,b=2,c in (x,y),d notin (z),e,!f"  # "==" became "="
    assert back != sel
    assert Selector.everything().to_label_selector() == {}
    for text, token in [("x!=a", "!="), ("x>1", ">"), ("x<1", "<")]:
        with pytest.raises(SelectorError) as info:
            parse_selector(text).to_label_selector()
        assert info.value.token == token
    # A nil LabelSelector is nothing's form, both ways.
    assert Selector.nothing().to_label_selector() is None
    assert Selector.from_label_selector(None).to_label_selector() is None
    # A repeated value of a LabelSelector dict survives the round trip (apimachinery's
    # LabelSelectorAsSelector keeps it).
    repeated = {"matchExpressions": [{"key": "x", "operator": "In", "values": ["b", "a", "b"]}]}
    assert Selector.from_label_selector(repeated).to_label_selector() == {
        "matchExpressions": [{"key": "x", "operator": "In", "values": ["a", "b", "b"]}]
    }
    with pytest.raises(SelectorError):
        parse_selector("x=a,x=b").to_label_selector()
    assert parse_selector("x=a,x==a").to_label_selector() == {"matchLabels": {"x": "a"}}


# --------------------------------------------------------------------------- API details


def test_operator_spellings() -> None:
    assert [op.value for op in Operator] == [
        "=",
        "==",
        "!=",
        "in",
        "notin",
        "exists",
        "!",
        "gt",
        "lt",
    ]
    assert Operator("gt") is Operator.GREATER_THAN


def test_requirement_construction() -> None:
    r = Requirement("x", "in", ["b", "a"])
    assert r.operator is Operator.IN
    assert r.values == ("a", "b")
    assert r == Requirement("x", Operator.IN, ("a", "b"))
    assert hash(r) == hash(Requirement("x", Operator.IN, ("a", "b")))
    assert "Requirement(" in repr(r)
    assert "_check" not in repr(r)
    with pytest.raises(SelectorError):
        Requirement("x", "unknown", [])
    with pytest.raises(SelectorError):
        Requirement("bad key", Operator.EXISTS)
    with pytest.raises(TypeError):
        Requirement("x", Operator.IN, "ab")


def test_selector_construction_sorts_and_add() -> None:
    b, a = Requirement("b", Operator.EXISTS), Requirement("a", Operator.EXISTS)
    assert Selector([b, a]).requirements == (a, b)
    assert Selector([b]).add(a) == Selector([a, b])
    assert Selector.parse("b,a") == parse_selector("a,b")
    with pytest.raises(ValueError, match="nothing"):
        Selector([a], nothing=True)


def test_errors_pickle() -> None:
    err = SelectorError("x y", "y", "bad")
    again = pickle.loads(pickle.dumps(err))
    assert (again.text, again.token, again.reason, str(again)) == ("x y", "y", "bad", str(err))
    lerr = LabelError("-a", "nope", "value")
    lagain = pickle.loads(pickle.dumps(lerr))
    assert (lagain.text, lagain.reason, lagain.kind) == ("-a", "nope", "value")


def test_from_label_selector_rejects_wrong_types() -> None:
    bad: list[Any] = [
        [],
        "x=a",
        {"matchLabels": []},
        {"matchLabels": {"a": 1}},
        {"matchLabels": {"a": None}},
        {"matchLabels": {1: "a"}},
        {"matchExpressions": {}},
        {"matchExpressions": "x"},
        {"matchExpressions": [None]},
        {"matchExpressions": [{"key": 1, "operator": "Exists"}]},
        {"matchExpressions": [{"operator": "Exists"}]},
        {"matchExpressions": [{"key": "x"}]},
        {"matchExpressions": [{"key": "x", "operator": "In", "values": "ab"}]},
        {"matchExpressions": [{"key": "x", "operator": "In", "values": [1]}]},
        {"matchExpressions": [{"key": "x", "operator": "Exists", "extra": 1}]},
    ]
    for value in bad:
        with pytest.raises(SelectorError):
            Selector.from_label_selector(value)


# --------------------------------------------------------------------------- properties

_INT_RE = re.compile(r"[+-]?[0-9]+")


def _naive_int(value: str) -> int | None:
    if not _INT_RE.fullmatch(value) or len(value.lstrip("+-").lstrip("0")) > 19:
        return None
    n = int(value)
    return n if -(2**63) <= n < 2**63 else None


def _naive_matches(sel: Selector, labels: Mapping[str, str]) -> bool:
    if sel.is_nothing():
        return False
    for r in sel.requirements:
        present = r.key in labels
        value = labels.get(r.key)
        op = r.operator
        if op in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN):
            ok = present and value in r.values
        elif op in (Operator.NOT_EQUALS, Operator.NOT_IN):
            ok = not present or value not in r.values
        elif op is Operator.EXISTS:
            ok = present
        elif op is Operator.DOES_NOT_EXIST:
            ok = not present
        else:
            have = None if value is None else _naive_int(value)
            want = int(r.values[0])
            ok = have is not None and (have > want if op is Operator.GREATER_THAN else have < want)
        if not ok:
            return False
    return True


@given(selectors())
def test_property_string_round_trip(sel: Selector) -> None:
    assert parse_selector(str(sel)) == sel
    assert str(parse_selector(str(sel))) == str(sel)


@given(representable_selectors())
def test_property_dict_round_trip(sel: Selector) -> None:
    d = sel.to_label_selector()
    assert Selector.from_label_selector(d) == sel
    assert json.loads(json.dumps(d)) == d


@given(st.lists(requirements(), max_size=6), st.lists(label_sets(), min_size=1, max_size=4))
def test_property_matches_agrees_with_naive_evaluator(
    reqs: list[Requirement], label_sets_: list[dict[str, str]]
) -> None:
    sel = Selector(reqs)
    for ls in label_sets_:
        assert sel.matches(ls) is _naive_matches(sel, ls)
        assert all(r.matches(ls) for r in sel.requirements) is sel.matches(ls)
    assert not Selector.nothing().matches(label_sets_[0])


@given(representable_selectors(), label_sets())
def test_property_dict_form_selects_the_same(sel: Selector, ls: dict[str, str]) -> None:
    assert Selector.from_label_selector(sel.to_label_selector()).matches(ls) is sel.matches(ls)


@given(selector_texts())
def test_fuzz_parse_raises_only_selector_error(text: str) -> None:
    error: SelectorError | None = None
    try:
        sel = parse_selector(text)
    except SelectorError as err:
        error = err
    if error is None:
        assert parse_selector(str(sel)) == sel
    else:
        assert error.text == text


@given(json_like())
def test_fuzz_from_label_selector_raises_only_selector_error(value: Any) -> None:
    try:
        sel = Selector.from_label_selector(value)
    except SelectorError:
        pass
    else:
        assert value is None or isinstance(value, Mapping)
        parse_selector(str(sel))  # the string form of any valid selector parses


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "matchLabels": st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
            "matchExpressions": st.lists(
                st.fixed_dictionaries(
                    {"key": st.text(max_size=4), "operator": json_like()},
                    optional={"values": st.lists(st.text(max_size=3), max_size=3)},
                ),
                max_size=3,
            ),
        },
    )
)
def test_fuzz_label_selector_shaped(value: dict[str, Any]) -> None:
    with contextlib.suppress(SelectorError):
        Selector.from_label_selector(value)
