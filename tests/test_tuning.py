"""mlstarter.tuning: a study over a toy config, resumed, shared by two worker processes, pruned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pytest

from mlstarter import tuning
from mlstarter.config import ConfigError


@dataclass
class ModelConfig:
    x: float = 0.0
    depth: int = 1
    kind: str = "a"


@dataclass
class Config:
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)


SPACE = {
    "model.x": tuning.Float(-2.0, 2.0),
    "model.depth": tuning.Int(1, 5),
    "model.kind": tuning.Choice(("a", "b")),
}


def score(cfg: Config, report: tuning.Report) -> float:
    """Best at x = 1, depth 3, kind b: 0."""
    return -((cfg.model.x - 1) ** 2) - (cfg.model.depth - 3) ** 2 - (cfg.model.kind != "b")


def study(args: list[str], objective=score, **options) -> int:
    parsed = tuning.tune_parser("toy").parse_args(args)
    return tuning.run_study("toy", tuning.base_config(Config, parsed, []), SPACE, objective, parsed, metric="score",
                            **options)  # fmt: skip


def load(runs_dir: Path, name: str = "default") -> optuna.Study:
    storage = f"sqlite:///{runs_dir / 'toy-tuning' / name / 'study.db'}"
    return optuna.load_study(study_name=name, storage=storage)


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLSTARTER_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_a_study_writes_the_best_config_plots_and_trials(runs_dir: Path) -> None:
    assert study(["--trials", "12", "--sampler-seed", "0"]) == 0
    folder = runs_dir / "toy-tuning" / "default"
    best = json.loads((folder / "best_config.json").read_text())
    summary = json.loads((folder / "summary.json").read_text())
    loaded = load(runs_dir)
    assert summary["complete"] == 12 and len(loaded.trials) == 12
    # trial 0 is the starting config itself, so the gain of the search shows
    assert loaded.trials[0].params == {"model.x": 0.0, "model.depth": 1, "model.kind": "a"}
    assert summary["baseline_value"] == -6.0 and summary["best_value"] > -6.0
    assert summary["best_value"] == pytest.approx(max(t.value for t in loaded.trials))
    # the best config is the whole config with the best trial's values, in the types the config declares
    assert best["model"]["x"] == pytest.approx(summary["best_params"]["model.x"])
    assert best["model"]["depth"] == summary["best_params"]["model.depth"] and best["seed"] == 0
    assert (folder / "trials.csv").read_text().count("\n") == 13
    for plot in ("optimization_history", "param_importances"):
        assert (folder / "plots" / f"{plot}.png").stat().st_size > 1000


def test_trials_is_the_total_so_a_study_goes_on_where_it_stopped(runs_dir: Path) -> None:
    assert study(["--trials", "3"]) == 0
    assert study(["--trials", "5"]) == 0  # two more, not five
    assert len(load(runs_dir).trials) == 5
    assert study(["--trials", "5"]) == 0  # already done: nothing runs
    assert len(load(runs_dir).trials) == 5


def test_an_interrupted_study_keeps_its_finished_trials(runs_dir: Path) -> None:
    calls = []

    def interrupted_at_the_third(cfg: Config, report: tuning.Report) -> float:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C during a trial
        return score(cfg, report)

    assert study(["--trials", "10"], interrupted_at_the_third) == 130
    states = [t.state for t in load(runs_dir).trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 2  # kept, and written out
    assert (runs_dir / "toy-tuning" / "default" / "best_config.json").is_file()
    assert study(["--trials", "4"]) == 0  # the same command goes on: 2 more complete trials
    assert [t.state for t in load(runs_dir).trials].count(optuna.trial.TrialState.COMPLETE) == 4


def test_a_study_refuses_to_go_on_with_other_settings(runs_dir: Path) -> None:
    assert study(["--trials", "2"]) == 0
    with pytest.raises(ConfigError, match=r"was started with other settings \(changed: base_config.seed\)"):
        study(["--trials", "4", "--set", "seed=1"])
    assert study(["--trials", "2", "--set", "seed=1", "--study", "other"]) == 0  # a new study is fine


def test_the_pruner_stops_trials_below_the_median(runs_dir: Path) -> None:
    def epochs(cfg: Config, report: tuning.Report) -> float:
        value = 0.0
        for epoch in range(1, 8):
            value = epoch * (1 if cfg.model.x > 0 else 0.1)  # x <= 0 learns ten times slower
            report(epoch, value)
        return value

    assert study(["--trials", "20", "--sampler-seed", "1"], epochs, pruning=True) == 0
    trials = load(runs_dir).trials
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "slow learners after the first trials should be pruned"
    assert all(t.params["model.x"] <= 0 for t in pruned)
    assert all(2 < max(t.intermediate_values) < 7 for t in pruned)  # after the 2 warm-up epochs, before the last
    assert (runs_dir / "toy-tuning" / "default" / "plots" / "intermediate_values.png").is_file()


def test_a_space_with_an_unknown_key_is_refused(runs_dir: Path) -> None:
    parsed = tuning.tune_parser("toy").parse_args([])
    with pytest.raises(ConfigError, match="model.width"):
        tuning.run_study("toy", Config(), {"model.width": tuning.Int(1, 2)}, score, parsed, metric="score")


def test_storage_errors_are_clear(runs_dir: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open the study database"):
        study(["--storage", "nosuchdialect://x"])
    with pytest.raises(ConfigError, match="--heartbeat must be above 0"):
        study(["--heartbeat", "0"])
    # a password is masked, and none is shown where none was given
    assert tuning._shown("postgresql://me:secret@db.example/optuna") == "postgresql://me:***@db.example/optuna"
    assert tuning._shown("postgresql://me@db.example/optuna") == "postgresql://me@db.example/optuna"


WORKER = textwrap.dedent(
    """
    import os, pathlib, sys, time
    from dataclasses import dataclass, field
    from mlstarter import tuning

    @dataclass
    class Model:
        x: float = 0.0

    @dataclass
    class Config:
        seed: int = 0
        model: Model = field(default_factory=Model)

    def objective(cfg, report):
        # each worker's first trial waits (a minute at most) until the other worker has started one too,
        # so both take part however slowly the machine starts them
        ready = pathlib.Path(sys.argv[-1])
        (ready / str(os.getpid())).touch()
        while os.environ.get("WORKER_HANGS"):  # a worker whose trial never ends (until it is killed)
            time.sleep(1)
        deadline = time.monotonic() + 60
        while len(list(ready.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        return -(cfg.model.x - 1) ** 2

    args = tuning.tune_parser("worker").parse_args(sys.argv[1:-1])
    cfg = tuning.base_config(Config, args, [])
    sys.exit(tuning.run_study("toy", cfg, {"model.x": tuning.Float(-2, 2)}, objective, args, metric="score"))
    """
)


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(runs_dir: Path, tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    ready = tmp_path / "ready"
    ready.mkdir()
    command = [sys.executable, str(script), "--trials", "12", "--storage", storage, "--study", "shared", str(ready)]
    env = {**os.environ, "MLSTARTER_RUNS_DIR": str(runs_dir)}
    workers = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]  # fmt: skip
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    trials = optuna.load_study(study_name="shared", storage=storage).trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    # 12 in all between them (a trial or two more when both start one as the twelfth finishes), not 24
    assert 12 <= len(complete) <= 14
    by_worker = {t.user_attrs["worker"] for t in complete}
    assert len(by_worker) == 2  # both did some of the work, on one study


def test_a_starting_trial_cut_short_is_tried_again(runs_dir: Path) -> None:
    def interrupted_first(cfg: Config, report: tuning.Report) -> float:
        raise KeyboardInterrupt  # Ctrl-C during trial 0, the starting config

    assert study(["--trials", "3"], interrupted_first) == 130  # interrupted, nothing completed
    assert study(["--trials", "3"]) == 0
    trials = load(runs_dir).trials
    baselines = [t for t in trials if t.user_attrs.get("baseline")]
    assert [t.state for t in baselines] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    assert baselines[1].params == {"model.x": 0.0, "model.depth": 1, "model.kind": "a"}


def test_the_study_plots_leave_matplotlib_as_they_found_it(tmp_path: Path):
    # Optuna's plots switch the whole process to its ggplot style: a plot drawn after them (evaluate's, in the
    # same test session) came out with another font size and background, and its labels went past the edge
    import matplotlib
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1) ** 2, n_trials=3)
    before = dict(matplotlib.rcParams)
    assert tuning.save_plots(study, tmp_path, "loss")
    after = dict(matplotlib.rcParams)
    assert {k: after[k] for k in after if after[k] != before[k]} == {}
