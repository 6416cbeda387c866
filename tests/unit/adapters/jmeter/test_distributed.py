"""JMeter's distributed mode: the process plan, each engine's part, the worker column, perforch.js's shares."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from perforch.adapters.base import Launch
from perforch.adapters.jmeter import debian, shares
from perforch.adapters.jmeter.generate import HELPERS, thread_groups
from perforch.adapters.jmeter.ingest import ingest_files
from perforch.adapters.jmeter.tool import SAVE_SERVICE, JMeterAdapter
from perforch.runners.plan import BridgeNetwork, LoopbackNetwork, plan_processes
from perforch.spec import load_scenario
from perforch.spec.load import parse_scenario
from tests.conftest import SCENARIOS, example_scenarios, require_tool
from tests.unit.adapters.jmeter.test_tool import fake_jmeter

JS = Path(__file__).parents[4] / "perforch" / "adapters" / "jmeter" / HELPERS


def props(argv: tuple[str, ...]) -> dict[str, str]:
    return dict(a[2:].split("=", 1) for a in argv if a.startswith(("-J", "-D")))


def local_plan(tmp_path: Path, workers: int, spec: Path = SCENARIOS / "wire.yaml"):  # noqa: ANN201
    launch = Launch(tmp_path / "script", tmp_path / "raw", str(fake_jmeter(tmp_path / "jm")), None, workers)
    return load_scenario(spec), plan_processes(JMeterAdapter(), launch, load_scenario(spec), workers, LoopbackNetwork())


def test_one_generator_is_one_jmeter_as_before(tmp_path: Path) -> None:
    scenario, plan = local_plan(tmp_path, 1)
    launch = Launch(tmp_path / "script", tmp_path / "raw", str(tmp_path / "jm" / "bin" / "jmeter"))
    assert [(p.name, p.main, p.worker, p.listens) for p in plan] == [("jmeter", True, None, None)]
    assert list(plan[0].argv) == JMeterAdapter().command(launch, scenario)
    inside = Launch(Path("/perforch/script"), Path("/perforch/raw"), "jmeter")
    (one,) = JMeterAdapter().processes(inside, scenario, 1, BridgeNetwork())
    assert list(one.argv) == JMeterAdapter().container_command(inside, scenario)


def test_engines_then_a_client_that_drives_them(tmp_path: Path) -> None:
    scenario, plan = local_plan(tmp_path, 3)
    assert [(p.name, p.main, p.worker) for p in plan] == [
        ("jmeter-server-0", False, 0), ("jmeter-server-1", False, 1), ("jmeter-server-2", False, 2), ("jmeter", True, None)]
    engines, client = plan[:3], plan[3]
    binary = str(tmp_path / "jm" / "bin" / "jmeter")
    remotes = []
    for i, engine in enumerate(engines):
        argv, p = engine.argv, props(engine.argv)
        assert argv[:2] == (binary, "-s")  # a bare engine: no supervisor, no plan of its own
        assert "-n" not in argv and "-t" not in argv and "-l" not in argv
        assert engine.listens == int(p["server_port"])  # the runner waits for its RMI registry
        assert argv[argv.index("-j") + 1] == str(tmp_path / "raw" / f"jmeter-server-{i}.log")
        assert p["java.rmi.server.hostname"] == "127.0.0.1" and p["server.rmi.ssl.disable"] == "true"
        assert p["perforch.worker"] == str(i) and p["perforch.workers"] == "3"
        assert p["perforch.sync"] == str(tmp_path / "raw")
        assert p["sample_variables"] == "perforch.worker" and p["mode"] == "StrippedBatch"
        assert p["server.exitaftertest"] == "true" and p["httpclient4.retrycount"] == "0"
        remotes.append(f"127.0.0.1:{p['server_port']}")
    ports = [int(props(e.argv)[k]) for e in engines for k in ("server_port", "server.rmi.localport")]
    assert len(set(ports)) == 6  # free ports of their own on this machine's loopback
    argv, p = client.argv, props(client.argv)
    assert argv[:2] == (sys.executable, str(Path(debian.__file__).with_name("supervise.py")))
    jmeter = argv[argv.index("--") + 1:]
    assert jmeter[:8] == (binary, "-n", "-t", str(tmp_path / "script" / "plan.jmx"), "-l",
                          str(tmp_path / "raw" / "results.jtl"), "-j", str(tmp_path / "raw" / "jmeter.log"))
    assert jmeter[jmeter.index("-R") + 1] == ",".join(remotes)
    assert int(p["client.rmi.localport"]) not in ports and p["java.rmi.server.hostname"] == "127.0.0.1"
    assert p["sample_variables"] == "perforch.worker" and p["mode"] == "StrippedBatch"
    assert all(p[f"jmeter.save.saveservice.{k}"] == v for k, v in SAVE_SERVICE.items())  # the client writes the JTL
    # ${env.X} values: each engine reads its own environment; nothing of them on a command line
    assert "PERFORCH_DEMO_SECRET" not in " ".join(" ".join(x.argv) for x in plan)


def test_in_containers_engines_are_reached_by_name_on_default_ports() -> None:
    scenario = load_scenario(SCENARIOS / "quickstart.yaml")
    launch = Launch(Path("/perforch/script"), Path("/perforch/raw"), "jmeter", None, 2)
    plan = JMeterAdapter().processes(launch, scenario, 2, BridgeNetwork())
    for i, engine in enumerate(plan[:2]):
        p = props(engine.argv)
        assert engine.argv[:2] == ("jmeter", "-s") and engine.listens == 1099
        assert (p["server_port"], p["server.rmi.localport"]) == ("1099", str(50000 + i))
        assert p["java.rmi.server.hostname"] == f"jmeter-server-{i}" and p["perforch.sync"] == "/perforch/raw"
    client = plan[2].argv
    assert client[:3] == ("jmeter", "-n", "-t") and sys.executable not in client
    assert client[client.index("-R") + 1] == "jmeter-server-0:1099,jmeter-server-1:1099"
    assert props(client)["java.rmi.server.hostname"] == "jmeter" and props(client)["client.rmi.localport"] == "60000"
    host = str(Path.home())
    assert not any(a.startswith(host) for p in plan for a in p.argv)


@pytest.mark.parametrize("spec", example_scenarios(), ids=lambda p: p.stem)
@pytest.mark.parametrize("engines", [2, 3, 4])
def test_the_engines_threads_add_up_to_the_plans(spec: Path, engines: int) -> None:
    scenario = load_scenario(spec)
    parts = [shares.engine_properties(scenario, w, engines) for w in range(engines)]
    ready = 0
    for _, users, i in thread_groups(scenario):
        own = [shares.own_threads(users.threads, users.first, w, engines) for w in range(engines)]
        assert sorted(k for mine in own for k in mine) == list(range(users.threads))  # each thread once
        for w, mine in enumerate(own):
            assert all((users.first + k) % engines == w for k in mine)  # user u runs on engine u mod N
            assert parts[w][f"perforch.threads.{i}"] == str(len(mine))
        ready += sum(1 for s in users.starts_s if s == 0)
    assert sum(int(p["perforch.threads.ready"]) for p in parts) == ready


def test_a_ramp_gives_each_engine_every_nth_user(tmp_path: Path) -> None:
    scenario = parse_scenario("""
