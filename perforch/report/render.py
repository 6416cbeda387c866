"""View model -> Markdown and self-contained HTML, through the Jinja templates in perforch/templates.

HTML autoescape is on: whatever a user wrote (a step called `<script>alert(1)</script>`) shows
as text. Markdown gets its own escaping filters: a label cannot open an HTML tag, break a table
cell or close a code span.
"""

from __future__ import annotations

import re
from functools import cache

import jinja2

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


_PROSE_MARKUP = re.compile(r"([\\*\[\]$])")  # emphasis, links, math: what a step label like `GET /a*b*` would turn on
_CELL_MARKUP = re.compile(r"([`|])")


def md(value: object) -> str:
    """Prose in Markdown: no raw HTML, no emphasis, link or math from user text (a step label),
    one line. Backticks stay: findings quote commands as `code`."""
    text = _PROSE_MARKUP.sub(r"\\\1", " ".join(str(value).split()))
    return _TAG_START.sub("&lt;", text)


def cell(value: object) -> str:
    """A Markdown table cell: also no column separator and no code span."""
    return _CELL_MARKUP.sub(r"\\\1", md(value))


def code(value: object) -> str:
    """Inside a `code span`: no backtick, one line."""
    return " ".join(str(value).split()).replace("`", "'")


def code_cell(value: object) -> str:
    """A code span inside a table cell: only the column separator is escaped (GitHub shows any
    other backslash in a code span as it is)."""
    return code(value).replace("|", "\\|")


@cache
def _environment(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("perforch", "templates"),
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(md=md, cell=cell, code=code, code_cell=code_cell)
    return env


def compile_templates() -> None:
    """Load and compile both templates now (~0.07 s the first time), e.g. while a test runs."""
    _environment(False).get_template("report.md.j2")
    _environment(True).get_template("report.html.j2")


def render_markdown(view: dict, with_charts: bool = True) -> str:
    """`with_charts`: link the chart PNGs (report.md beside charts/); off for a CI job summary."""
    text = _environment(False).get_template("report.md.j2").render(**view, with_charts=with_charts)
    return re.sub(r"\n{3,}", "\n\n", text)


def render_html(view: dict) -> str:
    return _environment(True).get_template("report.html.j2").render(**view)
