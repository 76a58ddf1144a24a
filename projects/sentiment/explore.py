"""Explore the sentences before modelling them: a data report, with what each plot shows computed from the data.

    $ make explore PROJECT=sentiment
    $ python -m projects.sentiment.explore [--data reviews.csv] [--set data.separator=semicolon] [--out FOLDER]

Reads the sentences through data.load, as train.py does (so --data explores your own CSV the same way),
and writes runs/sentiment-explore/: report.md (it reads on its own), report.json (its numbers) and plots/.
1. the classes in each split;
2. how long the sentences of each class are, and whether length alone gives the class away;
3. the vocabulary: its size, how much of it is seen once, and how much of the validation and test words
   it covers (a word never seen in training tells a bag-of-words model nothing);
4. the most distinctive words of each class: log-odds ratios with an informative Dirichlet prior
   (Monroe, Colaresi & Quinn 2008, "Fightin' Words"), which do not crown words seen twice, and how many
   words lean to a class when the labels are shuffled (what chance alone gives);
5. near-duplicates across the splits: a test sentence that is (nearly) a training sentence is scored on
   something the model has already seen, and flatters the test score.
Steps 2 to 4 use the training split only: the validation and test sentences stay unseen, as in train.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import roc_auc_score

from mlstarter import paths
from mlstarter.explore import Report, explore_parser, percent, sample, write
from mlstarter.scripts import load_config, run_script

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
TOP_WORDS = 15  # distinctive words shown per class: enough to see a theme, few enough to read
MIN_COUNT = 5  # words seen fewer times in training are not ranked: a z-score over 4 occurrences is mostly chance
# The prior's total weight alpha_0, spread over the words by their overall frequency (Monroe et al.'s scaled
# prior): 1,000 words' worth is a whisper beside 161,061 training words, so z keeps its meaning. Measured: with
# the Rotten Tomatoes labels shuffled, sd(z) is 0.93 (1 = a calibrated z); with each word's own count as its
# prior (alpha_0 = all the words) it is 0.58, and "|z| > 1.96" is then far stricter than a 5% test.
ALPHA_0 = 1000
SHUFFLES = 5  # label shuffles that measure how many words lean to a class by chance (averaged: one is noisy)
SHINGLE = 5  # near-duplicates compare sets of character 5-grams: robust to a changed word or punctuation
NEAR_DUPLICATE = 0.8  # Jaccard similarity of those sets from which two sentences count as near-copies
MAX_COMPARED = 5000  # validation and test sentences compared with the training sentences (a sample above this)
MAX_REFERENCES = 100_000  # training sentences they are compared with (a sample above this): minutes, not hours
SHOWN_PAIRS, MAX_SHOWN_PAIRS = 5, 20  # the closest pairs in the report: 5 even without copies, 20 at most
BLOCK = 4_000_000  # similarities held at once: a (queries, training sentences) block of 16 MB in float32


def report(cfg: Config) -> Report:
    """The data report of the configured sentences (Rotten Tomatoes, or --data), built in memory, a section a step."""
    loaded = data.load(cfg)
    sentences, splits = loaded.sentences, loaded.splits
    source = cfg.data.path or f"{data.DATASET.name} ({', '.join(loaded.files)})"
    found = Report(PROJECT, f"{source}: {len(sentences):,} sentences, {sentences[data.LABEL].mean():.1%} positive.")
    classes(found, splits)
    tokens = splits["train"][data.TEXT].map(words)  # a list of words per training sentence
    y = splits["train"][data.LABEL].to_numpy()
    sentence_length(found, tokens, y)
    vocabulary(found, tokens, splits)
    distinctive_words(found, tokens, y, cfg.seed)
    near_duplicates(found, splits, cfg.seed)
    repeated_texts(found, sentences)
    return found


def words(text: str) -> list[str]:
    """The words of a text as the models see them: data.tokenize's tokens that hold a letter or digit."""
    return [t for t in data.tokenize(text) if data.is_word(t)]


def normalised(text: str) -> str:
    """Lower case, words only, single spaces: "It's GOOD!" and "it's good ." become the same string."""
    return " ".join(words(text))


