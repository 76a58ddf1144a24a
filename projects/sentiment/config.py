"""Every knob of the sentiment project, with the reason for each default.

Change a value for one run from the command line, e.g.
    $ python -m projects.sentiment.train --set model.kind=neural --set neural.epochs=5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlstarter import tuning
from mlstarter.config import ConfigError


@dataclass
class DataConfig:
    path: str = ""  # your own CSV with `text` and `label` columns (--data); empty = the Rotten Tomatoes sentences
    separator: Literal["comma", "semicolon", "tab", "pipe"] = (
        "comma"  # of your own CSV; semicolon: Excel in much of Europe
    )
    val_size: float = 0.1  # a tenth: the neural model stops early on them; every kind reports on them
    test_size: float = 0.1  # a tenth that only evaluate.py scores: one fold's worth, as in 10-fold CV

    def validate(self) -> None:
        for key in ("val_size", "test_size"):
            if not 0.02 <= getattr(self, key) <= 0.4:
                raise ConfigError(f"data.{key} must be between 0.02 and 0.4; got {getattr(self, key)}")


@dataclass
class ModelConfig:
    # ensemble: the most accurate kind in make bench's 10-fold CV (README, Results), nbsvm a close second
    kind: Literal["tfidf", "nbsvm", "ensemble", "neural"] = "ensemble"
    word_ngrams: int = 2  # unigrams and bigrams: "not good" is a feature of its own; trigrams add no clear gain
    # character n-grams inside words share evidence between "brilliant"/"brilliantly" and typos:
    # they help tfidf, not nbsvm (make bench's ablations); empty (--set model.char_ngrams=) for none
    char_ngrams: tuple[int, ...] = (2, 5)
    min_df: int = 2  # character n-grams seen in fewer sentences than this are dropped (noise, memory)
    # TF-IDF + logistic regression: C is the inverse L2 strength; 10 edged out 3 in make bench's ablations
    tfidf_c: float = 10.0
    # NB-SVM (Wang & Manning 2012) on binary n-gram counts scaled by the naive-Bayes log-count ratio
    nbsvm_c: float = 0.1  # the SVM's C; the NB scaling already does much of the work, so a small C
    nbsvm_beta: float = 0.25  # interpolation between the SVM weights (1) and their mean (0); the paper's value
    nbsvm_alpha: float = 1.0  # add-one smoothing of the n-gram counts in the log-count ratio

    def validate(self) -> None:
        if self.word_ngrams < 1:
            raise ConfigError(f"model.word_ngrams must be at least 1; got {self.word_ngrams}")
        if self.char_ngrams and (len(self.char_ngrams) != 2 or not 1 <= self.char_ngrams[0] <= self.char_ngrams[1]):
            raise ConfigError(
                f"model.char_ngrams is a range low,high with 1 <= low <= high (or empty for none); got {self.char_ngrams}"
            )
        if self.tfidf_c <= 0 or self.nbsvm_c <= 0 or self.nbsvm_alpha <= 0:
            raise ConfigError("model.tfidf_c, model.nbsvm_c and model.nbsvm_alpha must be above 0")
        if not 0 <= self.nbsvm_beta <= 1:
            raise ConfigError(f"model.nbsvm_beta must be between 0 and 1; got {self.nbsvm_beta}")


@dataclass
class NeuralConfig:
    # A fastText-style model (Joulin et al. 2017): the mean of word and bigram embeddings -> a linear layer.
    embedding_dim: int = 32  # 64 and 128 did no better on the validation split (seed 42), and train slower
    bigrams: bool = True  # word bigrams in the bag, as fastText's -wordNgrams 2: better (make bench's ablations)
    min_count: int = 2  # n-grams seen once are mostly noise: keeping them trains much slower, no better (make bench)
    dropout: float = 0.5  # drops whole n-grams from each training sentence; 0.3 and 0.7 did as well (one split)
    epochs: int = 30  # an upper bound: early stopping usually ends training before
    patience: int = 4  # stop after this many epochs without a lower validation loss
    batch_size: int = 32  # small batches: more updates per epoch on a few thousand sentences
    learning_rate: float = (
        1e-3  # Adam's default; 3e-3 overfit after two epochs, to a worse validation accuracy (one split)
    )
    weight_decay: float = 0.0  # dropout regularises already
    device: str = "auto"  # auto = CUDA, else MPS, else CPU; or cpu, cuda, mps

    def validate(self) -> None:
        for key in ("embedding_dim", "min_count", "epochs", "patience", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"neural.{key} must be at least 1; got {getattr(self, key)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"neural.dropout must be in [0, 1); got {self.dropout}")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ConfigError("neural.learning_rate must be above 0 and neural.weight_decay at least 0")


@dataclass
class Config:
    seed: int = 42  # fixes the split, the model's initialisation and the batches; same seed -> same metrics
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    neural: NeuralConfig = field(default_factory=NeuralConfig)

    def validate(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be between 0 and 2**32 - 1; got {self.seed}")


def searchable(cfg: Config) -> dict[str, tuning.Param]:
    """The knobs `make tune` searches for this config's model kind, and their ranges (see tune.py).

    The ranges are wide around the defaults, which `make bench` chose: a search should be able
    to find that they were wrong. The log scales spread trials evenly over orders of magnitude,
    where C, smoothing and learning rates act. Left out on purpose: the neural model's epochs
    and patience (early stopping chooses the epoch), weight_decay (dropout regularises already,
    and a log scale cannot reach its default, 0) and the character n-gram range (one
    setting, chosen by make bench).
    """
    tfidf = {
        "model.tfidf_c": tuning.Float(0.1, 100.0, log=True),  # default 10: 1,000 times from weak to strong
        "model.word_ngrams": tuning.Int(1, 3),  # unigrams only, up to trigrams
        "model.min_df": tuning.Int(1, 5),  # acts on the character n-grams only
    }
    nbsvm = {
        "model.nbsvm_c": tuning.Float(0.01, 10.0, log=True),  # default 0.1
        "model.nbsvm_beta": tuning.Float(0.0, 1.0),  # the whole range: the mean weight (0) to the SVM's own (1)
        "model.nbsvm_alpha": tuning.Float(0.1, 10.0, log=True),  # smoothing: default 1, add-one
    }
    # the ensemble: each member's strength, and how far NB-SVM is pulled to its mean (the features are shared)
    both = {**tfidf, **nbsvm}
    ensemble = {key: both[key] for key in ("model.tfidf_c", "model.nbsvm_c", "model.nbsvm_beta")}
    neural = {
        "neural.embedding_dim": tuning.Int(16, 128, log=True),  # default 32
        "neural.dropout": tuning.Float(0.0, 0.7),  # default 0.5; 0 = no n-gram dropout
        "neural.learning_rate": tuning.Float(3e-4, 1e-2, log=True),  # default 1e-3 (Adam's)
        "neural.batch_size": tuning.Choice((16, 32, 64)),  # default 32
        "neural.bigrams": tuning.Choice((True, False)),  # default True
    }
    return {"tfidf": tfidf, "nbsvm": nbsvm, "ensemble": ensemble, "neural": neural}[cfg.model.kind]
