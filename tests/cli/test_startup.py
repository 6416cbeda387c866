"""The command starts light (its start-up is part of every run's overhead), and Ctrl-C says so."""

import subprocess
import sys

import pytest

from perforch.cli.app import main
from tests.conftest import SCENARIOS

HEAVY = ("pandas", "pyarrow", "numpy", "matplotlib", "pydantic", "perforch.spec.model")


def test_the_cli_imports_nothing_heavy():
    code = ("import sys, perforch.cli.app; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, capsys, monkeypatch):
    import perforch.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(perforch.pipeline, "run_scenario", interrupted)
    monkeypatch.setattr(sys, "argv", ["perforch", "run", str(SCENARIOS / "quickstart.yaml"), "-o", str(tmp_path)])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code == 130
    assert err.splitlines() == ["interrupted (Ctrl-C): everything perforch had started is stopped and removed"]
