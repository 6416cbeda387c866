"""User text in JMeter fields: evaluated back by a model of JMeter's own parser, it is unchanged.

The model follows FunctionParser.compileString / CompoundVariable.setParameters (the same in 2.13
and 5.x): a value without a function or variable is used as written; a compiled value drops the
escaping backslash before `$`, `,` and `\\`. tests/integration/test_jmeter_run.py sends the same
kind of text through a real JMeter.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest

from perforch.adapters.jmeter import jmx
from perforch.spec.template import Ref


def jmeter_value(field: str, variables: dict[str, str]) -> str:
    """What JMeter makes of a field at run time."""
    parts = _compile(field)
    if len(parts) == 1 and isinstance(parts[0], str) or not parts:
        return field  # nothing to compile: the property keeps its raw text
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part[0] == "__char":
            out.append(chr(int(part[1])))
        else:
            out.append(variables.get(part[0], "${" + part[0] + "}"))  # JMeter leaves unknown names as they are
    return "".join(out)


def _compile(value: str) -> list:
    result: list = []
    buf: list[str] = []
    previous = " "
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            i += 1
            nxt = value[i] if i < len(value) else "\\"  # Java's read() leaves the backslash in place at the end
            if nxt not in "$,\\":
                buf.append("\\")
            buf.append(nxt)
            previous = " "
        elif ch == "{" and previous == "$":
            buf.pop()
            if buf:
                result.append("".join(buf))
                buf = []
            end = value.index("}", i)
            body = value[i + 1:end]
            if "(" in body:
                name, _, args = body.partition("(")
                result.append((name, args.rstrip(")")))
            else:
                result.append((body,))
            i = end
            previous = " "
        else:
            buf.append(ch)
            previous = ch
        i += 1
    if buf:
        result.append("".join(buf))
    return result or [""]


TRICKY = [
    "", "plain", "cost $5", "$$", "${not_a_ref}", "${", "}", "$${x}", "a\\b", "a\\${b}", "\\", "trailing \\",
    "\\$", "\\\\", "x,y", "\\,", 'quotes " \' `', "</script><script>alert(1)</script>", "line\nbreak", "cr\rlf\r\n",
    "tab\tend", "ünïcødé ✓ — 😀", "${__time()}", "${__BeanShell(System.exit(1))}", "$", "{${}}", "\x01\x1f\x7f",
]


@pytest.mark.parametrize("text", TRICKY)
def test_literal_text_comes_back_unchanged(text: str) -> None:
    assert jmeter_value(jmx.literal(text), {}) == text


def test_random_text_comes_back_unchanged() -> None:
    rng = random.Random(7)
    alphabet = "ab$\\{}(),\n\r\t\x01 é✓"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert jmeter_value(jmx.literal(text), {}) == text, repr(text)


@pytest.mark.parametrize("parts, expected", [
    (["Bearer ", Ref("token")], "Bearer abc"),
    (["a\\b ", Ref("token"), " $ ${x} \\"], "a\\b abc $ ${x} \\"),
    ([Ref("env.SECRET"), ","], "s3cr$t,"),
    (["\x01", Ref("token")], "\x01abc"),
])
def test_templates_read_variables_and_keep_literals(parts: list, expected: str) -> None:
    variables = {"token": "abc", "env.SECRET": "s3cr$t"}
    assert jmeter_value(jmx.parts(parts), variables) == expected


def test_a_value_from_a_variable_is_never_evaluated_again() -> None:
    # JMeter inserts a variable's value as it is: ${...} inside it stays text
    assert jmeter_value(jmx.template("${token}"), {"token": "${__time()}"}) == "${__time()}"


def test_names_starting_with_two_underscores_are_not_functions() -> None:
    assert jmx.var_name(Ref("__time")) == "p.__time"
    assert jmx.template("${__time}") == "${p.__time}"


def test_fields_survive_xml_with_carriage_returns_and_control_characters() -> None:
    node = jmx.element("HTTPSamplerProxy", "cr\r\nand \x01", [jmx.string_prop("body", jmx.literal("a\r\nb\x02"))])
    text = jmx.render(node, "2.13")
    assert "\r" not in text and "&#13;" in text
    parsed = ET.fromstring(text.split("\n", 1)[1])
    sampler = parsed.find("hashTree/HTTPSamplerProxy")
    assert jmeter_value(sampler.get("testname"), {}) == "cr\r\nand \x01"
    assert jmeter_value(sampler.find("stringProp").text, {}) == "a\r\nb\x02"