version: 1
name: ramp
target: {base_url: "http://127.0.0.1:8765"}
flows: [{name: f, steps: [{get: /}]}]
load: {profile: ramping-vus, start_vus: 2, stages: [{duration: 4s, target: 6}, {duration: 2s, target: 3}, {duration: 3s, target: 7}]}
""", tmp_path / "s.yaml")
    groups = thread_groups(scenario)
    # users 0-1 from the start, 2-5 added by the first stage, 3-5 again by the last (the 7th user would
    # come at the very end: it never runs)
    assert [(u.first, u.threads) for _, u, _ in groups] == [(0, 2), (2, 4), (3, 3)]
    counts = [[int(shares.engine_properties(scenario, w, 3)[f"perforch.threads.{i}"]) for i in range(3)]
              for w in range(3)]
    assert counts == [[1, 1, 1], [1, 1, 1], [0, 2, 1]]


def test_the_jtl_of_a_distributed_run_fills_the_worker_column(tmp_path: Path) -> None:
    jtl = tmp_path / "results.jtl"  # as JMeter 2.13's client wrote it (sample_variables=perforch.worker)
    jtl.write_text(
        'timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,'
        'grpThreads,allThreads,Latency,IdleTime,Connect,"perforch.worker"\n'
        "1795879835586,79,health,200,OK,reader 1-1,text,true,,175,10,10,79,0,28,1\n"
        "1795879835604,72,health,200,OK,reader 1-1,text,true,,175,10,10,72,0,36,2\n"
        "1795879835666,84,health,500,Server Error,reader 1-2,text,false,,175,10,10,83,0,8,0\n"
        "1795879838592,1,health,200,OK,reader 1-9,text,true,,175,4,4,1,0,0,2\n", encoding="utf-8")
    samples = ingest_files([jtl]).samples
    assert list(samples["worker"]) == ["1", "2", "0", "2"] and list(samples["flow"].unique()) == ["reader"]
    # JMeter >= 3 puts the engine's host:port before its thread names
    jtl.write_text(jtl.read_text().replace("reader 1-", "10.0.0.7:1099-reader 1-"))
    assert list(ingest_files([jtl]).samples["flow"].unique()) == ["reader"]
    assert "perforch.worker" not in samples.columns
    # the run's active threads: each engine's latest count (a sample carries only its own engine's)
    assert list(samples["vus"]) == [10, 20, 30, 24]
    assert list(ingest_files([jtl], workers=["x"]).samples["worker"].unique()) == ["x"]  # the caller's names win


def test_engine_logs_are_read_for_errors(tmp_path: Path) -> None:
    jtl = tmp_path / "results.jtl"
    jtl.write_text("timeStamp,elapsed,label,responseCode,success\n1795879835586,79,a,200,true\n", encoding="utf-8")
    (tmp_path / "jmeter-server-1.log").write_text(
        "2026/11/28 15:22:47 ERROR - jmeter.util.BeanShellInterpreter: Error invoking bsh method: eval\n")
    warnings = ingest_files([jtl]).warnings
    assert any(w.startswith("jmeter-server-1.log: 1 error line(s) like: jmeter.util.BeanShellInterpreter") for w in warnings)


# --- perforch.js under Rhino (the JavaScript engine JMeter ships), with the few JMeter objects it uses --

HARNESS = r"""
var props, thread = 0, flowName = "f", base = arguments[1], clock = 1000000;
var realJava = java;  // Rhino defines its Java packages on first use (org among them): before our own
var java = {lang: {System: {currentTimeMillis: function () { return clock; }}, Long: realJava.lang.Long,
                   String: realJava.lang.String, Class: realJava.lang.Class, reflect: realJava.lang.reflect},
            util: realJava.util, io: realJava.io, nio: realJava.nio};  // a clock that stands still
