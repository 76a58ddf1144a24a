"""The sequence networks (model.kind=lstm, transformer): vocabulary, shapes, padding, learning, resuming,
and the transformer's attention in evaluate.py and in the API (offline, seconds, on generated reviews)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient

from mlstarter import checkpoints, runs, testing, training
from mlstarter.checkpoints import Checkpoint
from mlstarter.config import apply_overrides, to_dict
from mlstarter.scripts import load_config, train_parser

from .. import data, evaluate, model, predict, serve, train
from ..config import Config
from ..model import PAD, UNK, WordVocabulary, attention_weights, pad, probability
from .conftest import toy_reviews

SEQUENCE_KINDS = ("lstm", "transformer")


def small(kind: str) -> Config:
    """A narrow network of `kind`: the tests check behaviour, not quality."""
    return apply_overrides(
        Config(), [f"model.kind={kind}", f"{kind}.embedding_dim=16", "lstm.hidden_dim=16", "transformer.ff_dim=32"]
    )


def test_the_word_vocabulary_numbers_padding_unknown_words_and_cuts_long_texts(tmp_path: Path):
    cfg = apply_overrides(Config(), ["lstm.min_count=2", "lstm.max_length=4"])
    vocab = WordVocabulary.build(["a good film", "a dull film", "good"], cfg.lstm)
    assert vocab.entries[:2] == ["<pad>", "<unk>"] and set(vocab.entries[2:]) == {"a", "good", "film"}  # not "dull"
    assert vocab.encode("A DULL film!") == [vocab.index["a"], UNK, vocab.index["film"], UNK]  # "!" unknown too
    assert len(vocab.encode("a good film , a good film")) == 4  # the first max_length tokens
    assert vocab.encode("") == [UNK]  # a text without tokens reads as one unknown word
    vocab.save(tmp_path / "vocab.json")
    loaded = WordVocabulary.load(tmp_path / "vocab.json")
    assert loaded.entries == vocab.entries and loaded.max_length == 4


def test_pad_fills_each_row_up_to_the_longest():
    assert pad([[5, 6, 7], [8]]).tolist() == [[5, 6, 7], [8, PAD, PAD]]


@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_one_logit_per_sentence_and_padding_changes_nothing(kind: str):
    torch.manual_seed(0)
    network = model.build(small(kind), WordVocabulary(["<pad>", "<unk>", *"abcdefgh"], max_length=16)).eval()
    ids = pad([[2, 3, 4, 5], [6, 7], [8]])  # (3, 4)
    with torch.no_grad():
        logits = network(ids)
        assert logits.shape == (3,)
        more_padding = torch.cat([ids, torch.full((3, 5), PAD)], dim=1)  # (3, 9): the same sentences
        assert torch.allclose(network(more_padding), logits, atol=1e-6)
        assert torch.allclose(network(ids[2:]), logits[2:], atol=1e-6)  # alone, without the others' padding


def test_attention_rows_sum_to_one_and_never_look_at_padding():
    torch.manual_seed(0)
    network = model.build(small("transformer"), WordVocabulary(["<pad>", "<unk>", *"abcd"], max_length=8)).eval()
    with torch.no_grad():
        _, is_word, attention = network.encode(pad([[2, 3, 4], [5]]))
    assert len(attention) == len(network.blocks) == 2 and attention[-1].shape == (2, 4, 3, 3)  # (B, h, T, T)
    assert torch.allclose(attention[-1].sum(dim=-1), torch.ones(2, 4, 3))  # each row is a distribution
    assert (attention[-1][1, :, :, 1:] == 0).all()  # the one-word sentence's padding gets no attention
    assert is_word.tolist() == [[True, True, True], [True, False, False]]


@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_a_handful_of_sentences_is_learned_by_heart(kind: str):
    # eight sentences, two of them with the "wrong" words for their label: only memorising gets all eight
    texts = ["a superb film", "moving and funny", "dull stuff", "an awful mess", "superb but dull", "funny",
             "awful yet moving", "the dull one"]  # fmt: skip
    labels = [1, 1, 0, 0, 0, 1, 1, 0]
    frame = pd.DataFrame({data.TEXT: texts, data.LABEL: labels})
    corpus = data.Data(frame, {"train": frame, "val": frame}, files={})
    overrides = [f"{kind}.min_count=1", f"{kind}.dropout=0", f"{kind}.word_dropout=0", f"{kind}.epochs=60"]
    overrides += [f"{kind}.patience=60", f"{kind}.learning_rate=0.01", f"{kind}.batch_size=8"]
    classifier, history = train.fit(apply_overrides(small(kind), overrides), corpus, progress=False)
    assert ((probability(classifier, texts) >= 0.5) == np.array(labels)).all()
    assert history[-1]["val_loss"] < 0.1


@pytest.fixture(scope="module")
def toy_corpus() -> data.Data:
    frame = pd.DataFrame(toy_reviews(300), columns=[data.TEXT, data.LABEL])
    train_part, val, test = data.split(frame, Config().data, seed=0)
    return data.Data(frame, {"train": train_part, "val": val, "test": test}, files={})


@pytest.mark.parametrize("kind", SEQUENCE_KINDS)
def test_a_network_learns_the_toy_task_and_loads_back_to_the_same_answers(
    kind: str, toy_corpus: data.Data, tmp_path: Path
):
    cfg = apply_overrides(small(kind), [f"{kind}.epochs=15", f"{kind}.learning_rate=0.005"])
    classifier, _ = train.fit(cfg, toy_corpus, progress=False)
    test = toy_corpus.splits["test"][data.TEXT].tolist()
    p = probability(classifier, test)
    assert ((p >= 0.5) == toy_corpus.splits["test"][data.LABEL].to_numpy()).mean() >= 0.85  # 5% of labels flipped
    runs.write_json(tmp_path / "config.json", to_dict(cfg))
    model.save(tmp_path, classifier, cfg, metrics={})
    loaded = model.load(runs.Run(train.PROJECT, tmp_path.name, tmp_path))
    assert np.array_equal(probability(loaded, test), p)  # the same weights and vocabulary: the same numbers
    good, bad = model.word_effects(loaded, ["the brilliant film .", "the dull film ."])  # occlusion: any kind
    assert dict(good)["brilliant"] > 0 > dict(bad)["dull"]


def test_only_the_transformer_has_attention(toy_corpus: data.Data):
    lstm, _ = train.fit(apply_overrides(small("lstm"), ["lstm.epochs=1"]), toy_corpus, progress=False)
    assert attention_weights(lstm, ["a film"]) is None
    transformer, _ = train.fit(
        apply_overrides(small("transformer"), ["transformer.epochs=1"]), toy_corpus, progress=False
    )
    [(tokens, weights)] = attention_weights(transformer, ["A moving film!"])
    assert tokens == ["a", "moving", "film", "!"] and weights.shape == (4, 4, 4)  # (heads, n, n)


@pytest.mark.parametrize("kind", ["neural", "lstm", "transformer"])
def test_an_interrupted_run_resumes_exactly_where_it_stopped(
    kind: str, toy_csv: Path, runs_dir: Path, train_run, capsys
):
    args = ["--data", str(toy_csv), "--set", f"model.kind={kind}", "--set", f"{kind}.epochs=3"]
    args += ["--set", f"{kind}.patience=3", "--set", f"{kind}.embedding_dim=16"]
    whole = train_run(*args).read_json("history.json")["epochs"]  # the uninterrupted reference

    with testing.interrupted_in_epoch(training), pytest.raises(KeyboardInterrupt):  # Ctrl-C during epoch 2
        train.main(args)
    assert len(runs.complete_runs(train.PROJECT)) == 1  # only the reference: nothing half-written is visible
    checkpoint = Checkpoint.for_run(
        train.PROJECT, load_config(Config, train_parser(None).parse_args(args)), dry_run=False
    )
    assert checkpoint.path(checkpoints.STATE).is_file()  # epoch 1's state, saved before the interruption

    capsys.readouterr()
    resumed = train_run(*args, "--resume")
    assert "Resuming from" in capsys.readouterr().out
    history = resumed.read_json("history.json")["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for a, b in zip(whole, history, strict=True):  # as if it had never stopped: the same batches, the same dropout
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    assert resumed.metrics["val_log_loss"] == pytest.approx(min(h["val_loss"] for h in whole), rel=1e-4)
    assert not checkpoint.folder.exists()  # done: nothing left behind


# --- the transformer's attention, end to end: evaluate.py and the API ---------------------------------------


@pytest.fixture(scope="module")
def transformer_run(toy_csv: Path, trained_once) -> runs.Run:
    return trained_once("--data", str(toy_csv), "--set", "model.kind=transformer", "--dry-run")


def test_evaluate_draws_the_attention_and_the_card_says_how_to_read_it(transformer_run: runs.Run):
    assert evaluate.main(["--run", transformer_run.run_id]) == 0
    assert (transformer_run.path / "plots" / "attention.png").is_file()
    view = transformer_run.read_json("attention.json")
    assert len(view["sentences"]) == 2
    for sentence in view["sentences"]:
        weights = np.array(sentence["weights"])  # (heads, n, n)
        assert weights.shape == (4, len(sentence["tokens"]), len(sentence["tokens"]))
        assert np.allclose(weights.sum(axis=2), 1, atol=1e-3)
        assert np.allclose(sentence["received"], weights.mean(axis=1), atol=1e-3)
    card = (transformer_run.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "plots/attention.png" in card and "Jain & Wallace" in card


@pytest.fixture(scope="module")
def client(transformer_run: runs.Run):
    with TestClient(serve.create_app(transformer_run.run_id)) as c:
        yield c


def test_the_api_says_what_each_head_looks_at(client: TestClient):
    body = client.post("/predict", json={"text": "A brilliant, charming film."}).json()
    attention = body["attention"]
    assert attention["tokens"] == data.tokenize("A brilliant, charming film.")
    assert len(attention["heads"]) == Config().transformer.heads
    for weights in attention["heads"]:  # one weight per token, each head's shares summing to 1
        assert len(weights) == len(attention["tokens"]) and all(0 <= w <= 1 for w in weights)
        assert all(round(w, 4) == w for w in weights)  # 0.2114, not float32's 0.21140000224113464
        assert sum(weights) == pytest.approx(1, abs=1e-3)
    batch = client.post("/predict/batch", json={"texts": ["Dull.", "A brilliant, charming film."]}).json()
    assert batch["predictions"][1] == body  # a batch answers each text as /predict does
    assert len(batch["predictions"][0]["attention"]["tokens"]) == 2


def test_the_attention_field_is_in_the_schema_with_its_bounds(client: TestClient):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    weight = schemas["Attention"]["properties"]["heads"]["items"]["items"]
    assert weight["minimum"] == 0 and weight["maximum"] == 1
    assert "attention" in schemas["Prediction"]["properties"]


def test_make_predict_labels_a_file_with_the_transformer(transformer_run: runs.Run, tmp_path: Path):
    texts = tmp_path / "reviews.txt"
    texts.write_text("A moving, funny film.\nDull and far too long.\n", encoding="utf-8")
    assert predict.main([str(texts), str(tmp_path / "labels.csv"), "--run", transformer_run.run_id]) == 0
    header = (tmp_path / "labels.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "probability_positive" in header and "attention" not in header  # the API's structure, not a column
