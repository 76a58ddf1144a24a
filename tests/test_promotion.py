"""make promote: which run `make serve` uses, and the refusals that keep a worse or dry run from going live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mlstarter import cli, runs

from .test_serving import make_app

COMPARE = {"test_roc_auc": "higher", "test_cost": "lower"}


@dataclass
class Cfg:
    seed: int = 0
    factor: int = 2


def new_run(metrics: dict, dry_run: bool = False) -> str:
    with runs.create("demo", Cfg(), data_files={}, dry_run=dry_run) as run:
        run.save_metrics(metrics)
    return run.run_id


def test_before_any_promotion_the_newest_run_is_served(tmp_root: Path):
    new_run({"test_roc_auc": 0.8})
    newest = new_run({"test_roc_auc": 0.7})
    assert runs.promoted("demo") is None and runs.served_run("demo").run_id == newest


def test_the_promoted_run_is_served_though_a_newer_one_exists(tmp_root: Path):
    good = new_run({"test_roc_auc": 0.8, "test_cost": 0.5})
    record = runs.promote("demo", good, compare=COMPARE)
    newer = new_run({"test_roc_auc": 0.9, "test_cost": 0.4})
    assert runs.served_run("demo").run_id == good  # serve and predict: the promoted one
    assert runs.latest_run("demo").run_id == newer  # evaluate: the newest, to judge it before promoting
    assert runs.served_run("demo", newer).run_id == newer  # RUN= still names any run
    with TestClient(make_app()) as client:
        live = client.get("/metadata").json()["live"]
        assert live == {"run_id": good, "chosen_by": "promoted", "since": record["since"]}
        assert client.get("/health").json()["run_id"] == good


def test_a_worse_run_needs_force_and_the_refusal_says_what_is_worse(tmp_root: Path):
    good = new_run({"test_roc_auc": 0.8, "test_cost": 0.5})
    runs.promote("demo", good, compare=COMPARE)
    worse = new_run({"test_roc_auc": 0.82, "test_cost": 0.6})  # better ranking, but it costs more
    with pytest.raises(runs.PromotionRefusedError) as refused:
        runs.promote("demo", worse, compare=COMPARE)
    message = str(refused.value)
    assert "test_cost is 0.6, worse than 0.5 of the promoted run" in message and "test_roc_auc" not in message
    assert "ARGS=--force" in message
    assert runs.served_run("demo").run_id == good  # nothing changed
    record = runs.promote("demo", worse, compare=COMPARE, force=True)
    assert runs.served_run("demo").run_id == worse
    assert record["forced"] and record["previous"][-1]["run_id"] == good  # the history says what was live before


def test_a_dry_run_and_an_unevaluated_run_need_force(tmp_root: Path):
    dry = new_run({"test_roc_auc": 0.9}, dry_run=True)
    with pytest.raises(runs.PromotionRefusedError, match="--dry-run model"):
        runs.promote("demo", dry, compare=COMPARE)
    unevaluated = new_run({"val_roc_auc": 0.9})
    with pytest.raises(runs.PromotionRefusedError, match="no test metrics yet.*make evaluate PROJECT=demo RUN="):
        runs.promote("demo", unevaluated, compare=COMPARE)
    assert runs.promoted("demo") is None


def test_a_promoted_run_that_is_gone_is_said_not_silently_replaced(tmp_root: Path):
    first = new_run({"test_roc_auc": 0.8})
    runs.promote("demo", first, compare=COMPARE)
    new_run({"test_roc_auc": 0.9})
    (runs.project_runs_dir("demo") / first).rename(runs.project_runs_dir("demo") / ".deleted")
    with pytest.raises(runs.RunNotFoundError, match=f"{first} of demo was promoted .* no longer there"):
        runs.served_run("demo")


def test_make_promote_through_the_command(tmp_root: Path, capsys: pytest.CaptureFixture, monkeypatch):
    class Evaluate:
        PROMOTE_ON = COMPARE

    monkeypatch.setattr(cli.paths, "import_script", lambda project, script: Evaluate)
    good = new_run({"test_roc_auc": 0.8, "test_cost": 0.5})
    assert cli.main(["promote", "demo", good]) == 0
    assert f"Promoted demo run {good}" in capsys.readouterr().out
    worse = new_run({"test_roc_auc": 0.7, "test_cost": 0.5})
    assert cli.main(["promote", "demo", worse]) == 1
    assert "test_roc_auc is 0.7, worse than 0.8" in capsys.readouterr().err
    assert cli.main(["promote", "demo", worse, "--force"]) == 0
    assert "warning: promoted although" in capsys.readouterr().err
    assert runs.served_run("demo").run_id == worse
