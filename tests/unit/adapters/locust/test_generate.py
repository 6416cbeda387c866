"""The locustfile generator: structure, literals only, the load split, warnings."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from perforch.adapters.locust.generate import LOCUSTFILE, RUNTIME, generate, py, pystr
from perforch.spec import load_scenario
from perforch.spec import model as m
from perforch.spec.load import parse_scenario
from perforch.spec.split import split_load
from tests.conftest import SCENARIOS

NASTY = "quote \" ' ` </script> \\ back\nnew line \r\t ünï ✓ \U0001f600 \x00 \x7f ${x} {} %s {0}"


def scenario(tmp_path: Path, text: str) -> m.Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return parse_scenario(text, source=path)


BASE = """
version: 1
name: t
target: {base_url: "http://127.0.0.1:9"}
"""


def test_pystr_is_an_ascii_literal_for_any_text() -> None:
    for text in [NASTY, "", '"', "\\", "\ud800", "\U0010ffff", "a\u2028b"]:
        literal = pystr(text)
        assert literal.isascii() and literal.startswith('"')
        assert ast.literal_eval(literal) == text


def test_py_writes_plain_data_literals() -> None:
    value = {"a": [1, 2.5, True, None, "x"], "b": {"c": -0.0}, 3: "k"}
    assert ast.literal_eval(py(value)) == value
    assert py((1,)) == "(1,)" and py(("a", 1)) == '("a", 1)'
    assert py(float("inf")) == 'float("inf")'


def test_quickstart_has_one_user_class_per_flow_with_weight_and_split_load() -> None:
    spec = load_scenario(SCENARIOS / "quickstart.yaml")
    script = generate(spec)
    text = script.files[LOCUSTFILE]
    assert script.entry == LOCUSTFILE and set(RUNTIME) <= set(script.files)
    assert "class Shopper(FlowUser, FastHttpUser):" in text and "class Browser(FlowUser, FastHttpUser):" in text
    assert "    weight = 3\n" in text and "    weight = 1\n" in text
    loads = split_load(spec.load, [f.weight for f in spec.flows])
    assert [[s.target for s in load.stages] for load in loads] == [[6, 6, 0], [2, 2, 0]]
    assert "load = RampingUsers(start=0, stages=[(5.0, 6), (10.0, 6), (5.0, 0)])" in text
    assert "load = RampingUsers(start=0, stages=[(5.0, 2), (10.0, 2), (5.0, 0)])" in text
    assert "flows = (Shopper, Browser)" in text
    assert script.data_files == {"data/users.csv": spec.data["users"].path}
    ast.parse(text)


def test_http_user_on_request(tmp_path: Path) -> None:
    spec = scenario(tmp_path, BASE + """
flows: [{name: a, steps: [{get: /}]}]
load: {profile: constant-vus, vus: 1, duration: 1s}
tools: {locust: {user_class: http}}
""")
    text = generate(spec).files[LOCUSTFILE]
    assert "from locust import HttpUser, task" in text and "class A(FlowUser, HttpUser):" in text
    assert "FastHttpUser" not in text


def test_user_strings_are_only_string_constants(tmp_path: Path) -> None:
    nasty = NASTY.replace("\x00", "").replace("${x}", "$${x}")
    quoted = nasty.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t").replace("\x7f", "\\x7f")
    step_name = re.sub(r"\\[nrt]|\\x7f", " ", quoted)
    spec = scenario(tmp_path, BASE + f"""
variables: {{token: "${{env.SECRET_TOKEN}}"}}
flows:
  - name: a
    steps:
      - name: "step {step_name}"
        post: "/p?x={quoted}"
        headers: {{"X-{quoted}": "{quoted} ${{token}}"}}
        json: {{"{quoted}": ["{quoted}", 1.5, true, null, "${{token}}"]}}
        expect: {{body_contains: "{quoted}", json: {{"$.a": "{quoted}"}}}}
        extract: {{out: {{regex: "(\\\\d+)"}}}}
      - {{get: "/q/${{out}}", form: {{"{quoted}": "{quoted}"}}}}
load: {{profile: iterations, iterations: 1}}
""")
    text = generate(spec).files[LOCUSTFILE]
    assert text.isascii()
    tree = ast.parse(text)
    constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    literal = nasty.replace("$${x}", "${x}")
    assert literal in constants  # the text reaches the script as data...
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"eval", "exec", "compile", "__import__", "open"}  # ...and nothing runs it
    calls = {node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
             for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert calls <= {"read_env", "dict", "row", "send", "think", "json_text", "with_query", "encode_pairs",
                     "start_iteration", "task", "Step", "Iterations", "DataFile", "RampingUsers", "ArrivalRate"}
    assert 'ENV = read_env(["SECRET_TOKEN"])' in text and 'v["token"]' in text and 'v["out"]' in text


def test_every_example_compiles_and_is_byte_stable() -> None:
    for spec_path in sorted(SCENARIOS.glob("*.yaml")):
        first = generate(load_scenario(spec_path))
        second = generate(load_scenario(spec_path))
        assert first.files == second.files
        for name, text in first.files.items():
            compile(text, name, "exec")


def test_think_extraction_and_iteration_end(tmp_path: Path) -> None:
    spec = scenario(tmp_path, BASE + """
