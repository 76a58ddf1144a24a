"""train.py and evaluate.py end to end on the bundled digits (offline, seconds), every variant, and resuming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlstarter import runs, testing
from mlstarter.checkpoints import STATE, Checkpoint
from mlstarter.config import ConfigError, from_dict, to_dict
from mlstarter.scripts import load_config, train_parser

from .. import evaluate, model, train
from ..config import Config
from .conftest import write_npz


def checkpoint_of(*args: str) -> Checkpoint:
    """The checkpoint folder that train.py with these arguments uses."""
    cfg = load_config(Config, train_parser(None).parse_args(args), train.DRY_RUN_OVERRIDES)
    return Checkpoint.for_run(train.PROJECT, cfg, dry_run="--dry-run" in args)


def test_a_short_training_beats_the_untrained_generator_and_evaluate_writes_everything(runs_dir: Path, train_run):
    # half the default width (64 channels, not 128), which makes an epoch about three times faster: what is checked
    # is that the GAN learns at all, and this one still ends far below the bar (val_fd about 4% of the untrained's)
    run = train_run("--set", "train.epochs=8", "--set", "train.sample_every=4", "--set", "model.channels=64")
    m = run.metrics
    assert m["val_fd"] < m["val_fd_untrained"] / 3  # eight epochs on 1,257 digits already do this
    history = run.read_json("history.json")["epochs"]
    assert [h["epoch"] for h in history] == list(range(1, 9))
    assert m["val_best_epoch"] == min(history, key=lambda h: h["val_fd"])["epoch"]  # the kept generator is the best
    assert {p.name for p in (run.path / "plots" / "progress").iterdir()} == {"epoch_004.png", "epoch_008.png"}
    assert not (runs_dir.parent / f".{train.PROJECT}-checkpoints").exists()  # nothing left to resume

    assert evaluate.main([]) == 0
    m = runs.latest_run(run.project).metrics
    assert m["test_fd_real"] < m["test_fd"] < m["test_fd_untrained"] and m["test_fd_ratio"] < 1 / 3
    assert 0 <= m["test_precision"] <= 1 and 0 <= m["test_recall"] <= 1
    assert m["test_class_accuracy"] > 0.3 and "test_class_accuracy_9" in m
    assert m["test_near_copies"] < 0.5
    plots = {p.name for p in (run.path / "plots").iterdir()}
    assert {"losses.png", "fd_by_epoch.png", "samples.png", "progress.png", "real_vs_fake.png",
            "nearest_neighbours.png", "nearest_distance.png", "class_accuracy.png"} <= plots  # fmt: skip
    card = (run.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "Inception" in card and "must not be passed off as real" in card


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.conditional=false"],
        ["model.loss=wgan-gp", "train.critic_steps=5", "train.beta1=0", "train.beta2=0.9"],
        ["model.spectral_norm=true"],
    ],
    ids=["unconditional", "wgan-gp", "spectral-norm"],
)
def test_every_variant_trains_and_evaluates(runs_dir: Path, train_run, overrides: list[str]):
    run = train_run("--dry-run", *[arg for o in overrides for arg in ("--set", o)])
    assert evaluate.main([]) == 0
    m = runs.latest_run(run.project).metrics
    assert np.isfinite(m["test_fd"]) and ("test_class_accuracy" in m) == ("model.conditional=false" not in overrides)


def test_colour_images_of_another_size_train_and_evaluate(tmp_path: Path, runs_dir: Path, train_run):
    npz = write_npz(tmp_path / "colour.npz", colour=True)
    run = train_run("--data", str(npz), "--dry-run")
    assert evaluate.main([]) == 0
    grid = Image.open(run.path / "plots" / "progress" / "epoch_002.png")
    assert grid.mode == "RGB" and grid.size[0] > 16 * 8  # 16x16 colour images, scaled up 4 times


def test_an_interrupted_run_resumes_exactly_where_it_stopped(
    runs_dir: Path, train_run, capsys: pytest.CaptureFixture[str]
):
    # a narrower network than the default (32 channels, not 128) for the three trainings here: resuming must
    # give the same numbers whatever the width
    args = ["--dry-run", "--set", "train.epochs=3", "--set", "model.channels=32"]
    whole = train_run(*args).read_json("history.json")["epochs"]  # the uninterrupted reference

    with testing.interrupted_in_epoch(train), pytest.raises(KeyboardInterrupt):  # Ctrl-C during epoch 2
        train.main(args)
    assert len(runs.complete_runs(train.PROJECT)) == 1  # only the reference: nothing half-written is visible
    folder = checkpoint_of(*args).folder
    assert (folder / STATE).is_file() and (folder / "judge.pt").is_file()

    capsys.readouterr()
    resumed = train_run(*args, "--resume")
    assert "Resuming from" in capsys.readouterr().out
    history = resumed.read_json("history.json")["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3]  # epoch 1 from the checkpoint, 2 and 3 trained again
    for a, b in zip(whole, history, strict=True):  # as if it had never stopped
        for key in ("d_loss", "g_loss", "val_fd"):
            assert a[key] == pytest.approx(b[key], rel=1e-4), key
    assert {p.name for p in (resumed.path / "plots" / "progress").iterdir()} == {f"epoch_00{i}.png" for i in (1, 2, 3)}
    assert not folder.exists()  # done: nothing left behind


def test_training_names_the_folder_its_sample_grids_end_up_in(
    runs_dir: Path, train_run, capsys: pytest.CaptureFixture[str]
):
    run = train_run("--dry-run", "--set", "train.epochs=1", "--set", "judge.epochs=1")
    out = capsys.readouterr().out
    progress = run.path / "plots" / "progress"
    assert f"Sample grids of the same noise, epoch by epoch: {progress}\n" in out
    assert [p.name for p in progress.iterdir()] == ["epoch_001.png"]
    assert f".{train.PROJECT}-checkpoints" not in out  # the checkpoint's folder is gone once the run is saved


def test_starting_over_says_so_and_clears_the_old_checkpoint(
    runs_dir: Path, train_run, capsys: pytest.CaptureFixture[str]
):
    stale = checkpoint_of("--dry-run").path("samples") / "epoch_099.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    run = train_run("--dry-run")
    assert "starting over" in capsys.readouterr().out
    assert "epoch_099.png" not in {p.name for p in (run.path / "plots" / "progress").iterdir()}


def test_the_real_xray_sample_trains_and_evaluates(sample_npz: Path, runs_dir: Path, train_run):
    # 28x28 X-rays cost far more per image than 8x8 digits: a narrower network (32 channels, not 128) keeps it short
    run = train_run("--data", str(sample_npz), "--dry-run", "--set", "model.channels=32")
    gan = model.load(run)
    assert gan.images == {"side": 28, "channels": 1, "n_classes": 2, "name": sample_npz.name}
    assert gan.generator.n_classes == 2 and not gan.generator.training and not gan.judge.training
    assert evaluate.main([]) == 0
    assert set(runs.latest_run(run.project).metrics) >= {"test_fd", "test_class_accuracy_1", "test_near_copies"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("train.label_smoothing", 0.5, "train.label_smoothing must be in [0, 0.5); got 0.5"),
        ("model.latent_dim", 0, "model.latent_dim and model.channels must be at least 1; got 0, 128"),
        ("judge.patience", 0, "judge.patience must be at least 1; got 0"),
    ],
)
def test_a_bad_value_is_refused_alike_by_train_and_by_a_saved_config(key: str, value: float, message: str):
    """train's --set and a run's config.json (read by evaluate and serve) go through the same validate()."""
    with pytest.raises(ConfigError) as from_train:
        train.main(["--set", f"{key}={value}"])
    saved = to_dict(Config())
    section, name = key.split(".")
    saved[section][name] = value
    with pytest.raises(ConfigError) as from_run:
        from_dict(Config, saved)
    assert str(from_train.value) == str(from_run.value) == message
