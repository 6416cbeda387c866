"""The scenario: model, YAML loading with file:line errors, JSON Schema.

Names are loaded lazily: importing perforch.spec.slo (the report does) must not pay for pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from perforch.spec.load import check_environment, check_environment_allowed, load_scenario
    from perforch.spec.model import Scenario

__all__ = ["Scenario", "check_environment", "check_environment_allowed", "load_scenario"]


def __getattr__(name: str) -> object:
    if name == "Scenario":
        from perforch.spec.model import Scenario

        return Scenario
    if name in ("check_environment", "check_environment_allowed", "load_scenario"):
        from perforch.spec import load

        return getattr(load, name)
    raise AttributeError(name)
