"""Drift monitoring: what a prediction logs (a summary of the text, never the text), why the unknown-word
reference comes from validation texts, and the simulate -> monitor flow on the real sentences."""

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

from .. import data, monitor, serve, simulate_drift
from ..config import Config

NO_ARGS = argparse.Namespace()
SECRET = "Zanzibarian"  # a word that must never reach the log


def test_a_prediction_is_logged_as_a_summary_of_its_text_never_the_text(tmp_path: Path, toy_csv: Path, trained_once):
    run = trained_once("--data", str(toy_csv), "--set", "model.kind=tfidf")
    app = serve.create_app(run.run_id)
    target = str(tmp_path / "p.db")
    serving.enable_log(app, target)
    with TestClient(app) as client:
        one = client.post("/predict", json={"text": f"A brilliant film, {SECRET} says."}).json()
        batch = client.post("/predict/batch", json={"texts": ["dull", f"{SECRET} {SECRET} ?"]}).json()
        assert client.post("/predict", json={"text": " "}).status_code == 422  # refused: nothing logged
    log = predlog.read(target, serve.PROJECT)
    assert list(log["route"]) == ["/predict", "/predict/batch", "/predict/batch"]  # a batch: one row per text
    assert set(log["run_id"]) == {run.run_id}
    first = log.iloc[0]
    # 5 words ("brilliant" and "film" seen in training) and 31 characters besides the 4 spaces
    assert (first["input.words"], first["input.characters"], first["input.known_word_share"]) == (5, 31, 0.4)
    assert first["input.known_word_share"] == one["known_word_share"]
    assert (first["output.label"], first["output.probability_positive"]) == (one["label"], one["probability_positive"])
    assert first["warnings"] == ["few_known_words"]
    assert list(log["output.label"][1:]) == [p["label"] for p in batch["predictions"]]
    assert log.iloc[2]["warnings"] == ["no_known_words"]
    assert {c for c in log.columns if c.startswith(("input.", "output."))} == {
        "input.words", "input.characters", "input.known_word_share", "output.label", "output.probability_positive"
    }  # fmt: skip
    # never the text: not in the database, its write-ahead log, or anything beside them
    for path in tmp_path.iterdir():
        assert SECRET.lower().encode() not in path.read_bytes().lower(), path.name


def test_summarize_counts_words_and_characters_without_spaces():
    vocabulary = {"it's", "a", "film"}
    assert data.summarize("It's a  film!", vocabulary) == {"words": 3, "characters": 10, "known_word_share": 1.0}
    # the dataset's own tokenised form has the same length: spaces are not counted
    assert data.summarize("it 's a film !", None)["characters"] == data.summarize("it's a film!", None)["characters"]
    assert data.summarize("Un film magnifique", vocabulary)["known_word_share"] == 0.3333
    assert data.summarize("?!", vocabulary) == {"words": 0, "characters": 2, "known_word_share": 0.0}


