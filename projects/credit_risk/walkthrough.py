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
# # Credit risk, from the data to a model that answers
#
# Should the bank lend to this applicant? This notebook walks the project's steps in order, with the
# project's own code: **look at the data** (`explore.py`), **train** (`train.py`), **evaluate** on applicants
# the model never saw (`evaluate.py`), and **ask the served model** about one applicant (`serve.py`), all in
# this notebook's process. Every step is also a command (`make explore PROJECT=credit_risk`, ...); the guide,
# [README.md](README.md), explains each in depth.
#
# Run the cells from the top (Shift+Enter). Training takes seconds.

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
DRY_RUN = False  # True: train on a tiny subset, in a second (the model is then no good)
DATA_ARGS: list[str] = []  # e.g. ["--data", "/path/to/applicants.csv"]: your own data (the guide, section 1)

# %% [markdown]
# ## 1. Look at the data first
#
# 1,000 German applicants from the 1990s, 20 attributes each, and whether they repaid. Before any model: how
# many defaulted, which attributes separate good from bad payers (Information Value), which are sensitive
# (sex and age: the fairness section starts from their base rates), and which look too good to be true.

# %%
assert explore.main(DATA_ARGS) == 0
show_markdown(runs_dir() / f"{PROJECT}-explore" / "report.md")

# %% [markdown]
# ## 2. Train
#
# Cross-validation on 80% of the applicants chooses the model's settings and the decision threshold that
# costs the bank least (a default costs five times a refused good customer); the other 20% wait for step 3.

# %%
assert train.main([*DATA_ARGS, *(["--dry-run"] if DRY_RUN else [])]) == 0
run = runs.latest_run(PROJECT)
run.metrics

# %% [markdown]
# ## 3. Evaluate on the held-out applicants
#
# ROC AUC says how well the model ranks applicants; the cost per applicant, whether its decisions save money
# against approving everyone. The model card holds every number beside its baseline.

# %%
assert evaluate.main(["--run", run.run_id]) == 0
show_plots(run.path / "plots", ["roc", "cost_vs_threshold", "importance"])

# %%
show_markdown(run.path / "MODEL_CARD.md")

# %% [markdown]
# ## 4. Ask the model about one applicant
#
# The same app `make serve` runs, called in this process: the example applicant of the API's documentation,
# with the attributes that moved the score most (`?explain=true`).

# %%
applicant = serve.EXAMPLE
with TestClient(serve.create_app(run.run_id)) as client:
    answer = client.post("/predict?explain=true", json=applicant).json()
print(f"P(default) {answer['probability_of_default']:.2f}: {answer['decision']} (threshold {answer['threshold']})")
for factor in answer["top_features"]:
    print(f"  {factor['feature']:<25} {factor['value']!s:<22} {factor['effect']:+.2f}")

# %% [markdown]
# Change one attribute and ask again: what moves the decision?

# %%
with TestClient(serve.create_app(run.run_id)) as client:
    longer = client.post("/predict", json={**applicant, "duration_months": 48}).json()
print(f"Over 48 months instead of 6: P(default) {longer['probability_of_default']:.2f}, {longer['decision']}")

# %% [markdown]
# ## 5. What to try next
#
# - Another model: `train.main(["--set", "model.kind=boosting"])`, then evaluate it and compare the model cards
#   (the guide's section 3 says what to expect).
# - Another cost of a default: `--set cost.bad_as_good=10` moves the threshold; see the cost curve above.
# - Your own applicants: `examples.main([])` (or `make examples PROJECT=credit_risk`) writes a CSV in this format;
#   set `DATA_ARGS = ["--data", str(examples_dir(PROJECT) / "applicants.csv")]` above and rerun every cell.
# - Serve it for real: `make serve PROJECT=credit_risk`, then open http://127.0.0.1:8000/.
# - The exercises at the end of [README.md](README.md).
