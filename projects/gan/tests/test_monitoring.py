"""Monitoring: each request is logged as its query and the judge's reading (never the images), the monitor's own
statistics give known answers on synthetic logs, and simulated traffic is flagged when shifted, not when not."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mlstarter import monitoring, paths, predlog, serving

from .. import monitor, serve, simulate_drift

NO_ARGS = argparse.Namespace()


def test_a_request_is_logged_as_its_query_and_the_judges_reading_not_its_pixels(tmp_path: Path, trained_once):
    run = trained_once("--dry-run")
    app = serve.create_app(run.run_id)
    target = str(tmp_path / "p.db")
    serving.enable_log(app, target)
    with TestClient(app) as client:
        body = client.get("/generate?n=4&seed=3&class=7&format=json").json()
        assert client.get("/generate?n=3&seed=5").status_code == 200  # a PNG grid, every class in turn
        assert client.get("/generate?n=0").status_code == 422  # refused: nothing served, nothing logged
    log = predlog.read(target, serve.PROJECT)
    assert len(log) == 2 and set(log["route"]) == {"/generate"} and set(log["run_id"]) == {run.run_id}
    first, second = log.iloc[0], log.iloc[1]
    assert (first["input.class"], first["input.seed"], first["input.n"], first["input.format"]) == (7, 3, 4, "json")
    assert pd.isna(second["input.class"]) and second["input.format"] == "png"
    # the judge's mean probability of class 7 over the four images served, and how many it reads as a 7
    probs = serve.ImageGenerator(run).read(np.array(body["images"], dtype=np.uint8))
    assert first["output.confidences"] == pytest.approx(probs[:, 7], abs=1e-4)
    assert first["output.confidence"] == pytest.approx(probs[:, 7].mean(), abs=1e-4)
    assert first["output.recognised"] == (probs.argmax(1) == 7).sum()
    assert ("class_not_recognised" in first["warnings"]) == (first["output.recognised"] < 4)
    assert len(second["output.confidences"]) == 3 and 0 <= second["output.recognised"] <= 3
    # never the pixels: the row holds the query and the judge's reading
    assert {c for c in log.columns if c.startswith(("input.", "output."))} == {
        "input.class", "input.seed", "input.n", "input.format", "input.scale",
        "output.confidence", "output.recognised", "output.confidences",
    }  # fmt: skip


# Synthetic reference of a conditional model with two classes: the judge is sure of class 0, unsure of class 1.
RNG = np.random.default_rng(0)
CONFIDENCE = [RNG.uniform(0.9, 1.0, 200).round(4).tolist(), RNG.uniform(0.3, 0.6, 200).round(4).tolist()]
REFERENCE = {
    "class_counts": {"train": [100, 100]},
    "judge_confidence_generated": CONFIDENCE,
    "judge_accuracy_generated": {"overall": 0.6, "by_class": [1.0, 0.2]},
}
RUN = SimpleNamespace(run_id="synthetic", reference=REFERENCE, config={"model": {"conditional": True}})


def synthetic_log(requests: int, seed: int, only_class: int | None = None, same_seed: bool = False) -> pd.DataFrame:
    """Logged requests as the server writes them: 1 to 16 images of a class (or every class in turn, a quarter
    of them), each image's confidence drawn from the reference's distribution for its class."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(requests):
        n = int(rng.integers(1, 17))
        wanted = only_class if only_class is not None else (None if rng.random() < 0.25 else int(rng.integers(2)))
        classes = np.arange(n) % 2 if wanted is None else np.full(n, wanted)
        confidence = np.where(classes == 0, rng.uniform(0.9, 1.0, n), rng.uniform(0.3, 0.6, n))
        recognised = int(((classes == 0) | (rng.random(n) < 0.2)).sum())  # class 0 always, class 1 a fifth
        rows.append({"input.class": wanted, "input.seed": 0 if same_seed else int(rng.integers(2**32)), "input.n": n,
                     "output.confidence": confidence.mean(), "output.recognised": recognised,
                     "output.confidences": confidence.round(4).tolist()})  # fmt: skip
    return pd.DataFrame(rows)


def by_name(found: list[monitoring.Check]) -> dict[str, monitoring.Check]:
    return {c.name: c for c in found}


