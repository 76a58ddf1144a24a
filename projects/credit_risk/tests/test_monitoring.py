"""Monitoring the served credit model: what is logged, and the simulate -> monitor flow (make simulate-drift,
make monitor) finding the shift it should and staying quiet on unshifted traffic."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter import monitoring, predlog, runs, serving

from .. import data, monitor, serve, simulate_drift


@pytest.fixture
def run(trained: dict[str, runs.Run], monkeypatch: pytest.MonkeyPatch) -> runs.Run:
    """The shared logistic model, in the runs folder the app and the monitor look in."""
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(trained["logistic"].path.parents[1]))
    return trained["logistic"]


def test_every_attribute_is_logged_the_sensitive_ones_too(run: runs.Run, tmp_path: Path):
    target = str(tmp_path / predlog.DATABASE)
    app = serve.create_app(run.run_id)
    serving.enable_log(app, target)
    with TestClient(app) as client:
        answer = client.post("/predict", json=serve.EXAMPLE).json()
        client.post("/predict/batch", json={"applicants": [serve.EXAMPLE] * 3})
    log = predlog.read(target, serve.PROJECT)  # closing the app wrote what was queued
    assert len(log) == 4 and set(log["route"]) == {"/predict", "/predict/batch"}
    row = log.iloc[0]
    assert {f"input.{c}" for c in data.FEATURES} <= set(log.columns)  # age, personal_status_sex, foreign_worker too
    assert row["input.age"] == serve.EXAMPLE["age"] and row["input.foreign_worker"] == serve.EXAMPLE["foreign_worker"]
    assert row["output.probability_of_default"] == answer["probability_of_default"]
    assert row["output.decision"] == answer["decision"] and row["run_id"] == run.run_id


def test_shifted_traffic_is_act_and_unshifted_is_not(run: runs.Run, tmp_path: Path):
    target = str(tmp_path / predlog.DATABASE)
    batches = [simulate_drift.traffic(run, 300, seed, shifted=False) for seed in range(3)]
    batches.append(simulate_drift.traffic(run, 300, 0, shifted=True))
    spans = monitoring.replay(serve.PROJECT, run, batches, target)
    reports = monitoring.verdicts(serve.PROJECT, run, monitor.checks, target, spans, monitor.parser().parse_args([]))
    assert [r.verdict != monitoring.ACT for r in reports[:3]] == [True] * 3
    acted = {c.name for c in reports[3].checks if c.verdict == monitoring.ACT}
    assert {"age", "credit_amount"} <= acted and "telephone" not in acted  # what moved, and only that


def test_fairness_drift_the_approval_rate_of_a_group_moves(run: runs.Run, tmp_path: Path):
    target = str(tmp_path / predlog.DATABASE)
    spans = monitoring.replay(serve.PROJECT, run, [simulate_drift.traffic(run, 300, 1, shifted=False)], target)
    log = predlog.read(target, serve.PROJECT)
    log = log[(log["id"] >= spans[0][0]) & (log["id"] <= spans[0][1])].reset_index(drop=True)
    young = log["input.age"] < 25
    log.loc[young, "output.decision"] = "reject"  # a policy change that turns every applicant under 25 away
    found = {c.name: c for c in monitor.checks(run, log, argparse.Namespace())}
    assert found["approved, age_group under 25"].verdict == monitoring.ACT
    assert found["approved, age_group 25 and over"].verdict == monitoring.STABLE
    assert "0.0% of" in found["approved, age_group under 25"].detail
