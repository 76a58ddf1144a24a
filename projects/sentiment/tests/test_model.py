"""The models: the math of NB-SVM and fastText, saving and loading, and behaviour on real reviews."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.svm import LinearSVC

from mlstarter import runs
from mlstarter.config import apply_overrides, to_dict

from .. import data, model
from ..config import Config, NeuralConfig
from ..model import (
    NBSVM,
    FastText,
    NeuralClassifier,
    Vocabulary,
    collate,
    normalize,
    probability,
    top_ngrams,
    word_effects,
)
from ..train import PROJECT, fit
from .conftest import NEGATIVE, POSITIVE, toy_reviews

X_TOY = sparse.csr_matrix(np.array([[1, 0, 2], [1, 0, 0], [0, 1, 0], [0, 3, 1]], dtype=float))
Y_TOY = np.array([1, 1, 0, 0])


def test_nbsvm_log_count_ratio():
    model = NBSVM(alpha=1.0).fit(X_TOY, Y_TOY)
    # binary counts: positive rows sum to [2, 0, 1], negative rows to [0, 2, 1]; add alpha = 1
    p, q = np.array([3, 1, 2]), np.array([1, 3, 2])
    assert np.allclose(model.r_, np.log((p / 6) / (q / 6)))
    assert model.r_[0] > 0 > model.r_[1] and model.r_[2] == pytest.approx(0)


def test_nbsvm_with_beta_1_is_the_svm_on_scaled_features():
    model = NBSVM(C=1.0, beta=1.0).fit(X_TOY, Y_TOY)
    binary = (X_TOY > 0).astype(float)
    svm = LinearSVC(C=1.0, max_iter=5000).fit(binary.multiply(model.r_).tocsr(), Y_TOY)
    assert np.allclose(model.decision_function(X_TOY), svm.decision_function(binary.multiply(model.r_).tocsr()))
    assert (model.predict(X_TOY) == Y_TOY).all()


def test_vocabulary_round_trip_and_unknown_ngrams(tmp_path: Path):
    vocab = Vocabulary.build(["not good", "good film", "good"], NeuralConfig(min_count=1))
    assert vocab.entries[0] == "good" and "not good" in vocab.index
    assert vocab.encode("not good at all") == [vocab.index["not"], vocab.index["good"], vocab.index["not good"]]
    vocab.save(tmp_path / "v.json")
    assert Vocabulary.load(tmp_path / "v.json").entries == vocab.entries


def test_fasttext_logit_is_a_sum_over_ngrams():
    torch.manual_seed(0)
    net = FastText(vocab_size=10, embedding_dim=4)
    ids, offsets = collate([[1, 2, 3], [], [4]])
    assert offsets.tolist() == [0, 3, 3]
    logits = net(ids, offsets)
    w, b, E = net.output.weight[0], net.output.bias[0], net.embedding.weight
    assert logits[0].item() == pytest.approx((b + sum(E[i] @ w for i in (1, 2, 3)) / 3).item(), abs=1e-6)
    assert logits[1].item() == pytest.approx(b.item(), abs=1e-6)  # an empty sentence scores the bias alone


@pytest.fixture(scope="module")
def toy_corpus() -> data.Data:
    import pandas as pd

    frame = pd.DataFrame(toy_reviews(300), columns=[data.TEXT, data.LABEL])
    train, val, test = data.split(frame, Config().data, seed=0)
    return data.Data(frame, {"train": train, "val": val, "test": test}, files={})


def saved_run(folder: Path, classifier, cfg: Config) -> runs.Run:
    """A run folder holding just what model.load reads: the config and the model files."""
    runs.write_json(folder / "config.json", to_dict(cfg))
    model.save(folder, classifier, cfg, metrics={})
    return runs.Run(PROJECT, folder.name, folder)


def test_the_network_needs_its_vocabulary_to_be_built():
    cfg = apply_overrides(Config(), ["model.kind=neural", "neural.embedding_dim=8"])
    with pytest.raises(ValueError, match="build\\(cfg, vocab\\)"):
        model.build(cfg)
    network = model.build(cfg, Vocabulary(["good", "bad", "not bad"], bigrams=True))
    assert network.embedding.weight.shape == (3, 8)


def test_each_member_of_the_ensemble_reads_its_own_features(toy_corpus: data.Data):
    """tfidf: word and character n-grams; nbsvm: word n-grams only, unless model.nbsvm_chars."""
    texts = [normalize(t) for t in toy_corpus.splits["train"][data.TEXT]]
    labels = toy_corpus.splits["train"][data.LABEL].to_numpy()
    ensemble = model.build(Config()).fit(texts, labels)
    assert sorted(model.vectorizers(ensemble)) == ["nbsvm/word", "tfidf/char", "tfidf/word"]
    assert max(len(g.split()) for g in model.vectorizers(ensemble)["nbsvm/word"].vocabulary_) == 3  # up to trigrams
    with_chars = model.build(apply_overrides(Config(), ["model.kind=nbsvm", "model.nbsvm_chars=true"]))
    assert sorted(model.vectorizers(with_chars.fit(texts, labels))) == ["char", "word"]


@pytest.mark.parametrize("kind", ["tfidf", "nbsvm", "ensemble", "neural"])
def test_every_kind_learns_the_toy_task_and_survives_saving(kind: str, toy_corpus: data.Data, tmp_path: Path):
    train, test = toy_corpus.splits["train"], toy_corpus.splits["test"]
    cfg = apply_overrides(Config(), [f"model.kind={kind}", "neural.epochs=15", "neural.learning_rate=0.02"])
    classifier, _ = fit(cfg, toy_corpus, progress=False)
    p = probability(classifier, test[data.TEXT].tolist())
    assert ((p >= 0.5) == test[data.LABEL].to_numpy()).mean() >= 0.85  # 5% of toy labels are flipped
    loaded = model.load(saved_run(tmp_path, classifier, cfg))
    assert np.allclose(probability(loaded, test[data.TEXT].tolist()), p)
    # the explanations point at the sentiment words
    [effects] = word_effects(loaded, ["the brilliant film ."], top=1)
    assert effects[0][0] == "brilliant" and effects[0][1] > 0
    ngrams = top_ngrams(loaded, train[data.TEXT].tolist(), k=3)
    assert all(set(g.split()) & set(NEGATIVE) for g, _ in ngrams["negative"])
    assert all(set(g.split()) & set(POSITIVE) for g, _ in ngrams["positive"])


def test_normalize_matches_the_dataset_style():
    assert normalize("Great, isn't it?!") == "great , isn't it ? !"


@pytest.fixture(scope="module")
def real_model(real_data):
    frame = data.read_polarity(real_data["rt-polarity.pos"], real_data["rt-polarity.neg"])
    train, val, _ = data.split(frame, Config().data, seed=42)
    return model.build(Config()).fit([normalize(t) for t in train[data.TEXT]], train[data.LABEL])


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("A masterpiece: moving, funny and beautifully acted.", 1),
        ("One of the most enjoyable films of the year.", 1),
        ("A boring, predictable mess.", 0),
        ("The plot is tedious and the jokes fall flat.", 0),
    ],
)
def test_clear_reviews_get_the_obvious_label(real_model, text: str, label: int):
    assert (probability(real_model, [text])[0] >= 0.5) == label


def test_negation_lowers_the_score(real_model):
    good, not_good = probability(real_model, ["the film is good .", "the film is not good ."])
    assert not_good < good


def test_case_and_punctuation_spacing_do_not_change_the_score(real_model):
    a, b = probability(real_model, ["A Wonderful Film!", "a wonderful film !"])
    assert a == pytest.approx(b)


def test_explanations_and_top_ngrams_of_nothing_are_empty(toy_corpus: data.Data):
    classifier, _ = fit(apply_overrides(Config(), ["model.kind=tfidf"]), toy_corpus, progress=False)
    assert word_effects(classifier, []) == []
    assert top_ngrams(classifier, ["once upon a time"], min_count=5) == {"positive": [], "negative": []}
    network = NeuralClassifier(FastText(4, 2), Vocabulary(["good"], bigrams=False))
    assert network.predict_proba([]).shape == (0, 2)
