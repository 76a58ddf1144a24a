"""The sentiment models: TF-IDF + logistic regression, NB-SVM, their ensemble, and three networks.

Every model takes raw texts and returns P(positive) through the same call,
`probability(model, texts)`, so evaluate.py and serve.py never care which kind they hold.

    tfidf        word 1-3-grams and character 2-5-grams weighted by TF-IDF -> logistic regression
    nbsvm        which word 1-3-grams occur, scaled by the naive-Bayes log-count ratio -> linear SVM
                 (Wang & Manning 2012), its scores turned into probabilities by Platt scaling
    ensemble     the average of the two probabilities
    neural       the mean of learned word and bigram embeddings -> one linear layer (fastText)
    lstm         word embeddings -> a bidirectional LSTM -> the maximum of each feature over the words -> linear
    transformer  word + position embeddings -> self-attention blocks -> the mean over the words -> linear

The networks learn everything from the training sentences: no pretrained vectors.
"""

from __future__ import annotations

import dataclasses
import json
import math
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
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from mlstarter import persistence
from mlstarter.config import from_dict, to_dict
from mlstarter.runs import Run

from .config import Config, ModelConfig, NeuralConfig, SequenceConfig
from .data import tokenize

CLASSICAL_KINDS = ("tfidf", "nbsvm", "ensemble")
NETWORK_KINDS = ("neural", "lstm", "transformer")  # trained epoch by epoch (train.py), saved as torch weights

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


def pipeline(cfg: ModelConfig) -> Pipeline | VotingClassifier:
    """An untrained scikit-learn model of kind tfidf, nbsvm or ensemble, taking normalised texts.

    tfidf reads word and character n-grams; nbsvm word n-grams only (unless model.nbsvm_chars), as in
    Wang & Manning; the ensemble runs both pipelines side by side and averages their probabilities.
    """
    if cfg.kind == "ensemble":  # each member with its own features: texts in, P(positive) out
        members = [(kind, pipeline(dataclasses.replace(cfg, kind=kind))) for kind in ("tfidf", "nbsvm")]
        return VotingClassifier(members, voting="soft")  # the mean of the two probabilities
    if cfg.kind == "tfidf":
        logistic = LogisticRegression(C=cfg.tfidf_c, max_iter=3000)
        return Pipeline([("features", ngram_features(cfg)), ("classifier", logistic)])
    # Platt scaling: a sigmoid fitted on 3-fold out-of-sample SVM scores turns them into probabilities
    nbsvm = CalibratedClassifierCV(
        NBSVM(C=cfg.nbsvm_c, beta=cfg.nbsvm_beta, alpha=cfg.nbsvm_alpha), method="sigmoid", cv=3, ensemble=False
    )
    words = cfg if cfg.nbsvm_chars else dataclasses.replace(cfg, char_ngrams=())
    return Pipeline([("features", ngram_features(words)), ("classifier", nbsvm)])


def vectorizers(model: Pipeline | VotingClassifier) -> dict[str, TfidfVectorizer]:
    """The fitted n-gram vectorizers of a scikit-learn model by name: "word" and "char", or in the ensemble
    each member's ("tfidf/word", "tfidf/char", "nbsvm/word"). save() and load() keep their vocabularies apart."""
    if isinstance(model, VotingClassifier):  # estimators_: the fitted members, in the order of estimators
        members = zip((name for name, _ in model.estimators), model.estimators_, strict=True)
        return {f"{name}/{part}": v for name, member in members for part, v in vectorizers(member).items()}
    return dict(model.named_steps["features"].transformer_list)


