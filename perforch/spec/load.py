"""YAML -> Scenario, with file:line in every error.

The YAML is composed into nodes first so that each key path keeps its line; pydantic's error
locations are then mapped back to those lines. Checks that need the whole scenario (references,
data files) run after the model is built and report the same way.
"""

from __future__ import annotations

import csv
import datetime
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from perforch.errors import SpecError
from perforch.spec import model as m
from perforch.spec.template import Ref, parse_template

Path_ = tuple[Any, ...]


def load_scenario(path: str | os.PathLike[str]) -> m.Scenario:
    """Read, validate and check a scenario file. Raises SpecError pointing at file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file", hint="perforch init writes a starter scenario") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read: {exc}") from None
    return parse_scenario(text, source=path)


def parse_scenario(text: str, source: Path) -> m.Scenario:
    data, lines = _compose(text, source)
    if not isinstance(data, dict):
        raise SpecError(f"{source}:1: a scenario is a mapping (name:, target:, flows:, load:)",
                        hint="perforch init writes a starter scenario")
    try:
        scenario = m.Scenario.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(exc, data, lines, source) from None
    problems = _check_data_files(scenario, source.parent) + _check_references(scenario)
    if problems:
        (loc, message, hint), *rest = problems
        raise SpecError(
            _where(source, lines, loc) + message,
            hint=hint,
            details="\n".join(_where(source, lines, l) + msg for l, msg, _ in rest) or None,
        )
    return scenario


def check_environment(scenario: m.Scenario, environ: Mapping[str, str] | None = None) -> None:
    """Every ${env.X} the test reads must be set before it starts."""
    environ = os.environ if environ is None else environ
    missing = [name for name in scenario.env_names if name not in environ]
    if missing:
        names = ", ".join(missing)
        raise SpecError(
            f"environment variable{'s' if len(missing) > 1 else ''} {names} not set "
            f"(used as ${{env.{missing[0]}}} in the scenario)",
            hint=f"export {missing[0]}=... before the run; its value is never written to disk",
        )


def check_environment_allowed(scenario: m.Scenario, allow_production: bool) -> None:
    if scenario.target.environment.lower() in ("prod", "production") and not allow_production:
        raise SpecError(
            f"target.environment is {scenario.target.environment!r}: perforch does not load "
            "production unless asked",
            hint="pass --allow-production if this is really intended",
        )


# --- YAML with lines ----------------------------------------------------------------------------


def _compose(text: str, source: Path) -> tuple[Any, dict[Path_, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = _build(node, (), lines, loader, source) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise SpecError(
            f"{source}{line}: invalid YAML: {exc.problem or exc.context}",
            hint="check indentation and quoting near that line (quote values containing ': ' or '#')",
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return data, lines


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int], loader: yaml.SafeLoader,
           source: Path) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, (str, int, float, bool)):
                raise SpecError(f"{source}:{key_node.start_mark.line + 1}: keys must be plain text")
            if key in out:
                raise SpecError(
                    f"{source}:{key_node.start_mark.line + 1}: key {key!r} appears twice",
                    hint="YAML keeps only the last one; remove or rename the other",
                )
            out[key] = _build(value_node, path + (key,), lines, loader, source)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), lines, loader, source) for i, item in enumerate(node.value)]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return node.value  # YAML reads 2024-01-01 as a date; it goes on the wire as written
    if isinstance(value, bytes):
        raise SpecError(f"{source}:{node.start_mark.line + 1}: {_dotted(path) or 'value'}: binary (!!binary) "
                        "values cannot be sent", hint="write the text to send, or use body: with a data file")
    return value


def _where(source: Path, lines: dict[Path_, int], loc: Path_) -> str:
    probe = tuple(loc)
    while probe and probe not in lines:
        probe = probe[:-1]
    line = lines.get(probe)
    return f"{source}:{line}: {_dotted(loc)}: " if loc else f"{source}:{line or 1}: "


def _dotted(loc: Path_) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# --- pydantic errors -> one clear line each -----------------------------------------------------


def _spec_error(exc: ValidationError, data: Any, lines: dict[Path_, int], source: Path) -> SpecError:
    seen: set[Path_] = set()
    items: list[tuple[Path_, str, str | None]] = []
    errors = sorted(exc.errors(include_url=False), key=lambda e: -len(_clean_loc(e["loc"], data)))
    for error in errors:
        loc = _clean_loc(error["loc"], data)
        if loc in seen:
            continue
        seen.add(loc)
        items.append((loc, *_describe(error, loc)))
    items.sort(key=lambda item: lines.get(_known_prefix(item[0], lines), 0))
    (loc, message, hint), *rest = items
    return SpecError(
        _where(source, lines, loc) + message,
        hint=hint,
        details="\n".join(_where(source, lines, l) + msg for l, msg, _ in rest[:9]) or None,
    )


def _known_prefix(loc: Path_, lines: dict[Path_, int]) -> Path_:
    while loc and loc not in lines:
        loc = loc[:-1]
    return loc


def _clean_loc(loc: tuple, data: Any) -> Path_:
    """Drop the union-member tags pydantic inserts, keeping only real keys of the document."""
    out: list[Any] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and isinstance(node, dict):
            out.append(part)  # a missing or an unknown key
            node = None
    return tuple(out)


def _describe(error: dict, loc: Path_) -> tuple[str, str | None]:
    kind, msg = error["type"], error["msg"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = loc[-1] if loc else "?"
        close = difflib.get_close_matches(str(key), _ALL_KEYS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "perforch schema lists every key"
        return f"unknown key {key!r}", hint
    if kind == "missing":
        return (f"missing required key {loc[-1]!r}" if loc else "missing",
                "perforch init writes a starter scenario with every required key")
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        return (f"unknown {ctx.get('discriminator', 'kind').strip(chr(39))} {ctx.get('tag')!r}; "
                f"expected one of {ctx.get('expected_tags')}", None)
    if kind == "literal_error" and loc and loc[-1] == "version":
        return f"unsupported version {value!r}", "this perforch reads version: 1"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, "):]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        msg = f"{msg}, got {value!r}"
    return msg, _value_hint(loc, msg)


def _value_hint(loc: Path_, msg: str) -> str:
    """What a value of this kind looks like: the message says what was wrong, the hint what is right."""
    if "duration" in msg:
        return "durations take ms, s, m or h: 500ms, 30s, 1m30s; think also takes a range like 1s..3s"
    if "rate" in msg and "error_rate" not in msg:
        return 'rates are iterations per second or minute: "50/s", "600/m"'
    if loc and loc[0] == "slos":
        return "rules look like p99 < 200ms, error_rate < 0.1%, rps >= 100; per step: {step: login, rule: p95 < 300ms}"
    return "perforch schema lists what every key takes; scenarios/*.yaml are working examples"


def _all_keys() -> list[str]:
    """Every key a scenario may contain, for "did you mean"."""
    keys: set[str] = set()
    for name in dir(m):
        model = getattr(m, name)
        if isinstance(model, type) and issubclass(model, BaseModel):
            keys.update(field.alias or key for key, field in model.model_fields.items())
    return sorted(keys)


_ALL_KEYS = _all_keys()


# --- checks across the scenario -----------------------------------------------------------------

Problem = tuple[Path_, str, str | None]


def _check_data_files(scenario: m.Scenario, base: Path) -> list[Problem]:
    problems: list[Problem] = []
    for name, source in scenario.data.items():
        path = (base / source.file).resolve()
        loc = ("data", name, "file")
        if not path.is_file():
            problems.append((loc, f"data file {source.file!r} not found (looked for {path})",
                             "paths are relative to the scenario file"))
            continue
        source._path = path
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                first = next(csv.reader(fh), None)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            problems.append((loc, f"cannot read data file {source.file!r}: {exc}", None))
            continue
        if first is None:
            problems.append((loc, f"data file {source.file!r} is empty",
                             "a data file needs a header row and at least one row"))
            continue
        if source.columns is None:
            source._header = tuple(first)
    return problems


def _check_references(scenario: m.Scenario) -> list[Problem]:
    problems: list[Problem] = []
    variables = set(scenario.variables)
    for path, text, flow in scenario.templates():
        known = variables | (_extracted_before(flow, path) if flow else set())
        for part in parse_template(text):
            if isinstance(part, Ref):
                problem = _check_ref(part, scenario, known, scope=path[0] if flow is None else "step")
                if problem:
                    problems.append((path, *problem))
    slo_steps = set(scenario.labels)
    for i, rule in enumerate(scenario.slo_rules):
        if rule.step is not None and rule.step not in slo_steps:
            close = difflib.get_close_matches(rule.step, sorted(slo_steps), n=1)
            problems.append((("slos", i, "step"), f"no step named {rule.step!r}",
                             f"did you mean {close[0]!r}?" if close else "steps: " + ", ".join(sorted(slo_steps))))
    names = [flow.name.replace("-", "_") for flow in scenario.flows]  # k6 functions spell - as _
    for i, name in enumerate(names):
        first = names.index(name)
        if first != i:
            same = scenario.flows[first].name
            what = (f"flow name {same!r} is used twice" if same == scenario.flows[i].name else
                    f"flow names {same!r} and {scenario.flows[i].name!r} differ only by '-' and '_'")
            problems.append((("flows", i, "name"), what, "give each flow a distinct name"))
    for f, flow in enumerate(scenario.flows):
        seen: set[str] = set()
        for path, step in flow.step_paths(("flows", f, "steps")):
            if step.label in seen:
                problems.append((path, f"step {step.label!r} appears twice in flow {flow.name!r}",
                                 "give the steps distinct names (name: ...): the reports, and k6's checks, tell "
                                 "steps apart by name"))
            seen.add(step.label)
    return problems


def _check_ref(ref: Ref, scenario: m.Scenario, known: set[str], scope: str) -> tuple[str, str | None] | None:
    """`scope`: "variables", "target" (its headers, set once for the whole test) or "step"."""
    ns = ref.namespace
    if ns == "env":
        return None
    if scope == "variables":
        return (f"variables may read only ${{env.NAME}}, got ${{{ref.name}}}",
                "use the data or extracted value directly in the step")
    if scope == "target" and ns is not None:
        return (f"target headers are set once for the whole test and cannot read a data row, got ${{{ref.name}}}",
                "put the header on the steps that need it")
    if ns is not None:
        source = scenario.data.get(ns)
        if source is None:
            return (f"${{{ref.name}}}: no data source {ns!r}",
                    "declare it under data: (e.g. data: {users: {file: users.csv}})")
        if source.column_names and ref.key not in source.column_names:
            return (f"${{{ref.name}}}: data file {source.file!r} has no column {ref.key!r}",
                    "columns: " + ", ".join(source.column_names))
        return None
    if ref.name not in known:
        close = difflib.get_close_matches(ref.name, sorted(known), n=1)
        hint = (f"did you mean ${{{close[0]}}}?" if close else
                "define it under variables:, extract it in an earlier step, or write $${ for a literal")
        return f"${{{ref.name}}} is not defined before this step", hint
    return None


def _extracted_before(flow: m.Flow, path: Path_) -> set[str]:
    """Names extracted by steps that run before the step at `path` in its flow."""
    known: set[str] = set()
    for step_path, step in flow.step_paths(path[:3]):
        if path[: len(step_path)] == step_path:
            break
        known.update(step.extract)
    return known
