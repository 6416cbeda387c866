"""Broken or odd k6 files: a clear IngestError (message + hint) or a warning with counts, every
complete row kept, never a traceback. Built from the real outputs in tests/data/k6."""

from __future__ import annotations

from pathlib import Path

import pytest

from perforch.adapters.k6 import ingest
from perforch.errors import IngestError

DATA = Path(__file__).resolve().parents[3] / "data" / "k6"
CSV = (DATA / "perforch.csv").read_bytes()
JSON = (DATA / "perforch.json").read_bytes()
REQUESTS = 55


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def lines_of(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def nth(lines: list[bytes], prefix: bytes, n: int) -> int:
    return [i for i, line in enumerate(lines) if line.startswith(prefix)][n]


@pytest.mark.parametrize(("data", "message"), [
    (b"", "is empty"),
    (bytes(range(256)) * 40, "is not a k6 output"),
    (b"\x89PNG\r\n\x1a\n" + bytes(4000), "is not a k6 output"),
    (b"timestamp,elapsed,label\n1,2,3\n", "is not a k6 output"),
])
def test_a_file_that_is_not_a_k6_output_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(IngestError) as caught:
        ingest.ingest_files([write(tmp_path, "results.csv", data)])
    assert message in caught.value.message and "results.csv" in caught.value.message
    assert "--out csv=FILE" in caught.value.hint


def test_a_missing_file_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="cannot read"):
        ingest.ingest_files([tmp_path / "nope.csv"])


@pytest.mark.parametrize("name", ["perforch.csv", "perforch.json"])
def test_a_header_only_or_request_less_file_gives_no_samples_and_says_so(tmp_path: Path, name: str) -> None:
    data = CSV.split(b"\n", 1)[0] + b"\n" if name.endswith(".csv") else b"".join(
        line for line in lines_of(JSON) if b'"metric":"vus"' in line or b'"metric":"checks"' in line)
    result = ingest.ingest_files([write(tmp_path, name, data)])
    assert result.samples.empty and list(result.samples.columns)
    assert any("no http_req_duration samples" in w for w in result.warnings)


def test_a_malformed_duration_row_mid_file_is_skipped_and_counted(tmp_path: Path) -> None:
    lines = lines_of(CSV)
    at = nth(lines, b"http_req_duration,", 20)
    lines[at] = lines[at][:40] + b"\n"  # cut: too few columns
    result = ingest.ingest_files([write(tmp_path, "k6.csv", b"".join(lines))])
    assert len(result.samples) == REQUESTS - 1
    assert any("skipped 1 malformed row" in w and "every complete row is kept" in w for w in result.warnings)


def test_a_malformed_row_of_another_metric_loses_nothing(tmp_path: Path) -> None:
    lines = lines_of(CSV)
    at = nth(lines, b"data_received,", 5)
    lines[at] = b"data_rec\xff\xfe,,garbage\n"
    samples = ingest.ingest_files([write(tmp_path, "k6.csv", b"".join(lines))]).samples
    assert len(samples) == REQUESTS


def test_a_malformed_sibling_row_keeps_its_request_without_that_figure(tmp_path: Path) -> None:
    lines = lines_of(CSV)
    at = nth(lines, b"http_req_waiting,", 10)
    lines[at] = b"http_req_waiting,not a row\n"
    result = ingest.ingest_files([write(tmp_path, "k6.csv", b"".join(lines))])
    samples = result.samples
    assert len(samples) == REQUESTS
    assert samples["ttfb_ms"].isna().sum() == 1 and samples["latency_ms"].notna().all()
    assert any("skipped 1 malformed row" in w for w in result.warnings)


def test_a_value_that_is_not_a_number_drops_its_request_with_a_warning(tmp_path: Path) -> None:
    lines = lines_of(CSV)
    at = nth(lines, b"http_req_duration,", 3)
    head, stamp, _, rest = lines[at].split(b",", 3)
    lines[at] = b",".join([head, stamp, b"fast", rest])
    result = ingest.ingest_files([write(tmp_path, "k6.csv", b"".join(lines))])
    assert len(result.samples) == REQUESTS - 1
    assert any("dropped 1 http_req_duration row" in w for w in result.warnings)


def test_bytes_that_are_not_utf8_in_a_label_do_not_stop_the_reading(tmp_path: Path) -> None:
    data = CSV.replace(b"slow report", b"slow \xff report")
    samples = ingest.ingest_files([write(tmp_path, "k6.csv", data)]).samples
    assert len(samples) == REQUESTS
    assert (samples["label"] == "slow \ufffd report").sum() == 7


