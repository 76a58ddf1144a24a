"""The sentence polarity data: find or download it, read it, validate your own CSV, split it.

    $ python -m projects.sentiment.data        # where the data is, how many sentences, a few examples

The canonical dataset is Pang & Lee's sentence polarity dataset v1.0: 10,662 review
snippets from Rotten Tomatoes, 5,331 positive and 5,331 negative, one per line, already
lower-cased and tokenised, in Latin-1. Your own data is a CSV with a `text` column and a
`label` column (1/0 or positive/negative).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import regex
from sklearn.model_selection import train_test_split

from mlstarter.datasets import DataError, DataFile, Dataset, check_class_counts, check_separator, fetch, separator

from .config import Config, DataConfig

ARCHIVE_URL = "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz"
DATASET = Dataset(
    name="rt-polarity",
    files=(
        DataFile(
            "rt-polarity.pos",
            url=ARCHIVE_URL,
            member="rt-polaritydata/rt-polarity.pos",
            sha256="2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
        ),
        DataFile(
            "rt-polarity.neg",
            url=ARCHIVE_URL,
            member="rt-polaritydata/rt-polarity.neg",
            sha256="4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
        ),
    ),
    license="No explicit license: published by the authors for research use",
    citation=(
        "Bo Pang and Lillian Lee, 'Seeing stars: Exploiting class relationships for sentiment categorization "
        "with respect to rating scales', ACL 2005."
    ),
    homepage="https://www.cs.cornell.edu/people/pabo/movie-review-data/",
    description="Sentence polarity dataset v1.0: 10,662 Rotten Tomatoes snippets, half positive, half negative",
)
TEXT, LABEL = "text", "label"
LABEL_NAMES = ("negative", "positive")  # label 0, label 1
LABEL_VALUES = {"0": 0, "1": 1, "negative": 0, "positive": 1, "neg": 0, "pos": 1}  # accepted in your CSV
MIN_PER_CLASS = 10  # fewer examples of a class than this cannot be split into train, validation and test

# A token is a run of letters, digits and apostrophes ("didn't", "21st", "century's"), or any
# other single visible character ("!", "?", an emoji). This matches how the dataset was
# tokenised. The `regex` module's \p{M} keeps combining marks inside their word, so any script
# works: Hindi "हिन्दी" or Arabic with vowel marks stay one word. NFC first turns "e" + "◌́" into "é".
TOKEN_PATTERN = r"[\w\p{M}']+|[^\w\p{M}\s]"
_TOKEN = regex.compile(TOKEN_PATTERN)


def tokenize(text: str) -> list[str]:
    """'I didn't like it :(' -> ['i', "didn't", 'like', 'it', ':', '(']"""
    return _TOKEN.findall(unicodedata.normalize("NFC", text.lower()))


@dataclass
class Data:
    """The sentences, split, and the files they came from."""

    sentences: pd.DataFrame  # all of them, `text` and `label` (1 = positive), before the split
    splits: dict[str, pd.DataFrame]  # "train", "val" and "test": stratified, fixed by the seed
    files: dict[str, Path]  # the files read, for the run's checksums


def load(cfg: Config) -> Data:
    """Your CSV (`data.path`) or the Rotten Tomatoes sentences, split by the config's shares (80/10/10 by
    default) and seed: the same config always gives the same split."""
    if cfg.data.path:
        path = Path(cfg.data.path).expanduser()
        if not path.is_file():
            raise DataError(f"--data {cfg.data.path}: no such file.")
        sentences, files = read_csv(path, separator(cfg.data.separator)), {path.name: path}
    else:
        files = fetch(DATASET)
        sentences = read_polarity(files["rt-polarity.pos"], files["rt-polarity.neg"])
    train, val, test = split(sentences, cfg.data, cfg.seed)
    return Data(sentences, {"train": train, "val": val, "test": test}, files)


def read_polarity(pos: Path, neg: Path) -> pd.DataFrame:
    """The two files of the dataset: one sentence per line, Latin-1 (the files are not UTF-8)."""
    texts, labels = [], []
    for path, label in ((neg, 0), (pos, 1)):
        # split on "\n" only: str.splitlines() would also split on \x85, a character these files contain
        lines = [line.strip() for line in path.read_text(encoding="latin-1").split("\n")]
        texts += [line for line in lines if line]
        labels += [label] * sum(1 for line in lines if line)
    return pd.DataFrame({TEXT: texts, LABEL: labels})


def read_csv(path: Path, sep: str = ",") -> pd.DataFrame:
    """Read your own CSV (UTF-8) with a `text` and a `label` column; every bad row is reported at once."""
    check_separator(path, sep)  # a ;-separated export is named as such, with the option to pass
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8", sep=sep)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}). Save it as UTF-8.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(f"{path}: not a readable CSV: {error}") from None
    raw.columns = [c.strip().lower() for c in raw.columns]
    if raw.columns.duplicated().any():
        raise DataError(
            f"{path}: columns {list(raw.columns)} repeat a name (ignoring case); keep one 'text' and one 'label'."
        )
    missing = [c for c in (TEXT, LABEL) if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: no column {' or '.join(missing)}. Found {list(raw.columns)}; need 'text' and 'label'."
        )

    errors = []
    for i, (text, label) in enumerate(zip(raw[TEXT], raw[LABEL], strict=True)):  # row by row: in file order
        row = i + 2  # row 1 is the header
        if not text.strip():
            errors.append(f"row {row}, column text: empty")
        if label.strip().lower() not in LABEL_VALUES:
            errors.append(f"row {row}, column label: {label!r} is not one of 1, 0, positive, negative, pos, neg")
    if errors:
        shown = "\n  ".join(errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise DataError(f"{path}: {len(errors)} invalid value(s):\n  {shown}{more}")

    frame = pd.DataFrame({TEXT: raw[TEXT].str.strip(), LABEL: raw[LABEL].str.strip().str.lower().map(LABEL_VALUES)})
    check_class_counts(
        str(path),
        {f"{label} ({name})": int((frame[LABEL] == label).sum()) for label, name in enumerate(LABEL_NAMES)},
        MIN_PER_CLASS,
        "A train, a validation and a test split with both classes in each",
        "or larger validation and test shares (--set data.val_size=0.2 --set data.test_size=0.2)",
    )
    return frame


def reference(train: pd.DataFrame, val: pd.DataFrame, p_val: np.ndarray) -> dict:
    """What the model learned from, saved with the run (reference.json): the words of the training texts,
    and the length and label balance of those texts. Serving warns about a text with few known words.

    For drift monitoring (monitor.py) it also keeps the summary of each validation text (`summarize`: its
    words, characters and known-word share) and the model's P(positive) for it. Validation texts, not
    training ones: every word of a training text is known by definition, so only texts the vocabulary was
    not built from show the share of unknown words that new, unshifted traffic has."""
    counts = pd.Series([token for text in train[TEXT] for token in tokenize(text) if is_word(token)]).value_counts()
    lengths = train[TEXT].map(lambda text: sum(is_word(t) for t in tokenize(text)))
    quantiles = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1]
    vocabulary = set(counts.index)
    # at most MONITOR_SAMPLE validation texts (a fixed draw), so reference.json stays small for any CSV
    rows = np.arange(len(val))
    if len(rows) > MONITOR_SAMPLE:
        rows = np.sort(np.random.default_rng(0).choice(rows, MONITOR_SAMPLE, replace=False))
    summaries = [summarize(text, vocabulary) for text in val[TEXT].iloc[rows]]
    p_monitored = np.asarray(p_val)[rows]
    return {
        "texts": len(train),
        "positive_rate": float(train[LABEL].mean()),
        "words_per_text": dict(zip(map(str, quantiles), lengths.quantile(quantiles).tolist(), strict=True)),
        "vocabulary": sorted(vocabulary),  # every word seen in training at least once
        # what the monitor compares traffic with: the validation texts' summaries and the model's answers
        "monitored_texts": len(rows),
        "values": {key: [s[key] for s in summaries] for key in ("words", "characters", "known_word_share")},
        "scores": np.round(p_monitored, 4).tolist(),  # P(positive) of each of those validation texts
        "predicted_positive_rate": float(np.mean(p_monitored >= 0.5)),  # labelled positive at 0.5
    }


MONITOR_SAMPLE = 2000  # validation texts kept for monitoring: enough for PSI's ten bins at ~200 texts each


def summarize(text: str, vocabulary: set[str] | None) -> dict:
    """What the prediction log keeps of a text, never the text itself: its length in words and in characters
    (spaces not counted, so "it's good" and the dataset's "it 's good" are as long) and the share of its
    words seen in training (None without a vocabulary; 0 for a text with no words). The monitor compares
    these with the same numbers of the validation texts."""
    words = [t for t in tokenize(text) if is_word(t)]
    share = None
    if vocabulary is not None:
        share = round(sum(w in vocabulary for w in words) / len(words), 4) if words else 0.0
    return {"words": len(words), "characters": sum(not c.isspace() for c in text), "known_word_share": share}


# Below this share of words seen in training, a text is mostly unknown to the model: its answer rests on the
# few words it knows (or, with none, on its prior); serve.py warns, monitor.py counts. Real sentences rarely
# fall below it: 2 of the 1,067 validation sentences (0.2%) did; 99% know more than 59% of their words, and
# half know 96%.
FEW_KNOWN_WORDS = 0.5


def is_word(token: str) -> bool:
    """A token with a letter or digit in it: "didn't", "21st"; not "!" or "(" (which every text shares)."""
    return any(c.isalnum() for c in token)


def known_share(text: str, vocabulary: set[str]) -> tuple[int, int]:
    """(known, words): how many of the text's words were seen in training, of how many words."""
    words = [t for t in tokenize(text) if is_word(t)]
    return sum(w in vocabulary for w in words), len(words)


def split(frame: pd.DataFrame, cfg: DataConfig, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stratified train / validation / test split. Same seed, same split: evaluate.py finds the test set again."""
    try:
        rest, test = train_test_split(frame, test_size=cfg.test_size, stratify=frame[LABEL], random_state=seed)
        train, val = train_test_split(
            rest, test_size=cfg.val_size / (1 - cfg.test_size), stratify=rest[LABEL], random_state=seed
        )
    except ValueError as error:  # e.g. a test share too small to hold both classes
        raise DataError(
            f"cannot split {len(frame)} texts with data.val_size={cfg.val_size} and data.test_size={cfg.test_size}: "
            f"{error} Use more data or larger shares."
        ) from None
    return train, val, test


if __name__ == "__main__":
    corpus = load(Config())
    print(f"{DATASET.description}\nFiles: {', '.join(str(p) for p in corpus.files.values())}")
    print(corpus.sentences[LABEL].map(dict(enumerate(LABEL_NAMES))).value_counts().to_string())
    print(", ".join(f"{name}: {len(part)}" for name, part in corpus.splits.items()))
    for text, label in corpus.sentences.sample(5, random_state=0).itertuples(index=False):
        print(f"  [{LABEL_NAMES[label]}] {text}")
