"""Shared test setup: pinned terminal, golden-file updating, the demo API, tool lookup."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="Rewrite tests/golden from the generators.")


@pytest.fixture(autouse=True)
def _pinned_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture(scope="session")
def demo_api() -> str:
    """Base URL of a demo API in a child process, shared by the integration tests."""
    from perforch.demo.server import running_demo_api

    with running_demo_api() as base_url:
        yield base_url


@pytest.fixture
def demo_stats(demo_api: str):
    """Reset the demo API's counters; return a function reading them."""
    import json
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(demo_api + "/__reset", method="POST"), timeout=5).read()

    def read() -> dict:
        with urllib.request.urlopen(demo_api + "/__stats", timeout=5) as response:
            return json.loads(response.read())

    return read


def require_tool(name: str) -> str:
    """The tool's executable. The README's test command installs every tool, so in CI a missing
    tool is a failure; PERFORCH_ALLOW_MISSING_TOOLS=1 turns it into a skip on a partial machine."""
    from perforch.adapters import get_adapter
    from perforch.errors import PerforchError

    try:
        return get_adapter(name).find_binary()
    except PerforchError as exc:
        if os.environ.get("PERFORCH_ALLOW_MISSING_TOOLS"):
            pytest.skip(f"{name} missing on this machine: {exc.message}")
        pytest.fail(f"{name} missing ({exc.message}); scripts/test installs it")


def example_scenarios() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


def copy_tree(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