# --- the fastText network (model.kind=neural) ----------------------------------------------------


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

    def inputs(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts -> what FastText.forward takes: (ids, offsets)."""
        return collate([self.encode(t) for t in texts])

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


# --- the sequence networks: a bidirectional LSTM and a Transformer encoder (model.kind=lstm, transformer) ------
#
# Both read a sentence as a sequence of word ids, in order, so a batch of sentences of different lengths
# becomes one (B, T) tensor: each row a sentence, filled up with PAD to the batch's longest (T). Every layer
# below makes sure that padding changes nothing: more padding, the same answer (the tests check it).

PAD, UNK = 0, 1  # the ids of padding and of an unknown word


class WordVocabulary:
    """The words the sequence networks have an embedding for: 0 = <pad>, 1 = <unk>, then the training words,
    most common first. A word not in it (never seen, or seen fewer than min_count times) reads as <unk>."""

    def __init__(self, entries: list[str], max_length: int):
        self.entries = entries  # entries[PAD] = "<pad>", entries[UNK] = "<unk>"
        self.max_length = max_length
        self.index = {entry: i for i, entry in enumerate(entries)}

    @classmethod
    def build(cls, texts: list[str], cfg: SequenceConfig) -> WordVocabulary:
        """Every word seen at least `min_count` times in these (training) texts, most common first."""
        counts = Counter(word for text in texts for word in tokenize(text))
        words = [w for w, n in counts.most_common() if n >= cfg.min_count]
        return cls(["<pad>", "<unk>", *words], cfg.max_length)  # tokenize never makes "<pad>": no clash

    def tokens(self, text: str) -> list[str]:
        """The tokens the network reads: the first max_length; a text without any reads as one <unk>."""
        return tokenize(text)[: self.max_length] or ["<unk>"]

    def encode(self, text: str) -> list[int]:
        """One id per token, UNK for an unknown word: 'a dull zxqv' -> [index['a'], index['dull'], UNK]."""
        return [self.index.get(token, UNK) for token in self.tokens(text)]

    def inputs(self, texts: list[str]) -> tuple[torch.Tensor]:
        """Texts -> what the sequence networks' forward takes: (ids (B, T),)."""
        return (pad([self.encode(t) for t in texts]),)

    def __len__(self) -> int:
        return len(self.entries)

    def save(self, path: Path) -> None:
        saved = {"max_length": self.max_length, "entries": self.entries}
        path.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> WordVocabulary:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return cls(saved["entries"], saved["max_length"])


def pad(encoded: list[list[int]]) -> torch.Tensor:
    """Sentences of word ids -> one (B, T) tensor, T = the longest sentence, the rest of each row PAD."""
    ids = torch.full((len(encoded), max(len(s) for s in encoded)), PAD, dtype=torch.long)
    for row, sentence in enumerate(encoded):
        ids[row, : len(sentence)] = torch.tensor(sentence, dtype=torch.long)
    return ids


class BiLSTM(torch.nn.Module):
    """Word embeddings -> a bidirectional LSTM -> the maximum of each feature over the words -> one logit.

    # ids (B, T) -> embeddings (B, T, E) -> LSTM both ways (B, T, 2H) -> max over the words (B, 2H) -> logit (B,)
    The LSTM carries a memory along the sentence: the forward one has read the words before each word,
    the backward one the words after it, so each word's 2H features describe it in its context ("good"
    after "not" can differ from "good" alone). Max-pooling keeps each feature's strongest value anywhere in
    the sentence: a feature that detects praise fires wherever the praise is.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_dim: int, dropout: float):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.lstm = torch.nn.LSTM(embedding_dim, hidden_dim, batch_first=True, bidirectional=True)
        self.dropout = torch.nn.Dropout(dropout)
        self.output = torch.nn.Linear(2 * hidden_dim, 1)
        # small word vectors to start, as PyTorch's word_language_model example: torch's default N(0, 1) saturates
        # the LSTM's gates (validation accuracy 0.59 after 2 epochs, against 0.73 with this; validation split)
        torch.nn.init.uniform_(self.embedding.weight, -0.1, 0.1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        is_word = ids != PAD  # (B, T)
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        # packed: each direction reads only the sentence's own words (the backward one starts at its last word)
        packed = pack_padded_sequence(x, is_word.sum(1).cpu(), batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=ids.shape[1])  # (B, T, 2H)
        h = h.masked_fill(~is_word.unsqueeze(2), float("-inf"))  # padding never wins the max
        return self.output(self.dropout(h.max(dim=1).values)).squeeze(1)  # (B, 2H) -> (B,)


class SelfAttention(torch.nn.Module):
    """Multi-head self-attention: every word looks at every word of its sentence and takes a weighted mix of them.

    # Q = x Wq, K = x Wk, V = x Wv, each split into h heads of d = D / h features
    # A = softmax(Q K^T / sqrt(d)): A[i, j] = how much word i looks at word j; each row sums to 1
    # output = A V per head (a weighted mix of the words' values), the heads side by side, then W_o
    Dividing by sqrt(d) keeps the scores' spread near 1 whatever d is, so the softmax does not saturate.
    """

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)  # Wq, Wk and Wv in one matrix
        self.out = torch.nn.Linear(dim, dim)  # W_o
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, is_word: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D) and is_word (B, T) -> the mixed vectors (B, T, D) and the attention weights A (B, h, T, T)."""
        B, T, D = x.shape
        h, d = self.heads, D // self.heads
        q, k, v = self.qkv(x).split(D, dim=2)  # each (B, T, D)
        q, k, v = (t.view(B, T, h, d).transpose(1, 2) for t in (q, k, v))  # each (B, h, T, d)
        scores = q @ k.transpose(2, 3) / math.sqrt(d)  # (B, h, T, d) @ (B, h, d, T) -> (B, h, T, T) scores
        scores = scores.masked_fill(~is_word[:, None, None, :], float("-inf"))  # nobody looks at padding
        weights = torch.softmax(scores, dim=-1)  # (B, h, T, T): each row sums to 1 over the sentence's words
        mixed = self.dropout(weights) @ v  # (B, h, T, T) @ (B, h, T, d) -> (B, h, T, d)
        mixed = mixed.transpose(1, 2).reshape(B, T, D)  # (B, T, h, d) -> the heads side by side again
        return self.out(mixed), weights


class EncoderBlock(torch.nn.Module):
    """Self-attention (words exchange information), then a feed-forward network (each word on its own).

    # x = x + Attention(LayerNorm(x))
    # x = x + W2 GELU(W1 LayerNorm(x))
    Each part adds to its input instead of replacing it (a residual connection), and normalises what it
    reads first ("pre-norm", as GPT-2): deep stacks train stably without a learning-rate warm-up.
    """

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = torch.nn.LayerNorm(dim), torch.nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads, dropout)
        self.feed_forward = torch.nn.Sequential(
            torch.nn.Linear(dim, ff_dim), torch.nn.GELU(), torch.nn.Linear(ff_dim, dim)
        )
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, is_word: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mixed, weights = self.attention(self.norm1(x), is_word)
        x = x + self.dropout(mixed)  # (B, T, D)
        x = x + self.dropout(self.feed_forward(self.norm2(x)))  # (B, T, D)
        return x, weights


