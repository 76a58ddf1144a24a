"""The sentiment models: TF-IDF + logistic regression, NB-SVM, their ensemble, and a fastText-style network.

Every model takes raw texts and returns P(positive) through the same call,
`probability(model, texts)`, so evaluate.py and serve.py never care which kind they hold.

    tfidf     word 1-2-grams and character 2-5-grams weighted by TF-IDF -> logistic regression
    nbsvm     which n-grams occur, scaled by the naive-Bayes log-count ratio -> linear SVM
              (Wang & Manning 2012), its scores turned into probabilities by Platt scaling
    ensemble  the average of the two probabilities
    neural    the mean of learned word and bigram embeddings -> one linear layer (fastText)
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from mlstarter import persistence
from mlstarter.config import from_dict, to_dict
from mlstarter.runs import Run

from .config import Config, ModelConfig, NeuralConfig
from .data import tokenize

CLASSICAL_KINDS = ("tfidf", "nbsvm", "ensemble")

# Types beyond skops' safe defaults that our saved models hold (reviewed; see persistence.py).
TRUSTED_TYPES = [
    f"{__name__}.NBSVM",  # our own classifier below; __name__ follows the folder, so a copy trusts its own
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.utils._bunch.Bunch",  # the ensemble's named members
]


def normalize(text: str) -> str:
    """Lower-case and split off punctuation, as the dataset was prepared: 'Great!' -> 'great !'."""
    return " ".join(tokenize(text))


def probability(model, texts: list[str]) -> np.ndarray:
    """P(positive) of each raw text, for any kind of model."""
    return model.predict_proba([normalize(t) for t in texts])[:, 1]


# --- the classical models -------------------------------------------------------------------


def ngram_features(cfg: ModelConfig) -> FeatureUnion:
    """Word n-grams plus, if configured, character n-grams within words, each weighted by TF-IDF.

    # tfidf(g, s) = (1 + log count(g in s)) * (log((1 + N) / (1 + df(g))) + 1)
    # then the sentence's word part and its character part are each scaled to length 1
    Rare n-grams weigh more than common ones; "the" and "," weigh almost nothing.
    """
    # the texts arrive normalised ("great , isn't it ?"), so a word is whatever lies between spaces
    parts = [("word", TfidfVectorizer(sublinear_tf=True, token_pattern=r"\S+", ngram_range=(1, cfg.word_ngrams)))]
    if cfg.char_ngrams:
        chars = TfidfVectorizer(
            sublinear_tf=True, analyzer="char_wb", ngram_range=tuple(cfg.char_ngrams), min_df=cfg.min_df
        )
        parts.append(("char", chars))
    return FeatureUnion(parts)


class NBSVM(ClassifierMixin, BaseEstimator):
    """NB-SVM (Wang & Manning 2012): a linear SVM on binary features scaled by the naive-Bayes log-count ratio.

    # x = 1 where an n-gram occurs in the sentence, else 0 (the TF-IDF values only tell us which occur)
    # r = log((p / |p|_1) / (q / |q|_1)), p = alpha + sum of positive rows, q = alpha + sum of negative rows
    # the SVM learns w on x * r; the final weights interpolate w' = (1 - beta) * mean|w| + beta * w
    An n-gram much more common in one class gets a large |r| before the SVM sees it, so the
    SVM starts from naive Bayes's evidence and corrects it.
    """

    def __init__(self, C: float = 0.1, beta: float = 0.25, alpha: float = 1.0):
        self.C = C
        self.beta = beta
        self.alpha = alpha

    def fit(self, X, y):
        X, y = binary(X), np.asarray(y)
        self.classes_ = np.unique(y)
        p = self.alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
        q = self.alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
        self.r_ = np.log((p / p.sum()) / (q / q.sum()))
        svm = LinearSVC(C=self.C, max_iter=5000).fit(X.multiply(self.r_).tocsr(), y)
        w = svm.coef_.ravel()
        w = (1 - self.beta) * np.abs(w).mean() + self.beta * w
        # fold r into the weights: score = (x * r) . w + b = x . (r * w) + b
        self.coef_ = (self.r_ * w).reshape(1, -1)
        self.intercept_ = svm.intercept_
        return self

    def decision_function(self, X):
        return np.asarray(binary(X) @ self.coef_.ravel()).ravel() + self.intercept_[0]

    def predict(self, X):
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def binary(X) -> sparse.csr_matrix:
    """1.0 wherever X is non-zero."""
    X = sparse.csr_matrix(X, copy=True)
    X.data[:] = 1.0
    return X


def pipeline(cfg: ModelConfig) -> Pipeline:
    """An untrained scikit-learn model of kind tfidf, nbsvm or ensemble, taking normalised texts.

    All three share the same n-gram features: one vocabulary, three ways to weigh the evidence.
    """
    logistic = LogisticRegression(C=cfg.tfidf_c, max_iter=3000)
    # Platt scaling: a sigmoid fitted on 3-fold out-of-sample SVM scores turns them into probabilities
    nbsvm = CalibratedClassifierCV(
        NBSVM(C=cfg.nbsvm_c, beta=cfg.nbsvm_beta, alpha=cfg.nbsvm_alpha), method="sigmoid", cv=3, ensemble=False
    )
    classifier = {
        "tfidf": logistic,
        "nbsvm": nbsvm,
        "ensemble": VotingClassifier([("tfidf", logistic), ("nbsvm", nbsvm)], voting="soft"),  # mean probability
    }[cfg.kind]
    return Pipeline([("features", ngram_features(cfg)), ("classifier", classifier)])


# --- the neural model --------------------------------------------------------------------------


def ngrams(tokens: list[str], bigrams: bool) -> list[str]:
    """['not', 'good'] -> ['not', 'good', 'not good'] with bigrams."""
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)] if bigrams else list(tokens)


class Vocabulary:
    """The n-grams the network has an embedding for, numbered 0..n-1. Unknown n-grams are skipped."""

    def __init__(self, entries: list[str], bigrams: bool):
        self.entries = entries
        self.bigrams = bigrams
        self.index = {entry: i for i, entry in enumerate(entries)}

    @classmethod
    def build(cls, texts: list[str], cfg: NeuralConfig) -> Vocabulary:
        """Every n-gram seen at least `min_count` times in these (training) texts, most common first."""
        counts = Counter(g for text in texts for g in ngrams(tokenize(text), cfg.bigrams))
        return cls([g for g, n in counts.most_common() if n >= cfg.min_count], cfg.bigrams)

    def encode(self, text: str) -> list[int]:
        return [self.index[g] for g in ngrams(tokenize(text), self.bigrams) if g in self.index]

    def __len__(self) -> int:
        return len(self.entries)

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps({"bigrams": self.bigrams, "entries": self.entries}, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return cls(saved["entries"], saved["bigrams"])


class FastText(torch.nn.Module):
    """Bag of n-grams: average the embeddings of a sentence's n-grams, then one linear layer.

    # (total n-grams in the batch,) + offsets (B,) -> mean embedding (B, D) -> logit (B,)
    Because the layer after the average is linear, the logit is a sum of one term per n-gram:
    logit = b + (1/n) * sum_i w . e_i.
    """

    def __init__(self, vocab_size: int, embedding_dim: int):
        super().__init__()
        self.embedding = torch.nn.EmbeddingBag(vocab_size, embedding_dim, mode="mean")
        self.output = torch.nn.Linear(embedding_dim, 1)
        torch.nn.init.uniform_(self.embedding.weight, -1 / embedding_dim, 1 / embedding_dim)  # fastText's init

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.output(self.embedding(ids, offsets)).squeeze(1)


def collate(encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentences of n-gram ids -> one flat id tensor and each sentence's start offset (EmbeddingBag's input).

    A sentence with no known n-gram is an empty bag: its mean embedding is zero, so it scores the bias alone.
    """
    ids = torch.tensor([i for sentence in encoded for i in sentence], dtype=torch.long)
    offsets = torch.tensor(np.cumsum([0] + [len(s) for s in encoded[:-1]]), dtype=torch.long)
    return ids, offsets


