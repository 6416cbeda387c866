"""The JSON path subset every tool can evaluate: `$`, `.key`, `['key']`, `["key"]`, `[0]`.

Parsed to a tuple of keys (str) and indexes (int); each generator walks it with a few lines of
its own language, so no tool needs a JSONPath library.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""\.(?P<dot>[A-Za-z_][\w-]*)|\[(?P<idx>\d+)\]|\['(?P<sq>(?:[^'\\]|\\.)*)'\]|\["(?P<dq>(?:[^"\\]|\\.)*)"\]"""
)


def parse_json_path(path: str) -> tuple[str | int, ...]:
    if not isinstance(path, str) or not path.startswith("$"):
        raise ValueError(f"a JSON path starts with $, like $.token or $.items[0].id; got {path!r}")
    out: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match:
            raise ValueError(
                f"unsupported JSON path {path!r} at position {pos}: use .key, ['key'] or [index]"
            )
        if match.group("dot") is not None:
            out.append(match.group("dot"))
        elif match.group("idx") is not None:
            out.append(int(match.group("idx")))
        else:
            raw = match.group("sq") if match.group("sq") is not None else match.group("dq")
            out.append(re.sub(r"\\(.)", r"\1", raw))
        pos = match.end()
    return tuple(out)


def lookup(document: object, path: tuple[str | int, ...]) -> object:
    """Walk a parsed JSON document; raises KeyError/IndexError/TypeError when the path is absent."""
    node = document
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list):
                raise TypeError("not a list")
            node = node[key]
        else:
            if not isinstance(node, dict):
                raise TypeError("not an object")
            node = node[key]
    return node