flows:
  - name: a
    think: 1s..3s
    steps:
      - {name: s1, get: /a, think: 250ms, extract: {tok: {header: X-Token}}}
      - group: g
        steps:
          - {name: s2, get: "/b/${tok}", timeout: 2s}
load: {profile: constant-vus, vus: 2, duration: 3s}
""")
    text = generate(spec).files[LOCUSTFILE]
    assert 'extract={"tok": ("header", "X-Token")}' in text
    assert "return  # an extraction failed: end this iteration" in text
    assert text.index("self.think(0.25, 0.25)") < text.index("self.think(1, 3)")
    assert 'group="g"' in text and "timeout_s=2.0" in text and '# group "g"' in text
    assert 'BASE_URL + "/b/" + v["tok"]' in text


def test_arrival_rate_loads_and_warnings(tmp_path: Path) -> None:
    spec = scenario(tmp_path, BASE + """
flows:
  - {name: a, weight: 3, steps: [{get: /a}]}
  - {name: b, steps: [{get: /b}]}
load: {profile: ramping-arrival-rate, start_rate: 2/s, stages: [{duration: 4s, target: 2000/s}], max_vus: 8,
       pre_allocated_vus: 2}
""")
    script = generate(spec)
    text = script.files[LOCUSTFILE]
    assert "load = ArrivalRate(start=1.5, stages=[(4.0, 1500.0)], max_users=6)" in text
    assert "load = ArrivalRate(start=0.5, stages=[(4.0, 500.0)], max_users=2)" in text
    assert any("pre_allocated_vus is not used" in w and "'a'" in w for w in script.warnings)
    assert any("2000 requests/s" in w and "--workers" in w for w in script.warnings)


def test_flow_without_users_is_named_in_a_warning(tmp_path: Path) -> None:
    spec = scenario(tmp_path, BASE + """
flows:
  - {name: big, weight: 5, steps: [{get: /a}]}
  - {name: tiny, steps: [{get: /b}]}
load: {profile: constant-vus, vus: 1, duration: 2s}
""")
    script = generate(spec)
    assert "load = None" in script.files[LOCUSTFILE]
    assert script.warnings == ("flow 'tiny' gets no users with this load (weights split whole users); "
                               "raise the number of users or its weight",)


def test_query_form_and_json_scalars_use_json_spelling(tmp_path: Path) -> None:
    spec = scenario(tmp_path, BASE + """
flows:
  - name: a
    steps:
      - {get: /a, query: {n: 1, f: 1.5, t: true, s: "x y"}}
      - {post: /b, form: {n: 2}}
      - {post: /c, json: {n: 1.0, big: 1.0e+21}}
load: {profile: iterations, iterations: 1}
""")
    text = generate(spec).files[LOCUSTFILE]
    assert '[("n", "1"), ("f", "1.5"), ("t", "true"), ("s", "x y")]' in text
    assert 'encode_pairs([("n", "2")])' in text
    assert 'json_text({"n": 1.0, "big": 1e+21})' in text  # json_text spells them 1 and 1e+21, as k6 does


def test_data_sources_and_default_content_types(tmp_path: Path) -> None:
    (tmp_path / "u.csv").write_text("a@b,pw\n", encoding="utf-8")
    spec = scenario(tmp_path, """
version: 1
name: t
target: {base_url: "http://127.0.0.1:9", headers: {content-type: text/x}}
data: {my-users: {file: u.csv, order: random, columns: [email, password]}}
flows:
  - name: a
    steps:
      - {post: /a, json: {e: "${my-users.email}"}}
load: {profile: iterations, iterations: 1}
""")
    script = generate(spec)
    text = script.files[LOCUSTFILE]
    assert 'DATA_my_users = DataFile("data/my-users.csv", order="random")' in text
    assert 'row_my_users = DATA_my_users.row(i)' in text and 'row_my_users["email"]' in text
    assert "Content-Type" not in text  # the target already sets one
    assert script.data_headers == {"data/my-users.csv": ("email", "password")}


def test_class_names_stay_unique(tmp_path: Path) -> None:
    spec = scenario(tmp_path, BASE + """
flows:
  - {name: check-out, steps: [{get: /a}]}
  - {name: CheckOut, steps: [{get: /b}]}
  - {name: Load, steps: [{get: /c}]}
load: {profile: constant-vus, vus: 3, duration: 1s}
""")
    text = generate(spec).files[LOCUSTFILE]
    assert re.findall(r"^class (\w+)\(", text, re.M) == ["CheckOut", "CheckOut_", "LoadFlow", "Load"]


@pytest.mark.parametrize("name", ["perforch_locust.py", "perforch_wire.py"])
def test_runtime_files_are_shipped_verbatim(name: str) -> None:
    shipped = generate(load_scenario(SCENARIOS / "quickstart.yaml")).files[name]
    source = Path(__file__).resolve().parents[4] / "perforch" / "adapters" / "locust" / "runtime" / name
    assert shipped == source.read_text(encoding="utf-8")
