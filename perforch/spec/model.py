"""The scenario: one tool-neutral description of a load test (DESIGN.md §3).

Every model is frozen and forbids unknown keys, so a typo is an error with a "did you mean".
Durations, rates, think times, templates, JSON paths and SLO rules are parsed here, once; the
generators receive numbers and parsed parts, never text to re-interpret.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from perforch.spec.jsonpath import parse_json_path
from perforch.spec.slo import SloRule, parse_slo
from perforch.spec.template import parse_template
from perforch.spec.units import parse_duration, parse_rate, parse_think

HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
DEFAULT_OK_STATUSES = tuple(range(200, 400))  # what every tool treats as success by default


def _template(value: str) -> str:
    parse_template(value)  # raises ValueError with the reason
    return value


def _plain_name(value: str) -> str:
    # Names become labels in every tool's output (CSV cells, k6 group paths): one line, no "::".
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError("names cannot contain newlines or control characters")
    if "::" in value:
        raise ValueError("names cannot contain '::' (k6 uses it to nest groups)")
    if not value.strip():
        raise ValueError("names cannot be empty")
    return value


def _flow_name(value: str) -> str:
    # Flow names become k6 scenario names, JMeter thread group names and Locust classes.
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", value):
        raise ValueError(f"flow names are identifiers (letters, digits, _ and -), got {value!r}")
    return value


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": r"^(\d+(\.\d+)?(ms|s|m|h))+$"}, {"type": "number"}],
         "description": 'A duration: "500ms", "30s", "2m", "1h30m", or seconds as a number.'}
    ),
]
Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    WithJsonSchema(
        {"anyOf": [{"type": "string", "pattern": r"^\d+(\.\d+)?/(\d+(\.\d+)?)?(ms|s|m|h)$"},
                   {"type": "number"}],
         "description": 'Iterations per time unit: "50/s", "600/m", or per second as a number.'}
    ),
]
Think = Annotated[
    tuple[float, float],
    BeforeValidator(parse_think),
    WithJsonSchema({"type": "string", "description": 'Pause after each step: "2s" or "1s..3s".'}),
]
TemplateStr = Annotated[str, AfterValidator(_template)]
Name = Annotated[str, AfterValidator(_plain_name)]
FlowName = Annotated[str, AfterValidator(_flow_name)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- target -------------------------------------------------------------------------------------


class StartSpec(Model):
    """Start the system under test for the run: a local command or a container image."""

    command: str | None = None
    image: str | None = None
    port: int | None = Field(None, ge=1, le=65535, description="Port the SUT listens on.")
    env: dict[str, str] = {}
    ready: str = Field("/", description="Path that answers 2xx once the SUT is ready.")
    ready_timeout: Duration = 60.0
    cwd: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> StartSpec:
        if (self.command is None) == (self.image is None):
            raise ValueError("give exactly one of 'command' or 'image'")
        if self.image is not None and self.port is None:
            raise ValueError("'port' is required with 'image'")
        return self


class Target(Model):
    base_url: str
    environment: str = "test"
    timeout: Duration = 60.0
    headers: dict[str, TemplateStr] = {}
    start: StartSpec | None = None

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http(s) URL like http://127.0.0.1:8000, got {value!r}")
        if parts.query or parts.fragment:
            raise ValueError("base_url cannot carry a query or fragment; put them on the steps")
        return value.rstrip("/")


# --- data ---------------------------------------------------------------------------------------


class DataSource(Model):
    """A CSV file; each flow iteration takes the next row (shared by all users), wrapping around."""

    file: str
    order: Literal["sequential", "random"] = "sequential"
    columns: list[str] | None = Field(
        None, description="Column names when the file has no header row."
    )
    _path: Any = PrivateAttr(None)  # resolved Path, set by the loader
    _header: tuple[str, ...] = PrivateAttr(())

    @property
    def path(self):  # noqa: ANN201 - pathlib.Path, set by load_scenario
        return self._path

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(self.columns) if self.columns else self._header


# --- steps --------------------------------------------------------------------------------------


class Expect(Model):
    status: int | list[int] | None = Field(
        None, description="Accepted status code(s). Default: any 2xx or 3xx."
    )
    body_contains: TemplateStr | None = None
    json_equals: dict[str, Any] = Field(
        {}, alias="json", description="JSON path -> expected value, e.g. {'$.ok': true}."
    )

    @field_validator("json_equals")
    @classmethod
    def _paths(cls, value: dict[str, Any]) -> dict[str, Any]:
        for path in value:
            parse_json_path(path)
        return value

    @property
    def statuses(self) -> tuple[int, ...]:
        if self.status is None:
            return DEFAULT_OK_STATUSES
        return (self.status,) if isinstance(self.status, int) else tuple(self.status)


class Extractor(Model):
    """Exactly one of json (a JSON path), regex (first match, capture `group`), header (a name)."""

    json_path: str | None = Field(None, alias="json")
    regex: str | None = None
    group: int = Field(1, ge=0)
    header: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Extractor:
        given = [k for k in ("json_path", "regex", "header") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'json', 'regex' or 'header'")
        if self.json_path is not None:
            parse_json_path(self.json_path)
        if self.regex is not None:
            _portable_regex(self.regex)
            try:
                compiled = re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.regex!r}: {exc}") from None
            if self.group > compiled.groups:
                raise ValueError(f"regex {self.regex!r} has no group {self.group}")
        return self

    @property
    def kind(self) -> str:
        return "json" if self.json_path is not None else "regex" if self.regex is not None else "header"

    @property
    def json_keys(self) -> tuple[str | int, ...]:
        return parse_json_path(self.json_path or "$")


# Regex syntax that Python, JavaScript (k6) and Java (JMeter) do not read alike: refused, so that
# one extraction behaves the same on every tool.
_UNPORTABLE_REGEX = (
    (re.compile(r"\(\?P?<(?![=!])|\(\?P[=>]"), "named groups", "use a plain group and 'group: N'"),
    (re.compile(r"\(\?[aiLmsux-]+[:)]"), "inline flags such as (?i)", "spell both cases, e.g. [Tt]oken"),
    (re.compile(r"\(\?[#>]"), "comments and atomic groups", "use a plain group"),
    (re.compile(r"\\[AZz]"), "\\A, \\Z and \\z", "use ^ and $"),
)


def _portable_regex(pattern: str) -> None:
    unescaped = re.sub(r"\\\\", "", pattern)  # an escaped backslash is not the start of \A
    for syntax, what, hint in _UNPORTABLE_REGEX:
        if syntax.search(unescaped):
            raise ValueError(f"regex {pattern!r} uses {what}, which k6 (JavaScript), Locust (Python) and "
                             f"JMeter (Java) read differently; {hint}")


Scalar = Union[str, int, float, bool]


class Step(Model):
    name: Name | None = None
    get: TemplateStr | None = None
    post: TemplateStr | None = None
    put: TemplateStr | None = None
    patch: TemplateStr | None = None
    delete: TemplateStr | None = None
    head: TemplateStr | None = None
    options: TemplateStr | None = None
    headers: dict[str, TemplateStr] = {}
    query: dict[str, Scalar] = {}
    json_body: Any = Field(None, alias="json")
    form: dict[str, Scalar] | None = None
    body: TemplateStr | None = None
    expect: Expect = Expect()
    extract: dict[str, Extractor] = {}
    think: Think | None = Field(None, description="Overrides the flow's think time after this step.")
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _shape(self) -> Step:
        methods = [m for m in HTTP_METHODS if getattr(self, m) is not None]
        if len(methods) != 1:
            found = ", ".join(methods) or "none"
            raise ValueError(f"a step needs exactly one of {', '.join(HTTP_METHODS)} (found: {found})")
        bodies = [b for b in ("json_body", "form", "body") if getattr(self, b) is not None]
        if len(bodies) > 1:
            raise ValueError("give at most one body: json, form or body")
        for key in self.extract:
            if not re.fullmatch(r"[A-Za-z_][\w-]*", key):
                raise ValueError(f"extracted variable names are identifiers, got {key!r}")
        for key, value in self.query.items():
            parse_template(key)
            if isinstance(value, str):
                parse_template(value)
        _check_templates_in(self.json_body)
        _check_templates_in(self.form)
        return self

    @property
    def method(self) -> str:
        return next(m for m in HTTP_METHODS if getattr(self, m) is not None).upper()

    @property
    def path(self) -> str:
        return getattr(self, self.method.lower())

    @property
    def label(self) -> str:
        """The name reports and tools show for this request."""
        return self.name or f"{self.method} {self.path}"


def _check_templates_in(value: object) -> None:
    if isinstance(value, str):
        parse_template(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            parse_template(k)
            _check_templates_in(v)
    elif isinstance(value, list):
        for item in value:
            _check_templates_in(item)


class Group(Model):
    group: Name
    steps: list[StepOrGroup] = Field(min_length=1)


def _step_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "group" if "group" in value else "step"
    return "group" if isinstance(value, Group) else "step"


StepOrGroup = Annotated[
    Union[Annotated[Step, Tag("step")], Annotated[Group, Tag("group")]],
    Discriminator(_step_kind),
]
Group.model_rebuild()


class Flow(Model):
    name: FlowName
    weight: int = Field(1, ge=1)
    think: Think | None = None
    steps: list[StepOrGroup] = Field(min_length=1)

    def walk(self) -> list[tuple[tuple[str, ...], Step]]:
        """Every step in execution order with its enclosing group names."""
        out: list[tuple[tuple[str, ...], Step]] = []

        def visit(items: list, groups: tuple[str, ...]) -> None:
            for item in items:
                if isinstance(item, Group):
                    visit(item.steps, groups + (item.group,))
                else:
                    out.append((groups, item))

        visit(self.steps, ())
        return out

    def step_paths(self, prefix: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], Step]]:
        """Every step in execution order with its key path in the YAML (for error messages)."""
        out: list[tuple[tuple[Any, ...], Step]] = []

        def visit(items: list, path: tuple[Any, ...]) -> None:
            for i, item in enumerate(items):
                if isinstance(item, Group):
                    visit(item.steps, path + (i, "steps"))
                else:
                    out.append((path + (i,), item))

        visit(self.steps, prefix)
        return out

    def think_after(self, step: Step) -> tuple[float, float]:
        return step.think or self.think or (0.0, 0.0)


# --- load ---------------------------------------------------------------------------------------


class VuStage(Model):
    duration: Duration
    target: int = Field(ge=0)


class RateStage(Model):
    duration: Duration
    target: Rate


class ConstantVus(Model):
    profile: Literal["constant-vus"]
    vus: int = Field(ge=1)
    duration: Duration


class RampingVus(Model):
    profile: Literal["ramping-vus"]
    start_vus: int = Field(0, ge=0)
    stages: list[VuStage] = Field(min_length=1)


class ConstantArrivalRate(Model):
    profile: Literal["constant-arrival-rate"]
    rate: Rate
    duration: Duration
    max_vus: int = Field(100, ge=1, description="Upper bound of concurrent users to sustain the rate.")
    pre_allocated_vus: int | None = Field(None, ge=1)


class RampingArrivalRate(Model):
    profile: Literal["ramping-arrival-rate"]
    start_rate: Rate = 0.0
    stages: list[RateStage] = Field(min_length=1)
    max_vus: int = Field(100, ge=1)
    pre_allocated_vus: int | None = Field(None, ge=1)


class Iterations(Model):
    profile: Literal["iterations"]
    vus: int = Field(1, ge=1)
    iterations: int = Field(ge=1, description="Total flow iterations, shared by all users.")
    max_duration: Duration = 600.0


Load = Annotated[
    Union[ConstantVus, RampingVus, ConstantArrivalRate, RampingArrivalRate, Iterations],
    Field(discriminator="profile"),
]


def planned_duration_s(load: Any) -> float:
    if isinstance(load, (RampingVus, RampingArrivalRate)):
        return sum(stage.duration for stage in load.stages)
    if isinstance(load, Iterations):
        return load.max_duration
    return load.duration


# --- slos and tools -----------------------------------------------------------------------------


def _slo_text(value: str) -> str:
    parse_slo(value)
    return value


SloText = Annotated[str, AfterValidator(_slo_text)]


class StepSlo(Model):
    step: str
    rule: SloText


class ToolOptions(Model):
    image: str | None = Field(None, description="Container image for --runner docker.")
    args: list[str] = Field([], description="Extra command-line arguments for the tool.")


class LocustOptions(ToolOptions):
    user_class: Literal["fast", "http"] = Field(
        "fast", description="FastHttpUser (default, ~2.5x the throughput) or HttpUser."
    )


class Tools(Model):
    k6: ToolOptions = ToolOptions()
    locust: LocustOptions = LocustOptions()
    jmeter: ToolOptions = ToolOptions()


# --- the scenario -------------------------------------------------------------------------------


class Scenario(Model):
    version: Literal[1] = 1
    name: Name
    description: str = ""
    target: Target
    variables: dict[str, TemplateStr] = {}
    data: dict[str, DataSource] = {}
    flows: list[Flow] = Field(min_length=1)
    load: Load
    slos: list[Annotated[Union[Annotated[SloText, Tag("rule")], Annotated[StepSlo, Tag("step")]],
                         Discriminator(lambda v: "step" if isinstance(v, (dict, StepSlo)) else "rule")]] = []
    tools: Tools = Tools()

    @field_validator("variables", "data")
    @classmethod
    def _identifier_keys(cls, value: dict) -> dict:
        seen: dict[str, str] = {}
        for key in value:
            # ASCII: data sources become identifiers in the generated scripts (k6, Locust)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) or key == "env":
                raise ValueError(f"names here are ASCII identifiers (letters, digits, _ and -; not 'env'), "
                                 f"got {key!r}")
            same = seen.setdefault(key.replace("-", "_"), key)
            if same != key:
                raise ValueError(f"names {same!r} and {key!r} differ only by '-' and '_': the generated "
                                 "scripts could not tell them apart")
        return value

    @property
    def slo_rules(self) -> tuple[SloRule, ...]:
        return tuple(
            parse_slo(item.rule, step=item.step) if isinstance(item, StepSlo) else parse_slo(item)
            for item in self.slos
        )

    @property
    def duration_s(self) -> float:
        return planned_duration_s(self.load)

    @property
    def labels(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for flow in self.flows:
            for _, step in flow.walk():
                seen.setdefault(step.label)
        return tuple(seen)

    def templates(self) -> list[tuple[tuple[Any, ...], str, Flow | None]]:
        """Every interpolated string: (key path in the YAML, text, the flow it runs in)."""
        found: list[tuple[tuple[Any, ...], str, Flow | None]] = []

        def nested(path: tuple[Any, ...], value: object, flow: Flow | None) -> None:
            if isinstance(value, str):
                found.append((path, value, flow))
            elif isinstance(value, dict):
                for k, v in value.items():
                    found.append((path + (k,), k, flow))
                    nested(path + (k,), v, flow)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    nested(path + (i,), item, flow)

        nested(("target", "headers"), self.target.headers, None)
        nested(("variables",), self.variables, None)
        for f, flow in enumerate(self.flows):
            for path, step in flow.step_paths((("flows", f, "steps"))):
                nested(path + (step.method.lower(),), step.path, flow)
                nested(path + ("headers",), step.headers, flow)
                nested(path + ("query",), step.query, flow)
                nested(path + ("json",), step.json_body, flow)
                nested(path + ("form",), step.form, flow)
                nested(path + ("body",), step.body, flow)
                nested(path + ("expect", "body_contains"), step.expect.body_contains, flow)
        return found

    @property
    def env_names(self) -> tuple[str, ...]:
        """Environment variables the test reads at run time (treated as secrets)."""
        names: dict[str, None] = {}
        for _, text, _ in self.templates():
            for part in parse_template(text):
                if not isinstance(part, str) and part.namespace == "env":
                    names.setdefault(part.key)
        return tuple(names)
