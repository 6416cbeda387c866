"""All terminal output goes through here: messages, errors, tables, the live progress line."""

from __future__ import annotations

import os
import sys

from rich.console import Console
from rich.table import Table

from perforch.errors import PerforchError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def info(message: str) -> None:
    out.print(message, markup=False)


def warn(message: str) -> None:
    err.print(f"warning: {message}", style="yellow", markup=False)


def error(exc: PerforchError) -> None:
    err.print(f"error: {exc.message}", style="bold red", markup=False)
    if exc.details:
        for line in exc.details.splitlines():
            err.print(f"  {line}", markup=False)
    if exc.hint:
        err.print(f"hint: {exc.hint}", markup=False)


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    t = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    widths = [max([len(col), *(len(r[i]) for r in rows)]) for i, col in enumerate(columns)]
    room = out.width - sum(widths[1:]) - 3 * (len(columns) - 1)  # " ┃ " between columns
    for i, col in enumerate(columns):
        if i == 0:  # the name gives way (cut with …) before any figure does
            t.add_column(col, justify="left", no_wrap=True, overflow="ellipsis", max_width=max(12, room))
        else:
            t.add_column(col, justify="right", no_wrap=True, min_width=widths[i])
    for row in rows:
        t.add_row(*row)
    out.print(t)


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")
