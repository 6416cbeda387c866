"""Scenario -> plan.jmx: structure, load split, wire values, nothing the user wrote as code."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest

from perforch.adapters.jmeter import generate as gen
from perforch.adapters.jmeter import glue
from perforch.adapters.jmeter.tool import JMeterAdapter
from perforch.spec import load_scenario
from perforch.spec.load import parse_scenario
from perforch.spec.split import split_load
from tests.conftest import SCENARIOS, example_scenarios
from tests.unit.adapters.jmeter.test_jmx import jmeter_value

SCRIPTS = {glue.START, glue.PREPARE, glue.CHECK, glue.ARRIVAL, glue.SETUP}


def plan_of(scenario) -> ET.Element:  # noqa: ANN001
    text = gen.generate(scenario).files[gen.PLAN]
    return ET.fromstring(text.split("\n", 1)[1])


def prop(element: ET.Element, name: str) -> str:
    found = element.find(f"*[@name='{name}']")
    assert found is not None, name
    return found.text or ""


def children(tree: ET.Element, element: ET.Element) -> list[ET.Element]:
    """The elements under `element` (the <hashTree> that follows it)."""
    siblings = list(tree)
    return [c for c in siblings[siblings.index(element) + 1] if c.tag != "hashTree"]


def thread_groups(root: ET.Element) -> list[tuple[ET.Element, ET.Element]]:
    """(thread group, the hashTree of its children)."""
    top = root.find("hashTree/hashTree")
    items = list(top)
    return [(el, items[i + 1]) for i, el in enumerate(items) if el.tag == "ThreadGroup"]


def plan_threads(tg: ET.Element) -> int:
    """A thread group's thread count in the plan: ${__P(perforch.threads.I,N)} -> N (one JMeter)."""
    match = re.fullmatch(r"\$\{__P\(perforch\.threads\.\d+,(\d+)\)\}", prop(tg, "ThreadGroup.num_threads"))
    assert match, prop(tg, "ThreadGroup.num_threads")
    return int(match.group(1))


def scenario_from(text: str, tmp_path: Path):  # noqa: ANN201
    (tmp_path / "users.csv").write_text("email,password\na@x.io,pw\n", encoding="utf-8")
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return parse_scenario(text, path)


@pytest.mark.parametrize("spec", example_scenarios(), ids=lambda p: p.stem)
def test_threads_per_flow_follow_the_shared_split(spec: Path) -> None:
    scenario = load_scenario(spec)
    root = plan_of(scenario)
    threads: dict[str, int] = {}
    for tg, _ in thread_groups(root):
        threads[tg.get("testname")] = threads.get(tg.get("testname"), 0) + plan_threads(tg)
    for flow, load in zip(scenario.flows, split_load(scenario.load, [f.weight for f in scenario.flows])):
        if load is None:
            continue
        expected = {"constant-vus": lambda: load.vus, "iterations": lambda: load.vus,
                    "ramping-vus": lambda: max([load.start_vus] + [s.target for s in load.stages])}.get(
            load.profile, lambda: load.max_vus)()
        assert threads[flow.name] >= expected, flow.name
        if load.profile in ("constant-vus", "iterations") or "arrival" in load.profile:
            assert threads[flow.name] == expected


@pytest.mark.parametrize("spec", example_scenarios(), ids=lambda p: p.stem)
def test_scripts_are_fixed_text_and_functions_are_jmeters_own(spec: Path) -> None:
    text = gen.generate(load_scenario(spec)).files[gen.PLAN]
    root = ET.fromstring(text.split("\n", 1)[1])
    for el in root.iter("stringProp"):
        if el.get("name") in ("script", "BeanShellAssertion.query"):
            assert el.text in SCRIPTS
        if el.get("name") in ("parameters", "BeanShellAssertion.parameters") and el.text:
            assert not set(el.text) & set("$\\\n")  # data words only: nothing for JMeter to evaluate
    assert set(re.findall(r"\$\{(__\w+)", text)) <= {"__char", "__Random", "__P"}
    # __P only for a distributed run's thread counts, with the plan's own number as the default
    assert re.findall(r"\$\{__P\(([^)]*)\)\}", text) == [
        f"perforch.threads.{i},{plan_threads(tg)}" for i, (tg, _) in enumerate(thread_groups(root))]


