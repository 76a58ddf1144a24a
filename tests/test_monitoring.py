"""The monitor's statistics on synthetic data with a known answer, its report, exit status and gauges."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from mlstarter import monitoring, predlog
from mlstarter.monitoring import ACT, STABLE, WATCH

from .test_predlog import app_logging_to
from .test_serving import write_demo_run


def test_psi_of_identical_samples_is_zero_and_of_two_draws_of_one_distribution_small():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=5000)
    assert monitoring.numeric_check("x", reference, reference).value == pytest.approx(0, abs=1e-12)
    same = monitoring.numeric_check("x", reference, rng.normal(size=2000))
    assert same.value < 0.02 and same.verdict == STABLE and same.p_value > 0.001


@pytest.mark.parametrize(("shift", "verdict"), [(0.15, STABLE), (0.45, WATCH), (1.0, ACT)])
def test_a_planted_shift_is_found_in_proportion_to_its_size(shift: float, verdict: str):
    # for two normals one standard deviation apart PSI (a symmetrised KL divergence) is shift², a little less binned
    rng = np.random.default_rng(1)
    check = monitoring.numeric_check("x", rng.normal(size=5000), rng.normal(shift, 1, size=5000))
    assert check.verdict == verdict and check.value == pytest.approx(shift**2, rel=0.35)
    assert check.p_value < 1e-4  # with 5,000 of each, even the harmless shift is "significant": why PSI decides
    assert len(check.bins) == len(check.expected) == len(check.actual) == 10


def test_a_number_with_few_values_gets_a_bin_per_value():
    check = monitoring.numeric_check("band", [1, 2, 2, 3, 3, 3, 4, 4, 4, 4] * 50, [4] * 300)
    assert len(check.bins) == 4 and check.actual == [0, 0, 0, 1.0] and check.verdict == ACT


def test_categories_rare_ones_share_a_bin_and_an_unseen_one_is_its_own():
    reference = {"a": 600, "b": 370, "c": 20, "d": 10}  # c and d: under 5% each
    same = monitoring.categorical_check("kind", reference, ["a"] * 60 + ["b"] * 37 + ["c"] * 3)
    assert same.bins == ["a", "b", "other (rare)"] and same.verdict == STABLE and same.value < 0.01
    new = monitoring.categorical_check("kind", reference, ["a"] * 50 + ["e"] * 50)
    assert new.bins[-1] == "e" and new.verdict == ACT and "'e' moved most: 50% of the traffic against 0%" in new.detail


def test_a_rate_against_the_expected_one():
    assert monitoring.rate_check("positive", 0.3, 30, 100).verdict == STABLE
    moved = monitoring.rate_check("positive", 0.3, 70, 100)
    assert moved.verdict == ACT and moved.p_value < 1e-6 and "70.0% of 100 predictions against 30.0%" in moved.detail


def test_too_few_predictions_are_never_act():
    act = monitoring.Check("x", "psi", 3.0, ACT, "moved")
    assert monitoring.verdict([act], predictions=monitoring.MIN_PREDICTIONS - 1) == STABLE
    assert monitoring.verdict([act], predictions=monitoring.MIN_PREDICTIONS) == ACT


def checks(run, log, args) -> list[monitoring.Check]:
    """A demo project's monitor: the logged x against the uniform 0..10 it was trained on."""
    return [monitoring.numeric_check("x", np.linspace(0, 10, 1001), log["input.x"])]


def test_monitor_writes_the_report_exits_3_at_act_and_serves_gauges(tmp_root: Path, capsys):
    write_demo_run()
    target = str(predlog.monitoring_dir("demo") / predlog.DATABASE)
    parser = monitoring.monitor_parser("demo", "doc")
    with TestClient(app_logging_to(target)) as client:
        assert "mlstarter_drift_verdict" not in client.get("/metrics").text  # no report yet
        for x in np.linspace(0, 10, 150):
            client.post("/predict", json={"x": float(x)})
        client.app.state.prediction_log.flush()
        assert monitoring.monitor_main("demo", checks, parser, []) == 0
        assert "150 predictions look like the training data in every check. Verdict: stable." in capsys.readouterr().out
        since = time.time()
        time.sleep(0.01)
        for _ in range(150):
            client.post("/predict", json={"x": 9.9})  # every request at the top of the range
        client.app.state.prediction_log.flush()
        assert monitoring.monitor_main("demo", checks, parser, ["--since", str(since)]) == 1  # not a date: an error
        assert "neither a date" in capsys.readouterr().err
        assert monitoring.monitor_main("demo", checks, parser, ["--since", "1m"]) == monitoring.ACT_EXIT_CODE
        assert "Verdict: act. x (median 9.9 against 5 in training" in capsys.readouterr().out
        metrics = client.get("/metrics").text
    assert re.search(r'^mlstarter_drift_verdict\{run_id="[^"]+"\} 2\.0$', metrics, re.MULTILINE)
    assert 'mlstarter_drift_statistic{check="x",statistic="psi"}' in metrics
    assert 'mlstarter_drift_p_value{check="x",test="KS"}' in metrics
    folder = predlog.report_dir("demo")
    report = (folder / "report.md").read_text()
    assert "| x | act | psi |" in report and "300 logged predictions" in report
    assert (folder / "plots" / "drift.png").stat().st_size > 5000
    assert predlog.latest_report("demo")["verdict"] == ACT


def test_monitor_without_a_log_says_how_to_get_one(tmp_root: Path, capsys):
    write_demo_run()
    parser = monitoring.monitor_parser("demo", "doc")
    assert monitoring.monitor_main("demo", checks, parser, []) == 1
    assert "no prediction log at" in capsys.readouterr().err


def test_replay_and_verdicts_read_one_batch_at_a_time(tmp_root: Path, monkeypatch):
    import mlstarter.paths

    run = write_demo_run()
    serve_module = argparse.Namespace(create_app=lambda run_id: app_logging_to("unused.db"))
    monkeypatch.setattr(mlstarter.paths, "import_script", lambda project, script: serve_module)
    target = str(tmp_root / "replay.db")
    calm = [{"path": "/predict", "json": {"x": float(x)}} for x in np.linspace(0, 10, 120)]
    high = [{"path": "/predict", "json": {"x": 9.5}}] * 120
    spans = monitoring.replay("demo", run, [calm, high], target)
    assert spans[0] == (1, 120) and spans[1] == (121, 240)
    reports = monitoring.verdicts("demo", run, checks, target, spans, argparse.Namespace())
    assert [r.verdict for r in reports] == [STABLE, ACT] and [r.predictions for r in reports] == [120, 120]
