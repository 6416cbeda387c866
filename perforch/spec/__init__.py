"""The scenario: model, YAML loading with file:line errors, JSON Schema."""

from perforch.spec.load import check_environment, check_environment_allowed, load_scenario
from perforch.spec.model import Scenario

__all__ = ["Scenario", "check_environment", "check_environment_allowed", "load_scenario"]
