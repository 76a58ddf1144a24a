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
# # Time series, from the prices to a forecast that answers
#
# What will the S&P 500 do next week, and how sure can anyone be? This notebook walks the project's steps in
# order, with the project's own code: **look at the data** (`explore.py`), **train**, which here means a
# walk-forward backtest of every model over the years (`train.py`), **evaluate** it with significance tests
# (`evaluate.py`), and **ask the served forecaster** for the next five days (`serve.py`), all in this
# notebook's process. Every step is also a command (`make explore PROJECT=time_series`, ...); the guide,
# [README.md](README.md), explains each in depth.
#
# Run the cells from the top (Shift+Enter). The backtest takes about a minute; the evaluation's bootstrap
# tests take a few more.

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
DRY_RUN = False  # True: a 60-day backtest, in seconds (too short to tell the models apart)
DATA_ARGS: list[str] = []  # e.g. ["--data", "/path/to/prices.csv", "--set", "data.price_column=Close"]: your own
# small settings: the last 3 years scored instead of 10 (the guide's full backtest: SETTINGS = [])
SETTINGS: list[str] = ["--set", "backtest.test_days=750"]

# %% [markdown]
# ## 1. Look at the data first
#
# Twenty years of the index's daily closing prices. A model is fitted to *returns*, not prices: the report
# shows why. Look at the tails of the return distribution against the normal curve, at how little today's
# return says about tomorrow's, and at how much today's *size* of move says about tomorrow's (volatility
# clusters: the reason GARCH exists).

# %%
assert explore.main(DATA_ARGS) == 0
show_markdown(runs_dir() / f"{PROJECT}-explore" / "report.md")

# %% [markdown]
# ## 2. Train: the walk-forward backtest
#
# At every trading day of the test years, every model forecasts from the past only and is scored against
# what happened next; the models are refitted every month. The run keeps every forecast.

# %%
assert train.main([*DATA_ARGS, *SETTINGS, *(["--dry-run"] if DRY_RUN else [])]) == 0
run = runs.latest_run(PROJECT)
run.metrics

# %% [markdown]
# ## 3. Evaluate: does any model beat the random walk?
#
# MASE below 1 would beat "tomorrow's price is today's"; the SPA test asks whether the best of the models beats
# it by more than luck. Volatility is another story: compare the GARCH models' QLIKE with the baselines'.

# %%
assert evaluate.main(["--run", run.run_id]) == 0
show_plots(run.path / "plots", ["forecast_vs_actual", "volatility"])

# %%
show_markdown(run.path / "MODEL_CARD.md")

# %% [markdown]
# ## 4. Ask the forecaster about the next five trading days
#
# The same app `make serve` runs, called in this process, with the request body of the API's documentation:
# recent prices, and a five-day horizon. The answer is a median path with a 90% interval around it.

# %%
with TestClient(serve.create_app(run.run_id)) as client:
    answer = client.post("/forecast", json=serve.EXAMPLE).json()
print(
    f"From {answer['last_date']} at {answer['last_price']:,.2f} ({answer['returns_model']} returns, "
    f"{answer['volatility_model']} volatility: {answer['annualised_volatility_pct']:.1f}% a year):"
)
for step in answer["path"]:
    print(
        f"  day {step['day']}  {step['date']}  median {step['median_price']:>9,.2f}"
        f"  90% interval {step['lower']:,.2f} to {step['upper']:,.2f}"
    )

# %% [markdown]
# ## 5. What to try next
#
# - The full backtest of the guide (ten years scored): `SETTINGS = []`; then a rolling window instead of all the
#   past, `SETTINGS = ["--set", "backtest.window=rolling"]`: does any model gain?
# - Your own ticker: `make examples PROJECT=time_series` writes a price CSV in the format `--data` takes, in
#   runs/time_series-examples/; set `DATA_ARGS` above to its full path and rerun every cell, exploration included.
# - Another interval: `--set backtest.interval=0.8`, and check its coverage in the model card.
# - Serve it for real: `make serve PROJECT=time_series`, then open http://127.0.0.1:8000/.
# - The exercises at the end of [README.md](README.md).