# Synthetic texts: words w0, w1, ... drawn by Zipf's law, as in real language, so a text not seen in
# training has a few rare, unknown words, and one seen in training has none.
def zipf_texts(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    texts = [" ".join(f"w{k}" for k in rng.zipf(1.3, int(rng.integers(5, 30)))) for _ in range(n)]
    return pd.DataFrame({data.TEXT: texts, data.LABEL: rng.integers(0, 2, n)})


@pytest.fixture(scope="module")
def synthetic() -> SimpleNamespace:
    """A reference as train.py writes it, from synthetic texts and a model whose P(positive) is uniform."""
    train, val, test = zipf_texts(2000, 0), zipf_texts(1000, 1), zipf_texts(500, 2)
    seen = data.reference(train, val, np.random.default_rng(3).uniform(size=len(val)))
    return SimpleNamespace(train=train, test=test, run=SimpleNamespace(run_id="synthetic", reference=seen))


def logged(texts: pd.Series, vocabulary: set[str], p: np.ndarray) -> pd.DataFrame:
    """A prediction log as predlog.read returns it: each text's summary and the answer."""
    rows = [{f"input.{k}": v for k, v in data.summarize(text, vocabulary).items()} for text in texts]
    log = pd.DataFrame(rows)
    log["output.probability_positive"] = p
    log["output.label"] = np.where(p >= 0.5, "positive", "negative")
    log["warnings"] = [[] for _ in range(len(log))]
    return log


def by_name(found: list[monitoring.Check]) -> dict[str, monitoring.Check]:
    return {c.name: c for c in found}


def test_unseen_texts_are_stable_against_the_validation_reference(synthetic: SimpleNamespace):
    vocabulary = set(synthetic.run.reference["vocabulary"])
    p = np.random.default_rng(4).uniform(size=len(synthetic.test))
    found, notes = monitor.checks(synthetic.run, logged(synthetic.test[data.TEXT], vocabulary, p), NO_ARGS)
    assert all(c.verdict == "stable" for c in found), [(c.name, c.value) for c in found]
    assert "of the 1,000 validation texts" in notes[0]


def test_the_unknown_word_reference_cannot_be_the_training_texts(synthetic: SimpleNamespace):
    vocabulary = set(synthetic.run.reference["vocabulary"])
    # every word of a training text is known by definition ...
    in_training = [data.summarize(t, vocabulary)["known_word_share"] for t in synthetic.train[data.TEXT]]
    assert set(in_training) == {1.0}
    # ... so against them, new texts of the very same kind would look like drift: hence the validation texts
    unseen = logged(synthetic.test[data.TEXT], vocabulary, np.full(len(synthetic.test), 0.5))
    with_unknown = int((unseen["input.known_word_share"] < 1).sum())
    assert with_unknown > 0.3 * len(unseen)
    assert monitoring.rate_check("an unknown word", 0.0, with_unknown, len(unseen)).verdict == "act"
    seen = synthetic.run.reference["values"]["known_word_share"]  # the validation texts have them as often
    assert np.mean(np.asarray(seen) < 1) == pytest.approx(with_unknown / len(unseen), abs=0.1)


def test_answers_nearer_one_half_move_only_the_confidence(synthetic: SimpleNamespace):
    vocabulary = set(synthetic.run.reference["vocabulary"])
    p = np.random.default_rng(5).uniform(0.3, 0.7, len(synthetic.test))  # as sure as a coin, on both sides
    found = by_name(monitor.checks(synthetic.run, logged(synthetic.test[data.TEXT], vocabulary, p), NO_ARGS)[0])
    assert found["confidence"].verdict == "act"
    assert found["predicted positive"].verdict == found["words per text"].verdict == "stable"


def test_the_reference_keeps_at_most_a_sample_of_the_validation_texts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(data, "MONITOR_SAMPLE", 100)
    val = zipf_texts(300, 6)
    p = np.linspace(0, 1, len(val))
    seen = data.reference(zipf_texts(50, 7), val, p)
    assert seen["monitored_texts"] == 100 and len(seen["scores"]) == 100
    assert all(len(values) == 100 for values in seen["values"].values())
    kept = np.searchsorted(p.round(4), seen["scores"])  # the scores belong to the texts kept, in order
    assert seen["values"]["words"] == [data.summarize(val[data.TEXT].iloc[i], None)["words"] for i in kept]


def test_a_run_without_the_validation_reference_is_refused(synthetic: SimpleNamespace):
    old = SimpleNamespace(run_id="old", reference={"vocabulary": ["a"], "positive_rate": 0.5})
    with pytest.raises(paths.ProjectError, match="train a new run"):
        monitor.checks(old, logged(pd.Series(["a"]), {"a"}, np.array([0.5])), NO_ARGS)


def test_simulate_drift_takes_its_own_shift_option(capsys: pytest.CaptureFixture):
    assert simulate_drift.main(["--shift", "shuffled", "--port", "9", "--n", "1"]) == 1  # nobody listens on 9
    assert "no server at http://127.0.0.1:9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        simulate_drift.main(["--shift", "tweets"])


def as_batches(requests: list[dict]) -> list[dict]:
    """The same texts through POST /predict/batch, 100 at a time: a fraction of the time, the same log rows."""
    texts = [r["json"]["text"] for r in requests]
    return [{"path": "/predict/batch", "json": {"texts": texts[i : i + serve.MAX_BATCH]}}
            for i in range(0, len(texts), serve.MAX_BATCH)]  # fmt: skip


@pytest.mark.slow
def test_simulated_shifts_are_flagged_and_unshifted_traffic_is_not(tmp_path: Path, real_data, trained_once):
    # A real run on the real sentences, with the fastest kind (word n-grams only): the checks read the texts'
    # summaries and the answers, and this model is as sure of real sentences as the default one.
    run = trained_once("--set", "model.kind=nbsvm", "--set", "model.char_ngrams=")
    n = 200
    unshifted = [simulate_drift.traffic(run, n, seed, shifted=False) for seed in range(3)]
    products = simulate_drift.traffic(run, n, 0, shifted=True)
    shuffled = simulate_drift.traffic(run, n, 0, shifted=True, shift="shuffled")
    test = set(data.load(Config()).splits["test"][data.TEXT])
    assert all(r["json"]["text"] in test for r in unshifted[0]) and not any(r["json"]["text"] in test for r in products)
    target = str(tmp_path / "p.db")
    batches = [as_batches(b) for b in [*unshifted, products, shuffled]]
    spans = monitoring.replay(serve.PROJECT, run, batches, target)
    reports = monitoring.verdicts(serve.PROJECT, run, monitor.checks, target, spans, monitor.parser().parse_args([]))
    assert [r.predictions for r in reports] == [n] * 5
    for report in reports[:3]:
        assert report.verdict != "act", [(c.name, c.value) for c in report.checks]
    # product reviews: other lengths, other words
    assert reports[3].verdict == "act"
    found = by_name(reports[3].checks)
    assert found["words per text"].verdict == found["known-word share"].verdict == "act"
    # the film reviews' words reshuffled: only the answers show it
    assert reports[4].verdict == "act"
    found = by_name(reports[4].checks)
    assert found["confidence"].verdict == "act"
    assert found["words per text"].verdict == found["known-word share"].verdict == "stable"
    assert json.dumps(reports[4].to_dict())  # what report.json and /metrics read
