# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Sentiment, from the sentences to a model that answers
#
# Is this movie review positive or negative? This notebook walks the project's steps in order, with the
# project's own code: **look at the data** (`explore.py`), **train** (`train.py`), **evaluate** on sentences
# the model never saw (`evaluate.py`), and **ask the served model** about a sentence of your own (`serve.py`),
# all in this notebook's process. Every step is also a command (`make explore PROJECT=sentiment`, ...); the
# guide, [README.md](README.md), explains each in depth.
#
# Run the cells from the top (Shift+Enter). Training the default model takes about half a minute.

# %%
from pathlib import Path

from fastapi.testclient import TestClient

from mlstarter import runs
from mlstarter.notebook import show_markdown, show_plots
from mlstarter.paths import import_script, runs_dir

# Jupyter starts a notebook in its own folder, projects/<name>/. The project is that folder's name, so a copy
# of the folder under another name (make new, or cp -r) runs its own code here, not the original's.
PROJECT = Path.cwd().name
data, explore, train, evaluate, serve = (
    import_script(PROJECT, step) for step in ("data", "explore", "train", "evaluate", "serve")
)

# %% tags=["parameters"]
# What `make test` changes when it runs this notebook (papermill's "parameters" convention).
DRY_RUN = False  # True: train on 400 sentences, in seconds (the model is then much worse)
DATA_ARGS: list[str] = []  # e.g. ["--data", "/path/to/reviews.csv"]: your own CSV with text and label columns
SETTINGS: list[str] = []  # e.g. ["--set", "model.kind=nbsvm"]: any key of config.py

# %% [markdown]
# ## 1. Look at the data first
#
# 10,662 one-sentence movie reviews from Rotten Tomatoes, half positive, half negative. Before any model: how
# long the sentences are in each class, how many different words there are, which words are most typical of
# each class, and whether the same sentence appears in two splits (a test sentence seen in training would
# flatter the model).

# %%
assert explore.main(DATA_ARGS) == 0
show_markdown(runs_dir() / f"{PROJECT}-explore" / "report.md")

# %% [markdown]
# ## 2. Train
#
# The default model averages two linear models over word and character n-grams (TF-IDF + logistic regression,
# and NB-SVM); `SETTINGS` above can choose another kind, including the neural ones.

# %%
assert train.main([*DATA_ARGS, *SETTINGS, *(["--dry-run"] if DRY_RUN else [])]) == 0
run = runs.latest_run(PROJECT)
run.metrics

# %% [markdown]
# ## 3. Evaluate on the held-out sentences
#
# Accuracy beside always answering the majority class, ROC AUC, calibration, and the n-grams the model finds
# most positive and most negative. The model card ends with the sentences it got wrong most confidently.

# %%
assert evaluate.main(["--run", run.run_id]) == 0
show_plots(run.path / "plots", ["roc", "top_ngrams"])

# %%
show_markdown(run.path / "MODEL_CARD.md")

# %% [markdown]
# ## 4. Ask the model about a sentence
#
# The same app `make serve` runs, called in this process. Each answer lists the words that moved it most:
# the change in log-odds of "positive" when the word is left out.

# %%
sentences = [serve.EXAMPLE["text"], "Not bad at all.", "The plot is thin and the jokes fall flat."]
with TestClient(serve.create_app(run.run_id)) as client:
    answers = client.post("/predict/batch", json={"texts": sentences}).json()["predictions"]
for text, answer in zip(sentences, answers, strict=True):
    words = ", ".join(f"{w['word']} {w['effect']:+.2f}" for w in answer["words"][:3])
    print(f"{answer['label']:>8} {answer['probability_positive']:.2f}  {text}\n          moved by: {words}")

# %% [markdown]
# ## 5. What to try next
#
# - Another kind: `SETTINGS = ["--set", "model.kind=neural"]` (or `nbsvm`, `tfidf`), rerun from step 2 and
#   compare the model cards; the guide's Results section has every kind's 10-fold accuracy.
# - Your own reviews: `make examples PROJECT=sentiment` writes a CSV in the format `--data` takes, in
#   runs/sentiment-examples/; set `DATA_ARGS` above to its full path and rerun every cell, exploration included.
# - Domain shift: ask the model about product reviews instead of movie reviews. Where does it go wrong?
# - Serve it for real: `make serve PROJECT=sentiment`, then open http://127.0.0.1:8000/.
# - The exercises at the end of [README.md](README.md).
