"""Tool adapters: everything one tool's dialect needs lives in its folder."""

from __future__ import annotations

from perforch.adapters.base import Adapter
from perforch.errors import PerforchError

TOOLS = ("k6", "locust", "jmeter")


def get_adapter(tool: str) -> Adapter:
    try:
        return _load(tool)
    except ImportError:
        raise PerforchError(f"the {tool} adapter is not part of this build") from None


def _load(tool: str) -> Adapter:
    if tool == "k6":
        from perforch.adapters.k6.tool import K6Adapter

        return K6Adapter()
    if tool == "locust":
        from perforch.adapters.locust.tool import LocustAdapter

        return LocustAdapter()
    if tool == "jmeter":
        from perforch.adapters.jmeter.tool import JMeterAdapter

        return JMeterAdapter()
    raise PerforchError(f"unknown tool {tool!r}", hint="choose one of: " + ", ".join(TOOLS))


def available_adapters() -> dict[str, Adapter]:
    """The adapters that are implemented in this build (by tool key)."""
    out = {}
    for tool in TOOLS:
        try:
            out[tool] = get_adapter(tool)
        except PerforchError:
            continue
    return out