var org = {apache: {jmeter: {
    threads: {JMeterContextService: {
        getContext: function () { return {getThreadNum: function () { return thread; },
                                          getThreadGroup: function () { return {getName: function () { return flowName; }}; }}; },
        getTestStartTime: function () { return 0; }}},
    util: {JMeterUtils: {getJMeterProperties: function () { return props; }}},
    services: {FileServer: {getFileServer: function () { return {getBaseDir: function () { return base; }}; }}}}}};
load(arguments[0]);

function fresh(w, n) {  // a new engine w of n (n = 1: one JMeter, no property)
    props = new java.util.Properties();
    if (n > 1) { props.setProperty("perforch.worker", String(w)); props.setProperty("perforch.workers", String(n)); }
    props.put("perforch.t0", new java.lang.Long(clock + 100000));
}
function vars() { return new java.util.HashMap(); }
function enc(words) { return words.map(function (x) { return encodeURIComponent(x); }).join(" "); }
function own(first, threads, w, n) {  // the engine's thread count in a group (shares.own_threads)
    var c = 0;
    for (var k = 0; k < threads; k++) if ((first + k) % n === w) c++;
    return c;
}

var out = {};
for (var n = 1; n <= 4; n++) {
    var byUser = [], byPool = [], byArrival = [], byRow = [];
    for (var w = 0; w < n; w++) {
        // users 3 7: which of the group's threads (by their start times) the engine's threads are
        fresh(w, n);
        var mine = [];
        for (thread = 0; thread < own(3, 7, w, n); thread++) {
            var v = vars();
            start(v, "delay 0 ; start " + [0, 1, 2, 3, 4, 5, 6].map(function (k) { return 1000 * k; }).join(" ") +
                  " ; end 9000000 ; users 3 7 ;");
            mine.push((Number(v.get("perforch.pause")) - 100000) / 1000);
            if (n > 1 && String(v.get("perforch.worker")) !== String(w)) throw "no worker variable";
        }
        byUser.push(mine);
        // a pool of 10 iterations shared by the group's 2 threads
        fresh(w, n);
        var ran = 0;
        for (thread = 0; thread < own(0, 2, w, n); thread++) {
            var pv = vars();
            for (var i = 0; i < 20; i++) {
                start(pv, "delay 0 ; start 0 ; end 9000000 ; users 0 2 ; pool f 10 ;");
                if (String(pv.get("perforch.run")) === "true") ran++;
            }
        }
        byPool.push(ran);
        // arrival 30/s for 2 s then 60/s over 1 s, for a group of 5 threads: the start time of each ticket
        fresh(w, n);
        var times = [];
        if (own(0, 5, w, n) > 0) {
            thread = 0;
            var av = vars();
            start(av, "delay 0 ; start 0 ; end 3000 ; users 0 5 ; paced ;");
            while (true) {
                var delay = Number(arrival(av, enc(["arrival", "f", "30", "2", "30", "1", "60"])));
                if (String(av.get("perforch.stop")) === "true") break;
                times.push(delay - 100000);  // the ticket's start in ms since t0
            }
        }
        byArrival.push(times);
        // data rows (several engines: perforch.js reads them): 4 iterations of the flow on each engine
        fresh(w, n);
        var seen = [];
        for (var it = 0; it < (n > 1 ? 4 : 0); it++) {
            var dv = vars();
            run(dv, commands(enc(["copy", "email", "users.email"]) + " ; " + enc(["copy", "n", "users.n"]) + " ;"));
            seen.push(String(dv.get("users.email")) + "/" + String(dv.get("users.n")));
        }
        byRow.push(seen);
    }
    out[n] = {users: byUser, pool: byPool, arrival: byArrival, rows: byRow};
}
// clocks: engine 1 said it was ready at 1000250; engine 2 has no thread due at time 0 and says so
// at the end of its setUp group (the clock stands at 1000000); engine 0 is ready at 1000100
var sync = new realJava.io.File(base, "sync");
sync.mkdir();
function readyFile(i) { return new realJava.io.File(sync, "jmeter-server-" + i + ".ready"); }
function said(i) { return readyFile(i).isFile() ? String(new realJava.lang.String(realJava.nio.file.Files.readAllBytes(readyFile(i).toPath()), "UTF-8")) : null; }
realJava.nio.file.Files.write(readyFile(1).toPath(), new realJava.lang.String("1000250").getBytes("UTF-8"));
fresh(2, 3);
props.setProperty("perforch.sync", String(sync));
props.setProperty("perforch.threads.ready", "0");
setup(vars(), "ready 4 ;");
out.sync = {file2: said(2)};
fresh(0, 3);
props.setProperty("perforch.sync", String(sync));
out.sync.t0 = together(1000100);
out.sync.file0 = said(0);
out.sync.again = together(1000999);  // the time it said first stays
fresh(0, 1);
props.setProperty("perforch.sync", String(sync));
out.sync.alone = together(1000777);  // one JMeter: its own time
print(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def js_shares(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """perforch.js's shares for 1 to 4 engines, computed by perforch.js itself."""
    require_tool("jmeter")
    rhino = _rhino()
    java = shutil.which("java")
    if rhino is None or java is None:
        pytest.skip("no Rhino jar (JMeter's JavaScript engine) or no java here")
    base = tmp_path_factory.mktemp("js")
    (base / "data").mkdir()
    (base / "data" / "users.csv").write_text("email,n\n" + "".join(f"u{i}@x.io,{i}\n" for i in range(7)))
    harness = base / "harness.js"
    harness.write_text(HARNESS)
    done = subprocess.run([java, "-cp", str(rhino), "org.mozilla.javascript.tools.shell.Main", str(harness),
                           str(JS), str(base)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rhino() -> Path | None:
    home = debian.describe(JMeterAdapter().find_binary()).home
    if home is None:
        return None
    jars = sorted((home / "lib").glob("*.jar"))
    try:
        with zipfile.ZipFile(home / "bin" / "ApacheJMeter.jar") as jar:
            manifest = jar.read("META-INF/MANIFEST.MF").decode().replace("\r\n ", "").replace("\n ", "")
        jars += [Path(p) for p in re.findall(r"(\S+\.jar)", manifest.partition("Class-Path:")[2])]
    except (OSError, KeyError, zipfile.BadZipFile):
        pass
    return next((j for j in jars if re.match(r"(rhino|js)[-.\d]*\.jar$", j.name) and j.is_file()), None)


def test_js_each_user_runs_on_one_engine_with_its_own_start_time(js_shares: dict) -> None:
    # users 3..9 of the flow start at 0..6 s; user u runs on engine u mod N
    assert js_shares["1"]["users"] == [[0, 1, 2, 3, 4, 5, 6]]
    for n in range(2, 5):
        per_engine = js_shares[str(n)]["users"]
        assert sorted(t for mine in per_engine for t in mine) == [0, 1, 2, 3, 4, 5, 6]
        for w, mine in enumerate(per_engine):
            assert all((3 + t) % n == w for t in mine), (n, w, mine)


def test_js_an_iteration_pool_is_shared_out_exactly(js_shares: dict) -> None:
    assert js_shares["1"]["pool"] == [10]
    assert js_shares["2"]["pool"] == [5, 5]
    assert js_shares["3"]["pool"] == [5, 5, 0]  # only 2 threads: engine 2 has none, and no ticket
    assert js_shares["4"]["pool"] == [5, 5, 0, 0]


def test_js_arrival_tickets_add_up_to_one_generators_schedule(js_shares: dict) -> None:
    (single,) = js_shares["1"]["arrival"]
    assert len(single) == 105  # 30/s for 2 s, then 30 -> 60/s over 1 s: 60 + 45
    assert single[:4] == [0, 33, 67, 100] and single[60] == 2000
    for n in range(2, 5):
        per_engine = js_shares[str(n)]["arrival"]
        assert sum(len(t) for t in per_engine) == 105 and max(map(len, per_engine)) - min(map(len, per_engine)) <= 1
        assert sorted(t for times in per_engine for t in times) == single
    assert [len(t) for t in js_shares["4"]["arrival"]] == [27, 26, 26, 26]


def test_js_engines_start_their_clocks_together(js_shares: dict) -> None:
    sync = js_shares["sync"]
    assert sync["file2"] == "1000000"  # engine 2 (no thread at time 0): ready when its setUp group ends
    assert sync["file0"] == "1000100" and sync["t0"] == 1000250 + 100  # the latest of the three, plus 100 ms
    assert sync["again"] == 1000350 and sync["alone"] == 1000777


def test_js_data_rows_interleave_across_engines(js_shares: dict) -> None:
    for n in range(2, 5):  # (one JMeter reads its rows with a CSV Data Set Config)
        for w, seen in enumerate(js_shares[str(n)]["rows"]):
            assert seen == [f"u{(i * n + w) % 7}@x.io/{(i * n + w) % 7}" for i in range(4)], (n, w)
