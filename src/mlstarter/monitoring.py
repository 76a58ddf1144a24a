"""Drift monitoring: is what the served model sees now still like what it learned from?

    $ make monitor PROJECT=credit_risk [SINCE=7d]       # report from the prediction log; exit status 3 at "act"
    $ make simulate-drift PROJECT=credit_risk [PORT=8000]   # shifted traffic to a running server, to watch it work

Each project's `monitor.py` says what to compare (`checks(run, log, args)`: a list of `Check`), using the
statistics here, and its `simulate_drift.py` what shifted traffic looks like (`traffic(run, n, seed,
shifted)`). This module reads the prediction log (`mlstarter.predlog`), runs the checks, and writes the
report to `runs/<project>-monitoring/report/`: `report.md`, `report.json` (which `/metrics` turns into
Prometheus gauges) and a plot of every compared distribution.

The statistic is the one credit risk teams have used for decades, the Population Stability Index:

    PSI = sum over bins of (actual% - expected%) * ln(actual% / expected%)

with bins from the training data's quantiles: < 0.1 stable, 0.1-0.25 watch, > 0.25 act. PSI grows with
the size of the shift, not with the number of predictions, so a million requests do not make a tiny,
harmless shift look alarming, as a p-value would; the tests' p-values (Kolmogorov-Smirnov, chi-squared,
binomial) are reported beside it, for the reader who wants to know whether a shift could be chance.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import paths, predlog, runs

STABLE, WATCH, ACT = "stable", "watch", "act"
PSI_WATCH, PSI_ACT = 0.1, 0.25  # the credit industry's bands
MIN_PREDICTIONS = 100  # fewer logged predictions than this: too few to tell drift from chance
ACT_EXIT_CODE = 3  # `make monitor`'s exit status at "act", for a scheduled job to gate on (1 is an error)
EPSILON = 1e-4  # an empty bin counts as this share: PSI stays finite where one side has no examples


@dataclass
class Check:
    """One comparison of traffic with the training data: a statistic, its verdict and what it means."""

    name: str  # what was compared: "age", "P(default)", "text length"
    statistic: str  # "psi", "coverage", ...
    value: float | None  # the statistic's value (None: could not be computed, e.g. no data)
    verdict: str  # stable, watch or act
    detail: str  # one sentence a reader understands without knowing the statistic
    test: str | None = None  # the test beside it: "KS", "chi-squared", "binomial"
    p_value: float | None = None
    bins: list[str] = field(default_factory=list)  # for the plot: the bins' names,
    expected: list[float] = field(default_factory=list)  # the training data's share in each
    actual: list[float] = field(default_factory=list)  # and the traffic's


def psi_verdict(psi: float) -> str:
    return STABLE if psi < PSI_WATCH else WATCH if psi <= PSI_ACT else ACT


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population Stability Index of two distributions over the same bins (counts or shares)."""
    e, a = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    e = np.clip(e / e.sum(), EPSILON, None)
    a = np.clip(a / a.sum(), EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric_check(
    name: str, reference: Sequence[float], values: Sequence[float], bins: int = 10, against: str = "in training"
) -> Check:
    """Compare the traffic's `values` with the training data's `reference` sample: PSI over the reference's
    deciles (fewer bins where values repeat, e.g. a number of years in bands) and the two-sample KS test.
    `against` names the reference in the check's sentence (e.g. "in the validation texts")."""
    from scipy import stats

    ref = np.asarray(reference, dtype=float)
    got = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(got) == 0 or len(ref) == 0:
        return Check(name, "psi", None, STABLE, f"no {name} to compare")
    edges = bin_edges(ref, bins)
    expected = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, got, side="right"), minlength=len(edges) + 1)
    value = psi(expected, actual)
    n = _number
    labels = [f"< {n(edges[0])}"] if len(edges) else ["all"]
    labels += [f"{n(lo)} to {n(hi)}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    labels += [f">= {n(edges[-1])}"] if len(edges) else []
    p_value = float(stats.ks_2samp(ref, got).pvalue)
    median_ref, median_got = float(np.median(ref)), float(np.median(got))
    return Check(
        name, "psi", value, psi_verdict(value),
        f"median {_number(median_got)} against {_number(median_ref)} {against}; PSI {value:.3f}",
        "KS", p_value, labels, _shares(expected), _shares(actual),
    )  # fmt: skip


def bin_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Edges that cut the reference into `bins` bins of about equal share, none of them empty: at its deciles,
    or, for a number with few values (a count, a band), halfway between its values, one bin per value."""
    values = np.unique(reference)
    if len(values) == 1:  # one value only: traffic below it, at it, and above it
        return np.array([values[0], np.nextafter(values[0], np.inf)])
    if len(values) <= bins:
        return (values[:-1] + values[1:]) / 2
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf"))
    counts = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    return edges[counts[1:] > 0] if counts[0] > 0 else edges[1:]  # drop an edge that leaves a bin empty


def categorical_check(name: str, reference: dict[str, float], values: Sequence[Any]) -> Check:
    """Compare the traffic's categories with the training data's counts: PSI and the chi-squared test.
    Categories under RARE of the training data share one bin, as PSI's practice is (a rare category that a
    sample happens to miss would otherwise look like drift); one training never saw is a bin of its own."""
    from scipy import stats

    seen = value_counts(values)
    if not seen:
        return Check(name, "psi", None, STABLE, f"no {name} to compare")
    total = sum(reference.values())
    common = [c for c, count in reference.items() if count >= RARE * total]
    rare = [c for c in reference if c not in common]
    names = common + (["other (rare)"] if rare else []) + sorted(set(seen) - set(reference))

    def count(counts: dict[str, float], bin_name: str) -> float:
        return sum(counts.get(c, 0) for c in rare) if bin_name == "other (rare)" else counts.get(bin_name, 0)

    expected = np.array([count(reference, n) for n in names], dtype=float)
    actual = np.array([count(seen, n) for n in names], dtype=float)
    value = psi(expected, actual)
    share = np.clip(expected / expected.sum(), EPSILON, None)
    counts_expected = share / share.sum() * actual.sum()
    # chi-squared holds when every bin expects 5 or more (Cochran's rule): not with a category training never saw
    valid = len(names) > 1 and counts_expected.min() >= 5
    p_value = float(stats.chisquare(actual, counts_expected).pvalue) if valid else None
    moved = int(np.argmax(np.abs(actual / actual.sum() - expected / expected.sum())))
    return Check(
        name, "psi", value, psi_verdict(value),
        f"{names[moved]!r} moved most: {actual[moved] / actual.sum():.0%} of the traffic against "
        f"{expected[moved] / expected.sum():.0%} in training; PSI {value:.3f}",
        "chi-squared", p_value, names, _shares(expected), _shares(actual),
    )  # fmt: skip


RARE = 0.05  # a category under this share of the training data joins the "other (rare)" bin


def value_counts(values: Sequence[Any]) -> dict[str, int]:
    """How often each value occurs, as text."""
    counts: dict[str, int] = {}
    for v in values:
        counts[str(v)] = counts.get(str(v), 0) + 1
    return counts


def rate_check(name: str, expected_rate: float, successes: int, n: int) -> Check:
    """A share (e.g. of positive predictions) against the training data's: PSI over its two outcomes and
    the binomial test."""
    from scipy import stats

    if n == 0:
        return Check(name, "psi", None, STABLE, f"no {name} to compare")
    expected = [1 - expected_rate, expected_rate]
    actual = [n - successes, successes]
    value = psi(expected, actual)
    p_value = float(stats.binomtest(successes, n, min(max(expected_rate, EPSILON), 1 - EPSILON)).pvalue)
    return Check(
        name, "psi", value, psi_verdict(value),
        f"{successes / n:.1%} of {n:,} predictions against {expected_rate:.1%} expected; PSI {value:.3f}",
        "binomial", p_value, ["no", "yes"], _shares(expected), _shares(actual),
    )  # fmt: skip


def _number(x: float) -> str:
    """1,234 for large numbers, 0.123 for small ones (never 1.23e+03)."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _shares(counts: Sequence[float]) -> list[float]:
    total = float(np.sum(counts))
    return [round(float(c) / total, 4) if total else 0.0 for c in counts]


