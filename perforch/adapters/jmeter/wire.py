"""How values are spelled on the wire, computed once at generation (the same rules as every perforch
generator: JSON.stringify's spelling for JSON, encodeURIComponent for query strings and forms), and
how data words are passed to the plan's BeanShell helpers (perforch.bsh) without JMeter reading them.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from urllib.parse import quote

# encodeURIComponent leaves these unescaped (besides letters and digits).
_URI_SAFE = "-_.!~*'()"
# Words for perforch.bsh: percent-encoded, so no space, "$", "\\", "+" or control character remains.
_WORD_SAFE = "-_.~!*'():/@,="


def uri_component(text: str) -> str:
    """JavaScript's encodeURIComponent (UTF-8, upper-case hex)."""
    return quote(text, safe=_URI_SAFE)


def wire_text(value: object) -> str:
    """A YAML scalar as it is sent in a query or form: strings as is, others in JSON spelling."""
    return value if isinstance(value, str) else json.dumps(value)


def word(text: str) -> str:
    """One word of a perforch.bsh command (decoded there with URLDecoder)."""
    return quote(text, safe=_WORD_SAFE)


def js_string_body(text: str) -> str:
    """The inside of JSON.stringify(text): quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def js_json(value: object) -> str:
    """JSON.stringify(value) for a YAML value: compact, integer-like keys first (as JS orders them)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(float(value)) if isinstance(value, float) or abs(value) > 2**53 else str(value)
    if isinstance(value, str):
        return '"' + js_string_body(value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(js_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
        return "{" + ",".join('"' + js_string_body(k) + '":' + js_json(v) for k, v in js_key_order(items)) + "}"
    raise TypeError(f"not JSON data: {value!r}")


def is_array_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and (key == "0" or not key.startswith("0")) and int(key) < 2**32 - 1


def js_key_order(items: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """JavaScript objects list array-index keys first, ascending, then the others in insertion order."""
    index = sorted((kv for kv in items if is_array_index(kv[0])), key=lambda kv: int(kv[0]))
    return index + [kv for kv in items if not is_array_index(kv[0])]


def js_number(value: float) -> str:
    """Number.prototype.toString() (ECMAScript Number::toString, radix 10)."""
    if math.isnan(value) or math.isinf(value):
        return "null"  # what JSON.stringify writes for them
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digits that round-trip, as JavaScript does; value = 0.DIGITS x 10^n.
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    n = len(digits) + int(exponent)
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    rest = "." + digits[1:] if k > 1 else ""
    return f"{sign}{digits[0]}{rest}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
