"""Building .jmx XML, and writing user text into fields JMeter evaluates.

JMeter evaluates `${...}` in every string property of a test element (names included) when the
test starts (`ValueReplacer` / `FunctionParser.compileString`, the same in 2.13 and 5.x):

* a value with no `${` is kept exactly as written, backslashes included;
* a value with at least one `${name}` or `${__function(...)}` is compiled, and then, everywhere
  in it, `\\$` means `$`, `\\\\` means `\\` and `\\,` means `,` (any other backslash is kept).

So literal text is written as is when it holds no `${`. Otherwise every `$` and `\\` of the literal
parts is escaped, and at least one function makes sure JMeter compiles the value (a literal `${`
alone would be compiled as a variable reference; `${__char(36)}` writes its `$`). Characters that
XML 1.0 cannot carry (control characters other than tab/LF/CR) are written as `${__char(N)}`.
This was checked against JMeter 2.13 (tests/integration/test_jmeter_run.py sends scenarios/wire.yaml).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from perforch.spec.template import Ref, parse_template

# XML 1.0 allows tab, LF, CR and everything from U+0020 except surrogates and U+FFFE/U+FFFF.
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def var_name(ref: Ref) -> str:
    """The JMeter variable that holds a perforch reference: env.X, users.email, token.

    JMeter treats `${__name}` as a call of the function `__name`, so plain names starting with
    two underscores get a prefix."""
    return "p." + ref.name if ref.name.startswith("__") else ref.name


def literal(text: str) -> str:
    """A JMeter field that evaluates to exactly `text`."""
    if "${" not in text and not _XML_UNSAFE.search(text):
        return text
    return _compiled([text])


def template(text: str) -> str:
    """A JMeter field for a perforch template: literals stay literal, references read variables."""
    return parts(parse_template(text))


def parts(items: Iterable[str | Ref]) -> str:
    """A JMeter field for literal text and references in order."""
    items = list(items)
    if not any(isinstance(p, Ref) for p in items):
        return literal("".join(items))  # type: ignore[arg-type]
    return _compiled(items)


def _compiled(parts: Iterable[str | Ref]) -> str:
    out: list[str] = []
    has_function = False
    for part in parts:
        if isinstance(part, Ref):
            out.append("${" + var_name(part) + "}")
            has_function = True
            continue
        for ch in part:
            if ch == "$" and not has_function:
                out.append("${__char(36)}")
                has_function = True
            elif ch in "$\\":
                out.append("\\" + ch)
            elif _XML_UNSAFE.match(ch):
                out.append(f"${{__char({ord(ch)})}}")
                has_function = True
            else:
                out.append(ch)
    if not has_function:  # only backslashes: nothing to compile, so nothing to escape
        return "".join(parts)  # type: ignore[arg-type]
    return "".join(out)


# --- the XML tree ----------------------------------------------------------------------------------


@dataclass
class Node:
    """One test element and the elements under it (JMeter's <hashTree> pairs)."""

    element: ET.Element
    children: list[Node] = field(default_factory=list)

    def add(self, *nodes: Node | None) -> Node:
        self.children.extend(n for n in nodes if n is not None)
        return self


def element(tag: str, name: str, props: Iterable[ET.Element] = (), testclass: str | None = None,
            guiclass: str | None = None, comment: str | None = None, enabled: bool = True) -> Node:
    el = ET.Element(tag, {
        "guiclass": guiclass or tag + "Gui",
        "testclass": testclass or tag,
        "testname": literal(name),
        "enabled": "true" if enabled else "false",
    })
    if comment:
        el.append(string_prop("TestPlan.comments", literal(comment)))
    for prop in props:
        el.append(prop)
    return Node(el)


def string_prop(name: str, value: str) -> ET.Element:
    el = ET.Element("stringProp", {"name": name})
    el.text = value
    return el


def bool_prop(name: str, value: bool) -> ET.Element:
    el = ET.Element("boolProp", {"name": name})
    el.text = "true" if value else "false"
    return el


def int_prop(name: str, value: int) -> ET.Element:
    el = ET.Element("intProp", {"name": name})
    el.text = str(value)
    return el


def long_prop(name: str, value: int) -> ET.Element:
    el = ET.Element("longProp", {"name": name})
    el.text = str(value)
    return el


def collection_prop(name: str, items: Iterable[ET.Element]) -> ET.Element:
    el = ET.Element("collectionProp", {"name": name})
    el.extend(items)
    return el


def element_prop(name: str, element_type: str, props: Iterable[ET.Element], **attrs: str) -> ET.Element:
    el = ET.Element("elementProp", {"name": name, "elementType": element_type, **attrs})
    el.extend(props)
    return el


def render(root: Node, version: str, header_comment: Callable[[], str] | None = None) -> str:
    """The whole plan as text: <jmeterTestPlan><hashTree>element<hashTree>...</hashTree></hashTree>."""
    doc = ET.Element("jmeterTestPlan", {"version": "1.2", "properties": "2.8", "jmeter": version})
    tree = ET.SubElement(doc, "hashTree")
    _append(tree, root)
    ET.indent(doc, space="  ")
    text = ET.tostring(doc, encoding="unicode")
    # ElementTree leaves CR raw in element text, and XML parsers turn raw CRs into LFs: write them
    # as character references so that a CR in a body or header reaches the wire.
    text = text.replace("\r", "&#13;")
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    if header_comment:
        head += header_comment() + "\n"
    return head + text + "\n"


def _append(tree: ET.Element, node: Node) -> None:
    tree.append(node.element)
    sub = ET.SubElement(tree, "hashTree")
    for child in node.children:
        _append(sub, child)