def verdict(checks: Sequence[Check], predictions: int, min_predictions: int = MIN_PREDICTIONS) -> str:
    """The report's verdict: the worst of its checks', or stable while there are too few predictions to tell."""
    if predictions < min_predictions:
        return STABLE
    order = [STABLE, WATCH, ACT]
    return max((c.verdict for c in checks), key=order.index, default=STABLE)


@dataclass
class Report:
    project: str
    run_id: str
    predictions: int
    since: float | None
    checks: list[Check]
    verdict: str
    time: float
    notes: list[str] = field(default_factory=list)  # sentences of the project's own (e.g. coverage needs prices)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "checks": [asdict(c) for c in self.checks]}


def summary(report: Report, min_predictions: int = MIN_PREDICTIONS) -> str:
    """The report's verdict in words."""
    if report.predictions < min_predictions:
        return (
            f"{report.predictions} logged predictions: too few to tell drift from chance (at least "
            f"{min_predictions}). Verdict: stable, for now."
        )
    worst = [c for c in report.checks if c.verdict == report.verdict and report.verdict != STABLE]
    if not worst:
        return f"{report.predictions:,} predictions look like the training data in every check. Verdict: stable."
    what = "; ".join(f"{c.name} ({c.detail})" for c in worst[:4])
    advice = (
        "look into it before the model's answers are trusted: see the guide's monitoring section"
        if report.verdict == ACT
        else "keep an eye on it"
    )
    return f"Verdict: {report.verdict}. {what}. {advice[0].upper() + advice[1:]}."