class TransformerEncoder(torch.nn.Module):
    """Word + position embeddings -> `layers` encoder blocks -> the mean over the words -> one logit.

    # ids (B, T) -> x = word embedding + position embedding (B, T, D) -> blocks (B, T, D)
    #   -> mean over each sentence's words, padding left out (B, D) -> logit (B,)
    Attention alone ignores order (shuffle the words and its outputs shuffle with them), so each position
    0..max_length-1 has a learned embedding of its own, added to the word's.
    Mean pooling rather than a [CLS] token (BERT's extra first token whose last vector alone is classified):
    with [CLS], the network must first learn to gather the sentence into one position through attention;
    the mean hands every word's vector to the output layer directly, an easier start from 8,500 sentences.
    """

    def __init__(
        self, vocab_size: int, max_length: int, dim: int, layers: int, heads: int, ff_dim: int, dropout: float
    ):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.position = torch.nn.Embedding(max_length, dim)
        self.blocks = torch.nn.ModuleList(EncoderBlock(dim, heads, ff_dim, dropout) for _ in range(layers))
        self.norm = torch.nn.LayerNorm(dim)
        self.dropout = torch.nn.Dropout(dropout)
        self.output = torch.nn.Linear(dim, 1)
        for table in (self.embedding, self.position):  # small vectors to start, N(0, 0.02) as GPT-2
            torch.nn.init.normal_(table.weight, std=0.02)

    def encode(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """ids (B, T) -> each word's final vector (B, T, D), is_word (B, T), every block's attention (B, h, T, T)."""
        is_word = ids != PAD
        positions = torch.arange(ids.shape[1], device=ids.device)  # (T,)
        x = self.dropout(self.embedding(ids) + self.position(positions))  # (B, T, D) + (T, D) -> (B, T, D)
        attention = []
        for block in self.blocks:
            x, weights = block(x, is_word)
            attention.append(weights)
        return self.norm(x), is_word, attention

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x, is_word, _ = self.encode(ids)
        w = is_word.unsqueeze(2).float()  # (B, T, 1): 1 on words, 0 on padding
        mean = (x * w).sum(dim=1) / w.sum(dim=1)  # (B, D): the average of the sentence's word vectors
        return self.output(self.dropout(mean)).squeeze(1)  # (B,)


# --- any network -------------------------------------------------------------------------------


class NeuralClassifier:
    """A trained network (fastText, LSTM or Transformer) with its vocabulary, with scikit-learn's
    `predict_proba` on texts. The vocabulary turns texts into the network's input (`inputs`)."""

    BATCH = 256  # texts per forward pass: explanations score thousands of variants of a batch at once

    def __init__(self, network: torch.nn.Module, vocab: Vocabulary | WordVocabulary):
        self.network = network.cpu().eval()
        self.vocab = vocab

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, 2))
        with torch.no_grad():
            logits = [
                self.network(*self.vocab.inputs(texts[i : i + self.BATCH])) for i in range(0, len(texts), self.BATCH)
            ]
            p = torch.sigmoid(torch.cat(logits)).numpy()
        return np.stack([1 - p, p], axis=1)


