"""Finding JMeter, the command perforch runs, live progress, plan errors, Debian's 2.13."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from perforch.adapters.base import Launch
from perforch.adapters.jmeter import debian
from perforch.adapters.jmeter.supervise import plan_errors
from perforch.adapters.jmeter.tool import SAVE_SERVICE, JMeterAdapter, JMeterProgress
from perforch.errors import PerforchError, ToolNotFound
from perforch.spec import load_scenario
from tests.conftest import SCENARIOS


def fake_jmeter(home: Path, version: str = "5.6.3", class_path: str = "") -> Path:
    (home / "bin").mkdir(parents=True)
    (home / "lib" / "ext").mkdir(parents=True)
    manifest = f"Manifest-Version: 1.0\nImplementation-Version: {version}\n"
    if class_path:
        manifest += f"Class-Path: {class_path}\n"
    with zipfile.ZipFile(home / "bin" / "ApacheJMeter.jar", "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", manifest)
    script = home / "bin" / "jmeter"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    return script


@pytest.fixture
def no_jmeter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JMETER_HOME", raising=False)
    monkeypatch.delenv("PERFORCH_JMETER", raising=False)


def test_find_binary_in_every_place(tmp_path: Path, no_jmeter: None, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = JMeterAdapter()
    script = fake_jmeter(tmp_path / "apache-jmeter")
    with pytest.raises(ToolNotFound) as err:
        adapter.find_binary()
    assert "JMETER_HOME" in err.value.hint
    assert adapter.find_binary(str(script)) == str(script)
    assert adapter.find_binary(str(tmp_path / "apache-jmeter")) == str(script)  # a home works too
    with pytest.raises(ToolNotFound):
        adapter.find_binary(str(tmp_path / "missing"))
    monkeypatch.setenv("JMETER_HOME", str(tmp_path / "apache-jmeter"))
    assert adapter.find_binary() == str(script)
    monkeypatch.setenv("PATH", str(script.parent))
    assert adapter.find_binary() == str(script)
    other = fake_jmeter(tmp_path / "other")
    monkeypatch.setenv("PERFORCH_JMETER", str(other))
    assert adapter.find_binary() == str(other)


def test_version_comes_from_the_jar_without_starting_java(tmp_path: Path) -> None:
    assert JMeterAdapter().version(str(fake_jmeter(tmp_path / "a", "5.6.3"))) == "5.6.3"
    assert JMeterAdapter().version(str(fake_jmeter(tmp_path / "b", "2.13.19691222"))) == "2.13"


def test_debian_2_13_with_a_strict_xstream_needs_the_launcher(tmp_path: Path) -> None:
    xstream = tmp_path / "java" / "xstream.jar"
    xstream.parent.mkdir()
    with zipfile.ZipFile(xstream, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nBundle-Version: 1.4.20\n")
    home = tmp_path / "share" / "jmeter"
    fake_jmeter(home, "2.13.19691222", f"/x/avalon.jar {xstream}")
    wrapper = tmp_path / "usr-bin-jmeter"
    wrapper.write_text(f"#!/bin/sh\nrun_java -Djmeter.home={home} org.apache.jmeter.NewDriver \"$@\"\n")
    install = debian.describe(str(wrapper))
    assert install == debian.Install(home, "2.13", True)
    assert debian.describe(str(fake_jmeter(tmp_path / "five"))).needs_xstream_fix is False


def test_command_runs_jmeter_non_gui_under_the_supervisor(tmp_path: Path) -> None:
    script = fake_jmeter(tmp_path / "jm")
    scenario = load_scenario(SCENARIOS / "quickstart.yaml")
    launch = Launch(tmp_path / "script", tmp_path / "raw", str(script))
    argv = JMeterAdapter().command(launch, scenario)
    assert argv[:2] == [sys.executable, str(Path(debian.__file__).with_name("supervise.py"))]
    jmeter = argv[argv.index("--") + 1:]
    assert jmeter[:7] == [str(script), "-n", "-t", str(tmp_path / "script" / "plan.jmx"),
                          "-l", str(tmp_path / "raw" / "results.jtl"), "-j"]
    assert "-Jjmeter.save.saveservice.print_field_names=true" in jmeter
    assert "-Jjmeter.save.saveservice.url=false" in jmeter  # a secret in a URL stays out of the results
    assert "-Jjmeter.save.saveservice.autoflush=true" in jmeter
    assert len([a for a in jmeter if a.startswith("-Jjmeter.save.saveservice.")]) == len(SAVE_SERVICE)


def test_container_command_uses_nothing_of_this_machine(tmp_path: Path) -> None:
    launch = Launch(Path("/perforch/script"), Path("/perforch/raw"), "jmeter")
    argv = JMeterAdapter().container_command(launch, None)
    assert argv[:3] == ["jmeter", "-n", "-t"] and sys.executable not in argv
    assert all(not a.startswith(str(Path.home())) for a in argv)


def test_one_command_never_runs_a_share_of_the_load(tmp_path: Path) -> None:
    launch = Launch(tmp_path, tmp_path, str(fake_jmeter(tmp_path / "jm")), worker=0, workers=2)
    with pytest.raises(PerforchError) as err:
        JMeterAdapter().command(launch, None)
    assert "distributed mode" in err.value.message and "--workers" in err.value.hint


def test_progress_reads_the_results_while_they_grow(tmp_path: Path) -> None:
    results = tmp_path / "results.jtl"
    header = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage\n"
    results.write_text(header + "1,10,a,200,OK,f 1-1,text,true,\n1,30,b,500,Error,f 1-1,text,false,\"two\nlines\"\n")
    reader = JMeterAdapter().progress_reader(tmp_path)
    first = reader.poll()
    assert (first.requests, first.errors) == (2, 1)
    with results.open("a") as out:
        out.write('1,40,c,200,"Number of samples in transaction : 2, number of failing samples : 1",f 1-1,,false,\n')
        out.write("1,20,d,200,OK,f 1-1,text,true,\n1,5,e,200,OK")  # the last row is still being written
    second = reader.poll()
    assert (second.requests, second.errors) == (3, 1) and second.p95_ms == 30.0
    assert isinstance(reader, JMeterProgress)


def test_plan_errors_in_a_jmeter_log() -> None:
    log = (
        "2026/11/28 12:53:44 INFO  - jmeter.JMeter: Loading file: plan.jmx \n"
        "2026/11/28 12:53:44 ERROR - jmeter.JMeter: Error in NonGUIDriver java.lang.IllegalArgumentException: "
        "Problem loading XML from:'plan.jmx', conversion error com.thoughtworks.xstream.converters.ConversionException: \n"
        "---- Debugging information ----\n"
        "message             : HTTPSamplerProxyX : HTTPSamplerProxyX\n"
        "2026/11/28 12:53:45 INFO  - jmeter.JMeter: end \n")
    errors = plan_errors(log)
    assert errors[0].startswith("2026/11/28 12:53:44 ERROR - jmeter.JMeter: Error in NonGUIDriver")
    assert "message             : HTTPSamplerProxyX : HTTPSamplerProxyX" in errors
    assert plan_errors("2026/11/28 13:10:10 INFO  - jmeter.JMeter: fine\n") == []
    assert plan_errors("2026/11/28 13:10:10 WARN - jmeter.config.CSVDataSet: Could not translate shareMode\n") == []