def write_report(report: Report, out: Path) -> Path:
    """report.md, report.json and plots/drift.png (every compared distribution, training against traffic)."""
    out.mkdir(parents=True, exist_ok=True)
    plotted = [c for c in report.checks if c.bins]
    if plotted:
        _plot(plotted, out / "plots" / "drift.png")
    when = dt.datetime.fromtimestamp(report.time, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    since = (
        dt.datetime.fromtimestamp(report.since, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        if report.since
        else "the start of the log"
    )
    lines = [
        f"# Drift report: {report.project}, run {report.run_id}",
        "",
        f"{when}; {report.predictions:,} logged predictions since {since}.",
        "",
        f"**{summary(report)}**",
        "",
        "PSI bands: < 0.1 stable, 0.1 to 0.25 watch, > 0.25 act. A p-value says whether a difference could "
        "be chance; with many predictions even a harmless difference has a small one, so the verdict follows PSI.",
        "",
        "| check | verdict | statistic | value | test | p-value | what it means |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in report.checks:
        value = "n/a" if c.value is None else f"{c.value:.3f}"
        p = "" if c.p_value is None else (f"{c.p_value:.2g}" if c.p_value >= 1e-4 else "< 0.0001")
        lines.append(f"| {c.name} | {c.verdict} | {c.statistic} | {value} | {c.test or ''} | {p} | {c.detail} |")
    lines += ["", *report.notes] if report.notes else []
    if plotted:
        lines += ["", "![training data against traffic](plots/drift.png)"]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    runs.write_json(out / "report.json", report.to_dict())
    return out / "report.md"


def _plot(checks: Sequence[Check], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(checks))
    rows = math.ceil(len(checks) / columns)
    with matplotlib.rc_context():
        fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.2 * rows), squeeze=False)
        for ax, c in zip(axes.flat, checks, strict=False):
            x = np.arange(len(c.bins))
            ax.bar(x - 0.2, c.expected, 0.4, label="training", color="#4C72B0")
            ax.bar(x + 0.2, c.actual, 0.4, label="traffic", color="#DD8452")
            ax.set_xticks(x, [b if len(b) <= 14 else b[:13] + "…" for b in c.bins], rotation=45, ha="right",
                          fontsize=7)  # fmt: skip
            value = "" if c.value is None else f" · {c.statistic.upper()} {c.value:.2f}"
            ax.set_title(f"{c.name}{value} · {c.verdict}", fontsize=9)
            ax.set_ylabel("share")
        for ax in list(axes.flat)[len(checks) :]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=8, loc="upper left")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)


ChecksFunction = Callable[[runs.Run, Any, argparse.Namespace], "list[Check] | tuple[list[Check], list[str]]"]


def monitor_parser(project: str, doc: str | None) -> argparse.ArgumentParser:
    """The options of every project's `monitor.py` (add the project's own before `parse_args`)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m projects.{project}.monitor",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--run", default=None, help="the run whose logged traffic to compare (default: the run that "
                        "answered the newest logged request)")  # fmt: skip
    parser.add_argument("--since", default=None, help="only predictions since: 2026-11-30, 2026-11-30T12:00, 24h, 7d")
    parser.add_argument("--log-db", default=None, help="the prediction log, if not the default file (a path or URL)")
    parser.add_argument("--out", type=Path, default=None, help="where to write the report (default: runs/<project>-monitoring/report/)")  # fmt: skip
    return parser


def monitor(project: str, checks: ChecksFunction, args: argparse.Namespace) -> Report:
    """Read the log, run the project's checks, write the report; return it."""
    since = predlog.parse_since(args.since)
    everything = predlog.read(args.log_db or predlog.default_target(project), project, since)
    # by default, the run that answered the newest logged request (the one serving now, even if a newer run was
    # trained or promoted since the server started); else the run `make serve` would serve
    run_id = args.run or (everything["run_id"].iloc[-1] if len(everything) else None)
    run = runs.served_run(project, run_id)
    log = everything[everything["run_id"] == run.run_id].reset_index(drop=True)
    found = checks(run, log, args) if len(log) else []
    found, notes = found if isinstance(found, tuple) else (found, [])
    others = everything.loc[everything["run_id"] != run.run_id, "run_id"].value_counts()
    if len(others):
        notes = [*notes, "Not compared: " + ", ".join(f"{n:,} predictions of run {r}" for r, n in others.items())
                 + " (--run names the run to compare)."]  # fmt: skip
    report = Report(project, run.run_id, len(log), since, found, verdict(found, len(log)), time.time(), notes)
    write_report(report, args.out or predlog.report_dir(project))
    return report


