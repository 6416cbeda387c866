"""JTL files captured from real JMeter 2.13 runs (tests/data/jmeter) -> the unified frame."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perforch.adapters.jmeter.ingest import DEFAULT_2_13, ingest_files, sniff, sniff_bytes
from perforch.analysis.stats import step_stats
from perforch.errors import IngestError
from perforch.frame import SAMPLE_COLUMNS

DATA = Path(__file__).resolve().parents[3] / "data" / "jmeter"
CSV_FILES = ["default-2.13.csv.jtl", "perforch.csv.jtl", "all-fields.csv.jtl", "formatted-time.csv.jtl",
             "tab.csv.jtl", "default-5x.csv.jtl", "default-5x-noheader.csv.jtl"]
REQUESTS = {"POST /auth/login", 'GET "items", quoted, with commas', "flaky ünïcødé ✓",
            "health (multi-line failure)", "health 1", "health 2", "redirected", "refused"}
MULTI_LINE = "Test failed: text expected to equal /\n\n****** received  : {\"status\": \"[[[ok\"}"


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("name", CSV_FILES)
def test_every_csv_shape_gives_the_requests_without_transaction_rows(name: str) -> None:
    result = ingest_files([DATA / name])
    samples = result.samples
    assert list(samples.columns) == list(SAMPLE_COLUMNS)
    assert {c: str(t) for c, t in samples.dtypes.items()} == SAMPLE_COLUMNS
    assert len(samples) == 96  # 2 threads x 6 loops x 8 requests; the controllers' rows are not requests
    assert set(samples["label"].cat.categories) == REQUESTS
    assert samples["label"].value_counts().eq(12).all()
    assert (samples["tool"] == "jmeter").all() and (samples["flow"] == "api_flow").all()
    assert samples["ts"].is_monotonic_increasing
    refused = samples[samples["label"] == "refused"]
    assert (refused["status"] == 0).all() and not refused["ok"].any()
    assert (refused["error"] == "Non HTTP response message: Connection refused").all()
    assert (samples.loc[samples["label"] == "POST /auth/login", "method"] == "POST").all()
    assert any("parent sample" in w for w in result.warnings)  # its requests are only in XML


def test_a_failure_message_on_several_lines_is_one_field() -> None:
    samples = ingest_files([DATA / "perforch.csv.jtl"]).samples
    failed = samples[samples["label"] == "health (multi-line failure)"]
    assert len(failed) == 12 and not failed["ok"].any() and (failed["status"] == 200).all()
    assert failed["error"].astype(str).str.startswith(MULTI_LINE).all()
    assert failed["error"].astype(str).str.endswith("second line]]]\n\n/").all()


def test_2_13_default_has_no_failure_message_but_says_the_request_failed() -> None:
    samples = ingest_files([DATA / "default-2.13.csv.jtl"]).samples
    failed = samples[samples["label"] == "health (multi-line failure)"]
    assert (failed["error"] == "failed (no failure message in the JTL)").all()
    assert samples["connect_ms"].isna().all() and samples["bytes_out"].isna().all()


def test_optional_columns_land_in_the_frame() -> None:
    samples = ingest_files([DATA / "perforch.csv.jtl"]).samples
    raw = pd.read_csv(DATA / "perforch.csv.jtl")
    raw = raw[raw["dataType"].notna()].sort_values("timeStamp", kind="stable")
    assert samples["latency_ms"].tolist() == raw["elapsed"].astype(float).tolist()
    assert samples["ttfb_ms"].tolist() == raw["Latency"].astype(float).tolist()
    assert samples["connect_ms"].tolist() == raw["Connect"].astype(float).tolist()
    assert samples["bytes_in"].tolist() == raw["bytes"].tolist()
    assert samples["vus"].tolist() == raw["allThreads"].tolist()
    assert samples["ts"].iloc[0] == pd.Timestamp(int(raw["timeStamp"].iloc[0]), unit="ms", tz="UTC")


def test_xml_keeps_top_level_samples_and_the_children_of_a_transaction_parent() -> None:
    result = ingest_files([DATA / "default.xml.jtl"])
    samples = result.samples
    assert result.warnings == ()
    # redirect hops stay inside their request; the parent sample's children are the requests
    assert set(samples["label"].cat.categories) == REQUESTS | {"child a", "child b"}
    assert len(samples) == 120
    failed = samples[samples["label"] == "health (multi-line failure)"]
    assert failed["error"].astype(str).str.startswith(MULTI_LINE).all()
    redirected = samples[samples["label"] == "redirected"]
    assert (redirected["status"] == 200).all() and redirected["ok"].all()


@pytest.mark.parametrize("name", ["perforch.csv.jtl", "default.xml.jtl"])
def test_numbers_equal_jmeters_aggregate_report(name: str) -> None:
    """count, errors, mean, min, max and the nearest-rank percentiles of JMeter's own classes."""
    stats = step_stats(ingest_files([DATA / name]).samples, method="nearest-rank").set_index("label")
    report = pd.read_csv(DATA / f"{name}.aggregate.tsv", sep="\t", keep_default_na=False).set_index("label")
    compared = 0
    for label, jmeter in report.iterrows():
        if label in ("checkout", "parent sample"):  # transaction controllers: not requests
            continue
        ours = stats.loc[label]
        assert ours["count"] == jmeter["count"] and ours["failures"] == jmeter["errors"], label
        for our_key, key in [("avg_ms", "mean"), ("min_ms", "min"), ("max_ms", "max"), ("p50", "median"),
                             ("p90", "p90"), ("p95", "p95"), ("p99", "p99")]:
            assert ours[our_key] == pytest.approx(jmeter[key], abs=1e-9), (label, key)
        compared += 1
    assert compared == 8