def test_traffic_like_the_reference_is_stable_in_every_check():
    found, notes = monitor.checks(RUN, synthetic_log(500, seed=1), NO_ARGS)
    assert all(c.verdict == "stable" for c in found), [(c.name, c.value) for c in found]
    assert notes == ["Seeds: 500 requests used 500 distinct seeds (none twice)."]


def test_the_judges_confidence_is_compared_image_by_image():
    log = synthetic_log(500, seed=2)
    image_by_image = by_name(monitor.checks(RUN, log, NO_ARGS)[0])["judge's confidence in the class asked for"]
    assert image_by_image.value < 0.1
    # each request's mean against the reference's images would look like drift: a mean of 16 varies far less
    per_image = np.concatenate(CONFIDENCE)
    assert monitoring.numeric_check("means", per_image, log["output.confidence"]).verdict == "act"


def test_one_class_only_moves_the_class_mix_and_the_judges_confidence():
    found = by_name(monitor.checks(RUN, synthetic_log(500, seed=3, only_class=1), NO_ARGS)[0])
    assert found["class of the served images"].verdict == "act"
    assert found["judge's confidence in the class asked for"].verdict == "act"
    assert found["images recognised as the class asked for"].verdict == "act"  # 20% against 60%
    assert found["requests repeating an earlier seed"].verdict == "stable"


def test_a_client_that_never_sets_the_seed_is_flagged():
    found, notes = monitor.checks(RUN, synthetic_log(200, seed=4, same_seed=True), NO_ARGS)
    repeats = by_name(found)["requests repeating an earlier seed"]
    assert repeats.verdict == "act" and repeats.detail.startswith("99.5% of 200")  # all but the first repeat it
    assert notes == ["Seeds: 200 requests used 1 distinct seed (the most asked, 0, 200 times)."]


def test_an_unconditional_model_is_monitored_by_the_judges_confidence_in_any_class_and_its_seeds():
    run = SimpleNamespace(run_id="u", reference={"class_counts": {"train": [100, 100]},
                                                 "judge_confidence_generated": [CONFIDENCE[0] + CONFIDENCE[1]]},
                          config={"model": {"conditional": False}})  # fmt: skip
    log = synthetic_log(300, seed=6).assign(**{"input.class": None, "output.recognised": None})
    log["output.confidences"] = [list(RNG.choice(run.reference["judge_confidence_generated"][0], n))
                                 for n in log["input.n"]]  # fmt: skip
    found = by_name(monitor.checks(run, log, NO_ARGS)[0])
    assert set(found) == {"judge's confidence in any class", "requests repeating an earlier seed"}
    assert all(c.verdict == "stable" for c in found.values())


def test_served_classes_cycle_when_no_class_is_asked():
    assert monitor.served_classes(np.array([np.nan, 3.0]), np.array([3, 2]), 10) == [0, 1, 2, 3, 3]


def test_a_run_without_the_judges_confidences_is_refused():
    old = SimpleNamespace(run_id="old", reference={"class_counts": {"train": [1, 1]}}, config=RUN.config)
    with pytest.raises(paths.ProjectError, match="train a new run"):
        monitor.checks(old, synthetic_log(10, seed=5), NO_ARGS)


@pytest.mark.slow
def test_simulated_shift_is_flagged_and_unshifted_traffic_is_not(tmp_path: Path, trained_once):
    run = trained_once("--dry-run")
    target = str(tmp_path / "p.db")
    unshifted = [simulate_drift.traffic(run, 200, seed, shifted=False) for seed in range(3)]
    shifted = [simulate_drift.traffic(run, 200, 0, shifted=True)]
    weakest = simulate_drift.weakest_class(run)
    assert {r["params"]["class"] for r in shifted[0]} == {weakest}
    spans = monitoring.replay(serve.PROJECT, run, unshifted + shifted, target)
    reports = monitoring.verdicts(serve.PROJECT, run, monitor.checks, target, spans, monitor.parser().parse_args([]))
    assert [r.predictions for r in reports] == [200] * 4
    for report in reports[:3]:
        assert report.verdict != "act", [(c.name, c.value) for c in report.checks]
    assert reports[3].verdict == "act"
    assert by_name(reports[3].checks)["class of the served images"].verdict == "act"
    assert json.dumps(reports[3].to_dict())  # what report.json and /metrics read
