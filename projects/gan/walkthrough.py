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
# # A GAN, from the digits to a generator that draws new ones
#
# Can a network learn to draw handwritten digits it has never seen? This notebook walks the project's steps in
# order, with the project's own code: **look at the data** (`explore.py`), **train** a generator against a
# discriminator (`train.py`), **evaluate** what it draws (`evaluate.py`), and **ask the served generator** for
# new digits (`serve.py`), all in this notebook's process. Every step is also a command
# (`make explore PROJECT=gan`, ...); the guide, [README.md](README.md), explains each in depth.
#
# Run the cells from the top (Shift+Enter). Training takes about half a minute.

# %%
from pathlib import Path

from fastapi.testclient import TestClient
from IPython.display import Image

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
DRY_RUN = False  # True: a few batches, in seconds (the generator then draws noise)
DATA_ARGS: list[str] = []  # the data, explored and trained on: ["--data", "/path/to/images.npz"] (MedMNIST layout)
SETTINGS: list[str] = []  # e.g. ["--set", "model.loss=wgan-gp"]: any key of config.py

# %% [markdown]
# ## 1. Look at the data first
#
# 1,797 handwritten digits of 8x8 pixels (scikit-learn's digits). Before any model: what each class looks like,
# the pixels' statistics, and how far each real image is from its nearest neighbour among the others: a
# generator whose images sit much closer than that to a training image is copying, not drawing.

# %%
assert explore.main(DATA_ARGS) == 0
show_markdown(runs_dir() / f"{PROJECT}-explore" / "report.md")

# %% [markdown]
# ## 2. Train
#
# The generator turns noise (and a class) into an image; the discriminator learns to tell its images from real
# ones; each improves against the other. Every epoch, the Fréchet distance measures how far the generated
# images are from real ones.

# %%
assert train.main([*DATA_ARGS, *SETTINGS, *(["--dry-run"] if DRY_RUN else [])]) == 0
run = runs.latest_run(PROJECT)
run.metrics

# %% [markdown]
# ## 3. Evaluate what it draws
#
# The Fréchet distance against real images (and against an untrained generator), whether a separate classifier
# reads each image as the class asked for, and the nearest training image of each generated one: copying?

# %%
assert evaluate.main(["--run", run.run_id]) == 0
show_plots(run.path / "plots", ["samples", "nearest_neighbours"])

# %%
show_markdown(run.path / "MODEL_CARD.md")

# %% [markdown]
# ## 4. Ask the generator for new digits
#
# The same app `make serve` runs, called in this process: sixteen sevens from seed 3. The same seed always
# draws the same images; change it for new ones.

# %%
with TestClient(serve.create_app(run.run_id)) as client:
    answer = client.get("/generate", params={"n": 16, "seed": 3, "class": 7})
print(
    f"{answer.headers['content-type']}, classes {answer.headers.get('x-classes')}, "
    f"warnings: {answer.headers.get('x-warnings', 'none')}"
)
Image(data=answer.content)

# %% [markdown]
# ## 5. What to try next
#
# - Another loss: `SETTINGS = ["--set", "model.loss=wgan-gp"]`, rerun from step 2 and compare the Fréchet
#   distances in the model cards.
# - Bigger images: `DATA_ARGS = ["--set", "data.source=mnist"]` (28x28 MNIST, explored and trained on; longer).
# - Your own images: an .npz in the MedMNIST layout (`make examples PROJECT=gan` writes a small one); set
#   `DATA_ARGS` above to it and rerun every cell, exploration included.
# - Serve it for real: `make serve PROJECT=gan`, then open http://127.0.0.1:8000/.
# - The exercises at the end of [README.md](README.md).
