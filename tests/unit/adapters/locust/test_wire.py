"""perforch_wire: the bytes a generated locustfile sends, spelled as perforch's k6 script spells them."""

from __future__ import annotations

import math

import pytest

from perforch.adapters.locust.runtime import perforch_wire as w


@pytest.mark.parametrize("value, js", [
    (1, "1"), (1.0, "1"), (-0.0, "0"), (1.5, "1.5"), (0.1, "0.1"), (100.0, "100"), (1e21, "1e+21"),
    (1e20, "100000000000000000000"), (123456789012345678901, "123456789012345680000"), (1e-7, "1e-7"),
    (0.000001, "0.000001"), (1.5e-10, "1.5e-10"), (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
    (-2.5e25, "-2.5e+25"), (123.456, "123.456"), (2**53 - 1, "9007199254740991"), (2**53 + 1, "9007199254740992"),
    (math.nan, "null"), (math.inf, "null"), (True, "true"),
])
def test_numbers_are_spelled_like_javascript(value: float, js: str) -> None:
    assert w.js_number(value) == js


def test_json_text_is_json_stringify() -> None:
    value = {"s": "quote \" back \\ nl \n tab \t ctl \x01 del \x7f ü ✓ \u2028 😀", "n": [1.0, 2, None, True, False],
             "o": {"k": {}}, "e": []}
    assert w.json_text(value) == (
        '{"s":"quote \\" back \\\\ nl \\n tab \\t ctl \\u0001 del \x7f ü ✓ \u2028 😀",'
        '"n":[1,2,null,true,false],"o":{"k":{}},"e":[]}'
    )
    with pytest.raises(TypeError):
        w.json_text({"x": object()})


def test_encode_uri_component() -> None:
    # the demo API's /echo saw exactly this from k6 (scenarios/wire.yaml)
    assert w.encode_pairs([("user", "o'brien & co"), ("note", '100% = "all"'), ("empty", "")]) == \
        "user=o'brien%20%26%20co&note=100%25%20%3D%20%22all%22&empty="
    assert w.encode_component("a-z_A.Z~0!*'()") == "a-z_A.Z~0!*'()"
    assert w.encode_component("é/?#[]@$+,;= ") == "%C3%A9%2F%3F%23%5B%5D%40%24%2B%2C%3B%3D%20"
    assert w.with_query("/a", [("q", "x y")]) == "/a?q=x%20y"
    assert w.with_query("/a?b=1", [("q", "1")]) == "/a?b=1&q=1"
    assert w.with_query("/a", []) == "/a"


def test_headers_go_out_as_utf8() -> None:
    plain = {"A": "b"}
    assert w.wire_headers(plain) is plain
    assert w.wire_headers({"A": "b", "U": "ü✓"}) == {"A": "b", "U": "ü✓".encode().decode("latin-1")}
    assert w.header_text("ü✓".encode().decode("latin-1")) == "ü✓"
    assert w.header_text("\xff") == "\xff" and w.header_text(None) is None


def body(data: bytes) -> w.Body:
    return w.Body(data)


def test_check_reports_the_first_failed_expectation_like_k6() -> None:
    step = w.Step("login", "POST", status=[200], contains="ok", json=[("$.ok", ("ok",), True)])
    assert step.check(200, body(b'{"ok": true}')) is None
    assert step.check(500, body(b"")) == "HTTP 500"
    assert step.check(201, body(b"")) == "check failed: login: status 200"
    assert step.check(200, body(b'{"x": 1}')) == 'check failed: login: body contains "ok"'
    assert step.check(200, body(b'{"ok": 1}')) == "check failed: login: $.ok == true"
    assert step.check(200, body(b'{"ok": "true"}')) == "check failed: login: $.ok == true"
    assert step.check(200, body(b"ok, not json")) == "check failed: login: $.ok == true"
    default = w.Step("x", "GET")
    assert default.check(399, body(b"")) is None and default.check(404, body(b"")) == "HTTP 404"
    assert default.check(0, body(None)) == "check failed: x: status 2xx/3xx"
    templated = w.Step("t", "GET", contains_text="${tok}")
    assert templated.check(200, body(b"abc"), contains="b") is None
    assert templated.check(200, body(b"abc"), contains="z") == 'check failed: t: body contains "${tok}"'
    numbers = w.Step("n", "GET", json=[("$.a[0]", ("a", 0), 1.0)])
    assert numbers.check(200, body(b'{"a": [1]}')) is None  # JSON.stringify(1.0) == "1"


def test_extractions() -> None:
    step = w.Step("s", "GET", extract={"id": ("json", ("items", 0, "id")), "n": ("regex", r"n=(\d+)", 1),
                                       "h": ("header", "X-Id")})
    (_, kind_j, arg_j, g_j), (_, kind_r, arg_r, g_r), (_, kind_h, arg_h, g_h) = step.extract
    b = body(b'{"items": [{"id": 7}], "t": "n=42"}')
    headers = {"X-Id": "abc"}
    assert w.extract_value(kind_j, arg_j, g_j, b, headers) == "7"
    assert w.extract_value(kind_r, arg_r, g_r, b, headers) == "42"
    assert w.extract_value(kind_h, arg_h, g_h, b, headers) == "abc"
    assert w.extract_value("json", ("items", 1), 0, b, headers) is None
    assert w.extract_value("json", ("items", "x"), 0, b, headers) is None
    assert w.extract_value("json", ("t", 0), 0, b, headers) is None
    assert w.extract_value("json", ("nothing",), 0, body(b'{"nothing": null}'), headers) is None
    assert w.extract_value("json", ("o",), 0, body(b'{"o": {"a": [true, 1.5]}}'), headers) == '{"a":[true,1.5]}'
    assert w.extract_value("header", "X-Other", 0, b, headers) is None
    assert w.extract_value("header", "X-Id", 0, b, None) is None
