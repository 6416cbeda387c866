"""perforch doctor: which tools and versions are here, and whether a Docker engine answers."""

from __future__ import annotations

import typer

from perforch import __version__
from perforch.adapters import TOOLS, get_adapter
from perforch.cli import console
from perforch.errors import PerforchError


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor() -> None:
    """Show which load tools and which Docker engine perforch can use."""
    console.info(f"perforch {__version__}")
    for tool in TOOLS:
        try:
            adapter = get_adapter(tool)
            binary = adapter.find_binary()
        except PerforchError as exc:
            console.info(f"  {tool:7} missing: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            continue
        console.info(f"  {tool:7} {adapter.version(binary):12} {binary}")
    console.info(f"  docker  {docker_status()}")


def docker_status() -> str:
    try:
        import docker

        client = docker.from_env(timeout=5)
        version = client.version()
        images = len(client.images.list())
        return f"engine {version.get('Version', '?')} reachable, {images} local image(s)"
    except Exception as exc:  # any failure means "not usable"; say why
        return f"not reachable ({type(exc).__name__}: {str(exc)[:120]})"