def test_formatted_timestamps_are_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    utc = ingest_files([DATA / "formatted-time.csv.jtl"])
    assert any("local time" in w for w in utc.warnings)
    first = utc.samples["ts"].min()
    assert first == pd.Timestamp("2026-11-28 13:22:54.933", tz="UTC")
    assert len(utc.samples) == 96
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    paris = ingest_files([DATA / "formatted-time.csv.jtl"]).samples
    assert paris["ts"].min() == first - pd.Timedelta(hours=1)


def test_files_are_recognised_by_content() -> None:
    for name in CSV_FILES:
        assert sniff(DATA / name) == "csv", name
    assert sniff(DATA / "default.xml.jtl") == "xml"
    assert sniff_bytes(b"metric_name,timestamp,metric_value,check\n") is None  # k6
    assert sniff_bytes(b"Type,Name,Request Count\n") is None  # Locust
    assert sniff_bytes(b"1795872165495,121,a,200,OK,t 1-1,text,true\n") is None  # 8 fields: unknown


def test_several_files_become_workers(tmp_path: Path) -> None:
    a, b = tmp_path / "gen-a.jtl", tmp_path / "gen-b.jtl"
    a.write_bytes((DATA / "perforch.csv.jtl").read_bytes())
    b.write_bytes((DATA / "all-fields.csv.jtl").read_bytes())
    samples = ingest_files([a, b]).samples
    assert len(samples) == 192 and sorted(samples["worker"].unique()) == ["gen-a", "gen-b"]


def test_caller_supplied_columns_read_an_unknown_header_less_layout(tmp_path: Path) -> None:
    rows = (DATA / "default-2.13.csv.jtl").read_text(encoding="utf-8").splitlines(keepends=True)
    # drop the last two columns (allThreads, Latency): no default shape any more
    import csv

    cut = tmp_path / "cut.jtl"
    with cut.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        for row in csv.reader(rows):
            writer.writerow(row[:10])
    with pytest.raises(IngestError) as err:
        ingest_files([cut])
    assert "unknown column layout" in err.value.message and "print_field_names" in err.value.hint
    samples = ingest_files([cut], columns=DEFAULT_2_13[:10]).samples
    assert len(samples) == 96 + 0 and samples["vus"].isna().all()


# --- bad input --------------------------------------------------------------------------------


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "results.jtl"
    empty.write_bytes(b"")
    with pytest.raises(IngestError) as err:
        ingest_files([empty])
    assert "empty" in err.value.message and err.value.hint


def test_a_header_only_file_has_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "results.jtl"
    path.write_text((DATA / "perforch.csv.jtl").read_text(encoding="utf-8").splitlines()[0] + "\n")
    result = ingest_files([path])
    assert len(result.samples) == 0 and any("no request samples" in w for w in result.warnings)


def test_a_truncated_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    text = (DATA / "perforch.csv.jtl").read_text(encoding="utf-8")
    path = tmp_path / "results.jtl"
    path.write_text(text[: text.rstrip("\n").rfind("\n") + 30], encoding="utf-8")  # cut the last row
    result = ingest_files([path])
    assert len(result.samples) == 96 - _requests_in_last_row(text)
    assert any("skipped" in w and "1 " in w for w in result.warnings)


