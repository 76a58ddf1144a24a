from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlstarter import runs


@dataclass
class Cfg:
    seed: int = 1


def write_run(project: str, tmp_path: Path | None = None) -> Path:
    data = {}
    if tmp_path is not None:
        (tmp_path / "train.csv").write_text("x,y\n1,0\n")
        data = {"train.csv": tmp_path / "train.csv"}
    with runs.create(project, Cfg(), data_files=data, dry_run=False, processes=1) as run:
        (run.dir / "model.bin").write_bytes(b"weights")
        run.save_metrics({"val_roc_auc": 0.8})
    return run.path


def test_create_writes_the_run_contract(tmp_root: Path):
    path = write_run("demo", tmp_root)
    run = runs.latest_run("demo")
    assert run.path == path and run.config == {"seed": 1} and run.metrics == {"val_roc_auc": 0.8}
    env = run.environment
    assert env["seed"] == 1 and env["processes"] == 1 and env["run_format"] == runs.RUN_FORMAT
    assert set(env["dataset_sha256"]) == {"train.csv"}
    assert set(run.read_json("checksums.json")) == {"config.json", "environment.json", "model.bin"}
    run.verify()


def test_a_run_without_metrics_is_never_complete(tmp_root: Path):
    with pytest.raises(RuntimeError, match="save_metrics"), runs.create("demo", Cfg(), data_files={}, dry_run=False):
        pass
    assert runs.complete_runs("demo") == []


@pytest.mark.parametrize(
    "metrics",
    [{"cv_roc_auc_mean": float("nan")}, {"val_cost": float("inf")}, {"folds": [0.7, float("nan")]}],
)
def test_a_run_whose_metrics_are_not_numbers_is_never_complete(tmp_root: Path, metrics: dict):
    # "ROC AUC nan ± nan" from a fold without defaulters was saved, became the newest run and crashed evaluate
    write_run("demo")
    before = runs.complete_runs("demo")
    refused = pytest.raises(runs.NonFiniteMetricsError, match="not numbers: .*too few examples of a class")
    with refused, runs.create("demo", Cfg(), data_files={}, dry_run=False) as run:
        run.save_metrics({"val_accuracy": 0.7, **metrics})
    assert runs.complete_runs("demo") == before


def test_a_run_of_an_older_layout_is_refused_in_one_line(tmp_root: Path):
    path = write_run("demo")
    env = json.loads((path / "environment.json").read_text())
    del env["run_format"]  # as runs saved before run format 2
    (path / "environment.json").write_text(json.dumps(env))
    with pytest.raises(runs.OldRunError, match="older layout .* make train PROJECT=demo"):
        runs.latest_run("demo")


def test_a_run_appears_only_once_complete(tmp_root: Path):
    with runs.create("demo", Cfg(), data_files={}, dry_run=False) as new:
        assert new.dir.name.startswith(runs.INCOMPLETE_PREFIX)
        new.save_metrics({})
        assert runs.complete_runs("demo") == []
    [run] = runs.complete_runs("demo")
    assert run.config == {"seed": 1} and run.path == new.path == tmp_root / "runs" / "demo" / new.run_id


def test_an_interrupted_run_is_never_chosen(tmp_root: Path):
    good = write_run("demo")
    with pytest.raises(KeyboardInterrupt), runs.create("demo", Cfg(seed=2), data_files={}, dry_run=False):
        raise KeyboardInterrupt
    assert runs.latest_run("demo").path == good
    assert any(p.name.startswith(runs.INCOMPLETE_PREFIX) for p in good.parent.iterdir())  # kept for inspection


def test_latest_is_the_newest_and_runs_can_be_named(tmp_root: Path):
    first, second, third = write_run("demo"), write_run("demo"), write_run("demo")
    assert len({first.name, second.name, third.name}) == 3
    assert runs.latest_run("demo").path == third
    assert runs.latest_run("demo", first.name).path == first


def test_no_run_says_how_to_train_one(tmp_root: Path):
    with pytest.raises(runs.RunNotFoundError, match="make train PROJECT=demo"):
        runs.latest_run("demo")
    write_run("demo")
    with pytest.raises(runs.RunNotFoundError, match="No complete run 'nope'"):
        runs.latest_run("demo", "nope")


def test_update_json_merges(tmp_path: Path):
    path = tmp_path / "metrics.json"
    runs.write_json(path, {"val_auc": 0.8})
    assert runs.update_json(path, {"test_auc": 0.7}) == {"val_auc": 0.8, "test_auc": 0.7}
    assert json.loads(path.read_text()) == {"val_auc": 0.8, "test_auc": 0.7}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temp file left behind


def test_environment_records_what_reproduces_a_run(tmp_root: Path):
    env = runs.environment(seed=7, dataset_checksums={"a.data": "abc"}, dry_run=False)
    assert env["seed"] == 7 and env["dataset_sha256"] == {"a.data": "abc"}
    assert env["packages"]["scikit-learn"] and env["python"]
    assert set(env["git"]) == {"commit", "dirty"}


def test_a_dry_run_as_the_newest_run_is_flagged(tmp_root: Path, capsys: pytest.CaptureFixture[str]):
    with runs.create("demo", Cfg(), data_files={}, dry_run=True) as run:
        run.save_metrics({})
    assert runs.latest_run("demo").dry_run
    assert "is a --dry-run model" in capsys.readouterr().err


def test_a_changed_or_missing_file_is_found(tmp_root: Path):
    with runs.create("demo", Cfg(), data_files={}, dry_run=False) as new:
        (new.dir / "model.json").write_text('{"weight": 1.0}')
        new.save_metrics({"val_roc_auc": 0.8})
    run = runs.latest_run("demo")
    run.verify()
    runs.update_json(run.path / "metrics.json", {"test_roc_auc": 0.7})  # evaluate adds results: not a change
    run.verify()
    (run.path / "model.json").write_text('{"weight": 2.0}')  # valid, but not what training wrote
    with pytest.raises(runs.RunChangedError, match="model.json of run .* has changed since training"):
        run.verify()
    (run.path / "model.json").unlink()
    with pytest.raises(runs.RunChangedError, match="model.json is missing"):
        run.verify()
    (run.path / runs.CHECKSUMS).unlink()  # a run saved before checksums existed: not checked
    run.verify()