class NeuralClassifier:
    """A trained FastText network with its vocabulary, with scikit-learn's `predict_proba` on texts."""

    def __init__(self, network: FastText, vocab: Vocabulary):
        self.network = network.cpu().eval()
        self.vocab = vocab

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, 2))
        with torch.no_grad():
            p = torch.sigmoid(self.network(*collate([self.vocab.encode(t) for t in texts]))).numpy()
        return np.stack([1 - p, p], axis=1)


# --- any kind ---------------------------------------------------------------------------------


def build(cfg: Config, vocab: Vocabulary | None = None) -> Pipeline | FastText:
    """An untrained model of kind `cfg.model.kind`: a scikit-learn pipeline taking normalised texts,
    or for `neural` the FastText network, with one embedding per n-gram of `vocab` (built from the
    training sentences, so the network can only be built once they are known)."""
    if cfg.model.kind != "neural":
        return pipeline(cfg.model)
    if vocab is None:
        raise ValueError("the network has one embedding per n-gram of its vocabulary: call build(cfg, vocab)")
    return FastText(len(vocab), cfg.neural.embedding_dim)


def save(run_dir: Path, model: Pipeline | NeuralClassifier, cfg: Config, metrics: dict[str, float]) -> None:
    """Write a trained model into a run folder.

    The network: its weights in model.pt (with the config and metrics: the checkpoint describes
    itself) and its n-grams in vocab.json. A scikit-learn model goes to model.skops, except its
    n-gram vocabularies: skops writes each dictionary entry as a small JSON object of its own, so
    vocabularies of a hundred thousand n-grams would make most of the file and most of its loading
    time. They go to vocabulary.json instead: a list of n-grams, the position of each = its feature column.
    """
    if cfg.model.kind == "neural":
        persistence.save_torch(run_dir / "model.pt", model.network.state_dict(), config=to_dict(cfg), metrics=metrics)
        model.vocab.save(run_dir / "vocab.json")
        return
    vectorizers = dict(model.named_steps["features"].transformer_list)
    vocabularies = {name: v.vocabulary_ for name, v in vectorizers.items()}
    (run_dir / "vocabulary.json").write_text(
        json.dumps({name: sorted(vocab, key=vocab.get) for name, vocab in vocabularies.items()}, ensure_ascii=False),
        encoding="utf-8",
    )
    try:
        for v in vectorizers.values():
            v.vocabulary_ = {}
        persistence.save_sklearn(model, run_dir / "model.skops")
    finally:
        for name, v in vectorizers.items():
            v.vocabulary_ = vocabularies[name]


