"""Every example scenario x every tool, generated and compared with tests/golden/<example>/<tool>/.

`pytest tests/golden --update-golden` rewrites the expected trees; review those diffs like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perforch.adapters import available_adapters
from perforch.spec import load_scenario
from tests.conftest import example_scenarios

GOLDEN = Path(__file__).parent
CASES = [(spec, tool) for spec in example_scenarios() for tool in available_adapters()]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("spec, tool", CASES, ids=[f"{s.stem}-{t}" for s, t in CASES])
def test_generated_tree_matches_golden(spec: Path, tool: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    script = available_adapters()[tool].generate(load_scenario(spec))
    script.write(tmp_path)
    expected_dir = GOLDEN / spec.stem / tool
    if request.config.getoption("--update-golden"):
        import shutil

        shutil.rmtree(expected_dir, ignore_errors=True)
        script.write(expected_dir)
    got, expected = tree(tmp_path), tree(expected_dir)
    assert sorted(got) == sorted(expected), "missing or extra files"
    for name in expected:
        assert got[name].decode() == expected[name].decode(), f"{name} differs from the golden copy"


def test_generation_is_byte_stable() -> None:
    for spec in example_scenarios():
        for adapter in available_adapters().values():
            scenario = load_scenario(spec)
            assert adapter.generate(scenario).files == adapter.generate(load_scenario(spec)).files