def monitor_main(project: str, checks: ChecksFunction, parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """What every project's `python -m projects.<name>.monitor` runs: the report, its summary, and the exit
    status a scheduled job gates on (0 stable or watch, 3 act, 1 an error)."""
    from .scripts import USER_ERRORS

    args = parser.parse_args(argv)
    try:
        report = monitor(project, checks, args)
    except (*USER_ERRORS, predlog.LogError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out = args.out or predlog.report_dir(project)
    print(f"{summary(report)}\nReport: {paths.shown(out / 'report.md')}")
    return ACT_EXIT_CODE if report.verdict == ACT else 0


Request = dict[str, Any]  # as serve.example_requests(): "path", and "json" or "files" (and "params")
TrafficFunction = Callable[[runs.Run, int, int, bool], list[Request]]


def simulate_main(project: str, traffic: TrafficFunction, argv: list[str] | None, doc: str | None) -> int:
    """What every project's `python -m projects.<name>.simulate_drift` runs: send `n` requests, shifted
    (or with --unshifted, drawn from the test data as they are) to the server at --host:--port."""
    import httpx2 as httpx

    from .scripts import USER_ERRORS

    parser = argparse.ArgumentParser(
        prog=f"python -m projects.{project}.simulate_drift",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--n", type=int, default=500, help="requests to send (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--unshifted", action="store_true", help="send the test data as it is: no drift to find")
    args = parser.parse_args(argv)
    base = f"http://{args.host}:{args.port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            try:
                served = client.get("/metadata").json()
            except httpx.HTTPError as error:
                print(f"error: no server at {base} ({error}). Start one first: make serve PROJECT={project}",
                      file=sys.stderr)  # fmt: skip
                return 1
            if served.get("project") != project:
                print(f"error: the server at {base} serves {served.get('project')!r}, not {project}", file=sys.stderr)
                return 1
            if not served.get("prediction_log", {}).get("on"):
                print("warning: that server does not log predictions (--no-log): make monitor will have nothing "
                      "to read", file=sys.stderr)  # fmt: skip
            run = runs.latest_run(project, served["run_id"])
            requests = traffic(run, args.n, args.seed, not args.unshifted)
            statuses = send(client, requests)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    kind = "unshifted" if args.unshifted else "shifted"
    counts = ", ".join(f"{n} answered {s}" for s, n in sorted(statuses.items()))
    print(f"Sent {len(requests)} {kind} requests to {base} ({counts}). Now: make monitor PROJECT={project}")
    return 0 if set(statuses) <= {200} else 1


def send(client: Any, requests: Sequence[Request]) -> dict[int, int]:
    """Send each request with `client` (httpx, or FastAPI's TestClient); return how many got each status."""
    statuses: dict[int, int] = {}
    for r in requests:
        answer = client.request(
            r.get("method", "POST"), r["path"], json=r.get("json"), files=r.get("files"), params=r.get("params")
        )
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    return statuses


def replay(project: str, run: runs.Run, batches: Sequence[Sequence[Request]], target: str) -> list[tuple[int, int]]:
    """Send each batch of requests to `run` served in this process, logging to `target`; return each batch's
    (first, last) log row ids, so the monitor can read one batch at a time (tests and `make bench-monitor`)."""
    from fastapi.testclient import TestClient

    from . import serving

    app = paths.import_script(project, "serve").create_app(run.run_id)
    serving.enable_log(app, target)
    spans = []
    with TestClient(app) as client:
        log = app.state.prediction_log
        for batch in batches:
            log.flush()
            first = _last_id(log.engine) + 1
            statuses = send(client, batch)
            log.flush()
            if set(statuses) != {200}:
                raise RuntimeError(f"replayed traffic was refused: {statuses}")
            spans.append((first, _last_id(log.engine)))
    return spans


def _last_id(engine: Any) -> int:
    import sqlalchemy as sa

    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.max(predlog.TABLE.c.id))).scalar() or 0


def verdicts(
    project: str, run: runs.Run, checks: ChecksFunction, target: str, spans: Sequence[tuple[int, int]],
    args: argparse.Namespace,
) -> list[Report]:  # fmt: skip
    """The report on each span of log rows that `replay` returned."""
    log = predlog.read(target, project, run_id=run.run_id)
    reports = []
    for first, last in spans:
        part = log[(log["id"] >= first) & (log["id"] <= last)].reset_index(drop=True)
        found = checks(run, part, args)
        found, notes = found if isinstance(found, tuple) else (found, [])
        reports.append(
            Report(project, run.run_id, len(part), None, found, verdict(found, len(part)), time.time(), notes)
        )
    return reports


def bench_monitor(project: str, run_id: str | None = None, repeats: int = 20, n: int = 500) -> int:
    """`make bench-monitor PROJECT=x`: how often the monitor says "act" on unshifted traffic (`repeats` samples
    of `n` requests from the test data: false alarms) and on shifted traffic (the same number: detections);
    results in bench/results/<project>-monitoring.{json,md}."""
    import tempfile

    from . import bench, machine

    module = paths.import_script(project, "monitor")
    traffic = paths.import_script(project, "simulate_drift").traffic
    run = runs.served_run(project, run_id)
    args = module.parser().parse_args([])
    print(f"Monitoring benchmark of {project} run {run.run_id}: {repeats} unshifted and {repeats} shifted samples "
          f"of {n} requests")  # fmt: skip
    start = time.perf_counter()
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        target = str(Path(folder) / predlog.DATABASE)
        for kind, shifted in (("unshifted", False), ("shifted", True)):
            batches = [traffic(run, n, seed, shifted) for seed in range(repeats)]
            reports = verdicts(project, run, module.checks, target, replay(project, run, batches, target), args)
            counts = {v: sum(r.verdict == v for r in reports) for v in (STABLE, WATCH, ACT)}
            worst = [max(r.checks, key=lambda c: -1 if c.value is None else c.value).name for r in reports]
            found[kind] = {
                **counts,
                "act_rate": counts[ACT] / repeats,
                "largest_check": max(set(worst), key=worst.count),
            }
            print(f"  {kind}: act {counts[ACT]}/{repeats}, watch {counts[WATCH]}, stable {counts[STABLE]}")
    results = {
        "project": project, "run_id": run.run_id, "repeats": repeats, "requests_per_sample": n,
        "machine": machine.describe(), "date": dt.date.today().isoformat(),
        "seconds": round(time.perf_counter() - start, 1), **found,
    }  # fmt: skip
    out = paths.repo_root() / "bench" / "results" / f"{project}-monitoring.json"
    runs.write_json(out, results)
    markdown = bench_markdown(results)
    runs.write_text(out.with_suffix(".md"), markdown + "\n")
    bench._replace_block(paths.projects_dir() / project / "README.md", markdown, MARKERS[0], MARKERS[1])
    print(f"False alarms (act on unshifted traffic): {found['unshifted']['act_rate']:.0%}; shifted traffic flagged "
          f"act: {found['shifted']['act_rate']:.0%}. Results: {paths.shown(out)}")  # fmt: skip
    return 0


MARKERS = ("<!-- bench:monitoring:start -->", "<!-- bench:monitoring:end -->")  # in a guide: what bench-monitor writes


def bench_markdown(results: dict[str, Any]) -> str:
    """The monitoring benchmark in a sentence and a table, for the guide."""
    from . import machine

    m = results["machine"]
    rows = [
        f"| {kind} | {results[kind][ACT]} | {results[kind][WATCH]} | {results[kind][STABLE]} | "
        f"{results[kind]['largest_check']} |"
        for kind in ("unshifted", "shifted")
    ]
    return (
        f"Measured by `make bench-monitor PROJECT={results['project']}` on {machine.line(m)}; "
        f"run {results['run_id']}, {results['repeats']} samples of {results['requests_per_sample']} "
        f"requests of each kind, replayed through the app with the log on ({results['seconds']:.0f} s in all). "
        f'**False alarms: "act" on {results["unshifted"]["act_rate"]:.0%} of the unshifted samples; the shift '
        f'was flagged "act" in {results["shifted"]["act_rate"]:.0%} of the shifted ones.**\n\n'
        "| traffic | act | watch | stable | largest PSI most often in |\n|---|---|---|---|---|\n" + "\n".join(rows)
    )
