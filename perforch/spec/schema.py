"""JSON Schema of the scenario, for editors (yaml-language-server, VS Code)."""

from __future__ import annotations

import json

from perforch.spec.model import Scenario


def scenario_schema() -> dict:
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "perforch scenario"
    return schema


def scenario_schema_json() -> str:
    return json.dumps(scenario_schema(), indent=2, sort_keys=True) + "\n"
