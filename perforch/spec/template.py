"""`${name}` interpolation: parsed once into literal text and references.

Generators never paste a template into code: they emit each literal as a string *literal* of the
target language (or XML text) and each reference as a variable lookup. `$$` is a literal `$`; a
`$` not followed by `{` is literal too.

Reference names: `env.NAME` (read from the environment when the test runs), `<data>.<column>`
(the current row of a data file), or a plain name (a variable or an earlier extraction).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_REF = re.compile(r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)?")


@dataclass(frozen=True, slots=True)
class Ref:
    name: str

    @property
    def namespace(self) -> str | None:
        """"env" for ${env.X}, the data source for ${users.email}, None for a plain name."""
        head, dot, _ = self.name.partition(".")
        return head if dot else None

    @property
    def key(self) -> str:
        return self.name.partition(".")[2] or self.name


Part = str | Ref


def parse_template(text: str) -> tuple[Part, ...]:
    """Split text into literals and references. Raises ValueError on `${` without a valid name."""
    parts: list[Part] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n and text[i + 1] == "$":
            buf.append("$")
            i += 2
        elif ch == "$" and i + 1 < n and text[i + 1] == "{":
            end = text.find("}", i + 2)
            name = text[i + 2 : end] if end != -1 else ""
            if end == -1 or not _REF.fullmatch(name):
                shown = text[i : end + 1] if end != -1 else text[i:]
                raise ValueError(
                    f"bad interpolation {shown!r}: expected ${{name}}, ${{env.NAME}} or "
                    f"${{data.column}}; write $$ for a literal $"
                )
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Ref(name))
            i = end + 1
        else:
            buf.append(ch)
            i += 1
    if buf:
        parts.append("".join(buf))
    return tuple(parts)


def refs_in(value: object) -> list[Ref]:
    """All references in a string or in the strings nested inside lists/dicts (keys included)."""
    found: list[Ref] = []
    if isinstance(value, str):
        found.extend(p for p in parse_template(value) if isinstance(p, Ref))
    elif isinstance(value, dict):
        for k, v in value.items():
            found.extend(refs_in(k))
            found.extend(refs_in(v))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.extend(refs_in(item))
    return found


def is_literal(text: str) -> bool:
    return all(isinstance(p, str) for p in parse_template(text))


def literal_text(text: str) -> str:
    """The text a template without references stands for (`$$` -> `$`)."""
    return "".join(p for p in parse_template(text) if isinstance(p, str))
