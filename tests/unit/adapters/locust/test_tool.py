"""The Locust adapter's face: command lines, raw files, finding the program, live progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from perforch.adapters import get_adapter
from perforch.adapters.base import Launch
from perforch.adapters.locust.tool import FAILURES_EXIT, LocustAdapter
from perforch.errors import ToolNotFound
from perforch.frame import RESPONSE_TIME
from perforch.spec import load_scenario
from tests.conftest import SCENARIOS

DATA = Path(__file__).resolve().parents[3] / "data" / "locust" / "quickstart"


def test_registry_and_protocol_attributes() -> None:
    adapter = get_adapter("locust")
    assert isinstance(adapter, LocustAdapter) and adapter.name == "locust"
    assert adapter.response_time == RESPONSE_TIME["locust"]
    assert adapter.default_image.startswith("locustio/locust:")
    assert adapter.ok_exit_codes == (0, FAILURES_EXIT) and 1 not in adapter.ok_exit_codes


def test_standalone_command(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "quickstart.yaml")
    scenario = scenario.model_copy(update={"tools": scenario.tools.model_copy(update={
        "locust": scenario.tools.locust.model_copy(update={"args": ["--loglevel", "WARNING"]})})})
    launch = Launch(tmp_path / "script", tmp_path / "raw", "/bin/locust")
    argv = LocustAdapter().command(launch, scenario)
    assert argv[:4] == ["/bin/locust", "-f", str(tmp_path / "script" / "locustfile.py"), "--headless"]
    text = " ".join(argv)
    assert f"--exit-code-on-error {FAILURES_EXIT}" in text and "--stop-timeout 30" in text
    assert f"--csv {tmp_path / 'raw' / 'locust'} --csv-full-history" in text
    assert f"--perforch-samples {tmp_path / 'raw' / 'locust-requests.csv'}" in text
    assert argv[-2:] == ["--loglevel", "WARNING"] and "--master" not in argv and "--worker" not in argv


def test_distributed_plan_is_a_master_and_its_workers(tmp_path: Path) -> None:
    from perforch.runners.plan import LoopbackNetwork, plan_processes

    adapter = LocustAdapter()
    launch = Launch(tmp_path, tmp_path / "raw", "locust", None, 2)
    master, *workers = plan_processes(adapter, launch, None, 2, LoopbackNetwork())
    port = master.argv[master.argv.index("--master-bind-port") + 1]
    assert (master.name, master.main, master.listens, master.worker) == ("locust-master", True, int(port), None)
    assert "--master" in master.argv and master.argv[master.argv.index("--expect-workers") + 1] == "2"
    assert master.argv[master.argv.index("--expect-workers-max-wait") + 1] == "60"  # never waits forever
    assert "--csv" in master.argv and "--perforch-samples" not in master.argv
    for index, proc in enumerate(workers):
        argv = proc.argv
        assert (proc.name, proc.main, proc.worker) == (f"locust-worker-{index}", False, index)
        assert "--worker" in argv and argv[argv.index("--master-port") + 1] == port and "--csv" not in argv
        assert argv[argv.index("--perforch-samples") + 1] == str(tmp_path / "raw" / f"locust-requests-{index}.csv")
        assert argv[argv.index("--perforch-worker") + 1] == f"{index}/2"
    (single,) = plan_processes(adapter, launch, None, 1, LoopbackNetwork())
    assert single.name == "locust" and single.argv == tuple(adapter.command(launch))


def test_raw_files_put_request_rows_first(tmp_path: Path) -> None:
    for name in ["locust_stats.csv", "locust-requests-1.csv", "locust-requests-0.csv", "locust_failures.csv",
                 "locust-iterations-0.json", "other.txt"]:
        (tmp_path / name).write_text("x")
    names = [p.name for p in LocustAdapter().raw_files(tmp_path)]
    assert names == ["locust-requests-0.csv", "locust-requests-1.csv", "locust_stats.csv", "locust_failures.csv",
                     "locust-iterations-0.json"]


def test_find_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "my-locust"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    adapter = LocustAdapter()
    assert adapter.find_binary(str(fake)) == str(fake)
    monkeypatch.setenv("PERFORCH_LOCUST", str(fake))
    assert adapter.find_binary() == str(fake)
    with pytest.raises(ToolNotFound) as err:
        adapter.find_binary(str(tmp_path / "nope"))
    assert "locust not found at" in err.value.message
    monkeypatch.delenv("PERFORCH_LOCUST")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr("sys.executable", str(tmp_path / "bin" / "python"))
    with pytest.raises(ToolNotFound) as err:
        adapter.find_binary()
    assert "PERFORCH_LOCUST" in err.value.hint


def test_progress_reads_request_rows_as_they_grow(tmp_path: Path) -> None:
    rows = (DATA / "locust-requests.csv").read_bytes().splitlines(keepends=True)
    target = tmp_path / "locust-requests.csv"
    reader = LocustAdapter().progress_reader(tmp_path)
    assert reader.poll().requests == 0
    target.write_bytes(b"".join(rows[:50]) + rows[50][:10])
    first = reader.poll()
    assert first.requests == 49 and first.p95_ms is not None
    with target.open("ab") as fh:
        fh.write(rows[50][10:] + b"".join(rows[51:]))
    final = reader.poll()
    assert final.requests == 154 and final.errors == 1


def test_environment_keeps_logs_unbuffered_and_the_script_dir_clean() -> None:
    env = LocustAdapter().environment(Launch(Path("s"), Path("r"), "locust"))
    assert env == {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def test_an_arrival_flow_needs_a_user_on_every_worker(tmp_path: Path) -> None:
    from perforch.errors import PerforchError
    from perforch.runners.plan import LoopbackNetwork, plan_processes
    from perforch.spec import load_scenario

    scenario = load_scenario(SCENARIOS / "arrival-rate.yaml")
    scenario = scenario.model_copy(update={"load": scenario.load.model_copy(update={"max_vus": 4})})
    launch = Launch(tmp_path, tmp_path / "raw", "locust", None, 3)
    # max_vus 4 split 3:1 by the weights: 'searcher' gets 1 user for 3 workers
    with pytest.raises(PerforchError) as err:
        plan_processes(LocustAdapter(), launch, scenario, 3, LoopbackNetwork())
    assert "flow 'searcher' has 1 user(s) at most" in err.value.message and "max_vus" in err.value.hint
    assert len(plan_processes(LocustAdapter(), launch, scenario, 1, LoopbackNetwork())) == 1