def load(run: Run) -> Pipeline | NeuralClassifier:
    """The trained model of a run, loaded safely (skops with our trusted types, or torch weights only)."""
    cfg = from_dict(Config, run.config)
    if cfg.model.kind == "neural":
        vocab = Vocabulary.load(run.path / "vocab.json")
        network = build(cfg, vocab)
        network.load_state_dict(persistence.load_torch(run.path / "model.pt")["model_state"])
        return NeuralClassifier(network, vocab)
    model = persistence.load_sklearn(run.path / "model.skops", TRUSTED_TYPES)
    saved = json.loads((run.path / "vocabulary.json").read_text(encoding="utf-8"))
    for name, v in model.named_steps["features"].transformer_list:
        v.vocabulary_ = {ngram: column for column, ngram in enumerate(saved[name])}
    return model


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def word_effects(model, texts: list[str], top: int = 5, max_words: int = 100) -> list[list[tuple[str, float]]]:
    """For each text, the words that pushed the decision most, by occlusion:

    # effect(word) = logit P(positive | text) - logit P(positive | text without that word)
    Positive effect = the word made the text look more positive. Works for every kind of model.
    Each distinct word costs one more prediction, so only the first `max_words` distinct words
    of a long text are tried.
    """
    if not texts:
        return []
    variants, owners = [], []  # every text, then the text without each of its distinct words
    for i, text in enumerate(texts):
        tokens = tokenize(text)
        variants.append(" ".join(tokens))
        owners.append((i, None))
        for word in list(dict.fromkeys(tokens))[:max_words]:  # distinct, in order of appearance
            variants.append(" ".join(t for t in tokens if t != word))
            owners.append((i, word))
    scores = log_odds(model.predict_proba(variants)[:, 1])
    full = {i: s for (i, word), s in zip(owners, scores, strict=True) if word is None}
    effects: list[list[tuple[str, float]]] = [[] for _ in texts]
    for (i, word), s in zip(owners, scores, strict=True):
        if word is not None:
            effects[i].append((word, float(full[i] - s)))
    return [sorted(e, key=lambda we: abs(we[1]), reverse=True)[:top] for e in effects]


def top_ngrams(model, texts: list[str], k: int = 20, min_count: int = 5) -> dict[str, list[tuple[str, float]]]:
    """The word n-grams the model finds most positive and most negative on their own.

    Candidates are the unigrams and bigrams seen in at least `min_count` of `texts` (the training
    sentences); each is scored as if it were a whole review, which works for every kind of model.
    """
    counts = Counter(g for text in texts for g in set(ngrams(tokenize(text), bigrams=True)))
    candidates = [g for g, n in counts.items() if n >= min_count and any(c.isalnum() for c in g)]
    if not candidates:  # e.g. a small CSV of your own where no n-gram is that frequent
        return {"positive": [], "negative": []}
    scores = log_odds(model.predict_proba(candidates)[:, 1])
    order = np.argsort(scores)
    return {  # only n-grams that lean the named way: on a small dataset few may
        "positive": [(candidates[i], round(float(scores[i]), 3)) for i in order[::-1][:k] if scores[i] > 0],
        "negative": [(candidates[i], round(float(scores[i]), 3)) for i in order[:k] if scores[i] < 0],
    }
