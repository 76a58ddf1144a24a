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
# # Medical imaging, from the X-rays to a model that answers
#
# Does this chest X-ray show pneumonia? This notebook walks the project's steps in order, with the project's
# own code: **look at the data** (`explore.py`), **train** a small convolutional network (`train.py`),
# **evaluate** it on X-rays it never saw (`evaluate.py`), and **ask the served model** about one X-ray, with the
# Grad-CAM map of where it looked (`serve.py`), all in this notebook's process. Every step is also a command
# (`make explore PROJECT=medical_imaging`, ...); the guide, [README.md](README.md), explains each in depth.
#
# A teaching project, **not a medical device**: never use it on a patient. Run the cells from the top
# (Shift+Enter). Training with the small settings below takes a few minutes on a laptop CPU.

# %%
import base64
from pathlib import Path

from fastapi.testclient import TestClient
from IPython.display import Image

from mlstarter import runs
from mlstarter.notebook import show_markdown, show_plots
from mlstarter.paths import examples_dir, import_script, runs_dir

# Jupyter starts a notebook in its own folder, projects/<name>/. The project is that folder's name, so a copy
# of the folder under another name (make new, or cp -r) runs its own code here, not the original's.
PROJECT = Path.cwd().name
data, explore, train, evaluate, serve, examples = (
    import_script(PROJECT, step) for step in ("data", "explore", "train", "evaluate", "serve", "examples")
)

# %% tags=["parameters"]
# What `make test` changes when it runs this notebook (papermill's "parameters" convention).
DRY_RUN = False  # True: 128 images, two epochs, in seconds (the model is then no good)
DATA_ARGS: list[str] = []  # e.g. ["--data", "/path/to/xrays.npz"]: your own .npz in the MedMNIST layout
# small settings: 5 epochs (the guide's full training, up to 30 epochs with early stopping: SETTINGS = [])
SETTINGS: list[str] = ["--set", "train.epochs=5"]

# %% [markdown]
# ## 1. Look at the data first
#
# PneumoniaMNIST: chest X-rays of children, shrunk to 28x28 pixels, labelled normal or pneumonia. Before any
# model: what the images look like, how unbalanced the classes are in each split, whether the classes differ
# in plain brightness (a shortcut a network would happily learn instead of the disease), and whether the same
# image appears in two splits.

# %%
assert explore.main(DATA_ARGS) == 0
show_markdown(runs_dir() / f"{PROJECT}-explore" / "report.md")

# %% [markdown]
# ## 2. Train
#
# A small convolutional network, trained from random weights with augmentation and a loss weighted against the
# class imbalance; the decision threshold is chosen on the validation images for screening.

# %%
assert train.main([*DATA_ARGS, *SETTINGS, *(["--dry-run"] if DRY_RUN else [])]) == 0
run = runs.latest_run(PROJECT)
run.metrics

# %% [markdown]
# ## 3. Evaluate on the held-out X-rays
#
# ROC AUC with its confidence interval, sensitivity and specificity at the chosen threshold, calibration, and
# Grad-CAM maps: is the network looking at the lungs?

# %%
assert evaluate.main(["--run", run.run_id]) == 0
show_plots(run.path / "plots", ["roc", "gradcam"])

# %%
show_markdown(run.path / "MODEL_CARD.md")

# %% [markdown]
# ## 4. Ask the model about one X-ray
#
# `make examples` saves a few test X-rays as PNG files, named for their true label. We send one to the same app
# `make serve` runs, called in this process, and ask for the Grad-CAM map beside the answer.

# %%
assert examples.main(DATA_ARGS) == 0
xray = sorted((examples_dir(PROJECT) / "xrays").glob("xray-pneumonia-*.png"))[0]
with TestClient(serve.create_app(run.run_id)) as client:
    answer = client.post("/predict?gradcam=true", files={"file": (xray.name, xray.read_bytes(), "image/png")}).json()
print(
    f"{xray.name}: P(pneumonia) {answer['probability_pneumonia']:.2f} -> {answer['label']} "
    f"(threshold {answer['threshold']:.2f}); warnings: {[w['code'] for w in answer['warnings']] or 'none'}"
)
Image(data=base64.b64decode(answer["gradcam_png"]))

# %% [markdown]
# ## 5. What to try next
#
# - The full training of the guide: `SETTINGS = []`; a deeper network: `SETTINGS = ["--set", "model.kind=resnet"]`;
#   rerun from step 2 and compare the model cards.
# - Your own images: an .npz in the MedMNIST layout (`make examples PROJECT=medical_imaging` writes a small
#   one); set `DATA_ARGS` above to it and rerun every cell, exploration included.
# - Something that is not an X-ray: the examples folder has a few (`unusual/`); which warnings fire?
# - Serve it for real: `make serve PROJECT=medical_imaging`, then open http://127.0.0.1:8000/.
# - The exercises at the end of [README.md](README.md), and its section on the ethics of medical AI.