def test_a_truncated_multi_line_message_at_the_end_keeps_every_complete_row(tmp_path: Path) -> None:
    text = (DATA / "perforch.csv.jtl").read_text(encoding="utf-8")
    cut = text[: text.rfind("****** received")]  # inside the last multi-line failure message
    path = tmp_path / "results.jtl"
    path.write_text(cut, encoding="utf-8")
    records = list(csv.reader(io.StringIO(cut)))[1:-1]  # the header and the broken last record out
    complete = [r for r in records if r[6] != ""]  # without the transaction controllers' rows
    result = ingest_files([path])
    assert len(result.samples) == len(complete) > 80
    assert any("skipped" in w for w in result.warnings)


def test_binary_garbage_in_the_middle_costs_only_its_own_lines(tmp_path: Path) -> None:
    lines = (DATA / "perforch.csv.jtl").read_bytes().split(b"\n")
    garbage = bytes(range(256)) + b'\n\x00\xff"unbalanced quote,,,\n\x89PNG\r\n\x1a\n'
    middle = next(i for i in range(len(lines) // 2, len(lines))
                  if lines[i].startswith(b"1795") and lines[i - 1].endswith(b",0"))
    path = tmp_path / "results.jtl"
    path.write_bytes(b"\n".join(lines[:middle]) + b"\n" + garbage + b"\n".join(lines[middle:]))
    result = ingest_files([path])
    assert len(result.samples) == 96  # every complete row kept
    assert any("malformed line(s) skipped" in w for w in result.warnings)


def test_garbage_in_xml_skips_to_the_next_sample(tmp_path: Path) -> None:
    data = (DATA / "default.xml.jtl").read_bytes()
    at = data.index(b"<httpSample", 2000)
    path = tmp_path / "results.jtl"
    path.write_bytes(data[:at] + b"\x00\xff<<garbage & more>>\n" + data[at:])
    result = ingest_files([path])
    assert len(result.samples) == 120
    assert any("unreadable part" in w for w in result.warnings)


def test_an_unterminated_xml_file_keeps_every_complete_sample(tmp_path: Path) -> None:
    data = (DATA / "default.xml.jtl").read_bytes()
    cut = data.rindex(b"<httpSample") + 20  # the last sample is cut in its start tag
    path = tmp_path / "results.jtl"
    path.write_bytes(data[:cut])
    result = ingest_files([path])
    assert len(result.samples) == 120 - 1
    assert any("ends early" in w for w in result.warnings)
    assert not any("unreadable" in w for w in result.warnings)


def test_errors_in_jmeter_log_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "results.jtl"
    path.write_bytes((DATA / "perforch.csv.jtl").read_bytes())
    (tmp_path / "jmeter.log").write_text(
        "2026/11/28 13:10:10 INFO  - jmeter.JMeter: fine\n"
        "2026/11/28 13:10:10 ERROR - jmeter.util.BeanShellInterpreter: Error invoking bsh method: eval 1\n"
        "2026/11/28 13:10:11 ERROR - jmeter.util.BeanShellInterpreter: Error invoking bsh method: eval 2\n")
    warnings = ingest_files([path]).warnings
    assert any(w.startswith("jmeter.log: 2 error line(s) like: jmeter.util.BeanShellInterpreter") for w in warnings)


def test_many_rows_with_multi_line_messages_stay_in_sync(tmp_path: Path) -> None:
    """pyarrow's reader with quoted newlines allowed, on a file big enough to span several blocks."""
    header = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes\n"
    rows = []
    for i in range(60_000):
        fail = i % 7 == 0
        message = '"line one, with comma\nline ""two""\n\nlast"' if fail else ""
        rows.append(f'{1795000000000 + i},{i % 300},"step, {i % 5}",200,OK,g 1-{i % 9},text,'
                    f'{"false" if fail else "true"},{message},{100 + i % 50}\n')
    path = tmp_path / "big.jtl"
    path.write_text(header + "".join(rows), encoding="utf-8")
    samples = ingest_files([path]).samples
    assert len(samples) == 60_000
    assert int((~samples["ok"]).sum()) == len(range(0, 60_000, 7))
    assert samples["latency_ms"].sum() == sum(i % 300 for i in range(60_000))
    assert set(samples["label"].cat.categories) == {f"step, {k}" for k in range(5)}
    assert (samples.loc[~samples["ok"], "error"] == 'line one, with comma\nline "two"\n\nlast').all()
    assert np.array_equal(samples["bytes_in"].to_numpy(dtype=int), 100 + np.arange(60_000) % 50)


def _requests_in_last_row(text: str) -> int:
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    return 0 if ",,true," in last and "Number of samples" in last else 1


def _controller_rows(text: str) -> int:
    return text.count("Number of samples in transaction")


def test_a_file_read_in_parts_gives_the_same_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big files are cut into parts read side by side: never inside a quoted multi-line message."""
    from perforch.adapters.jmeter import ingest

    header = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes\n"
    rows = [f'{1795000000000 + i},{i % 300},"s, {i % 3}",200,OK,g 1-1,text,{"false" if i % 3 == 0 else "true"},'
            f'{chr(34) + "a" + chr(10) * 3 + chr(34) * 2 + "b" + chr(34) if i % 3 == 0 else ""},1\n' for i in range(3000)]
    path = tmp_path / "parts.jtl"
    path.write_text(header + "".join(rows), encoding="utf-8")
    whole = ingest_files([path]).samples
    monkeypatch.setattr(ingest, "PART_MIN_BYTES", 1000)
    monkeypatch.setattr(ingest.os, "cpu_count", lambda: 3)
    assert len(ingest._parts(path, True, 3)) == 4
    pieces = ingest_files([path]).samples
    pd.testing.assert_frame_equal(whole, pieces)
    assert (pieces.loc[~pieces["ok"], "error"] == 'a\n\n\n"b').all() and len(pieces) == 3000


def test_the_xml_fast_reader_and_the_element_reader_agree() -> None:
    from perforch.adapters.jmeter import ingest, xmlfast, xmlslow

    path = DATA / "default.xml.jtl"
    assert xmlfast.read(path) is not None  # JMeter's own layout: the vectorised reader takes it
    fast = ingest_files([path]).samples
    data = ingest._from_strings(xmlslow.read(path, [])).finish([], path)
    n = len(data["ts"])
    data.update(worker=ingest._constant("", n), tool=ingest._constant("jmeter", n),
                method=ingest._methods(path, data["label"], n))
    pd.testing.assert_frame_equal(fast, ingest._frame(data))


NESTED_XML = """<?xml version="1.0" encoding="UTF-8"?>
<testResults version="1.2">
<httpSample t="3" lt="3" ts="1795872187341" s="true" lb="home" rc="200" rm="OK" tn="g 1-1" dt="text" by="175" ng="1" na="1"/>
<sample t="20" lt="0" ts="1795872187345" s="true" lb="checkout" rc="200" rm="Number of samples in transaction : 2, number of failing samples : 0" tn="g 1-1" dt="" by="525" ng="1" na="1">
  <httpSample t="4" lt="4" ts="1795872187345" s="true" lb="login" rc="200" rm="OK" tn="g 1-1" dt="text" by="175" ng="1" na="1"/>
  <sample t="12" lt="0" ts="1795872187350" s="true" lb="pay" rc="200" rm="Number of samples in transaction : 2, number of failing samples : 0" tn="g 1-1" dt="" by="350" ng="1" na="1">
    <httpSample t="5" lt="5" ts="1795872187350" s="true" lb="card" rc="200" rm="OK" tn="g 1-1" dt="text" by="175" ng="1" na="1"/>
    <httpSample t="7" lt="7" ts="1795872187356" s="true" lb="confirm" rc="200" rm="OK" tn="g 1-1" dt="text" by="175" ng="1" na="1">
      <httpSample t="2" lt="2" ts="1795872187356" s="true" lb="http://127.0.0.1:1/hop" rc="302" rm="Found" tn="g 1-1" dt="" by="155" ng="1" na="1"/>
    </httpSample>
  </sample>
</sample>
<httpSample t="6" lt="6" ts="1795872187370" s="true" lb="home" rc="200" rm="OK" tn="g 1-1" dt="text" by="175" ng="1" na="1"/>
</testResults>
"""


def test_xml_transaction_parents_nested_in_each_other_keep_every_request(tmp_path: Path) -> None:
    path = tmp_path / "nested.jtl"
    path.write_text(NESTED_XML, encoding="utf-8")
    samples = ingest_files([path]).samples
    # the requests at every level of nesting; not the controllers, not the redirect hop
    assert sorted(samples["label"].astype(str)) == ["card", "confirm", "home", "home", "login"]
    assert samples.set_index("label")["latency_ms"].to_dict() | {"home": 0} == {
        "card": 5.0, "confirm": 7.0, "login": 4.0, "home": 0}
