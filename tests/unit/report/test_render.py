"""Markdown compared as text from a fixed view model; HTML by key strings."""

from perforch.report.render import cell, md, render_html, render_markdown

VIEW = {
    "title": "checkout", "run_id": "20261128-100000-checkout-k6", "test_date": "2026-11-28 10:00:00 UTC",
    "status": "complete", "incomplete": False, "incomplete_text": "",
    "scenario": {"load": "ramping-vus: users 0 → 80 (2m)", "duration": "2 min 00 s (planned 2 min 00 s)",
                 "tool": "k6 1.1.0", "runner": "local", "host": "testhost", "requests": "12,000", "steps": 2},
    "response_time": "k6 http_req_duration", "method": "linear", "method_text": "exact, linear", "source": "samples",
    "verdict": "SLO NOT MET", "verdict_ok": False, "headline": "SLO NOT MET",
    "slos": [{"rule": "p99 < 500ms", "observed": "612.0 ms", "ok": False, "verdict": "NOT MET", "headroom": "-22%"},
             {"rule": "error_rate < 1%", "observed": "0.2%", "ok": True, "verdict": "MET", "headroom": "80%"}],
    "key": [{"name": "p99", "value": "612.0 ms"}, {"name": "p95", "value": "300.0 ms"},
            {"name": "average", "value": "80.0 ms"}, {"name": "error rate", "value": "0.20%"},
            {"name": "throughput", "value": "100.0 req/s"}, {"name": "requests", "value": "12,000"}],
    "steps": [{"label": "a|b <script>", "color": "#1f77b4", "count": "12,000", "rps": "100.0", "errors": "24",
               "error_rate": "0.20%", "avg": "80.0", "min": "1.00", "p50": "50.0", "p90": "200.0", "p95": "300.0",
               "p99": "612.0", "p99_9": "900.0", "max": "950.0"}],
    "overall": {"label": "All requests", "color": "", "count": "12,000", "rps": "100.0", "errors": "24",
                "error_rate": "0.20%", "avg": "80.0", "min": "1.00", "p50": "50.0", "p90": "200.0", "p95": "300.0",
                "p99": "612.0", "p99_9": "900.0", "max": "950.0"},
    "observations": ["p99 < 500ms NOT MET: observed 612.0 ms, 22% over the limit."],
    "recommendations": ["Start with 'a|b <script>'."],
    "problems": [], "warnings": [], "exit_codes": "k6: 0", "commands": [], "charts": [], "chart_note": "",
    "comparison": None, "generator": "perforch 0.1.0", "generated_at": "",
}

EXPECTED_MD = """\
### Performance Test Report: checkout

**Test Date:** 2026-11-28 10:00:00 UTC

**Scenario:** ramping-vus: users 0 → 80 (2m); 2 min 00 s (planned 2 min 00 s); k6 1.1.0 (local); 12,000 requests over 2 steps

**Performance SLOs:**
- `p99 < 500ms`
- `error_rate < 1%`

**Results:** ❌ **SLO NOT MET**

| SLO | Observed | Headroom | Verdict |
|---|--:|--:|---|
| `p99 < 500ms` | 612.0 ms | -22% | ❌ SLO NOT MET |
| `error_rate < 1%` | 0.2% | 80% | ✅ SLO MET |

Key figures: **p99 612.0 ms** · p95 300.0 ms · **average 80.0 ms** · **error rate 0.20%** · **100.0 req/s** · 12,000 requests

| Step | Requests | req/s | Errors | Avg | p50 | p90 | p95 | p99 | p99.9 | Max |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|
| a\\|b &lt;script> | 12,000 | 100.0 | 24 (0.20%) | 80.0 | 50.0 | 200.0 | 300.0 | 612.0 | 900.0 | 950.0 |
| **All requests** | **12,000** | **100.0** | **24 (0.20%)** | **80.0** | **50.0** | **200.0** | **300.0** | **612.0** | **900.0** | **950.0** |

Times in ms. Percentiles: exact, linear. Response time: k6 http_req_duration.

**Analysis & Observations:**
- p99 < 500ms NOT MET: observed 612.0 ms, 22% over the limit.

**Recommendations:**
- **[RECOMMENDATION]** Start with 'a|b &lt;script>'.

<sub>perforch 0.1.0 · run `20261128-100000-checkout-k6`</sub>
"""


def test_markdown_has_the_agreed_shape():
    assert render_markdown(VIEW) == EXPECTED_MD


def test_markdown_escapes_what_could_become_html_or_break_a_table():
    assert md("<script>alert(1)</script>\nnext") == "&lt;script>alert(1)&lt;/script> next"
    assert md("p99 < 500ms") == "p99 < 500ms"  # a comparison stays readable
    assert cell("a|b") == "a\\|b"


def test_html_escapes_user_text_and_is_self_contained():
    view = {**VIEW, "title": "<script>alert(1)</script>"}
    html = render_html(view)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a|b &lt;script&gt;" in html
    assert "http://" not in html and "https://" not in html  # nothing to fetch
    assert '<div class="badge bad" id="verdict">SLO NOT MET</div>' in html
    assert '<span class="tag">[RECOMMENDATION]</span>' in html


def test_user_text_turns_on_no_markdown_in_prose_or_cells():
    from perforch.report.render import cell, md

    label = "GET /a*b* [x](y) $m$ a\\b <script>"
    assert md(f"Slowest step: '{label}'; try `perforch capacity`") == (
        "Slowest step: 'GET /a\\*b\\* \\[x\\](y) \\$m\\$ a\\\\b &lt;script>'; try `perforch capacity`")
    assert cell("GET /a|b `c`") == "GET /a\\|b \\`c\\`"
