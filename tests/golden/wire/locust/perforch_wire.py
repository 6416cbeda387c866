"""perforch's wire rules in plain Python, shared by every generated locustfile (no Locust import).

`perforch generate --tool locust` copies this file beside locustfile.py. It holds what must be
spelled exactly like the k6 script spells it, so both tools put the same bytes on the wire and
judge responses the same way:

- json_text(): JSON bodies as JavaScript's JSON.stringify writes them (compact; 1.0 -> 1; 1e21).
- encode_pairs() / with_query(): query strings and form bodies through encodeURIComponent rules.
- Step: one request's label, method and expectations; check() returns the first failed one
  ("HTTP 500", "check failed: login: $.ok == true") or None; extract() returns text or None.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from urllib.parse import quote

_MISSING = object()  # a JSON path that is absent (JSON null is None)
_UNPARSED = object()
_MAX_SAFE_INT = 2**53


def js_number(value: int | float) -> str:
    """A number as JavaScript prints it (Number::toString); NaN and infinities become null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if -_MAX_SAFE_INT < value < _MAX_SAFE_INT:
            return str(value)
        value = float(value)  # JavaScript holds every number as a double
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(value))).as_tuple()[1:]
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    exponent += len(digits_tuple) - len(digits)
    k = len(digits)
    n = exponent + k  # value = 0.digits x 10^n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"


def json_text(value: object) -> str:
    """Compact JSON, spelled like JSON.stringify (what the k6 script sends)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return js_number(value)
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items()]
        # JavaScript objects list array-index keys ("0", "2") first, ascending, then the rest in order
        index = sorted((kv for kv in items if _is_array_index(kv[0])), key=lambda kv: int(kv[0]))
        items = index + [kv for kv in items if not _is_array_index(kv[0])]
        return "{" + ",".join(json_text(k) + ":" + json_text(v) for k, v in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    raise TypeError(f"not JSON data: {type(value).__name__}")


def _is_array_index(key: str) -> bool:
    return key.isascii() and key.isdigit() and (key == "0" or not key.startswith("0")) and int(key) < 2**32 - 1


def encode_component(text: str) -> str:
    """JavaScript's encodeURIComponent: all but A-Z a-z 0-9 - _ . ! ~ * ' ( ) as UTF-8 %XX."""
    return quote(text, safe="!'()*~")


def encode_pairs(pairs: list[tuple[str, str]]) -> str:
    return "&".join(encode_component(k) + "=" + encode_component(v) for k, v in pairs)


def with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return url
    return url + ("&" if "?" in url else "?") + encode_pairs(pairs)


def as_text(value: object) -> str:
    """Extracted values are text; other JSON values keep their JSON spelling ("7", "true")."""
    return value if isinstance(value, str) else json_text(value)


def json_at(document: object, keys: tuple) -> object:
    """Walk a parsed JSON document along pre-parsed keys; _MISSING when the path is absent."""
    node = document
    for key in keys:
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return _MISSING
        elif not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def header_text(value: str | None) -> str | None:
    """Response header values arrive decoded as latin-1; give back the UTF-8 text k6 would see."""
    if value is None or value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def wire_headers(headers: dict[str, str]) -> dict[str, str]:
    """Header values go out as UTF-8 bytes; the clients write the head as latin-1, so pre-encode."""
    for value in headers.values():
        if not value.isascii():
            return {k: v if v.isascii() else v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
    return headers


class Step:
    """One request of a flow: its label, method, expectations and extractions (all literal data)."""

    __slots__ = ("label", "method", "group", "statuses", "status_text", "contains", "contains_text",
                 "json", "extract", "timeout_s", "status_only", "_contains_message")

    def __init__(self, label: str, method: str, *, status: list[int] | None = None, contains: str | None = None,
                 contains_text: str | None = None, json: list[tuple[str, tuple, object]] = (),
                 extract: dict[str, tuple] | None = None, group: str = "", timeout_s: float | None = None) -> None:
        self.label = label
        self.method = method
        self.group = group
        self.statuses = frozenset(status) if status else frozenset(range(200, 400))
        self.status_text = "|".join(map(str, status)) if status else "2xx/3xx"
        self.contains = contains  # literal text; templated text is passed with each request
        self.contains_text = contains_text if contains_text is not None else contains
        self._contains_message = (f"check failed: {label}: body contains {json_text(self.contains_text)}"
                                  if self.contains_text is not None else "")
        # (path as written, parsed keys, wanted value in JSON.stringify spelling)
        self.json = tuple((path, tuple(keys), json_text(want)) for path, keys, want in json)
        self.extract = tuple(_extractor(name, how) for name, how in (extract or {}).items())
        self.timeout_s = timeout_s
        self.status_only = self.contains_text is None and not self.json and not self.extract

    def check(self, status: int, body: Body, contains: str | None = None) -> str | None:
        """The first expectation that failed, as the error text perforch records; None when all held."""
        if status not in self.statuses:
            return f"HTTP {status}" if status >= 400 else f"check failed: {self.label}: status {self.status_text}"
        wanted = contains if contains is not None else self.contains
        if wanted is not None and wanted.encode("utf-8") not in body.content:
            return self._contains_message
        for path, keys, want in self.json:
            got = json_at(body.document, keys)
            if got is _MISSING or json_text(got) != want:
                return f"check failed: {self.label}: {path} == {want}"
        return None


class Body:
    """A response body, parsed as JSON at most once (expectations and extractions share it)."""

    __slots__ = ("content", "_document")

    def __init__(self, content: bytes | None) -> None:
        self.content = content or b""
        self._document = _UNPARSED

    @property
    def document(self) -> object:
        if self._document is _UNPARSED:
            try:
                self._document = json.loads(self.content) if self.content else _MISSING
            except ValueError:
                self._document = _MISSING
        return self._document


def _extractor(name: str, how: tuple) -> tuple:
    """(variable, kind, argument, group) with the regex compiled once."""
    kind = how[0]
    if kind == "regex":
        return name, kind, re.compile(how[1]), how[2]
    return name, kind, how[1], 0


def extract_value(kind: str, arg: object, group: int, body: Body, headers: object) -> str | None:
    """One extraction from a response: JSON path, regex (first match) or header; None when absent."""
    if kind == "json":
        got = json_at(body.document, arg)  # type: ignore[arg-type]
        return None if got is _MISSING or got is None else as_text(got)
    if kind == "regex":
        match = arg.search(body.content.decode("utf-8", "replace"))  # type: ignore[union-attr]
        return match.group(group) if match and match.group(group) is not None else None
    value = headers.get(arg) if headers is not None else None  # type: ignore[union-attr]
    return header_text(value)
