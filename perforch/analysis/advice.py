"""Observations and recommendations: rules over the analysis, each citing the numbers it rests on.

A rule speaks only when the data supports it. When every SLO is met and nothing stands out, the
only recommendation is the plain statement of how much headroom is left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from perforch.analysis import fmt
from perforch.analysis.errors import ErrorKind, ErrorSummary
from perforch.analysis.knee import Degradation, Saturation
from perforch.analysis.slo import SloResult
from perforch.analysis.stats import OVERALL

SHORT_RUN_S = 60.0  # below this a run shows no steady state
TAIL_RATIO = 4.0  # p99/p50 at or above this is a long tail ...
TAIL_MIN_MS = 10.0  # ... when p99 - p50 is also this large
MIN_TAIL_SAMPLES = 10  # a percentile needs this many requests above it
MAX_TAILS = 5  # long-tail findings named one by one
CONCENTRATED = 0.6  # one step holding this share of the failures
CULPRIT_SHARE = 0.5  # one step holding this share of the requests over a latency limit
MEMORY_GROWTH = 0.2


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # slo, errors, degradation, saturation, slowest, tail, system, data, ok
    text: str


@dataclass(frozen=True, slots=True)
class Facts:
    method: str
    source: str
    stats: pd.DataFrame
    slos: tuple[SloResult, ...]
    duration_s: float
    planned_duration_s: float | None
    interrupted: bool
    requests: int
    untimed: int
    errors: ErrorSummary | None
    degradation: Degradation | None
    saturation: Saturation | None
    targets: tuple  # TargetLoad
    samples: pd.DataFrame | None
    system: pd.DataFrame | None


def advise(facts: Facts) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    obs: list[Finding] = []
    rec: list[Finding] = []
    if not facts.requests:
        obs.append(Finding("data", "No requests were recorded, so there is nothing to judge."))
        rec.append(Finding("data", "Check the tool's log in the run directory (logs/) for why no request was "
                                   "made or recorded, then run again."))
        return tuple(obs), tuple(rec)
    steps = facts.stats[facts.stats["label"] != OVERALL]
    overall = facts.stats[facts.stats["label"] == OVERALL].iloc[0]
    _slos(facts, steps, obs, rec)
    _errors(facts, steps, obs, rec)
    _degradation(facts, obs, rec)
    _slowest(steps, obs)
    _tails(steps, obs, rec)
    _system(facts, obs, rec)
    _data(facts, steps, overall, obs, rec)
    acting = [r for r in rec if r.kind != "data"]  # advice on the system, not on the test itself
    if not rec and all(s.ok for s in facts.slos):
        rec.append(Finding("ok", _all_well(facts)))
    elif not acting and not all(s.ok for s in facts.slos):
        measured = ", ".join(s.rule for s in facts.slos if not s.ok and s.observed is not None)
        unmeasured = ", ".join(s.rule for s in facts.slos if not s.ok and s.observed is None)
        if unmeasured:
            rec.insert(0, Finding("data", f"{unmeasured}: nothing was measured to judge, so the SLO counts as "
                                          "not met. Check that the tool wrote per-request results for those steps "
                                          "(logs/ and raw/ in the run directory) and run again."))
        if measured:
            rec.insert(0, Finding("slo", f"Bring {measured} back under the limit; without per-request samples "
                                         "perforch cannot tell which requests to look at, so re-run with "
                                         "per-request output for the breakdown." if facts.source != "samples" else
                                         f"Bring {measured} back under the limit: start with the slowest step "
                                         "above."))
    return tuple(obs), tuple(rec)


def _q(label: str) -> str:
    return f"'{label}'"


def _all_well(facts: Facts) -> str:
    if not facts.slos:
        return "No action needed on the data of this run: no SLO was declared and nothing stood out."
    tight = _tightest(facts.slos)
    if tight is None:
        return f"No action needed: all {len(facts.slos)} SLOs met."
    return (f"None needed: SLOs met, with {fmt.headroom(tight.headroom)} headroom on the tightest "
            f"({tight.rule}: {tight.observed_text} against {tight.threshold_text}).")


def _tightest(slos: tuple[SloResult, ...]) -> SloResult | None:
    judged = [s for s in slos if s.headroom is not None]
    return min(judged, key=lambda s: s.headroom) if judged else None


# --- rules ---------------------------------------------------------------------------------------


def _slos(facts: Facts, steps: pd.DataFrame, obs: list[Finding], rec: list[Finding]) -> None:
    if not facts.slos:
        obs.append(Finding("slo", "No SLOs were declared: this report describes the run but cannot pass or fail it."))
        rec.append(Finding("slo", "Declare SLOs in the scenario (for example `slos: [p95 < 300ms, error_rate < 1%]`) "
                                  "so that every run is judged the same way."))
        return
    failed = [s for s in facts.slos if not s.ok]
    if not failed:
        tight = _tightest(facts.slos)
        if tight is not None:
            met = f"All {len(facts.slos)} SLOs met" if len(facts.slos) > 1 else "The SLO is met"
            obs.append(Finding("slo", f"{met}; closest to its limit: {tight.rule} at "
                                      f"{tight.observed_text} ({fmt.headroom(tight.headroom)} headroom)."))
        return
    for slo in failed:
        if slo.observed is None:
            obs.append(Finding("slo", f"{slo.rule} could not be judged: {slo.note}; it counts as not met."))
            if slo.step and slo.note == "no requests":
                names = ", ".join(_q(s) for s in steps["label"]) or "none"
                rec.append(Finding("slo", f"The SLO names step {_q(slo.step)}, which made no request. Check the "
                                          f"spelling against the steps of this run: {names}."))
            elif slo.note.startswith("the tool did not report"):
                rec.append(Finding("slo", f"{slo.rule} needs a percentile the tool's aggregates do not carry: give "
                                          "perforch per-request results (k6 --out csv or json, a JMeter JTL, Locust "
                                          "through perforch) or use p50, p90, p95 or p99."))
            continue
        over = -slo.headroom if slo.headroom is not None else float("nan")
        side = "over" if slo.op in ("<", "<=") else "under"
        where = "exactly at" if over == 0 else f"{fmt.headroom(over)} {side}"
        obs.append(Finding("slo", f"{slo.rule} NOT MET: observed {slo.observed_text}, {where} the limit."))
        if slo.unit == "ms" and slo.op in ("<", "<=") and facts.samples is not None:
            _culprits(facts, slo, obs, rec)
        if slo.metric == "rps" and facts.saturation is None and facts.degradation is None:
            rec.append(Finding("slo", f"Throughput {slo.observed_text} fell short of {slo.threshold_text}. In a "
                                      "closed model, throughput = users / (response time + think time): add users "
                                      "or use an arrival-rate profile to offer that rate."))


def _culprits(facts: Facts, slo: SloResult, obs: list[Finding], rec: list[Finding]) -> None:
    """Which steps hold the requests slower than a failed latency limit."""
    samples = facts.samples
    scope = samples if slo.step is None else samples[samples["label"] == slo.step]
    latency = scope["latency_ms"].to_numpy(dtype=float)
    slow = latency >= slo.threshold if slo.op == "<" else latency > slo.threshold  # what breaks the rule
    total = int(slow.sum())
    if slo.step is not None or not total:
        if slo.step is not None:
            rec.append(Finding("slo", f"Make {_q(slo.step)} faster: {total:,} of its {len(scope):,} requests "
                                      f"({fmt.share(total / max(len(scope), 1))}) took longer than "
                                      f"{slo.threshold_text}. Profile that endpoint under load (queries, downstream "
                                      "calls, serialisation, locks)."))
        return
    counts = scope.loc[slow, "label"].astype(str).value_counts()
    top, top_n = str(counts.index[0]), int(counts.iloc[0])
    parts = ", ".join(f"{_q(str(label))} {fmt.share(n / total)}" for label, n in counts.head(3).items())
    at_least = "at or above" if slo.op == "<" else "slower than"
    obs.append(Finding("slo", f"Of the {total:,} requests {at_least} {slo.threshold_text}: {parts}."))
    if len(counts) > 1 and top_n / total < CULPRIT_SHARE:  # spread out: no one step to start with
        rec.append(Finding("slo", f"The requests over the {slo.threshold_text} limit of {slo.rule} are spread "
                                  f"over {len(counts)} steps (none holds {fmt.share(CULPRIT_SHARE)}): look for a "
                                  "cause they share (CPU, garbage collection, a pool or lock, the database) "
                                  "before tuning one endpoint."))
        return
    row = facts.stats[facts.stats["label"] == top]
    p99 = fmt.ms(row.iloc[0]["p99"]) if len(row) else "-"
    rec.append(Finding("slo", f"Start with {_q(top)}: it holds {fmt.share(top_n / total)} of the requests over the "
                              f"{slo.threshold_text} limit of {slo.rule} (its own p99 is {p99}). Profile that "
                              "endpoint under load (queries, downstream calls, serialisation, locks)."))


def _errors(facts: Facts, steps: pd.DataFrame, obs: list[Finding], rec: list[Finding]) -> None:
    errors = facts.errors
    if errors is None or not errors.failures:
        return
    text = (f"{errors.failures:,} of {errors.requests:,} requests failed ({fmt.pct(errors.rate)}); the first at "
            f"{fmt.at(errors.first_s)} ({fmt.clock(errors.first_ts)}).")
    obs.append(Finding("errors", text))
    top = errors.by_step[0]
    if len(steps) > 1 and top.failures / errors.failures >= CONCENTRATED:
        others_fail = errors.failures - top.failures
        others_req = errors.requests - top.requests
        obs.append(Finding("errors", f"Failures are concentrated on {_q(top.label)}: {top.failures:,} of "
                                     f"{errors.failures:,} ({fmt.share(top.failures / errors.failures)}); its error "
                                     f"rate is {fmt.pct(top.rate)} against "
                                     f"{fmt.pct(others_fail / others_req if others_req else 0)} on the other steps."))
    causes = "; ".join(f"{k.text} ×{k.count:,} ({', '.join(_q(x) for x in k.labels[:3])})" for k in errors.kinds[:3])
    obs.append(Finding("errors", f"By cause: {causes}."))
    burst = errors.burst
    if burst is not None:
        obs.append(Finding("errors", f"The errors came in a burst: {burst.failures:,} of {errors.failures:,} "
                                     f"({fmt.share(burst.failures / errors.failures)}) between "
                                     f"{fmt.at(burst.start_s)} and {fmt.at(burst.end_s)}, starting at "
                                     f"{fmt.clock(burst.start_ts)}; error rate {fmt.pct(burst.rate_inside)} inside "
                                     f"that window against {fmt.pct(burst.rate_outside)} outside."))
        rec.append(Finding("errors", f"Look at what happened on the target from {fmt.clock(burst.start_ts)} "
                                     f"(run {fmt.at(burst.start_s)}–{burst.end_s:,.1f} s): logs, deploys, restarts, "
                                     "garbage collection, failover or a dependency outage."))
    elif errors.failures >= 5 and facts.duration_s >= 10:
        obs.append(Finding("errors", "The errors are spread across the run rather than grouped in one burst."))
    for kind in errors.kinds[:3]:
        text = _error_advice(kind, errors)
        if text:
            rec.append(Finding("errors", text))


def _error_advice(kind: ErrorKind, errors: ErrorSummary) -> str | None:
    where = ", ".join(_q(x) for x in kind.labels[:3])
    n = f"{kind.count:,}"
    s = kind.status
    if s == 0:
        return (f"{n} requests on {where} got no response ({kind.error or 'no detail'}): check the target's "
                "connection limits and accept backlog, the scenario's target.timeout, and that the load "
                "generator itself had free CPU and file descriptors.")
    if s >= 500:
        return (f"Read the target's logs for the {n} HTTP {s} responses of {where}: a {s} is the server failing, "
                f"not the load tool (first failure of the run at {fmt.clock(errors.first_ts)}).")
    if s == 429:
        return (f"The target rate-limited the test (HTTP 429 ×{n} on {where}): raise the limit for the test "
                "client or lower the load, otherwise the numbers measure the rate limiter.")
    if s in (401, 403):
        return (f"Authorization failed {n} times (HTTP {s} on {where}): check credentials and token extraction; "
                "tokens may expire during a long run.")
    if s == 404:
        return f"HTTP 404 ×{n} on {where}: the path or the test data points at something that does not exist."
    if 400 <= s < 500:
        return f"HTTP {s} ×{n} on {where}: the target rejected the requests as invalid; check bodies and test data."
    if 200 <= s < 400:
        return (f"{n} responses on {where} had status {s} but failed an expectation ({kind.error or 'check'}): "
                "inspect those response bodies; the server may answer with an error page or partial data.")
    return None


def _degradation(facts: Facts, obs: list[Finding], rec: list[Finding]) -> None:
    d = facts.degradation
    if d is not None and d.knee:
        obs.append(Finding("degradation", f"Latency rose with load: up to ~{fmt.load(d.load, d.unit)} "
                                          f"({fmt.rps(d.rps)}) p95 stayed around {fmt.ms(d.base_ms)}; beyond that "
                                          f"requests slowed down, to {fmt.ratio(d.factor)} their usual time at "
                                          f"{fmt.load(d.peak_load, d.unit)} (p95 {fmt.ms(d.peak_ms)})."))
        rec.append(Finding("degradation", f"Degradation began near {fmt.load(d.load, d.unit)} / {fmt.rps(d.rps)}: "
                                          "beyond it requests queue. Profile the target at that load (CPU, thread "
                                          "and connection pools, locks, database) and use `perforch capacity` to "
                                          "pin the breaking point."))
    elif d is not None:
        obs.append(Finding("degradation", f"Latency rose steadily with load, with no flat stretch first: requests "
                                          f"were {fmt.ratio(d.factor)} slower at {fmt.load(d.peak_load, d.unit)} than "
                                          f"at {fmt.load(d.load, d.unit)} (p95 {fmt.ms(d.base_ms)} → "
                                          f"{fmt.ms(d.peak_ms)})."))
        rec.append(Finding("degradation", "Latency grows with every added unit of load, from the lowest level on: "
                                          "look for a shared bottleneck (a lock, a single worker, a small pool)."))
    s = facts.saturation
    if s is not None:
        obs.append(Finding("saturation", f"Throughput stopped growing at {fmt.rps(s.rps)} from ~"
                                         f"{fmt.load(s.load, s.unit)}: the load rose to "
                                         f"{fmt.load(s.peak_load, s.unit)} (+{fmt.share(s.peak_load / s.load - 1)}) "
                                         f"while throughput went to {fmt.rps(s.peak_rps)} "
                                         f"({_signed_share(s.peak_rps / s.rps - 1)})."))
        rec.append(Finding("saturation", f"The system tops out near {fmt.rps(s.rps)}: more users only wait longer. "
                                         "Find the saturated resource (CPU, worker threads, database connections, "
                                         "network) and check the load generator's own CPU too."))


def _signed_share(x: float) -> str:
    return ("+" if x >= 0 else "−") + fmt.share(abs(x))


def _slowest(steps: pd.DataFrame, obs: list[Finding]) -> None:
    timed = steps[steps["p95"].notna()]
    if len(timed) < 2:
        return
    row = timed.loc[timed["p95"].idxmax()]
    median = float(np.median(timed["p95"]))
    factor = ""
    if median > 0 and row["p95"] / median >= 1.5:  # say how much it stands out, when it does
        factor = f", {fmt.ratio(row['p95'] / median)} the median step's p95 ({fmt.ms(median)})"
    obs.append(Finding("slowest", f"Slowest step: {_q(row['label'])} with p95 {fmt.ms(row['p95'])} and p99 "
                                  f"{fmt.ms(row['p99'])}{factor}."))


def _tails(steps: pd.DataFrame, obs: list[Finding], rec: list[Finding]) -> None:
    tails = []  # per step: the overall tail mixes fast and slow steps
    for row in steps.to_dict("records"):
        p50, p99 = row["p50"], row["p99"]
        # p99 must rest on MIN_TAIL_SAMPLES slower requests, or one slow request makes a "tail"
        if fmt.missing(p50) or fmt.missing(p99) or row["timed"] * 0.01 < MIN_TAIL_SAMPLES or p50 <= 0:
            continue
        if p99 / p50 >= TAIL_RATIO and p99 - p50 >= TAIL_MIN_MS:
            tails.append(row)
    tails.sort(key=lambda r: -r["p99"] / r["p50"])
    if len(tails) > MAX_TAILS:
        obs.append(Finding("tail", f"{len(tails)} steps have a long tail (p99 ≥ {TAIL_RATIO:g}× p50); the "
                                   f"{MAX_TAILS} longest follow."))
    for row in tails[:MAX_TAILS]:
        p50, p99, name = row["p50"], row["p99"], _q(row["label"])
        obs.append(Finding("tail", f"Long tail on {name}: p99 is {fmt.ratio(p99 / p50)} its p50 "
                                   f"({fmt.ms(p50)} → {fmt.ms(p99)}); one request in a hundred waits "
                                   f"{p99 / p50:.0f} times longer than the typical one."))
        rec.append(Finding("tail", f"Investigate the slow tail of {name}: compare its slowest requests with "
                                   "typical ones (time, payload, user); usual causes are GC pauses, pool or lock "
                                   "contention, cold caches and retries on a dependency."))


GENERATOR_BUSY_PCT = 90.0  # a load generator this busy (per core) limits the test itself


def target_name(target: str) -> str:
    """system.parquet names the system under test "sut" and load generators by their process."""
    return "the system under test" if target == "sut" else f"load generator {_q(target)}"


def _system(facts: Facts, obs: list[Finding], rec: list[Finding]) -> None:
    for t in facts.targets:
        name = target_name(t.target)
        text = (f"{name[0].upper()}{name[1:]}: CPU mean {t.cpu_mean_pct:.0f}%, peak {t.cpu_peak_pct:.0f}% "
                f"(100% = one core); memory {fmt.mib(t.mem_start_bytes)} at the start, peak "
                f"{fmt.mib(t.mem_peak_bytes)}, {fmt.mib(t.mem_end_bytes)} at the end.")
        obs.append(Finding("system", text))
        if t.target != "sut":
            if t.cpu_peak_pct >= GENERATOR_BUSY_PCT:
                rec.append(Finding("system", f"{name[0].upper()}{name[1:]} reached {t.cpu_peak_pct:.0f}% CPU: "
                                             "the generator itself may have limited the load and added latency. "
                                             "Spread the load over more workers (--workers) or machines."))
            continue
        if t.mem_start_bytes > 0 and t.mem_end_bytes >= t.mem_start_bytes * (1 + MEMORY_GROWTH) and t.seconds >= 10:
            growth = t.mem_end_bytes / t.mem_start_bytes - 1
            rec.append(Finding("system", f"Memory of the system under test grew {fmt.share(growth)} during the run "
                                         "and did not come back down: run a longer soak test to rule out a leak."))


def _data(facts: Facts, steps: pd.DataFrame, overall: pd.Series, obs: list[Finding], rec: list[Finding]) -> None:
    if facts.source == "aggregates":
        obs.append(Finding("data", "Only the tool's aggregates were available: percentiles are the tool's own "
                                   "figures, not recomputed by perforch, and there is no time series."))
    if facts.interrupted:
        planned = f" of the planned {fmt.seconds(facts.planned_duration_s)}" if facts.planned_duration_s else ""
        obs.append(Finding("data", f"The run was interrupted after {fmt.seconds(facts.duration_s)}{planned}: the "
                                   "figures cover only part of the test."))
    if facts.untimed:
        obs.append(Finding("data", f"{facts.untimed:,} requests have no response time: counted, not timed."))
    short = facts.source == "samples" and facts.duration_s < SHORT_RUN_S and not facts.interrupted
    if short:
        obs.append(Finding("data", f"The run lasted {fmt.seconds(facts.duration_s)}: too short to show steady-state "
                                   "behaviour (warm-up, garbage collection, cache and connection-pool churn)."))
    thin = []
    for slo in facts.slos:
        q = float(slo.metric[1:]) if slo.metric.startswith("p") and slo.observed is not None else None
        if q is None or q >= 100:
            continue
        row = facts.stats[facts.stats["label"] == (slo.step or OVERALL)]
        n = int(row.iloc[0]["timed"]) if len(row) else 0
        above = n * (1 - q / 100)
        if above < MIN_TAIL_SAMPLES:
            thin.append(f"{slo.rule} rests on {n:,} timed requests, only {above:.0f} above its p{q:g}")
    covered = any(s.step is None and s.metric.startswith("p") and s.observed is not None
                  and float(s.metric[1:]) >= 99 for s in facts.slos)
    if not covered and int(overall["timed"]) and int(overall["timed"]) * 0.01 < MIN_TAIL_SAMPLES:
        thin.append(f"p99 over all requests rests on {int(overall['timed']):,} requests, "
                    f"only {int(overall['timed']) * 0.01:.0f} above it")
    if thin:
        obs.append(Finding("data", "Too few samples for some percentiles: " + "; ".join(thin) + "."))
    if short or thin:
        over = f" over {len(steps)} step{'s' if len(steps) != 1 else ''}" if len(steps) else ""
        need = "at least 5 minutes at the target load" if short else "more requests"
        rec.append(Finding("data", f"Run longer before trusting these figures: {need}, and at least 1,000 requests "
                                   f"per step for a stable p99 (this run: {fmt.seconds(facts.duration_s)}, "
                                   f"{facts.requests:,} requests{over})."))