def classes(found: Report, splits: dict[str, pd.DataFrame]) -> None:
    """1. The classes in each split."""
    found.section("1. The classes")
    found.table(
        ["split", "sentences", "positive", "negative", "positive share"],
        [[name, len(part), int(part[data.LABEL].sum()), int((part[data.LABEL] == 0).sum()),
          percent(part[data.LABEL].mean(), 1)] for name, part in splits.items()],
    )  # fmt: skip
    found.numbers["splits"] = {name: {"sentences": len(p), "positive_share": float(p[data.LABEL].mean())}
                               for name, p in splits.items()}  # fmt: skip
    found.text(
        f"Sections 2 to 4 look at the {len(splits['train']):,} training sentences only: the validation and test "
        "sentences stay unseen here, as in train.py, so nothing chosen from this report has peeked at them."
    )


def sentence_length(found: Report, tokens: pd.Series, y: np.ndarray) -> None:
    """2. Words per sentence in each class, and how well length alone ranks the classes."""
    found.section("2. Sentence length")
    lengths = tokens.map(len)
    medians = {name: float(lengths[y == label].median()) for label, name in enumerate(data.LABEL_NAMES)}
    auc = float(roc_auc_score(y, lengths)) if len(np.unique(y)) == 2 else float("nan")
    longer = (
        "neither class runs longer" if round(auc, 2) == 0.5 else f"{data.LABEL_NAMES[int(auc > 0.5)]} ones run longer"
    )
    found.plot(
        "length",
        length_figure(lengths, y),
        f"Median length: {medians['positive']:g} words for positive sentences, {medians['negative']:g} for negative; "
        f"length alone ranks the classes with ROC AUC {auc:.2f} (0.5 = no signal; {longer}): "
        + (
            "the words, not the length, must carry the class."
            if abs(auc - 0.5) < 0.1
            else "length gives part of the class away, a shortcut a model can take."
        )
        + f" Longest: {lengths.max()} words.",
    )
    found.numbers["length"] = {
        "median_words": medians,
        "roc_auc_length_alone": auc,
        "max_words": int(lengths.max()),
        "quantiles": {str(q): float(v) for q, v in lengths.quantile([0.05, 0.5, 0.95]).items()},
    }


def vocabulary(found: Report, tokens: pd.Series, splits: dict[str, pd.DataFrame]) -> None:
    """3. The training vocabulary: its size, and how much of the validation and test words it covers."""
    found.section("3. Vocabulary and coverage")
    counts = pd.Series([w for ws in tokens for w in ws]).value_counts()  # word -> count in training, most first
    known = set(counts.index)
    once = int((counts == 1).sum())
    coverage = {}
    for name in ("val", "test"):
        unseen_words = [w for text in splits[name][data.TEXT] for w in words(text)]
        coverage[name] = sum(w in known for w in unseen_words) / max(1, len(unseen_words))
    cumulative = counts.cumsum().to_numpy() / counts.sum()  # share of training words covered by the k most frequent
    k = min(1000, len(counts))
    found.plot(
        "vocabulary",
        vocabulary_figure(cumulative, coverage),
        f"{len(counts):,} distinct training words, {once:,} ({percent(once / len(counts))}) seen only once; the "
        f"{k:,} most frequent cover {percent(cumulative[k - 1])} of the training text. The training vocabulary covers "
        f"{percent(coverage['test'], 1)} of the test words: {percent(1 - coverage['test'], 1)} are new to a model.",
    )
    found.numbers["vocabulary"] = {
        "words": len(counts),
        "seen_once": once,
        "tokens": int(counts.sum()),
        "coverage": coverage,
        "top_1000_share": float(cumulative[k - 1]),
    }


def log_odds(counts_a: pd.Series, counts_b: pd.Series, alpha_0: float = ALPHA_0) -> pd.DataFrame:
    """Log-odds ratio of each word in class a against class b, with an informative Dirichlet prior.

    Monroe et al. (2008), eq. 16-22, with the scaled prior alpha_w = alpha_0 * (y_a + y_b) / N (N: all words):
        delta_w = log((y_a + alpha_w) / (n_a + alpha_0 - y_a - alpha_w)) - log(same for b)
        var(delta_w) ~ 1 / (y_a + alpha_w) + 1 / (y_b + alpha_w);   z_w = delta_w / sqrt(var)
    A z above 1.96 (below -1.96): the word leans to class a (b) beyond what chance gives, for one word.
    """
    vocabulary = counts_a.index.union(counts_b.index)
    y_a, y_b = counts_a.reindex(vocabulary, fill_value=0), counts_b.reindex(vocabulary, fill_value=0)
    alpha = alpha_0 * (y_a + y_b) / (y_a + y_b).sum()  # (V,) the prior: how common the word is overall
    n_a, n_b = y_a.sum(), y_b.sum()
    log_odds_a = np.log((y_a + alpha) / (n_a + alpha_0 - y_a - alpha))
    log_odds_b = np.log((y_b + alpha) / (n_b + alpha_0 - y_b - alpha))
    delta = log_odds_a - log_odds_b
    z = delta / np.sqrt(1 / (y_a + alpha) + 1 / (y_b + alpha))
    return pd.DataFrame({"count_a": y_a, "count_b": y_b, "z": z})


