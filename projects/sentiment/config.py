"""Every knob of the sentiment project, with the reason for each default.

Change a value for one run from the command line, e.g.
    $ python -m projects.sentiment.train --set model.kind=neural --set neural.epochs=5
    $ python -m projects.sentiment.train --set model.kind=transformer --set transformer.layers=3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

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
    # ensemble: the most accurate kind in make bench's 10-fold CV (README, Results), nbsvm a close second;
    # neural, lstm and transformer are the networks (sections `neural`, `lstm` and `transformer` below)
    kind: Literal["tfidf", "nbsvm", "ensemble", "neural", "lstm", "transformer"] = "ensemble"
    # up to trigrams: "not good" and "not very good" are features of their own; with NB-SVM on words only
    # (nbsvm_chars) they won the nested selection, and the pair beat 1-2-grams in 8 of 10 folds (README)
    word_ngrams: int = 3
    # character n-grams inside words share evidence between "brilliant"/"brilliantly" and typos:
    # they help tfidf, not nbsvm (make bench's ablations); empty (--set model.char_ngrams=) for none
    char_ngrams: tuple[int, ...] = (2, 5)
    # NB-SVM reads word n-grams only, as in Wang & Manning: the characters stay with logistic regression, so the
    # ensemble's two members weigh different evidence; words-only won in all 10 folds' inner selection (README)
    nbsvm_chars: bool = False
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
class SequenceConfig:
    """What the two networks that read words in order share: their vocabulary, regularisation and training.

    Each has its own section with these keys (`lstm.dropout`, `transformer.dropout`) and its own defaults where
    they differ, below. The reasons quote hand trials on the validation split (seed 42): validation accuracy at
    the epoch of lowest validation loss, the one training keeps; one split of 1,067 sentences, so differences
    of a point or two are noise.
    """

    SECTION: ClassVar[str] = "sequence"  # the section's name in --set keys and messages
    max_length: int = 64  # tokens read per text: the longest training sentence has 61, so nothing is cut
    min_count: int = 2  # words seen once are <unk>; keeping them (1) did no better for the LSTM (0.759 vs 0.771)
    embedding_dim: int = 64  # an LSTM with 128 (and hidden 128) did no better (0.764 vs 0.771), twice as slow
    dropout: float = 0.5  # on the word vectors and before the output layer; inside attention too (transformer)
    # each training word becomes <unk> with this probability: no leaning on one word; 0.3 no better (LSTM 0.765)
    word_dropout: float = 0.1
    epochs: int = 20  # an upper bound: early stopping ends training after a few
    # the validation loss is lowest after 1 to 3 epochs, then climbs for good (every hand trial): 2 is enough
    patience: int = 2
    batch_size: int = 64  # half the steps of 32 per epoch, so faster on a CPU
    learning_rate: float = 1e-3  # Adam's default; 3e-4 learned slower, to a higher loss (transformer: 0.62 vs 0.55)
    weight_decay: float = 0.0  # 0.1 changed nothing (transformer with dropout 0.5: validation loss 0.552 vs 0.551)
    device: str = "auto"  # auto = CUDA, else MPS, else CPU; or cpu, cuda, mps

    def validate(self) -> None:
        for key in ("max_length", "min_count", "embedding_dim", "epochs", "patience", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{self.SECTION}.{key} must be at least 1; got {getattr(self, key)}")
        for key in ("dropout", "word_dropout"):
            if not 0 <= getattr(self, key) < 1:
                raise ConfigError(f"{self.SECTION}.{key} must be in [0, 1); got {getattr(self, key)}")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ConfigError(
                f"{self.SECTION}.learning_rate must be above 0 and {self.SECTION}.weight_decay at least 0"
            )


@dataclass
class LSTMConfig(SequenceConfig):
    # A bidirectional LSTM reads the words left to right and right to left; the output layer sees, for each
    # of its features, the largest value over the sentence (max-pooling).
    SECTION: ClassVar[str] = "lstm"
    hidden_dim: int = 64  # per direction, so 128 features per word
    # 3e-3: the lowest validation loss after 3 epochs (0.495, accuracy 0.771); 1e-3 in batches of 32 reached
    # 0.515 (accuracy 0.749)
    learning_rate: float = 3e-3
    # dropout 0.5, the shared default: 0.3 gave 0.762

    def validate(self) -> None:
        super().validate()
        if self.hidden_dim < 1:
            raise ConfigError(f"lstm.hidden_dim must be at least 1; got {self.hidden_dim}")


@dataclass
class TransformerConfig(SequenceConfig):
    # A small Transformer encoder: word + position embeddings (embedding_dim wide), `layers` blocks of
    # multi-head self-attention and a feed-forward network, then the mean over the words.
    SECTION: ClassVar[str] = "transformer"
    # blocks of attention + feed-forward; 1 was no worse (0.752 vs 0.740, dropout 0.5): data, not depth, limits it
    layers: int = 2
    heads: int = 4  # attention heads per block: each looks at the sentence in its own way (embedding_dim / heads wide)
    ff_dim: int = 128  # the feed-forward network's hidden width: twice the embedding, half the usual 4x (small data)
    # the original Transformer's 0.1: 0.5, the LSTM's, gave a higher validation loss (0.551 vs 0.514) and accuracy
    # 0.740 vs 0.762; 0 a lower loss (0.495) but no better accuracy (0.755)
    dropout: float = 0.1
    batch_size: int = 32  # 64 did no better (0.731 vs 0.762)

    def validate(self) -> None:
        super().validate()
        for key in ("layers", "heads", "ff_dim"):
            if getattr(self, key) < 1:
                raise ConfigError(f"transformer.{key} must be at least 1; got {getattr(self, key)}")
        if self.embedding_dim % self.heads:
            raise ConfigError(
                f"transformer.embedding_dim ({self.embedding_dim}) must be a multiple of transformer.heads "
                f"({self.heads}): each head gets an equal share of it"
            )


@dataclass
class Config:
    seed: int = 42  # fixes the split, the model's initialisation and the batches; same seed -> same metrics
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    neural: NeuralConfig = field(default_factory=NeuralConfig)
    lstm: LSTMConfig = field(default_factory=LSTMConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)

    def network(self) -> NeuralConfig | LSTMConfig | TransformerConfig:
        """The section of the network being trained: each kind's section is named after it (model.kind=lstm ->
        lstm), with its own epochs, learning rate and device."""
        if self.model.kind not in ("neural", "lstm", "transformer"):
            raise ValueError(f"model.kind={self.model.kind} is not a network: it has no epochs or learning rate")
        return getattr(self, self.model.kind)

    def validate(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be between 0 and 2**32 - 1; got {self.seed}")


def searchable(cfg: Config) -> dict[str, tuning.Param]:
    """The knobs `make tune` searches for this config's model kind, and their ranges (see tune.py).

    The ranges are wide around the defaults, which `make bench` chose: a search should be able
    to find that they were wrong. The log scales spread trials evenly over orders of magnitude,
    where C, smoothing and learning rates act. Left out on purpose: the networks' epochs
    and patience (early stopping chooses the epoch), weight_decay (dropout regularises already,
    and a log scale cannot reach its default, 0), the sequence networks' max_length (nothing is
    cut at the default) and the character n-gram range (one setting, chosen by make bench).
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

    def sequence(section: SequenceConfig) -> dict[str, tuning.Param]:
        """What the LSTM and the Transformer share: the vocabulary, the regularisation, the optimiser."""
        name = section.SECTION
        return {
            f"{name}.embedding_dim": tuning.Choice((32, 64, 128)),  # multiples of every heads value below
            f"{name}.min_count": tuning.Int(1, 3),  # 1 = every training word has an embedding
            f"{name}.dropout": tuning.Float(0.0, 0.7),
            f"{name}.word_dropout": tuning.Float(0.0, 0.3),  # 0 = every word read as it is
            f"{name}.learning_rate": tuning.Float(3e-4, 1e-2, log=True),  # default 1e-3, 3e-3 for the LSTM
            f"{name}.batch_size": tuning.Choice((16, 32, 64)),
        }

    lstm = {**sequence(cfg.lstm), "lstm.hidden_dim": tuning.Choice((32, 64, 128))}
    transformer = {
        **sequence(cfg.transformer),
        "transformer.layers": tuning.Int(1, 4),
        "transformer.heads": tuning.Choice((1, 2, 4, 8)),  # 1: a single head, as a baseline for "multi-head"
        "transformer.ff_dim": tuning.Choice((64, 128, 256)),
    }
    spaces = {"tfidf": tfidf, "nbsvm": nbsvm, "ensemble": ensemble, "neural": neural}
    return {**spaces, "lstm": lstm, "transformer": transformer}[cfg.model.kind]
