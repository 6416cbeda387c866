"""perforch doctor: which tools and versions are here, whether a Docker engine answers, which images."""

from __future__ import annotations

import typer

from perforch import __version__
from perforch.cli import console


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor() -> None:
    """Show which load tools, Docker engine and tool images perforch can use."""
    from perforch.adapters import TOOLS, get_adapter
    from perforch.errors import PerforchError

    console.info(f"perforch {__version__}")
    console.info("local tools (--runner local):")
    for tool in TOOLS:
        try:
            adapter = get_adapter(tool)
            binary = adapter.find_binary()
        except PerforchError as exc:
            console.info(f"  {tool:7} missing: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            continue
        console.info(f"  {tool:7} {adapter.version(binary):12} {binary}")
    console.info("docker (--runner docker):")
    for line in docker_lines():
        console.info(f"  {line}")


def docker_lines() -> list[str]:
    from perforch.adapters import TOOLS, get_adapter
    from perforch.errors import PerforchError
    from perforch.runners.docker import DockerUnavailable, connect
    from perforch.runners.images import LOCAL_IMAGES, _local

    try:
        client = connect(timeout_s=5)
    except DockerUnavailable as exc:
        return [f"engine  not reachable: {exc.message}", f"        {exc.hint}"]
    try:
        version = client.version().get("Version", "?")
        lines = [f"engine  {version} reachable, {len(client.images.list())} local image(s)"]
        for tool in TOOLS:
            try:
                default = get_adapter(tool).default_image
            except PerforchError:
                continue
            local, script = LOCAL_IMAGES[tool]
            if _local(client, default) is not None:
                lines.append(f"{tool:7} {default} present")
            elif _local(client, local) is not None:
                lines.append(f"{tool:7} {local} present (local build; {default} missing)")
            else:
                lines.append(f"{tool:7} no image: {default} missing and no local build (build one with {script})")
        return lines
    finally:
        client.close()


def docker_status() -> str:
    """One line about the engine (kept for callers of the first version)."""
    return docker_lines()[0]