def class_counts(tokens: pd.Series, y: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """How often each word occurs in the positive sentences and in the negative ones: (positive, negative)."""
    ids, vocabulary = pd.factorize(pd.Series([w for ws in tokens for w in ws], dtype=object))  # (words,), (V,)
    label = np.repeat(y, tokens.map(len).to_numpy())  # (words,) the label of the sentence each word is in
    per_class = (np.bincount(ids[label == c], minlength=len(vocabulary)) for c in (1, 0))
    return tuple(pd.Series(counts, index=vocabulary) for counts in per_class)


def distinctive_words(found: Report, tokens: pd.Series, y: np.ndarray, seed: int) -> None:
    """4. The words that lean most to each class (log-odds z), and how many lean by chance (labels shuffled)."""
    found.section("4. The most distinctive words of each class")
    odds = log_odds(*class_counts(tokens, y))  # class a = positive, b = negative
    common = (odds["count_a"] + odds["count_b"]) >= MIN_COUNT
    if not common.any():  # a small file of your own: no word seen MIN_COUNT times, so rank them all
        common[:] = True
    ranked = odds[common].sort_values("z")
    positive = ranked[ranked["z"] > 0].iloc[::-1].head(TOP_WORDS)  # the largest z first
    negative = ranked[ranked["z"] < 0].head(TOP_WORDS)  # the most negative z first
    leaning = int((ranked["z"].abs() > 1.96).sum())
    # the same count with the labels shuffled across the sentences: what chance alone gives, averaged
    rng = np.random.default_rng(seed)
    by_chance = float(np.mean([
        (log_odds(*class_counts(tokens, rng.permutation(y)))[common]["z"].abs() > 1.96).sum() for _ in range(SHUFFLES)
    ]))  # fmt: skip
    found.plot(
        "distinctive_words",
        words_figure(positive, negative),
        f"Leaning most to positive: {top(positive, 'positive')}; to negative: {top(negative, 'negative')}. {leaning:,} of the {len(ranked):,} words seen {MIN_COUNT}+ times "
        f"lean to a class (|z| > 1.96); with the labels shuffled, {by_chance:,.0f} do (chance, over {SHUFFLES} "
        "shuffles).",
    )
    found.text(
        "z: the log-odds ratio of the word in positive against negative training sentences, divided by its "
        f"standard error, with an informative Dirichlet prior worth {ALPHA_0:,} words spread by each word's overall "
        "frequency (Monroe, Colaresi & Quinn 2008). Raw frequency would rank 'the' and 'film' first; a plain ratio, "
        "words seen twice. Among thousands of words some pass |z| > 1.96 by chance: the shuffled count says how many."
    )
    found.numbers["distinctive_words"] = {
        "positive": {w: float(z) for w, z in positive["z"].items()},
        "negative": {w: float(z) for w, z in negative["z"].items()},
        "ranked_words": len(ranked),
        "leaning_words": leaning,
        "leaning_words_shuffled": by_chance,
        "alpha_0": ALPHA_0,
    }


def top(leaning: pd.DataFrame, label: str) -> str:
    """The five words that lean most to `label` ("positive" or "negative"), the first one's z and counts."""
    if leaning.empty:
        return "no word"
    first = leaning.iloc[0]
    uses = {"positive": int(first["count_a"]), "negative": int(first["count_b"])}
    other = "negative" if label == "positive" else "positive"
    return (f"{', '.join(leaning.index[:5])} ('{leaning.index[0]}': z {first['z']:.1f}, {uses[label]} {label} vs "
            f"{uses[other]} {other} uses)")  # fmt: skip


def nearest_training(queries: list[str], train: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each query sentence, the highest Jaccard similarity of its character 5-gram set with any training
    sentence's, and that sentence's index. Sparse matrix products, a block of queries at a time (at most BLOCK
    similarities held at once, however many training sentences):
        |A ∩ B| = (Q @ T.T)[i, j] for binary rows;  J = |A ∩ B| / (|A| + |B| - |A ∩ B|)
    """
    shingles = CountVectorizer(analyzer="char", ngram_range=(SHINGLE, SHINGLE), binary=True, lowercase=False)
    padded = [f" {t} " for t in queries]  # spaces mark the first and last word's edges
    T = shingles.fit_transform([f" {t} " for t in train])  # (n_train, V) 0/1
    Q = shingles.transform(padded)  # (n_queries, V) 0/1; 5-grams that no training sentence has are dropped here
    size_t = np.asarray(T.sum(axis=1)).ravel().astype(np.float32)  # |B| (n_train,)
    size_q = np.array([max(1, len({q[i : i + SHINGLE] for i in range(len(q) - SHINGLE + 1)})) for q in padded])  # |A|
    best, where = np.zeros(len(queries)), np.zeros(len(queries), np.int64)
    rows = max(1, BLOCK // max(1, len(train)))  # queries per block
    for start in range(0, len(queries), rows):
        shared = (Q[start : start + rows] @ T.T).toarray().astype(np.float32)  # (rows, n_train) |A ∩ B|
        jaccard = shared / (size_q[start : start + rows, None] + size_t[None, :] - shared)
        where[start : start + rows] = jaccard.argmax(axis=1)
        best[start : start + rows] = jaccard.max(axis=1)
    return best, where


def near_duplicates(found: Report, splits: dict[str, pd.DataFrame], seed: int) -> None:
    """5. Validation and test sentences that are (nearly) training sentences."""
    found.section("5. Near-duplicates across the splits")
    train = splits["train"]
    held_out = pd.concat([splits["val"].assign(split="val"), splits["test"].assign(split="test")])
    compared = held_out.iloc[sample(len(held_out), MAX_COMPARED, seed)]
    references = sample(len(train), MAX_REFERENCES, seed + 1)  # training sentences searched: all, or a sample
    train_texts = [normalised(t) for t in train[data.TEXT]]
    compared_texts = [normalised(t) for t in compared[data.TEXT]]
    similarity, nearest = nearest_training(compared_texts, [train_texts[i] for i in references])
    nearest = references[nearest]  # back to indices of all the training sentences
    # exact copies: the same words in the same order, looked up among all the training sentences (a hash look-up).
    # Their similarity is 1, also for a text too short for a 5-gram (Jaccard of two empty sets would say 0)
    index_of = {text: i for i, text in enumerate(train_texts)}
    exact = np.array([t in index_of for t in compared_texts])
    similarity[exact] = 1.0
    nearest[exact] = [index_of[t] for t, copy in zip(compared_texts, exact, strict=True) if copy]
    near = similarity >= NEAR_DUPLICATE
    test_near = near & (compared["split"] == "test").to_numpy()
    same_label = compared[data.LABEL].to_numpy() == train[data.LABEL].to_numpy()[nearest]
    sampled = (f" (a sample of {len(compared):,} of {len(held_out):,})" if len(compared) < len(held_out) else "") + (
        f", against a sample of {len(references):,} of the {len(train):,} training sentences (exact copies: all)"
        if len(references) < len(train) else "")  # fmt: skip
    found.plot(
        "near_duplicates",
        duplicates_figure(similarity),
        f"{int(near.sum())} of {len(compared):,} validation and test sentences{sampled} ({percent(near.mean(), 1)}) "
        f"have a near-copy in training (Jaccard ≥ {NEAR_DUPLICATE} on character {SHINGLE}-grams), {int(exact.sum())} "
        f"an exact one; {int(test_near.sum())} are test sentences; {int((near & ~same_label).sum())} of the near-copies "
        f"carry the other label. The closest comes to {similarity.max():.2f}.",
    )
    found.text(
        f"Each validation and test sentence{sampled} is compared with the training sentences. Similarity: the "
        f"Jaccard index of their sets of character {SHINGLE}-grams (lower case, words only), 1 = the same text. "
        "A test sentence with a near-copy in training is partly a training example: drop the copies (or count "
        "them) before trusting a small difference between two models' test scores."
    )
    order = np.argsort(-similarity)[: max(SHOWN_PAIRS, int(near.sum()))][:MAX_SHOWN_PAIRS]
    found.text("The held-out sentences closest to a training sentence:")
    found.table(
        ["split", "sentence", "nearest training sentence", "Jaccard", "same label"],
        [[compared["split"].iloc[i], compared[data.TEXT].iloc[i], train[data.TEXT].iloc[nearest[i]],
          f"{similarity[i]:.2f}", "yes" if same_label[i] else "**no**"] for i in order],
    )  # fmt: skip
    found.numbers["duplicates"] = {
        "compared": len(compared),
        "held_out": len(held_out),
        "references": len(references),
        "near_copies": int(near.sum()),
        "exact_copies": int(exact.sum()),
        "test_near_copies": int(test_near.sum()),
        "near_copies_other_label": int((near & ~same_label).sum()),
        "threshold": NEAR_DUPLICATE,
    }


def repeated_texts(found: Report, sentences: pd.DataFrame) -> None:
    """The end of section 5: texts that appear more than once in all the data, and those with both labels."""
    labels_by_text = pd.Series(sentences[data.LABEL].to_numpy()).groupby([normalised(t) for t in sentences[data.TEXT]])
    conflicting = int((labels_by_text.nunique() > 1).sum())
    repeated = int((labels_by_text.size() > 1).sum())
    found.text(
        f"In all the data, {repeated:,} text{'s appear' if repeated != 1 else ' appears'} more than once (after "
        f"normalising), {conflicting:,} with both labels: a model cannot get both right, and such a pair usually "
        "means a labelling slip."
    )
    found.numbers["duplicates"].update({"repeated_texts": repeated, "conflicting_texts": conflicting})


def length_figure(lengths: pd.Series, y: np.ndarray) -> Figure:
    """Histograms of words per sentence, one per class, on the same bins."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    bins = np.arange(0, lengths.quantile(0.995) + 2) - 0.5
    for label, name in enumerate(data.LABEL_NAMES):
        ax.hist(lengths[y == label], bins=bins, alpha=0.55, label=name, color=("#DD8452", "#4C72B0")[label])
    ax.set(xlabel="words per sentence", ylabel="training sentences", title="Sentence length by class")
    ax.legend()
    return fig


def vocabulary_figure(cumulative: np.ndarray, coverage: dict[str, float]) -> Figure:
    """The share of the training text covered by the k most frequent words, and the whole vocabulary's coverage
    of the validation and test words."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(np.arange(1, len(cumulative) + 1), 100 * cumulative, label="training text covered by the top k words")
    for (name, share), style in zip(coverage.items(), (":", "--"), strict=False):
        ax.axhline(100 * share, color="tab:red", linestyle=style, label=f"{name} words in the training vocabulary")
    ax.set_xscale("log")
    ax.set(xlabel="k most frequent training words", ylabel="% of words", ylim=(0, 101), title="Vocabulary coverage")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def words_figure(positive: pd.DataFrame, negative: pd.DataFrame) -> Figure:
    """The z-scores of the most distinctive words of each class, side by side."""
    fig = Figure(figsize=(9, 0.28 * max(len(positive), len(negative)) + 1.5))
    left, right = fig.subplots(1, 2)
    left.barh(negative.index[::-1], negative["z"].iloc[::-1], color="#DD8452")
    left.set(title="negative", xlabel="z (log-odds ratio)")
    right.barh(positive.index[::-1], positive["z"].iloc[::-1], color="#4C72B0")
    right.set(title="positive", xlabel="z (log-odds ratio)")
    fig.suptitle("The words that lean most to each class (training split)")
    return fig


def duplicates_figure(similarity: np.ndarray) -> Figure:
    """How close each validation and test sentence comes to its nearest training sentence."""
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.hist(similarity, bins=np.linspace(0, 1, 41), color="#4C72B0")
    ax.axvline(NEAR_DUPLICATE, color="tab:red", linestyle="--", label=f"near-copy from {NEAR_DUPLICATE}")
    ax.set_yscale("log")
    ax.set(xlabel=f"Jaccard similarity to the nearest training sentence (character {SHINGLE}-grams)",
           ylabel="validation and test sentences", title="Does a held-out sentence repeat a training one?")  # fmt: skip
    ax.legend()
    return fig


def main(argv: list[str] | None = None) -> int:
    args = explore_parser(__doc__, PROJECT).parse_args(argv)
    cfg = load_config(Config, args)  # --data and --set, as train.py takes them
    found = report(cfg)
    written = write(found, args.out)
    print(found.summary())
    print(f"Report: {paths.shown(written)} (plots in {paths.shown(written.parent / 'plots')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
