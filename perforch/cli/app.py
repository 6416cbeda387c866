"""The `perforch` command: Typer wiring only. Core errors are caught here, once.

Start-up is part of every run's overhead: the command modules import typer and the console only,
everything else where it is used.
"""

from __future__ import annotations

import sys

import typer

from perforch import __version__
from perforch.cli import console
from perforch.errors import PerforchError

EXIT_INTERRUPTED = console.EXIT_INTERRUPTED
INTERRUPTED = "interrupted (Ctrl-C): everything perforch had started is stopped and removed"

app = typer.Typer(
    name="perforch",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        console.info(f"perforch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Describe a load test once; run it on k6, Locust or JMeter; read one exact report.

    Exit codes: 0 ok; 1 perforch could not do it; 2 usage; 3 an SLO failed or a regression was found.
    """


def _register() -> None:
    from perforch.cli import cmd_capacity, cmd_clean, cmd_doctor, cmd_ingest, cmd_report, cmd_run, cmd_spec

    for module in (cmd_spec, cmd_run, cmd_capacity, cmd_ingest, cmd_doctor, cmd_clean, cmd_report):
        module.register(app)


_register()


def main() -> None:
    try:
        code = app(standalone_mode=False, prog_name="perforch")
    except PerforchError as exc:
        console.error(exc)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.err.print("aborted")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:  # outside the command (typer turns one inside it into exit code 130)
        code = EXIT_INTERRUPTED
    except Exception as exc:
        # Usage errors (click's, possibly vendored by typer) print themselves; exit code 2.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if code == EXIT_INTERRUPTED:  # no command exits 130 by itself: this is Ctrl-C
        console.err.print(INTERRUPTED, markup=False)
    sys.exit(code or 0)
