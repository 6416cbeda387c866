"""Wire spellings computed at generation: JSON.stringify's and encodeURIComponent's."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from perforch.adapters.jmeter.wire import js_json, js_number, uri_component, word


@pytest.mark.parametrize("value, text", [
    (1.0, "1"), (1.5, "1.5"), (100.0, "100"), (0.1, "0.1"), (-2.5, "-2.5"), (1e21, "1e+21"),
    (1e20, "100000000000000000000"), (1.2345678901234568e20, "123456789012345680000"), (1e-7, "1e-7"),
    (1.5e-7, "1.5e-7"), (1e-6, "0.000001"), (1.23e-5, "0.0000123"), (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"), (0.0, "0"), (-0.0, "0"), (float("nan"), "null"),
])
def test_numbers_are_spelled_as_javascript_does(value: float, text: str) -> None:
    assert js_number(value) == text


def test_json_is_compact_with_javascript_key_order_and_escapes() -> None:
    value = {"b": 1, "2": [True, None, 1.0], "10": "x", "a\n\"q\"": "é\x01\u2028", "01": 0}
    assert js_json(value) == '{"2":[true,null,1],"10":"x","b":1,"a\\n\\"q\\"":"é\\u0001\u2028","01":0}'
    assert js_json(2**53) == "9007199254740992" and js_json(2**60 + 1) == "1152921504606847000"


def test_uri_components_like_encode_uri_component() -> None:
    assert uri_component("a b&c=d/é'()*!~-_.") == "a%20b%26c%3Dd%2F%C3%A9'()*!~-_."
    assert uri_component("o'brien & co") == "o'brien%20%26%20co"
    assert uri_component("100% = \"all\"") == "100%25%20%3D%20%22all%22"


def test_words_carry_no_space_dollar_backslash_or_plus() -> None:
    text = "a b$c\\d+e%f${g}\n;é"
    encoded = word(text)
    assert not set(encoded) & set(" $\\+\n;{}") and unquote(encoded) == text