@pytest.mark.parametrize("name", ["perforch.csv", "perforch.json"])
def test_a_truncated_last_line_is_ignored_and_reported(tmp_path: Path, name: str) -> None:
    data = CSV if name.endswith(".csv") else JSON
    lines = lines_of(data)
    metric = b"http_req_duration," if name.endswith(".csv") else b'{"metric":"http_req_duration"'
    last = nth(lines, metric, -1)
    cut = b"".join(lines[:last]) + lines[last][:50]  # the file ends inside the last request's duration row
    result = ingest.ingest_files([write(tmp_path, name, cut)])
    assert len(result.samples) == REQUESTS - 1
    assert any("last line is incomplete" in w for w in result.warnings)


def test_a_file_cut_inside_a_request_keeps_what_is_complete(tmp_path: Path) -> None:
    lines = lines_of(CSV)
    last = nth(lines, b"http_req_duration,", -1)
    result = ingest.ingest_files([write(tmp_path, "k6.csv", b"".join(lines[:last + 2]))])  # duration + blocked
    samples = result.samples
    assert len(samples) == REQUESTS
    cut = samples[samples["ttfb_ms"].isna()]
    assert len(cut) == 1 and cut["connect_ms"].isna().all() and cut["latency_ms"].notna().all()


def test_a_last_line_without_newline_that_is_complete_is_kept(tmp_path: Path) -> None:
    lines = lines_of(CSV)
    last = nth(lines, b"http_req_failed,", -1)
    result = ingest.ingest_files([write(tmp_path, "k6.csv", b"".join(lines[:last + 1]).rstrip(b"\n"))])
    assert len(result.samples) == REQUESTS and result.warnings == ()


def test_binary_garbage_inside_a_csv_is_skipped_and_counted(tmp_path: Path) -> None:
    lines = lines_of(CSV)
    at = nth(lines, b"http_reqs,", 30)
    garbage = bytes(range(1, 256)).replace(b"\n", b"") * 3 + b"\n"
    result = ingest.ingest_files([write(tmp_path, "k6.csv", b"".join([*lines[:at], garbage, *lines[at:]]))])
    assert len(result.samples) == REQUESTS
    assert any("skipped 1 line that cannot be k6 rows; every complete row is kept" in w for w in result.warnings)


def test_garbage_lines_in_json_are_skipped_and_counted(tmp_path: Path) -> None:
    lines = lines_of(JSON)
    at = nth(lines, b'{"metric":"http_reqs"', 30)
    data = b"".join([*lines[:at], b"\x00\x01garbage\n", b"\n", *lines[at:]])
    result = ingest.ingest_files([write(tmp_path, "k6.json", data)])
    assert len(result.samples) == REQUESTS
    assert any("skipped 2 lines that cannot be k6 rows" in w for w in result.warnings)


def test_a_broken_json_line_is_skipped_and_counted(tmp_path: Path) -> None:
    lines = lines_of(JSON)
    at = nth(lines, b'{"metric":"http_req_duration"', 12)
    lines[at] = lines[at][:70] + b"\n"
    result = ingest.ingest_files([write(tmp_path, "k6.json", b"".join(lines))])
    assert len(result.samples) == REQUESTS - 1
    assert any("skipped 1 malformed row" in w for w in result.warnings)


def test_a_broken_json_line_of_another_metric_loses_nothing(tmp_path: Path) -> None:
    lines = lines_of(JSON)
    at = nth(lines, b'{"metric":"iterations"', 3)
    lines[at] = b'{"metric":"iterations","type":"Point","data":{"time":\n'
    samples = ingest.ingest_files([write(tmp_path, "k6.json", b"".join(lines))]).samples
    assert len(samples) == REQUESTS


def test_json_lines_of_the_wrong_types_are_skipped(tmp_path: Path) -> None:
    lines = lines_of(JSON)
    at = nth(lines, b'{"metric":"http_req_duration"', 7)
    lines[at] = lines[at].replace(b'"value":', b'"value":"12",', 1).replace(b'",,', b'",', 1)
    result = ingest.ingest_files([write(tmp_path, "k6.json", b"".join(lines))])
    assert len(result.samples) == REQUESTS - 1
    assert any("malformed row" in w for w in result.warnings)


@pytest.mark.parametrize(("data", "message"), [
    (b'{"root_group": {}, "metrics": {"http_reqs": {"count": 3', "not a k6 summary export"),
    (b'{"root_group": {}, "metrics": "http_req_duration"}', "not a k6 summary export"),
    (b'{"root_group": {}, "metrics": {"http_req_duration": [1, 2]}}', "not a k6 summary export"),
])
def test_a_summary_export_that_is_not_one_is_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(IngestError) as caught:
        ingest.ingest_files([write(tmp_path, "summary.json", data)])
    assert message in caught.value.message and "summary.json" in caught.value.message
    assert "--summary-export" in caught.value.hint


def test_a_csv_header_that_is_not_k6s_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        ingest.ingest_files([write(tmp_path, "k6.csv", b"metric_name,timestamp,metric_value,name,name\n")])
    assert "not a k6 CSV header" in caught.value.message
