"""Monitoring: what the prediction log keeps of an upload (numbers, never the image), and the simulate -> monitor
flow on real X-rays: X-rays from a "new scanner" are flagged, the test X-rays as they are are not."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from mlstarter import monitoring, paths, predlog, runs, serving

from .. import data, model, monitor, serve, simulate_drift

N = 200  # uploads per sample of the test X-rays as they are: enough for chance to stay well below "act"
N_SHIFTED = 100  # the least the monitor judges: the shifts are large enough to be found in 100 uploads


@pytest.fixture(scope="module")
def run(sample_npz: Path, trained_once):
    """One epoch on the real sample: its reference holds 2,000 training images' statistics and 270 validation
    images' scores, as a full run's does (a --dry-run's 128 and 64 are too few: their deciles alone look like
    drift). The test X-rays' answers are saved as evaluate.py saves them (without its plots and intervals)."""
    run = trained_once("--data", str(sample_npz), "--set", "train.epochs=1", "--set", "model.channels=16,32,64")
    X_test, _ = data.read_npz(sample_npz)["test"]
    trained = model.load(run)
    p_test, _ = trained.predict(X_test)
    runs.write_json(run.path / monitor.TEST_ANSWERS, monitor.answers_reference(p_test, trained.threshold))
    return run


def png(pixels: np.ndarray, mode: str | None = None) -> bytes:
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    (image.convert(mode) if mode else image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_log_keeps_summary_numbers_of_the_upload_and_never_its_pixels(run, sample_npz: Path, tmp_path: Path):
    X_test, _ = data.read_npz(sample_npz)["test"]
    content = png(np.array(Image.fromarray(X_test[0]).resize((300, 200))), mode="RGB")  # a wide colour image
    app = serve.create_app(run.run_id)
    serving.enable_log(app, str(tmp_path / "p.db"))
    with TestClient(app) as client:
        answer = client.post("/predict", files={"file": ("xray.png", content, "image/png")}).json()
    row = predlog.read(str(tmp_path / "p.db"), serve.PROJECT).iloc[0]
    # the image as the model saw it: converted, centre-cropped to 200x200 and shrunk to 28x28
    pixels = serve.to_training_format(Image.open(io.BytesIO(content)), 28)
    logged = row.filter(like="input.").rename(lambda c: c.removeprefix("input.")).to_dict()
    assert logged == {
        "width": 300, "height": 200, "aspect": 1.5, "resized": True, "converted": True,
        "mean": pytest.approx(pixels.mean(), abs=0.01), "std": pytest.approx(pixels.std(), abs=0.01),
    }  # fmt: skip
    assert row["output.probability_pneumonia"] == answer["probability_pneumonia"]
    assert row["output.label"] == answer["label"] and row["output.ood_score"] == answer["ood_score"]
    assert set(row["warnings"]) == {w["code"] for w in answer["warnings"]} >= {"resized", "converted"}
    # health data: neither the uploaded file nor the pixels the model saw are in the database files
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("p.db*"))
    assert content[100:140] not in stored and pixels.tobytes()[300:340] not in stored


def test_upload_sizes_and_shapes_fall_in_the_bands_the_model_feels():
    assert monitor.size_band(28, 28, 28) == "28" and monitor.size_band(28, 40, 28) == "28"  # cropped, not resized
    assert monitor.size_band(1024, 900, 28) == "over 28" and monitor.size_band(20, 40, 28) == "under 28"
    assert monitor.shape(1.03) == "square" and monitor.shape(0.8) == "taller" and monitor.shape(300 / 200) == "wider"


