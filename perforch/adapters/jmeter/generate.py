"""Scenario -> a readable JMeter plan (plan.jmx), built with ElementTree, plus its helpers.

Only core elements that exist from JMeter 2.13 to 5.x: Thread Group (and a setUp group), HTTP
Request (HttpClient4), HTTP Header / Cookie Manager, Response Assertion, Transaction Controller,
Flow Control Action (Test Action), If Controller, CSV Data Set Config, and BeanShell
pre-processors, assertions and timers for what core JMeter cannot do (2.13 has no JSON
extractor): those are two fixed lines calling perforch.js (JavaScript run by Rhino, which JMeter
ships) through perforch.bsh. Each such element passes its data as percent-encoded words
(wire.word): nothing the user wrote is ever code, and JMeter never evaluates it. User text in the
other fields goes through jmx.template / jmx.literal (see jmx.py).

Layout: a setUp group loads perforch.js; per flow, thread groups whose threads start and stop at
k6's times (profiles.py). Each iteration: a pause that says whether the thread stops (the gate
after it) and sets variables and environment values; then, in a controller only running
iterations enter, the data files' next rows and the flow's steps in order (groups as transaction
controllers that add no parent sample), each request followed by its think time (a Test Action
after the step: JMeter timers run before their sampler). Per request: its headers (target
defaults merged with the step's), its checks in k6's order (status, body, JSON) and extraction:
a failed extraction fails the step and starts the next iteration, with no think time.

Distributed runs: thread group I asks for ${__P(perforch.threads.I,n)} threads, n for one JMeter;
each engine of a distributed run is given its own count (shares.py) and perforch.js works out the
rest of its share from the "users FIRST N" words of the start of iteration.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from importlib import resources
from urllib.parse import urlsplit

from perforch import __version__
from perforch.adapters.base import Script
from perforch.adapters.jmeter import jmx
from perforch.adapters.jmeter.glue import ARRIVAL, CHECK, PREPARE, SETUP, START, GLUE, GLUE_TEXT
from perforch.adapters.jmeter.jmx import Node, bool_prop, element, int_prop, string_prop
from perforch.adapters.jmeter.profiles import GRACE_S, Users, users_for
from perforch.adapters.jmeter.wire import js_json, js_key_order, js_string_body, uri_component, wire_text, word
from perforch.spec import model as m
from perforch.spec.jsonpath import parse_json_path
from perforch.spec.split import split_load
from perforch.spec.template import Ref, parse_template, refs_in

PLAN = "plan.jmx"
HELPERS = "perforch.js"
PLAN_FORMAT = "2.13"  # the oldest JMeter the plan is written for (jmeterTestPlan's "jmeter" attribute)
# Each engine of a distributed run has its own threads of thread group i (property perforch.threads.i)
# and waits for its own threads due at time 0 (perforch.threads.ready, read by perforch.js); one JMeter
# runs the plan's numbers.
THREADS_PROPERTY = "perforch.threads."
READY_PROPERTY = "perforch.threads.ready"


def generate(scenario: m.Scenario) -> Script:
    gen = _Generator(scenario)
    plan = gen.plan()
    helpers = {HELPERS: resources.files(__package__).joinpath(HELPERS).read_text(encoding="utf-8"), GLUE: GLUE_TEXT}
    data_files = {f"data/{name}.csv": src.path for name, src in scenario.data.items()}
    headers = {f"data/{name}.csv": tuple(src.columns) for name, src in scenario.data.items() if src.columns}
    return Script(tool="jmeter", entry=PLAN, files={PLAN: plan, **helpers}, data_files=data_files,
                  data_headers=headers, warnings=tuple(gen.warnings))


class _Generator:
    def __init__(self, scenario: m.Scenario) -> None:
        self.s = scenario
        self.warnings: list[str] = []

    def plan(self) -> str:
        s = self.s
        root = element("TestPlan", s.name, [
            bool_prop("TestPlan.functional_mode", False),
            bool_prop("TestPlan.serialize_threadgroups", False),
            jmx.element_prop("TestPlan.user_defined_variables", "Arguments",
                             [jmx.collection_prop("Arguments.arguments", [])],
                             guiclass="ArgumentsPanel", testclass="Arguments", testname="User Defined Variables",
                             enabled="true"),
        ], comment=(s.description + "\n\n" if s.description else "") + _plan_note(s))
        groups: list[Node] = []
        ready = 0  # threads due at time 0: the clock starts when all of them are ready
        plan = thread_groups(s)
        for flow in s.flows:
            mine = [(group, index) for f, group, index in plan if f is flow]
            if not mine:
                self.warnings.append(
                    f"flow {flow.name!r} gets no users with this load (weights split whole users); "
                    "raise the number of users or its weight")
            for group, index in mine:
                groups.append(self._thread_group(flow, group, index, len(mine)))
                ready += sum(1 for start in group.starts_s if start == 0)
        root.add(self._setup(ready), *groups)
        self._profile_warnings()
        return jmx.render(root, PLAN_FORMAT, lambda: _HEADER)

    def _profile_warnings(self) -> None:
        load = self.s.load
        if isinstance(load, (m.ConstantArrivalRate, m.RampingArrivalRate)):
            self.warnings.append(
                f"{load.profile}: JMeter starts all max_vus ({load.max_vus}) threads at the start and paces "
                "iteration starts with a timer (k6 starts pre-allocated users and adds more only when needed), "
                "so the active-user count (vus) reads max_vus throughout")

    def _setup(self, ready: int) -> Node:
        """Loads perforch.js once before the load starts (as k6 runs its init code first) and says
        how many threads are due at time 0: the clock of the plan starts when they are all ready."""
        tg = element("SetupThreadGroup", "perforch setup", [
            string_prop("ThreadGroup.on_sample_error", "continue"),
            jmx.element_prop("ThreadGroup.main_controller", "LoopController", [
                bool_prop("LoopController.continue_forever", False),
                string_prop("LoopController.loops", "1"),
            ], guiclass="LoopControlPanel", testclass="LoopController", testname="Loop Controller", enabled="true"),
            string_prop("ThreadGroup.num_threads", "1"),
            string_prop("ThreadGroup.ramp_time", "0"),
            bool_prop("ThreadGroup.scheduler", False),
            string_prop("ThreadGroup.duration", ""),
            string_prop("ThreadGroup.delay", ""),
        ], comment="runs before the thread groups of the flows: no request, no result")
        return tg.add(self._pause("load perforch.js", "0").add(element("BeanShellPreProcessor", "load perforch.js", [
            string_prop("script", SETUP),
            string_prop("parameters", f"ready {ready} ;"),
            string_prop("filename", ""),
            bool_prop("resetInterpreter", False),
        ], guiclass="TestBeanGUI")))

    # -- a thread group ------------------------------------------------------------------------

    def _thread_group(self, flow: m.Flow, users: Users, index: int, groups: int) -> Node:
        n = users.threads
        what = f"{n} user{'s' if n > 1 else ''} of flow {flow.name}"
        if users.ramp_s:
            what += f", started by JMeter over {users.ramp_s} s from {users.delay_s} s"
        starts, ends = set(users.starts_s), set(users.ends_s)
        when = (f"; start at {_secs(min(starts))}" + (f"..{_secs(max(starts))}" if len(starts) > 1 else "")
                + f" s; no iteration starts after {_secs(min(ends))}" + (f"..{_secs(max(ends))}" if len(ends) > 1 else "")
                + f" s (an iteration may finish until the hard stop at {users.delay_s + users.hard_stop_s} s, "
                "like k6's graceful stop)")
        if groups > 1:
            when += f". The flow has {groups} thread groups."
        tg = element("ThreadGroup", flow.name, [
            string_prop("ThreadGroup.on_sample_error", "continue"),
            jmx.element_prop("ThreadGroup.main_controller", "LoopController", [
                bool_prop("LoopController.continue_forever", False),
                string_prop("LoopController.loops", "-1"),
            ], guiclass="LoopControlPanel", testclass="LoopController", testname="Loop Controller", enabled="true"),
            string_prop("ThreadGroup.num_threads", f"${{__P({THREADS_PROPERTY}{index},{n})}}"),
            string_prop("ThreadGroup.ramp_time", str(users.ramp_s)),
            bool_prop("ThreadGroup.scheduler", True),
            string_prop("ThreadGroup.duration", str(users.hard_stop_s)),
            string_prop("ThreadGroup.delay", str(users.delay_s)),
        ], comment=what + when)
        tg.add(element("CookieManager", "cookies (cleared every iteration, as in k6)", [
            jmx.collection_prop("CookieManager.cookies", []),
            bool_prop("CookieManager.clearEachIteration", True),
            string_prop("CookieManager.implementation", "org.apache.jmeter.protocol.http.control.HC4CookieHandler"),
        ], guiclass="CookiePanel"))
        used = self._data_used(flow)
        self.needs = _encodings_needed(flow)
        tg.add(self._iteration_start(flow, users))
        tg.add(self._gate(users))
        # Data rows are read by iterations that run: the CSV files advance when this controller is
        # entered (not for the iteration a stopping thread skips), and the flow's first request
        # names and encodes the row's values.
        self.data_commands = self._data_commands(flow, used)
        steps = self._items(flow, flow.steps)
        csv = [self._csv_data_set(flow, name) for name in used if self.s.data[name].order == "sequential"]
        if csv:
            # (JMeter enters the next controller even after the stop above: hence a condition here too)
            tg.add(element("IfController", f"iteration of flow {flow.name}", [
                string_prop("IfController.condition", "${perforch.run}"),
                bool_prop("IfController.evaluateAll", False),
                bool_prop("IfController.useExpression", True),
            ], guiclass="IfControllerPanel", comment="the data files advance when an iteration enters here")
                .add(*csv, *steps))
        else:
            tg.add(*steps)
        return tg

    def _iteration_start(self, flow: m.Flow, users: Users) -> Node:
        """A pause at the top of each iteration (the thread's own start offset, the first time) whose
        pre-processor decides whether the thread stops and sets variables, environment values and
        data rows; for arrival rates, a timer holds it until the iteration's start time."""
        starts = tuple(round(x * 1000) for x in users.starts_s)
        ends = tuple(round(e * 1000) for e in users.ends_s)
        words = [f"delay {users.delay_s * 1000} ;", f"start {_table(starts)} ;", f"end {_table(ends)} ;"]
        words.append(f"users {users.first} {users.threads} ;")
        if users.iterations is not None:
            words.append(f"pool {word(flow.name)} {users.iterations} ;")
        if users.arrival is not None:
            words.append("paced ;")
        init = self._start_commands(flow)
        start = element("BeanShellPreProcessor", "start of iteration: stop?, variables, environment", [
            string_prop("script", START),
            string_prop("parameters", " ".join(words + ([init] if init else []))),
            string_prop("filename", ""),
            bool_prop("resetInterpreter", False),
        ], guiclass="TestBeanGUI")
        node = self._pause("iteration start", "${perforch.pause}").add(start)
        if users.arrival is not None:
            schedule = " ".join(word(f"{x:.10g}") for x in users.arrival)
            node.add(element("BeanShellTimer", "arrival-rate schedule (k6's)", [
                string_prop("script", ARRIVAL),
                string_prop("parameters", f"arrival {word(flow.name)} {schedule} ;"),
                string_prop("filename", ""),
                bool_prop("resetInterpreter", False),
            ], guiclass="TestBeanGUI"))
        return node

    def _start_commands(self, flow: m.Flow) -> str:
        """Environment values and variables, for each iteration (k6 starts each from VARS)."""
        s = self.s
        out: list[str] = []
        env = [ref.key for _, text, f in s.templates() if f is None or f is flow
               for ref in parse_template(text) if isinstance(ref, Ref) and ref.namespace == "env"]
        for name in dict.fromkeys(env):
            out.append(f"env {word(name)} ;")
        out += self._set_variables(s.variables)
        variables = {jmx.var_name(Ref(n)) for n in s.variables}
        out += self._encodes(lambda var: var.startswith("env.") or var in variables)
        return " ".join(out)

    def _encodes(self, wanted: Callable[[str], bool]) -> list[str]:
        """Commands that encode the variables `wanted` picks, as the plan's values need them."""
        return [f"encode {word(var)} {encodings} ;" for var, encodings in self.needs.items() if wanted(var)]

    def _set_variables(self, names: Iterable[str]) -> list[str]:
        out = []
        for name in names:
            pieces = self._pieces(parse_template(self.s.variables[name]), "r")
            out.append(f"set {word(jmx.var_name(Ref(name)))} {_words(pieces)} ;")
        return out

    def _data_commands(self, flow: m.Flow, used: list[str]) -> str:
        """The current row's values under their names (users.email), and encoded where needed."""
        out: list[str] = []
        columns = self._columns_used(flow)
        overwritten: set[str] = set()  # CSV Data Set Config sets a variable per column, by its bare name
        for name in used:
            if self.s.data[name].order == "sequential":
                for column in columns[name]:
                    out.append(f"copy {word(column)} {word(name + '.' + column)} ;")
                overwritten.update(self.s.data[name].column_names)
            else:
                cols = " ".join(word(c) for c in columns[name])
                out.append(f"row {word(name)} {word(f'data/{name}.csv')} {cols} ;")
        # a scenario variable named like a column is set again, as k6 and Locust keep it
        variables = [n for n in self.s.variables if jmx.var_name(Ref(n)) in overwritten]
        out += self._set_variables(variables)
        again = {jmx.var_name(Ref(n)) for n in variables}
        out += self._encodes(lambda var: var in again or var.partition(".")[0] in used)
        return " ".join(out)

    def _gate(self, users: Users) -> Node:
        """Stop this thread when the start of iteration said so: past its end, or no ticket left."""
        last = _secs(max(users.ends_s))
        title = f"stop after {last} s" if len(set(users.ends_s)) == 1 else "stop after this user's end"
        if users.iterations is not None:
            title = f"stop after {users.iterations} iterations (shared by the group) or {last} s"
        stop = element("TestAction", "stop this thread", [
            int_prop("ActionProcessor.action", 0), int_prop("ActionProcessor.target", 0),
            string_prop("ActionProcessor.duration", "0")])
        return element("IfController", title, [
            string_prop("IfController.condition", "${perforch.stop}"),
            bool_prop("IfController.evaluateAll", False),
            bool_prop("IfController.useExpression", True),
        ], guiclass="IfControllerPanel").add(stop)

    def _pause(self, name: str, duration_ms: str) -> Node:
        return element("TestAction", name, [
            int_prop("ActionProcessor.action", 1), int_prop("ActionProcessor.target", 0),
            string_prop("ActionProcessor.duration", duration_ms)])

    # -- data ----------------------------------------------------------------------------------

    def _columns_used(self, flow: m.Flow) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for _, text, f in self.s.templates():
            if f is flow:
                for ref in parse_template(text):
                    if isinstance(ref, Ref) and ref.namespace not in (None, "env"):
                        out.setdefault(ref.namespace, [])
                        if ref.key not in out[ref.namespace]:
                            out[ref.namespace].append(ref.key)
        return out

    def _data_used(self, flow: m.Flow) -> list[str]:
        columns = self._columns_used(flow)
        used = [name for name in self.s.data if name in columns]
        seen: dict[str, str] = {}
        read = {c for name in used for c in columns[name]}
        for name in used:
            if self.s.data[name].order != "sequential":
                continue
            for column in self.s.data[name].column_names:
                if column in seen and column in read:
                    self.warnings.append(
                        f"flow {flow.name!r} reads data sources {seen[column]!r} and {name!r}, which share the "
                        f"column name {column!r}: JMeter's CSV Data Set Config keeps one variable per column "
                        "name, so the first one is overwritten; rename the column in one file")
                seen.setdefault(column, name)
        return used

    def _csv_data_set(self, flow: m.Flow, name: str) -> Node:
        return element("CSVDataSet", f"data {name} (iteration i of the flow takes row i mod n)", [
            string_prop("filename", f"data/{name}.csv"),
            string_prop("fileEncoding", "UTF-8"),
            string_prop("variableNames", ""),  # read from the header row
            string_prop("delimiter", ","),
            bool_prop("quotedData", True),
            bool_prop("recycle", True),
            bool_prop("stopThread", False),
            # A sharing key of our own: one file position per flow, shared by all its thread groups.
            string_prop("shareMode", f"perforch-flow-{flow.name}"),
        ], guiclass="TestBeanGUI")

    # -- steps ---------------------------------------------------------------------------------

    def _items(self, flow: m.Flow, items: list) -> list[Node]:
        nodes: list[Node] = []
        for item in items:
            if isinstance(item, m.Group):
                tc = element("TransactionController", item.group, [
                    bool_prop("TransactionController.parent", False),
                    bool_prop("TransactionController.includeTimers", False),
                ], guiclass="TransactionControllerGui",
                    comment="a group: its steps are reported one by one; perforch ignores this controller's own row")
                tc.add(*self._items(flow, item.steps))
                nodes.append(tc)
            else:
                nodes += self._step(flow, item)
        return nodes

    def _step(self, flow: m.Flow, step: m.Step) -> list[Node]:
        s = self.s
        timeout = str(round((step.timeout if step.timeout is not None else s.target.timeout) * 1000))
        extra_headers: dict[str, str] = {}
        body_pieces: list[tuple[str, ...]] | None = None
        if step.json_body is not None:
            body_pieces = self._json_pieces(step.json_body)
            extra_headers["Content-Type"] = "application/json"
        elif step.form is not None:
            body_pieces = self._pairs_pieces(step.form)
            extra_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif step.body is not None:
            body_pieces = self._pieces(parse_template(step.body), "r")
        headers = self._headers(step, extra_headers)
        if step.body is not None and not any(_is_literal_text(k, "content-type") for k in headers):
            self.warnings.append(
                f"step {step.label!r}: JMeter sends a raw body without a Content-Type header as "
                "application/x-www-form-urlencoded; set the header in the step to send what you mean")
        if body_pieces is not None and step.method in ("GET", "HEAD", "OPTIONS"):
            self.warnings.append(f"step {step.label!r}: JMeter does not send a body with {step.method}")

        assemble: list[str] = []
        url_parts = [s.target.base_url, *parse_template(step.path)]
        if step.query:
            path_pieces = self._pieces(url_parts, "r")
            if all(p[0] == "'" for p in path_pieces):  # the path is known: "?" or "&" is too
                joiner: tuple[str, ...] = ("'", "&" if "?" in "".join(p[1] for p in path_pieces) else "?")
            else:
                joiner = ("?",)
            pieces = path_pieces + [joiner] + self._pairs_pieces(step.query)
            path_field = self._field(pieces, "perforch.url", assemble)
        else:
            path_field = jmx.parts(url_parts)
        body_field = None if body_pieces is None else self._field(body_pieces, "perforch.body", assemble)

        arguments = []
        if body_field is not None:
            arguments.append(jmx.element_prop("", "HTTPArgument", [
                bool_prop("HTTPArgument.always_encode", False),
                string_prop("Argument.value", body_field),
                string_prop("Argument.metadata", "="),
            ]))
        props = [
            jmx.element_prop("HTTPsampler.Arguments", "Arguments", [jmx.collection_prop("Arguments.arguments", arguments)],
                             guiclass="HTTPArgumentsPanel", testclass="Arguments", testname="User Defined Variables",
                             enabled="true"),
        ]
        if body_field is not None:
            props.append(bool_prop("HTTPSampler.postBodyRaw", True))
        props += [
            string_prop("HTTPSampler.domain", ""),
            string_prop("HTTPSampler.port", ""),
            string_prop("HTTPSampler.protocol", ""),
            string_prop("HTTPSampler.contentEncoding", "UTF-8"),
            string_prop("HTTPSampler.path", path_field),
            string_prop("HTTPSampler.method", step.method),
            bool_prop("HTTPSampler.follow_redirects", True),
            bool_prop("HTTPSampler.auto_redirects", False),
            bool_prop("HTTPSampler.use_keepalive", True),
            bool_prop("HTTPSampler.DO_MULTIPART_POST", False),
            string_prop("HTTPSampler.implementation", "HttpClient4"),
            string_prop("HTTPSampler.connect_timeout", timeout),
            string_prop("HTTPSampler.response_timeout", timeout),
        ]
        sampler = element("HTTPSamplerProxy", step.label, props, guiclass="HttpTestSampleGui")
        if self.data_commands:  # the flow's first request: this iteration's data row
            sampler.add(element("BeanShellPreProcessor", "data row of this iteration", [
                string_prop("script", PREPARE),
                string_prop("parameters", self.data_commands),
                string_prop("filename", ""),
                bool_prop("resetInterpreter", False),
            ], guiclass="TestBeanGUI"))
            self.data_commands = ""
        if headers:
            sampler.add(element("HeaderManager", "headers", [jmx.collection_prop("HeaderManager.headers", [
                jmx.element_prop("", "Header", [string_prop("Header.name", k), string_prop("Header.value", v)])
                for k, v in headers.items()])], guiclass="HeaderPanel"))
        if assemble:
            sampler.add(element("BeanShellPreProcessor", "encode values read at run time", [
                string_prop("script", PREPARE),
                string_prop("parameters", " ".join(assemble)),
                string_prop("filename", ""),
                bool_prop("resetInterpreter", False),
            ], guiclass="TestBeanGUI"))
        sampler.add(*self._assertions(step))
        nodes = [sampler]
        low, high = flow.think_after(step)
        if high > 0:
            lo, hi = round(low * 1000), round(high * 1000)
            duration = str(lo) if lo == hi else f"${{__Random({lo},{hi})}}"
            nodes.append(self._pause(f"think {_span_ms(lo, hi)}", duration))
        return nodes

    def _headers(self, step: m.Step, extra: dict[str, str]) -> dict[str, str]:
        """Target defaults, then the step's (a step header replaces a default of the same name,
        whatever its case); Content-Type for JSON/form bodies unless the user set one."""
        merged: dict[str, tuple[str, str]] = {}
        for source in (self.s.target.headers, step.headers):
            for name, value in source.items():
                merged[name.lower()] = (name, value)
        for name, value in extra.items():
            merged.setdefault(name.lower(), (name, value))
        return {jmx.template(name): jmx.template(value) for name, value in merged.values()}

    def _assertions(self, step: m.Step) -> list[Node]:
        out: list[Node] = []
        statuses = step.expect.statuses
        if statuses != m.DEFAULT_OK_STATUSES:
            pattern = "|".join(str(code) for code in sorted(set(statuses)))
            out.append(element("ResponseAssertion", f"status {'|'.join(str(c) for c in statuses)}", [
                jmx.collection_prop("Asserion.test_strings", [string_prop("0", pattern)]),
                string_prop("Assertion.test_field", "Assertion.response_code"),
                bool_prop("Assertion.assume_success", True),  # decides alone, also for 4xx/5xx codes
                int_prop("Assertion.test_type", 1),  # matches (the whole code)
            ], guiclass="AssertionGui", comment="first: it overrides JMeter's own 2xx/3xx rule"))
        if step.expect.body_contains is not None:
            out.append(element("ResponseAssertion", f"body contains {step.expect.body_contains}", [
                jmx.collection_prop("Asserion.test_strings",
                                    [string_prop("0", jmx.template(step.expect.body_contains))]),
                string_prop("Assertion.test_field", "Assertion.response_data"),
                bool_prop("Assertion.assume_success", False),
                int_prop("Assertion.test_type", 16),  # substring: plain text, no regular expression
            ], guiclass="AssertionGui"))
        # JSON expectations and extractions: one BeanShell assertion, one call into perforch.js.
        words, what = [], []
        for path, want in step.expect.json_equals.items():
            keys = " ".join(_key_word(k) for k in parse_json_path(path))
            words.append(f"expect {word(chr(39) + path)} {word(chr(39) + json.dumps(want))} {keys} ;")
            what.append(f"expect {path}")
        for var, how in step.extract.items():
            name = word(jmx.var_name(Ref(var)))
            if how.kind == "json":
                words.append(f"json {name} {' '.join(_key_word(k) for k in how.json_keys)} ;")
            elif how.kind == "regex":
                words.append(f"regex {name} {how.group} {word(chr(39) + how.regex)} ;")
            else:
                words.append(f"header {name} {word(chr(39) + how.header)} ;")
            if jmx.var_name(Ref(var)) in self.needs:
                words.append(f"encode {name} {self.needs[jmx.var_name(Ref(var))]} ;")
            what.append(f"extract {var}")
        if words:
            title = ", ".join(what) + (" (a failed extraction ends the iteration)" if step.extract else "")
            out.append(self._bsh_assertion(title, " ".join([f"label {word(chr(39) + step.label)} ;", *words])))
        return out

    def _bsh_assertion(self, name: str, parameters: str) -> Node:
        return element("BeanShellAssertion", name, [
            string_prop("BeanShellAssertion.query", CHECK),
            string_prop("BeanShellAssertion.filename", ""),
            string_prop("BeanShellAssertion.parameters", parameters),
            bool_prop("BeanShellAssertion.resetInterpreter", False),
        ], guiclass="BeanShellAssertionGui")

    # -- values ----------------------------------------------------------------------------------

    def _field(self, pieces: list[tuple[str, ...]], variable: str, assemble: list[str]) -> str:
        """The JMeter field for pieces: literal text and variables (an encoded value is a variable of
        its own, set when the value is read or extracted). Only a query after a path that reads
        variables needs a pre-processor: "?" or "&" depends on the values."""
        if all(p[0] in ("'", "?") for p in pieces):
            text = ""
            for p in pieces:  # "?" starts the query, or continues one already in the path
                text += p[1] if p[0] == "'" else ("&" if "?" in text else "?")
            return jmx.literal(text)
        if not any(p[0] == "?" for p in pieces):
            return jmx.parts([p[1] if p[0] == "'" else Ref(_encoded(p[2], p[1])) for p in pieces])
        assemble.append(f"set {word(variable)} {_words(pieces)} ;")
        return "${" + variable + "}"

    def _pieces(self, parts: tuple | list, encoding: str) -> list[tuple[str, ...]]:
        """Template parts -> pieces: ("'", literal text already encoded) or ("r", encoding, variable)."""
        out: list[tuple[str, ...]] = []
        for part in parts:
            if isinstance(part, Ref):
                out.append(("r", encoding, jmx.var_name(part)))
            else:
                text = js_string_body(part) if encoding == "j" else uri_component(part) if encoding == "u" else part
                out.append(("'", text))
        return out

    def _pairs_pieces(self, pairs: dict) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for i, (key, value) in enumerate(pairs.items()):
            if i:
                out.append(("'", "&"))
            out += self._pieces(parse_template(key), "u") + [("'", "=")]
            out += (self._pieces(parse_template(value), "u") if isinstance(value, str)
                    else [("'", uri_component(wire_text(value)))])
        return out

    def _json_pieces(self, value: object) -> list[tuple[str, ...]]:
        if isinstance(value, str):
            return [("'", '"'), *self._pieces(parse_template(value), "j"), ("'", '"')]
        if isinstance(value, dict):
            # JavaScript lists integer-like keys first (a key read at run time is taken as a name)
            items = js_key_order([(str(k), v) for k, v in value.items()])
            out: list[tuple[str, ...]] = [("'", "{")]
            for i, (k, v) in enumerate(items):
                out += ([("'", ",")] if i else []) + self._json_pieces(k) + [("'", ":")] + self._json_pieces(v)
            return out + [("'", "}")]
        if isinstance(value, list):
            out = [("'", "[")]
            for i, v in enumerate(value):
                out += ([("'", ",")] if i else []) + self._json_pieces(v)
            return out + [("'", "]")]
        return [("'", js_json(value))]


def thread_groups(scenario: m.Scenario) -> list[tuple[m.Flow, Users, int]]:
    """The plan's thread groups in order: (flow, its users, index); flows without users have none."""
    out: list[tuple[m.Flow, Users, int]] = []
    for flow, load in zip(scenario.flows, split_load(scenario.load, [f.weight for f in scenario.flows])):
        if load is not None:
            out += [(flow, users, len(out) + i) for i, users in enumerate(users_for(load))]
    return out


def _encoded(var: str, encoding: str) -> str:
    """The variable holding `var` encoded for JSON ("j") or a URI component ("u")."""
    return var if encoding == "r" else f"perforch.{encoding}.{var}"


def _encodings_needed(flow: m.Flow) -> dict[str, str]:
    """Variables the flow writes inside JSON strings (j) or query/form pairs (u)."""
    needs: dict[str, set[str]] = {}
    for _, step in flow.walk():
        for ref in refs_in(step.json_body):
            needs.setdefault(jmx.var_name(ref), set()).add("j")
        for ref in refs_in(step.query) + refs_in(step.form or {}):
            needs.setdefault(jmx.var_name(ref), set()).add("u")
    return {var: "".join(sorted(encodings)) for var, encodings in sorted(needs.items())}


def _table(values: tuple[int, ...]) -> str:
    """One value for all threads of the group, or one per thread in order."""
    return str(values[0]) if len(set(values)) == 1 else " ".join(str(v) for v in values)


def _words(pieces: list[tuple[str, ...]]) -> str:
    merged: list[tuple[str, ...]] = []
    for piece in pieces:
        if merged and piece[0] == "'" and merged[-1][0] == "'":
            merged[-1] = ("'", merged[-1][1] + piece[1])
        else:
            merged.append(piece)
    out = []
    for piece in merged:
        if piece[0] == "'":
            out.append(word("'" + piece[1]))
        elif piece[0] == "?":
            out.append(word("?"))
        else:
            out.append(word(f"r{piece[1]}:{piece[2]}"))
    return " ".join(out)


def _key_word(key: str | int) -> str:
    return word(f"#{key}" if isinstance(key, int) else f".{key}")


def _is_literal_text(field: str, lower: str) -> bool:
    return field.lower() == lower


def _secs(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".")


def _span_ms(lo: int, hi: int) -> str:
    return f"{lo} ms" if lo == hi else f"{lo}..{hi} ms"


def _plan_note(s: m.Scenario) -> str:
    target = urlsplit(s.target.base_url)
    return (f"Scenario {s.name!r} against {target.scheme}://{target.netloc}, generated by perforch "
            f"{__version__}. Each flow is one or more thread groups of the same name. In a distributed run "
            "(perforch run --workers N) each jmeter-server engine runs its own share: thread counts from the "
            "properties perforch.threads.*, the rest decided by perforch.js.")


_HEADER = ("<!-- Generated by perforch: regenerate it (perforch generate SCENARIO, tool jmeter) rather than "
           "editing it.\n     Runs on JMeter 2.13 to 5.x (core elements; BeanShell for JSON, encoding and pacing). "
           "Values from the scenario\n     are data only: BeanShell elements receive them percent-encoded "
           "in their Parameters, never as code. -->")