def test_quickstart_plan_structure() -> None:
    root = plan_of(load_scenario(SCENARIOS / "quickstart.yaml"))
    assert root.find("hashTree/hashTree/SetupThreadGroup") is not None
    groups = thread_groups(root)
    assert [tg.get("testname") for tg, _ in groups] == ["shopper", "browser"]
    shopper, tree = groups[0]
    assert prop(shopper, "ThreadGroup.num_threads") == "${__P(perforch.threads.0,6)}"
    assert prop(shopper, "ThreadGroup.ramp_time") == "5"
    top = [c for c in tree if c.tag != "hashTree"]
    assert [c.tag for c in top] == ["CookieManager", "TestAction", "IfController", "IfController"]
    assert prop(top[3], "IfController.condition") == "${perforch.run}"
    start = children(tree, top[1])[0]
    assert prop(start, "parameters") == (
        "delay 0 ; start 833 1667 2500 3333 4167 5000 ; end 20000 19167 18333 17500 16667 15833 ; users 0 6 ;")
    assert prop(top[2], "IfController.condition") == "${perforch.stop}"
    # the data file advances in the controller only iterations that run enter
    steps_tree = list(tree)[list(tree).index(top[3]) + 1]
    tree, top = steps_tree, [c for c in steps_tree if c.tag != "hashTree"]
    assert [c.tag for c in top] == ["CSVDataSet", "HTTPSamplerProxy", "TestAction", "HTTPSamplerProxy", "TestAction",
                                    "TransactionController"]
    csv, login, think, list_items, _, tc = top
    assert prop(csv, "shareMode") == "perforch-flow-shopper" and prop(csv, "variableNames") == ""
    assert prop(login, "HTTPSampler.method") == "POST"
    body = login.find(".//elementProp[@elementType='HTTPArgument']")
    assert prop(body, "Argument.value") == (
        '{"email":"${perforch.j.users.email}","password":"${perforch.j.users.password}"}')
    checks = children(tree, login)
    assert [c.tag for c in checks] == ["BeanShellPreProcessor", "HeaderManager", "ResponseAssertion", "BeanShellAssertion"]
    assert prop(checks[0], "parameters") == (
        "copy email users.email ; copy password users.password ; encode users.email j ; encode users.password j ;")
    checks = checks[1:]
    status = checks[1]
    assert prop(status, "Assertion.assume_success") == "true" and prop(status, "Assertion.test_type") == "1"
    assert prop(checks[2], "BeanShellAssertion.parameters") == (
        "label 'login ; expect '%24.ok 'true .ok ; json token .token ;")
    assert prop(think, "ActionProcessor.duration") == "${__Random(50,150)}"
    assert tc.get("testname") == "checkout" and prop(tc, "TransactionController.parent") == "false"
    create = children(tree, tc)[0]
    assert prop(create.find(".//elementProp[@elementType='HTTPArgument']"), "Argument.value") == (
        '{"item":"${perforch.j.first_item}","qty":1}')
    assert prop(list_items, "HTTPSampler.path") == "http://127.0.0.1:8765/api/items?page=1"
    extract = [c for c in children(tree, list_items) if c.tag == "BeanShellAssertion"][0]
    assert prop(extract, "BeanShellAssertion.parameters").endswith(
        "json first_item .items %230 .id ; encode first_item j ;")
    status_step = [c for c in children(tree, tc) if c.tag == "HTTPSamplerProxy"][1]
    assert prop(status_step, "HTTPSampler.path") == "http://127.0.0.1:8765/api/orders/${order_id}"
    assert status_step.get("testname") == "order status"


def test_wire_values_reach_the_fields_byte_for_byte() -> None:
    scenario = load_scenario(SCENARIOS / "wire.yaml")
    root = plan_of(scenario)
    ((tg, tree),) = thread_groups(root)
    # the steps sit in the iteration's controller, beside the data file they advance
    steps = next(h for h in tree.iter("hashTree") if any(c.tag == "HTTPSamplerProxy" for c in h))
    assert [c.tag for c in steps][0] == "CSVDataSet"
    raw, form, secret, reused = [c for c in steps if c.tag == "HTTPSamplerProxy"]
    raw_step, form_step = scenario.flows[0].steps[0], scenario.flows[0].steps[1]
    body = prop(raw.find(".//elementProp[@elementType='HTTPArgument']"), "Argument.value")
    assert jmeter_value(body, {}) == "".join(p for p in __import__("perforch.spec.template", fromlist=["x"])
                                             .parse_template(raw_step.body))
    assert jmeter_value(raw.get("testname"), {}) == raw_step.label
    assert prop(form.find(".//elementProp[@elementType='HTTPArgument']"), "Argument.value") == (
        "user=o'brien%20%26%20co&note=100%25%20%3D%20%22all%22&empty=")
    manager = [c for c in children(steps, secret) if c.tag == "HeaderManager"][0]
    headers = {prop(h, "Header.name"): prop(h, "Header.value") for h in manager.iter("elementProp")
               if h.get("elementType") == "Header"}
    assert headers["Authorization"] == "Token ${secret}" and headers["X-Client"] == 'perforch "wire" test'
    assert headers["X-Default-Tag"] == "${tag}"
    start = children(tree, [c for c in tree if c.tag == "TestAction"][0])[0]
    assert "env PERFORCH_DEMO_SECRET ; " in prop(start, "parameters")
    assert "pool echo-everything 6 ;" in prop(start, "parameters")
    reused_body = prop(reused.find(".//elementProp[@elementType='HTTPArgument']"), "Argument.value")
    variables = {"perforch.j.echoed_path": "P", "perforch.j.secret": "S"}
    assert jmeter_value(reused_body, variables) == '{"seen":"P","key with \\"quotes\\"":["`S`",1,true,null]}'
    assert gen.generate(scenario).warnings == ()