def attention_weights(model, texts: list[str]) -> list[tuple[list[str], np.ndarray]] | None:
    """For each text, the tokens the Transformer read and its last block's attention weights over them,
    an array (heads, n, n) whose row i says how much token i looks at each token; None for a model
    without attention (every other kind)."""
    if not (isinstance(model, NeuralClassifier) and isinstance(model.network, TransformerEncoder)):
        return None
    views = []
    with torch.no_grad():
        for start in range(0, len(texts), NeuralClassifier.BATCH):
            chunk = texts[start : start + NeuralClassifier.BATCH]
            _, _, weights = model.network.encode(*model.vocab.inputs(chunk))
            for row, text in enumerate(chunk):
                tokens = model.vocab.tokens(text)
                n = len(tokens)
                # the padding's rows and columns cut; float64, so rounding to 4 decimals gives 4 decimals in JSON
                views.append((tokens, weights[-1][row, :, :n, :n].double().numpy()))
    return views


def attention_received(weights: np.ndarray) -> np.ndarray:
    """(heads, n, n) attention weights -> (heads, n): the share of each head's attention each token receives.

    # received[h, j] = (1/n) * sum_i A_h[i, j]   (the mean over the n tokens that look)
    Each row of A sums to 1, so each head's shares sum to 1 over the tokens, every one in [0, 1].
    """
    return weights.mean(axis=1)


# --- any kind ---------------------------------------------------------------------------------


def vocabulary(cfg: Config, texts: list[str]) -> Vocabulary | WordVocabulary:
    """The network's vocabulary, from the training texts: n-grams for fastText, words for the sequence networks."""
    if cfg.model.kind == "neural":
        return Vocabulary.build(texts, cfg.neural)
    return WordVocabulary.build(texts, cfg.network())


def build(cfg: Config, vocab: Vocabulary | WordVocabulary | None = None) -> Pipeline | torch.nn.Module:
    """An untrained model of kind `cfg.model.kind`: a scikit-learn pipeline taking normalised texts, or a
    network with one embedding per entry of `vocab` (built from the training sentences, so a network can
    only be built once they are known)."""
    kind = cfg.model.kind
    if kind in CLASSICAL_KINDS:
        return pipeline(cfg.model)
    if vocab is None:
        raise ValueError("a network has one embedding per entry of its vocabulary: call build(cfg, vocab)")
    if kind == "neural":
        return FastText(len(vocab), cfg.neural.embedding_dim)
    if kind == "lstm":
        return BiLSTM(len(vocab), cfg.lstm.embedding_dim, cfg.lstm.hidden_dim, cfg.lstm.dropout)
    t = cfg.transformer
    return TransformerEncoder(len(vocab), t.max_length, t.embedding_dim, t.layers, t.heads, t.ff_dim, t.dropout)


def save(run_dir: Path, model: Pipeline | NeuralClassifier, cfg: Config, metrics: dict[str, float]) -> None:
    """Write a trained model into a run folder.

    A network: its weights in model.pt (with the config and metrics: the checkpoint describes
    itself) and its vocabulary in vocab.json. A scikit-learn model goes to model.skops, except its
    n-gram vocabularies: skops writes each dictionary entry as a small JSON object of its own, so
    vocabularies of a hundred thousand n-grams would make most of the file and most of its loading
    time. They go to vocabulary.json instead: a list of n-grams, the position of each = its feature column.
    """
    if cfg.model.kind in NETWORK_KINDS:
        persistence.save_torch(run_dir / "model.pt", model.network.state_dict(), config=to_dict(cfg), metrics=metrics)
        model.vocab.save(run_dir / "vocab.json")
        return
    fitted = vectorizers(model)
    vocabularies = {name: v.vocabulary_ for name, v in fitted.items()}
    (run_dir / "vocabulary.json").write_text(
        json.dumps({name: sorted(vocab, key=vocab.get) for name, vocab in vocabularies.items()}, ensure_ascii=False),
        encoding="utf-8",
    )
    try:
        for v in fitted.values():
            v.vocabulary_ = {}
        persistence.save_sklearn(model, run_dir / "model.skops")
    finally:
        for name, v in fitted.items():
            v.vocabulary_ = vocabularies[name]


def load(run: Run) -> Pipeline | NeuralClassifier:
    """The trained model of a run, loaded safely (skops with our trusted types, or torch weights only)."""
    cfg = from_dict(Config, run.config)
    if cfg.model.kind in NETWORK_KINDS:
        vocab = (Vocabulary if cfg.model.kind == "neural" else WordVocabulary).load(run.path / "vocab.json")
        network = build(cfg, vocab)
        network.load_state_dict(persistence.load_torch(run.path / "model.pt")["model_state"])
        return NeuralClassifier(network, vocab)
    model = persistence.load_sklearn(run.path / "model.skops", TRUSTED_TYPES)
    saved = json.loads((run.path / "vocabulary.json").read_text(encoding="utf-8"))
    for name, v in vectorizers(model).items():
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