@pytest.fixture(scope="module")
def reports(run, sample_npz: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, monitoring.Report]:
    """Four samples of uploads served and monitored: two of test X-rays as they are, one from the new scanner, and
    one with the new scanner's exposure alone, at the training size."""
    X_test, _ = data.read_npz(sample_npz)["test"]
    rng = np.random.default_rng(7)
    exposure_only = [
        simulate_drift.png_upload(Image.fromarray(simulate_drift.exposure(X_test[i])), f"xray-{i}.png")
        for i in rng.integers(0, len(X_test), N_SHIFTED)
    ]
    batches = {
        "unshifted 0": simulate_drift.traffic(run, N, 0, shifted=False),
        "unshifted 1": simulate_drift.traffic(run, N, 1, shifted=False),
        "new scanner": simulate_drift.traffic(run, N_SHIFTED, 2, shifted=True),
        "exposure only": exposure_only,
    }
    target = str(tmp_path_factory.mktemp("log") / "predictions.db")
    spans = monitoring.replay(serve.PROJECT, run, list(batches.values()), target)
    found = monitoring.verdicts(serve.PROJECT, run, monitor.checks, target, spans, monitor.parser().parse_args([]))
    return dict(zip(batches, found, strict=True))


def verdicts(report: monitoring.Report) -> dict[str, str]:
    return verdicts_of(report.checks)


def verdicts_of(checks: list[monitoring.Check]) -> dict[str, str]:
    return {check.name: check.verdict for check in checks}


@pytest.mark.slow  # 600 uploads through the app: about 10 s on 2 cores
def test_test_xrays_as_they_are_are_not_flagged(reports: dict[str, monitoring.Report]):
    for name in ("unshifted 0", "unshifted 1"):
        assert reports[name].predictions == N
        assert reports[name].verdict != monitoring.ACT, verdicts(reports[name])


@pytest.mark.slow  # 600 uploads through the app: about 10 s on 2 cores
def test_xrays_from_a_new_scanner_are_flagged_act_in_size_shape_brightness_and_contrast(reports):
    report = reports["new scanner"]
    assert report.verdict == monitoring.ACT
    found = verdicts(report)
    for name in ("upload size (shorter side)", "upload shape", "brightness (mean pixel)", "contrast (pixel spread)"):
        assert found[name] == monitoring.ACT, found
    assert found["converted to grayscale"] == monitoring.STABLE  # the new scanner's PNGs are grayscale too


@pytest.mark.slow  # 600 uploads through the app: about 10 s on 2 cores
def test_a_change_of_exposure_alone_is_found_in_the_pixels_and_nowhere_else_in_the_upload(reports):
    found = verdicts(reports["exposure only"])
    assert found["brightness (mean pixel)"] == found["contrast (pixel spread)"] == monitoring.ACT
    assert found["upload size (shorter side)"] == found["upload shape"] == monitoring.STABLE


def test_a_run_without_the_monitors_reference_is_refused_with_the_command_to_retrain(run, monkeypatch):
    older = {key: value for key, value in run.reference.items() if key != "predictions"}  # as runs before it
    monkeypatch.setattr(runs.Run, "reference", property(lambda self: older))
    with pytest.raises(paths.ProjectError, match="train a new run"):
        monitor.checks(run, pd.DataFrame(), monitor.parser().parse_args([]))


def test_before_make_evaluate_the_answers_are_not_compared_and_the_report_says_why(run, monkeypatch):
    monkeypatch.setattr(monitor, "TEST_ANSWERS", "not-evaluated-yet.json")
    log = pd.DataFrame({
        "input.width": [28], "input.height": [28], "input.aspect": [1.0], "input.converted": [False],
        "input.mean": [140.0], "input.std": [40.0], "output.ood_score": [5.0],
        "output.probability_pneumonia": [0.9], "output.label": ["pneumonia"], "warnings": [[]],
    })  # fmt: skip
    found, notes = monitor.checks(run, log, monitor.parser().parse_args([]))
    assert "P(pneumonia)" not in {check.name for check in found} and "brightness (mean pixel)" in verdicts_of(found)
    assert "make evaluate" in notes[0]
    found, _ = monitor.checks(run, log, monitor.parser().parse_args(["--answers", "validation"]))
    assert "on the validation X-rays" in next(check.detail for check in found if check.name == "P(pneumonia)")