def test_nothing_of_the_environment_is_read_while_generating(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFORCH_DEMO_SECRET", "very-secret-value")
    script = gen.generate(load_scenario(SCENARIOS / "wire.yaml"))
    assert all("very-secret-value" not in text for text in script.files.values())


def test_runtime_query_after_a_path_with_variables_is_assembled(tmp_path: Path) -> None:
    scenario = scenario_from("""
version: 1
name: q
target: {base_url: "http://h:1"}
data: {users: {file: users.csv, order: random}}
flows:
  - name: f
    steps:
      - {get: "/a", extract: {id: {header: X-Id}}}
      - {get: "/b/${id}", query: {q: "${users.email}", "k y": 1.5}}
      - {post: /c, form: {e: "${users.email}"}, body: null}
load: {profile: constant-vus, vus: 1, duration: 3s}
""", tmp_path)
    root = plan_of(scenario)
    ((tg, tree),) = thread_groups(root)
    assert not [c for c in tree if c.tag == "CSVDataSet"]  # random order: perforch.js picks the rows
    first = [c for c in tree if c.tag == "HTTPSamplerProxy"][0]
    data = [c for c in children(tree, first) if c.tag == "BeanShellPreProcessor"][0]
    assert prop(data, "parameters") == "row users data/users.csv email ; encode users.email u ;"
    second = [c for c in tree if c.tag == "HTTPSamplerProxy"][1]
    assert prop(second, "HTTPSampler.path") == "${perforch.url}"
    pre = [c for c in children(tree, second) if c.tag == "BeanShellPreProcessor"][0]
    words = [unquote(w) for w in prop(pre, "parameters").split(" ")]
    assert words == ["set", "perforch.url", "'http://h:1/b/", "rr:id", "?", "'q=", "ru:users.email", "'&k%20y=1.5", ";"]
    third = [c for c in tree if c.tag == "HTTPSamplerProxy"][2]
    assert prop(third.find(".//elementProp[@elementType='HTTPArgument']"), "Argument.value") == "e=${perforch.u.users.email}"


def test_profiles_say_what_jmeter_cannot_do_like_k6(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "arrival-rate.yaml")
    warnings = gen.generate(scenario).warnings
    assert len(warnings) == 1 and warnings[0].startswith("constant-arrival-rate:") and "max_vus" in warnings[0]
    root = plan_of(scenario)
    timers = list(root.iter("BeanShellTimer"))
    assert [prop(t, "parameters") for t in timers] == ["arrival reader 15 8 15 ;", "arrival searcher 5 8 5 ;"]
    lonely = scenario_from("""
version: 1
name: w
target: {base_url: "http://h:1"}
flows:
  - {name: big, weight: 20, steps: [{get: /a}]}
  - {name: small, steps: [{get: /b, body: "x"}, {post: /c, body: "raw"}]}
  - {name: tiny, steps: [{get: /d}]}
load: {profile: constant-vus, vus: 10, duration: 3s}
""", tmp_path)
    warnings = gen.generate(lonely).warnings
    assert any("flow 'tiny' gets no users" in w for w in warnings)
    assert any("does not send a body with GET" in w for w in warnings)
    assert any("Content-Type" in w and "POST /c" in w for w in warnings)


def test_the_adapter_generates_this_plan() -> None:
    script = JMeterAdapter().generate(load_scenario(SCENARIOS / "quickstart.yaml"))
    assert script.tool == "jmeter" and script.entry == gen.PLAN
    assert sorted(script.files) == ["perforch.bsh", "perforch.js", "plan.jmx"]
    assert list(script.data_files) == ["data/users.csv"]
